"""``share-readable-without-credentials``: a file share can be opened and its root
listed by a null session or a guest session. One result per share; administrative
shares (C$, ADMIN$) are judged by ``admin-share-exposed`` instead."""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED_ANON, is_admin_share, is_file_share, judge_shares, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, HostFacts, JsonValue, ShareFacts, Status

ID = "share-readable-without-credentials"


def _evidence(share: ShareFacts) -> dict[str, JsonValue]:
    return {
        "share": share.name,
        "type": share.type,
        "comment": share.comment,
        "null_read": share.anonymous_read,
        "guest_read": share.guest_read,
    }


def judge(share: ShareFacts) -> CheckResult:
    ev = _evidence(share)
    if share.anonymous_read or share.guest_read:
        return CheckResult(ID, Status.AFFECTED, evidence=ev, share=share.name)
    if share.anonymous_read is False and share.guest_read is False:
        return CheckResult(ID, Status.NOT_AFFECTED, evidence=ev, share=share.name)
    why = "; ".join(share.notes) or "anonymous and guest read access were not both decided"
    return unknown(ID, why, share.name, ev)


def _not_admin_file_share(share: ShareFacts) -> bool:
    """The shares this check judges: file shares other than C$, ADMIN$ and the like."""
    return is_file_share(share) and not is_admin_share(share)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    return judge_shares(ID, facts.shares, _not_admin_file_share, judge, not_listed=NOT_LISTED_ANON)


CHECK = Check(id=ID, run=run, needs=("shares",))
