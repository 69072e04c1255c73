"""``weak-password-policy``: the account domain's password policy (SAMR) falls short
of the baseline in ``catalog/data/password_baseline.toml`` (CIS Benchmark, NIST SP
800-63B): too short, no complexity for short passwords, short history, no minimum
age, over-long expiry, or a lockout threshold above the baseline's maximum."""

from __future__ import annotations

from smbguard.checks._audit import reachable_audit
from smbguard.checks._password import Baseline, baseline
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, PasswordPolicy, Status

ID = "weak-password-policy"


def shortfalls(policy: PasswordPolicy, base: Baseline) -> list[str]:
    """Every way ``policy`` falls short of ``base``, as sentences."""
    out: list[str] = []
    if policy.min_length is not None and policy.min_length < base.min_length:
        out.append(f"minimum length {policy.min_length} < {base.min_length}")
    if (
        base.complexity
        and policy.complexity is False
        and (policy.min_length or 0) < base.min_length_without_complexity
    ):
        out.append(
            f"no complexity requirement with passwords shorter than {base.min_length_without_complexity}"
        )
    if policy.history_length is not None and policy.history_length < base.history_length:
        out.append(f"password history {policy.history_length} < {base.history_length}")
    if policy.min_age_days is not None and policy.min_age_days < base.min_age_days:
        out.append(f"minimum password age {policy.min_age_days:g} days < {base.min_age_days:g}")
    if policy.max_age_days is not None and policy.max_age_days > base.max_age_days:
        out.append(f"maximum password age {policy.max_age_days:g} days > {base.max_age_days:g}")
    threshold = policy.lockout_threshold
    if threshold is not None and threshold > base.lockout_threshold_max:
        out.append(f"lockout threshold {threshold} > {base.lockout_threshold_max}")
    return out


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = reachable_audit(facts, ID, "samr")
    if isinstance(audit, tuple):
        return audit
    policy = audit.password_policy
    if policy is None:
        return unknown(ID, "the password policy was not read (SAMR)")
    base = baseline()
    problems = shortfalls(policy, base)
    evidence: dict[str, JsonValue] = {
        "min_length": policy.min_length,
        "complexity": policy.complexity,
        "history_length": policy.history_length,
        "min_age_days": policy.min_age_days,
        "max_age_days": policy.max_age_days,
        "lockout_threshold": policy.lockout_threshold,
    }
    if problems:
        evidence["shortfalls"] = list(problems)
        return result(ID, Status.AFFECTED, evidence=evidence)
    return result(ID, Status.NOT_AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("audit",))
