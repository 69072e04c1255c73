"""``guest-access-allowed``: a session with a random, non-existent user name succeeded and
was mapped to the guest account (SMB2 SESSION_FLAG_IS_GUEST, SMB1 Action bit 0)."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, session_result
from smbguard.model import CheckResult, HostFacts

ID = "guest-access-allowed"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    sessions = facts.sessions
    return session_result(ID, sessions, "guest", sessions.guest, sessions.guest_reason)


CHECK = Check(id=ID, run=run, needs=("sessions",))
