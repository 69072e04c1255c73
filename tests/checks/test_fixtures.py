"""The one parametrized test over every registered check's paired fixtures.

See ``tests/checks/fixtures/__init__.py`` (and docs/findings.md) for how to add
fixtures for a new check. A registered check without fixtures fails here.
"""

from __future__ import annotations

import pytest

from smbguard.catalog import load_catalog
from smbguard.checks.evaluate import evaluate, run_check
from smbguard.checks.registry import ALL_CHECKS, by_id
from smbguard.model import HostFacts, Status
from tests.checks.fixtures import discover

FIXTURES = discover()
CHECKS = by_id()

_CASES = [
    pytest.param(check_id, kind, index, facts, id=f"{check_id}-{kind}{index}")
    for check_id, fx in sorted(FIXTURES.items())
    for kind, cases in (("affected", fx.affected), ("clean", fx.clean), ("unknown", fx.unknown))
    for index, facts in enumerate(cases)
]


@pytest.mark.parametrize("check_id", sorted(CHECKS))
def test_every_registered_check_has_all_three_fixture_kinds(check_id: str) -> None:
    assert check_id in FIXTURES, f"check {check_id!r} has no fixture module under tests/checks/fixtures/"
    fx = FIXTURES[check_id]
    assert fx.affected, f"{check_id}: AFFECTED fixtures are empty"
    assert fx.clean, f"{check_id}: CLEAN fixtures are empty"
    assert fx.unknown, f"{check_id}: UNKNOWN fixtures are empty"


def test_no_fixtures_for_unregistered_checks() -> None:
    assert sorted(set(FIXTURES) - set(CHECKS)) == []


@pytest.mark.parametrize(("check_id", "kind", "index", "facts"), _CASES)
def test_fixture(check_id: str, kind: str, index: int, facts: HostFacts) -> None:
    if check_id not in CHECKS:
        pytest.fail(f"fixtures exist for {check_id!r} but no such check is registered")
    check = CHECKS[check_id]
    results = run_check(check, facts, strict=True)
    statuses = [r.status for r in results]
    for r in results:
        assert r.status in Status
        # UNKNOWN and NOT_APPLICABLE must say why; AFFECTED must show what was observed.
        if r.status in (Status.UNKNOWN, Status.NOT_APPLICABLE):
            assert r.reason, f"{check_id}: {r.status} without a reason"
        if r.status is Status.AFFECTED:
            assert r.evidence, f"{check_id}: AFFECTED without evidence"
    if kind == "affected":
        assert Status.AFFECTED in statuses, statuses
        host = evaluate(facts, checks=[check], catalog=load_catalog(), strict=True)
        assert host.findings
        entry = load_catalog().entry(check_id)
        assert all(f.severity is entry.severity and f.id == check_id for f in host.findings)
    elif kind == "clean":
        assert Status.AFFECTED not in statuses, statuses
        assert Status.UNKNOWN not in statuses, statuses
    else:
        assert Status.AFFECTED not in statuses, statuses
        assert Status.UNKNOWN in statuses, statuses


def test_checks_do_not_raise_on_an_empty_host() -> None:
    """A host where every probe failed: each check answers (UNKNOWN / NOT_APPLICABLE), none crashes."""
    from tests.checks.fixtures import host

    facts = host()
    for check in ALL_CHECKS:
        results = run_check(check, facts, strict=True)
        assert all(r.status is not Status.AFFECTED for r in results), check.id
