"""``no-account-lockout``: the account domain never locks an account out after failed
logons (SAMR LockoutThreshold = 0), so passwords can be guessed without limit over
SMB. A threshold that exists but is high is reported by ``weak-password-policy``."""

from __future__ import annotations

from smbguard.checks._audit import reachable_audit
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "no-account-lockout"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = reachable_audit(facts, ID, "samr")
    if isinstance(audit, tuple):
        return audit
    policy = audit.password_policy
    if policy is None or policy.lockout_threshold is None:
        return unknown(ID, "the lockout policy was not read (SAMR)")
    evidence: dict[str, JsonValue] = {
        "lockout_threshold": policy.lockout_threshold,
        "lockout_duration_minutes": policy.lockout_duration_minutes,
        "lockout_window_minutes": policy.lockout_window_minutes,
    }
    status = Status.AFFECTED if policy.lockout_threshold == 0 else Status.NOT_AFFECTED
    return result(ID, status, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("audit",))
