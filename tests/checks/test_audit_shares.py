"""Share-level audit checks: every result about a share names it (CheckResult.share and
evidence["share"]), and the LIKELY/CONFIRMED split of the ACL checks."""

from __future__ import annotations

import pytest

from smbguard.checks.evaluate import run_check
from smbguard.checks.registry import by_id
from smbguard.model import Confidence, Status
from tests.checks.fixtures import discover
from tests.checks.fixtures._audit import ADMINS, EVERYONE, FULL, ace, audited, share

SHARE_CHECKS = (
    "share-readable-without-credentials",
    "share-writable-without-credentials",
    "share-everyone-write",
    "share-everyone-full-control",
    "admin-share-exposed",
    "share-without-snapshots",
    "snapshots-stale",
)


@pytest.mark.parametrize("check_id", SHARE_CHECKS)
def test_share_results_name_their_share(check_id: str) -> None:
    fx = discover()[check_id]
    seen = 0
    for facts in fx.affected + fx.clean + fx.unknown:
        names = {s.name for s in facts.shares or ()}
        for result in run_check(by_id()[check_id], facts, strict=True):
            if result.share is None:
                continue
            seen += 1
            assert result.share in names
            if result.status in (Status.AFFECTED, Status.NOT_AFFECTED, Status.UNKNOWN):
                assert result.evidence.get("share") == result.share, result
        for result in run_check(by_id()[check_id], facts, strict=True):
            if result.status is Status.AFFECTED:
                assert result.share is not None, f"{check_id}: affected result without its share"
    assert seen


def test_acl_confidence() -> None:
    check = by_id()["share-everyone-full-control"]
    both = audited(share("s", share_acl=(ace(EVERYONE, FULL),), root_acl=(ace(EVERYONE, FULL),)))
    (r,) = run_check(check, both, strict=True)
    assert (r.status, r.confidence, r.share) == (Status.AFFECTED, Confidence.CONFIRMED, "s")
    root_only = audited(share("s", root_acl=(ace(EVERYONE, FULL), ace(ADMINS, FULL))))
    (r,) = run_check(check, root_only, strict=True)
    assert (r.status, r.confidence) == (Status.AFFECTED, Confidence.LIKELY)
    assert r.evidence["unread"] == "share-level ACL"
