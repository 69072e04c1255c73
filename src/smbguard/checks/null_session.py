"""``null-session-allowed``: an SMB session with an empty user name and password succeeded
(anonymous, not mapped to guest). Skipped probes (``--no-null-session``) give UNKNOWN."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, session_result
from smbguard.model import CheckResult, HostFacts

ID = "null-session-allowed"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    sessions = facts.sessions
    return session_result(ID, sessions, "null", sessions.null, sessions.null_reason)


CHECK = Check(id=ID, run=run, needs=("sessions",))
