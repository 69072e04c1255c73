"""``guest-access-allowed``: a session with a random, non-existent user name succeeded and
was mapped to the guest account (SMB2 SESSION_FLAG_IS_GUEST, SMB1 Action bit 0)."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "guest-access-allowed"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    sessions = facts.sessions
    if sessions.skipped:
        return unknown(ID, "anonymous session probes were skipped (--no-null-session)")
    if sessions.guest is None:
        return unknown(ID, sessions.guest_reason or "the guest session probe did not decide")
    evidence: dict[str, JsonValue] = {"sessions.guest": sessions.guest}
    if sessions.guest_reason:
        evidence["sessions.guest_reason"] = sessions.guest_reason
    return result(ID, Status.AFFECTED if sessions.guest else Status.NOT_AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("sessions",))
