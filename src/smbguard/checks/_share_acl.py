"""Shared logic of ``share-everyone-write`` and ``share-everyone-full-control``.

Effective access over the network is the intersection of the share-level ACL
(NetShareGetInfo 502) and the root folder's NTFS ACL. Both known: CONFIRMED when
both grant the right to a broad principal. One known: when it does not grant the
right, the right is not there (NOT_AFFECTED); when it does, AFFECTED with
confidence LIKELY (the other layer could still block it). Neither known: UNKNOWN.
"""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED, broad_rights, is_file_share, judge_shares, unknown
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, ShareFacts, Status


def judge(check_id: str, right: str, share: ShareFacts) -> CheckResult:
    layers: dict[str, tuple[set[str], list[str]]] = {}
    if share.share_acl is not None:
        layers["share_acl"] = broad_rights(share.share_acl)
    if share.root_acl is not None:
        layers["root_acl"] = broad_rights(share.root_acl)
    ev: dict[str, JsonValue] = {"share": share.name, "right": right}
    for layer, (_rights, who) in layers.items():
        ev[f"{layer}_broad"] = list(who)
    if not layers:
        return unknown(
            check_id, "; ".join(share.notes) or "neither ACL of the share could be read", share.name, ev
        )
    granted = {layer: right in rights for layer, (rights, _who) in layers.items()}
    if not all(granted.values()):
        return CheckResult(check_id, Status.NOT_AFFECTED, evidence=ev, share=share.name)
    if len(layers) == 2:
        return CheckResult(check_id, Status.AFFECTED, evidence=ev, share=share.name)
    missing = "root folder ACL" if "share_acl" in layers else "share-level ACL"
    notes = [n for n in share.notes if "ACL" in n]
    ev["unread"] = missing
    return CheckResult(
        check_id,
        Status.AFFECTED,
        Confidence.LIKELY,
        evidence=ev,
        share=share.name,
        reason=f"{missing} not read: " + ("; ".join(notes) or "unknown reason"),
    )


def run_for(check_id: str, right: str, facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(check_id, facts)
    if closed:
        return closed
    if facts.audit is None or not facts.audit.authenticated:
        return (unknown(check_id, "share ACLs need a credentialed audit (smbguard audit -u USER ...)"),)
    return judge_shares(
        check_id, facts.shares, is_file_share, lambda s: judge(check_id, right, s), not_listed=NOT_LISTED
    )
