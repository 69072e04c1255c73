"""``null-session-allowed``: an SMB session with an empty user name and password succeeded
(anonymous, not mapped to guest). Skipped probes (``--no-null-session``) give UNKNOWN."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "null-session-allowed"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    sessions = facts.sessions
    if sessions.skipped:
        return unknown(ID, "anonymous session probes were skipped (--no-null-session)")
    if sessions.null is None:
        return unknown(ID, sessions.null_reason or "the null session probe did not decide")
    evidence: dict[str, JsonValue] = {"sessions.null": sessions.null}
    if sessions.null_reason:
        evidence["sessions.null_reason"] = sessions.null_reason
    return result(ID, Status.AFFECTED if sessions.null else Status.NOT_AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("sessions",))
