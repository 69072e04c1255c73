"""``admin-share-exposed``: an administrative share (C$, D$, ADMIN$: special disk
shares) can be opened by a null or guest session, or its share-level ACL grants
access to a broad principal. Administrative shares that only administrators reach
are normal and not reported."""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED_ANON, broad_rights, is_admin_share, judge_shares, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, HostFacts, JsonValue, ShareFacts, Status

ID = "admin-share-exposed"


def judge(share: ShareFacts) -> CheckResult:
    ev: dict[str, JsonValue] = {
        "share": share.name,
        "null_read": share.anonymous_read,
        "guest_read": share.guest_read,
    }
    broad: set[str] = set()
    if share.share_acl is not None:
        broad, who = broad_rights(share.share_acl)
        ev["share_acl_broad"] = list(who)
    if share.anonymous_read or share.guest_read or broad:
        return CheckResult(ID, Status.AFFECTED, evidence=ev, share=share.name)
    if share.anonymous_read is False and share.guest_read is False:
        return CheckResult(ID, Status.NOT_AFFECTED, evidence=ev, share=share.name)
    return unknown(ID, "; ".join(share.notes) or "anonymous access was not decided", share.name, ev)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    return judge_shares(
        ID,
        facts.shares,
        is_admin_share,
        judge,
        not_listed=NOT_LISTED_ANON,
        none_wanted="no administrative share (C$, ADMIN$) was listed",
    )


CHECK = Check(id=ID, run=run, needs=("shares", "audit"))
