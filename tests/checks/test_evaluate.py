"""evaluate(): runs checks, joins AFFECTED results with catalog severity, survives buggy checks."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from smbguard.catalog.loader import REMEDIATION_PARTS, Catalog, parse_entry
from smbguard.checks.base import Check
from smbguard.checks.evaluate import FALLBACK_SEVERITY, evaluate, evaluate_many
from smbguard.errors import CatalogError
from smbguard.model import CheckResult, Confidence, HostFacts, Severity, Status
from tests.checks.fixtures import host


def _catalog(**severities: str) -> Catalog:
    texts = {"title": "t", "description": "d", "impact": "i",
             "remediation": {p: "x" for p in REMEDIATION_PARTS}}
    entries = {}
    for cid, sev in severities.items():
        entries[cid] = parse_entry({"id": cid, "severity": sev, "kind": "scan", "cve": [], "kb": [],
                                    "references": ["https://example.org"], "en": texts, "zh-TW": texts})
    return Catalog(entries=entries)


def _const(cid: str, *statuses: Status) -> Check:
    def run(facts: HostFacts) -> Iterable[CheckResult]:
        return [CheckResult(check_id=cid, status=s, evidence={"n": i}, share=f"s{i}")
                for i, s in enumerate(statuses)]

    return Check(id=cid, run=run)


def _boom(facts: HostFacts) -> Iterable[CheckResult]:
    raise KeyError("bug")


def test_affected_results_become_findings_with_catalog_severity_worst_first() -> None:
    checks = [_const("low-one", Status.AFFECTED), _const("crit-one", Status.AFFECTED, Status.NOT_AFFECTED),
              _const("fine", Status.NOT_AFFECTED), _const("unsure", Status.UNKNOWN)]
    cat = _catalog(**{"low-one": "low", "crit-one": "critical", "fine": "high", "unsure": "high"})
    result = evaluate(host("192.0.2.7", 445), checks, cat, strict=True)
    assert len(result.results) == 5
    assert [(f.id, f.severity) for f in result.findings] == [("crit-one", Severity.CRITICAL),
                                                             ("low-one", Severity.LOW)]
    f = result.findings[0]
    assert (f.address, f.port, f.status, f.confidence, f.share) == (
        "192.0.2.7", 445, Status.AFFECTED, Confidence.CONFIRMED, "s0")
    assert f.evidence == {"n": 0}


def test_crashing_check_is_unknown_in_production_and_raises_in_strict_mode() -> None:
    checks = [Check(id="buggy", run=_boom), _const("ok", Status.AFFECTED)]
    cat = _catalog(buggy="high", ok="medium")
    result = evaluate(host(), checks, cat)
    buggy = [r for r in result.results if r.check_id == "buggy"]
    assert [r.status for r in buggy] == [Status.UNKNOWN]
    assert buggy[0].reason == "internal error in check: KeyError"
    assert [f.id for f in result.findings] == ["ok"]
    with pytest.raises(KeyError):
        evaluate(host(), checks, cat, strict=True)


def test_empty_or_mislabelled_results_are_bugs() -> None:
    empty = Check(id="empty", run=lambda facts: [])
    liar = Check(id="liar", run=_const("other", Status.AFFECTED).run)
    cat = _catalog(empty="low", liar="low", other="low")
    result = evaluate(host(), [empty, liar], cat)
    assert [(r.check_id, r.status) for r in result.results] == [("empty", Status.UNKNOWN),
                                                                ("liar", Status.UNKNOWN)]
    assert result.findings == ()
    with pytest.raises(RuntimeError, match="no result"):
        evaluate(host(), [empty], cat, strict=True)


def test_missing_catalog_entry() -> None:
    checks = [_const("nowhere", Status.AFFECTED)]
    result = evaluate(host(), checks, _catalog())
    assert [f.severity for f in result.findings] == [FALLBACK_SEVERITY]
    with pytest.raises(CatalogError):
        evaluate(host(), checks, _catalog(), strict=True)


def test_evaluate_many_is_lazy_and_keeps_order() -> None:
    calls: list[str] = []

    def run(facts: HostFacts) -> Iterable[CheckResult]:
        calls.append(facts.target.address)
        return [CheckResult(check_id="c", status=Status.AFFECTED, evidence={"a": 1})]

    hosts = (host(f"192.0.2.{i}") for i in range(1, 4))
    out = evaluate_many(hosts, [Check(id="c", run=run)], _catalog(c="info"))
    assert calls == []
    first = next(out)
    assert first.facts.target.address == "192.0.2.1" and calls == ["192.0.2.1"]
    assert [h.facts.target.address for h in out] == ["192.0.2.2", "192.0.2.3"]


def test_default_checks_and_catalog_run_on_a_bare_host() -> None:
    result = evaluate(host(), strict=True)
    assert all(r.status is not Status.AFFECTED for r in result.results)
