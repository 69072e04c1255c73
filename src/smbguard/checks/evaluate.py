"""Run the registered checks on host facts and turn AFFECTED results into findings.

``evaluate`` is the only place where check results meet the catalog: each
AFFECTED :class:`CheckResult` is joined with its catalog entry's severity into a
:class:`Finding`. A check that raises is a bug. With ``strict=True`` (what the
tests use) the exception propagates; in production it becomes an UNKNOWN result
whose reason names the exception type, and the scan goes on.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Sequence

from smbguard.catalog.loader import Catalog, load_catalog
from smbguard.checks.base import Check
from smbguard.errors import CatalogError
from smbguard.model import CheckResult, Confidence, Finding, HostFacts, HostResult, Severity, Status

log = logging.getLogger(__name__)

#: Severity used for an AFFECTED result whose id has no catalog entry (a bug the
#: catalog test catches; production still reports the finding rather than drop it).
FALLBACK_SEVERITY = Severity.MEDIUM


def _default_checks() -> Sequence[Check]:
    from smbguard.checks.registry import ALL_CHECKS

    return ALL_CHECKS


def run_check(check: Check, facts: HostFacts, *, strict: bool = False) -> tuple[CheckResult, ...]:
    """Run one check; normalise a crash or an empty answer to one UNKNOWN result."""
    try:
        results = tuple(check.run(facts))
        if not results:
            raise RuntimeError("check returned no result")
        for result in results:
            if result.check_id != check.id:
                raise RuntimeError(f"check returned a result for {result.check_id!r}")
        return results
    except Exception as exc:
        if strict:
            raise
        log.error("check %s failed on %s: %s", check.id, facts.target, type(exc).__name__, exc_info=True)
        return (
            CheckResult(
                check_id=check.id,
                status=Status.UNKNOWN,
                confidence=Confidence.POSSIBLE,
                reason=f"internal error in check: {type(exc).__name__}",
            ),
        )


def findings_of(
    facts: HostFacts, results: Iterable[CheckResult], catalog: Catalog, *, strict: bool = False
) -> tuple[Finding, ...]:
    """AFFECTED results joined with catalog severity, worst first, then by id and share."""
    findings: list[Finding] = []
    for result in results:
        if result.status is not Status.AFFECTED:
            continue
        entry = catalog.get(result.check_id)
        if entry is None:
            if strict:
                raise CatalogError(f"no catalog entry for finding id {result.check_id!r}")
            log.error("no catalog entry for %s", result.check_id)
            severity = FALLBACK_SEVERITY
        else:
            severity = entry.severity
        findings.append(
            Finding(
                id=result.check_id,
                severity=severity,
                address=facts.target.address,
                port=facts.target.port,
                status=result.status,
                confidence=result.confidence,
                evidence=result.evidence,
                share=result.share,
            )
        )
    findings.sort(key=lambda f: (-int(f.severity), f.id, f.share or ""))
    return tuple(findings)


def evaluate(
    facts: HostFacts,
    checks: Sequence[Check] | None = None,
    catalog: Catalog | None = None,
    *,
    strict: bool = False,
) -> HostResult:
    """Every check on one host's facts -> :class:`HostResult` (results + findings)."""
    checks = _default_checks() if checks is None else checks
    catalog = load_catalog() if catalog is None else catalog
    results: list[CheckResult] = []
    for check in checks:
        results.extend(run_check(check, facts, strict=strict))
    return HostResult(
        facts=facts, results=tuple(results), findings=findings_of(facts, results, catalog, strict=strict)
    )


def evaluate_many(
    facts: Iterable[HostFacts],
    checks: Sequence[Check] | None = None,
    catalog: Catalog | None = None,
    *,
    strict: bool = False,
) -> Iterator[HostResult]:
    """Lazily :func:`evaluate` a stream of hosts (the catalog is loaded once)."""
    checks = _default_checks() if checks is None else checks
    catalog = load_catalog() if catalog is None else catalog
    for host in facts:
        yield evaluate(host, checks, catalog, strict=strict)
