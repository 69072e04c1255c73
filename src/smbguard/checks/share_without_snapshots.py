"""``share-without-snapshots``: a file share exposes no previous versions
(FSCTL_SRV_ENUMERATE_SNAPSHOTS returned none, or the server does not support it on
that share), so deleted or encrypted files cannot be restored from snapshots.
Administrative shares are skipped."""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED, is_user_file_share, judge_shares, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, HostFacts, JsonValue, ShareFacts, Status

ID = "share-without-snapshots"


def judge(share: ShareFacts) -> CheckResult:
    if share.snapshots is None:
        notes = [n for n in share.notes if "snapshot" in n or "tree connect" in n]
        return unknown(ID, "; ".join(notes) or "snapshots were not enumerated", share.name)
    ev: dict[str, JsonValue] = {"share": share.name, "snapshot_count": len(share.snapshots)}
    if share.snapshots:
        ev["newest"] = max(share.snapshots).isoformat()
        return CheckResult(ID, Status.NOT_AFFECTED, evidence=ev, share=share.name)
    return CheckResult(ID, Status.AFFECTED, evidence=ev, share=share.name)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    if facts.audit is None or not facts.audit.authenticated:
        return (
            unknown(ID, "snapshots are enumerated by the credentialed audit (smbguard audit -u USER ...)"),
        )
    return judge_shares(ID, facts.shares, is_user_file_share, judge, not_listed=NOT_LISTED)


CHECK = Check(id=ID, run=run, needs=("shares", "audit"))
