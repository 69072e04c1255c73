"""Exit codes for schedulers and CI: ``--fail-on SEVERITY``.

``smbguard scan`` exits with:

====  =========================================================================
0     scan finished (and, with ``--fail-on``, no finding at or above the level)
1     internal error (including: the history database could not be written)
2     bad usage or bad target
3     ``--fail-on LEVEL`` given and at least one finding has severity >= LEVEL
130   interrupted (Ctrl-C); the partial report was still written
====  =========================================================================

An interrupted scan keeps 130 even when findings were found, so a scheduler can
tell "incomplete" from "complete and failing". ``cli/scan.py`` calls
:func:`add_fail_on_argument` on its parser and :func:`exit_code` at the end.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterable

from smbguard.model import HostResult, ScanReport, Severity

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_FINDINGS = 3
EXIT_INTERRUPTED = 130

LEVELS = tuple(s.label for s in Severity)


def _severity(text: str) -> Severity:
    try:
        return Severity.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"choose one of: {', '.join(LEVELS)}") from None


def add_fail_on_argument(parser: argparse.ArgumentParser | argparse._ArgumentGroup) -> None:
    parser.add_argument(
        "--fail-on",
        type=_severity,
        default=None,
        metavar="SEVERITY",
        help=f"exit with {EXIT_FINDINGS} when any finding has this severity or worse ({', '.join(LEVELS)})",
    )


def worst(hosts: Iterable[HostResult]) -> Severity | None:
    """The highest severity among all findings, or None when there is none."""
    best: Severity | None = None
    for host in hosts:
        for finding in host.findings:
            if best is None or finding.severity > best:
                best = finding.severity
    return best


def exit_code(report: ScanReport, fail_on: Severity | None) -> int:
    """The process exit code for a finished (or interrupted) scan."""
    if report.info.interrupted:
        return EXIT_INTERRUPTED
    if fail_on is not None:
        top = worst(report.hosts)
        if top is not None and top >= fail_on:
            return EXIT_FINDINGS
    return EXIT_OK
