"""``share-readable-without-credentials``: a file share can be opened and its root
listed by a null session or a guest session. One result per share; administrative
shares (C$, ADMIN$) are judged by ``admin-share-exposed`` instead."""

from __future__ import annotations

from smbguard.checks._audit import is_admin_share, is_file_share, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, result
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


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    if facts.shares is None:
        return (unknown(ID, "shares were not enumerated (smbguard scan --shares, smbguard audit)"),)
    shares = [s for s in facts.shares if is_file_share(s) and not is_admin_share(s)]
    if not shares:
        return result(ID, Status.NOT_APPLICABLE, reason="no file share is known on this host")
    return tuple(judge(s) for s in shares)


CHECK = Check(id=ID, run=run, needs=("shares",))
