"""Reporters: turn a :class:`~smbguard.model.ScanReport` into text.

A reporter is a one-method object, ``render(report, lang) -> str``. Streaming
formats (``jsonl``) also implement ``render_host(host, lang) -> str``, called as
each host finishes, and ``render`` then returns only what comes after the hosts.

``REPORTERS`` maps each ``--format`` choice to a reporter factory: it is the one
place where formats are registered (add ``csv``, ``md``, ``html`` ... here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from smbguard.model import HostResult, ScanReport


class Reporter(Protocol):
    """Renders a whole scan report."""

    def render(self, report: ScanReport, lang: str = "en") -> str: ...


@runtime_checkable
class StreamingReporter(Protocol):
    """A reporter that writes each host as soon as it is done."""

    def render_host(self, host: HostResult, lang: str = "en") -> str: ...

    def render(self, report: ScanReport, lang: str = "en") -> str: ...


def _json() -> Reporter:
    from smbguard.report.json import JsonReporter

    return JsonReporter()


def _jsonl() -> Reporter:
    from smbguard.report.json import JsonLinesReporter

    return JsonLinesReporter()


def _table() -> Reporter:
    from smbguard.report.table import TableReporter

    return TableReporter()


def _csv() -> Reporter:
    from smbguard.report.csv import CsvReporter

    return CsvReporter()


def _md() -> Reporter:
    from smbguard.report.markdown import MarkdownReporter

    return MarkdownReporter()


def _html() -> Reporter:
    from smbguard.report.html import HtmlReporter

    return HtmlReporter()


#: ``--format`` choice -> reporter factory.
REPORTERS: dict[str, Callable[[], Reporter]] = {
    "table": _table,
    "json": _json,
    "jsonl": _jsonl,
    "csv": _csv,
    "md": _md,
    "html": _html,
}


def get_reporter(name: str) -> Reporter:
    """The reporter for a ``--format`` choice; KeyError names the choice."""
    try:
        factory = REPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown format {name!r}; choose from {', '.join(sorted(REPORTERS))}") from None
    return factory()
