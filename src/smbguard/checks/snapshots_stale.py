"""``snapshots-stale``: a share has previous versions, but the newest is older than
the limit (``smbguard audit --snapshot-max-age DAYS``, default 7, recorded in
``AuditFacts.snapshot_max_age_days``), measured from when the host was audited."""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED, is_user_file_share, judge_shares, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, HostFacts, JsonValue, ShareFacts, Status

ID = "snapshots-stale"


def judge(share: ShareFacts, facts: HostFacts, max_age_days: float) -> CheckResult:
    if share.snapshots is None:
        return unknown(ID, "snapshots were not enumerated", share.name)
    if not share.snapshots:
        return CheckResult(
            ID,
            Status.NOT_APPLICABLE,
            share=share.name,
            reason="no snapshots at all (share-without-snapshots)",
        )
    when = facts.finished or facts.started
    if when is None:
        return unknown(ID, "the audit time was not recorded", share.name)
    newest = max(share.snapshots)
    age_days = (when - newest).total_seconds() / 86400
    ev: dict[str, JsonValue] = {
        "share": share.name,
        "newest": newest.isoformat(),
        "age_days": round(age_days, 2),
        "max_age_days": max_age_days,
        "snapshot_count": len(share.snapshots),
    }
    status = Status.AFFECTED if age_days > max_age_days else Status.NOT_AFFECTED
    return CheckResult(ID, status, evidence=ev, share=share.name)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    audit = facts.audit
    if audit is None or not audit.authenticated:
        return (
            unknown(ID, "snapshots are enumerated by the credentialed audit (smbguard audit -u USER ...)"),
        )
    max_age_days = audit.snapshot_max_age_days
    return judge_shares(
        ID, facts.shares, is_user_file_share, lambda s: judge(s, facts, max_age_days), not_listed=NOT_LISTED
    )


CHECK = Check(id=ID, run=run, needs=("shares", "audit"))
