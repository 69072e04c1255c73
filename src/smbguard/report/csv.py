"""CSV: one row per host x finding, for spreadsheets (UTF-8 with a byte-order mark for Excel).

The remediation itself is in the html/md reports and the fix scripts (per-row
scripts would make the sheet huge); ``reference`` is the entry's first URL.
Reachable hosts without findings get one row with an empty finding (status
"no findings") so the sheet is also an inventory; unreachable hosts are left out.
Cells that a spreadsheet would run as a formula (starting with ``= + - @`` or a
tab/CR) are prefixed with ``'`` (OWASP CSV injection advice): host names and OS
strings come from the network.
"""

from __future__ import annotations

import csv
import io
import json

from smbguard.catalog.loader import Catalog, load_catalog
from smbguard.model import ScanReport
from smbguard.report.i18n import confidence_label, label, severity_label
from smbguard.report.summary import host_name, host_os

BOM = "\ufeff"
COLUMNS = (
    "address",
    "port",
    "name",
    "os",
    "status",
    "finding_id",
    "severity",
    "confidence",
    "title",
    "share",
    "evidence",
    "cvss_score",
    "cve",
    "kb",
    "reference",
)


_CONTROLS = {c: f"\\x{c:02x}" for c in range(0x20) if c != 0x0A}


def safe_cell(value: object) -> str:
    """Text for one cell, neutralising spreadsheet formulas and control characters."""
    text = "" if value is None else str(value)
    text = text.translate(_CONTROLS)
    if text[:1] in ("=", "+", "-", "@", "\t", "\r"):
        text = "'" + text
    return text


class CsvReporter:
    """``--format csv``. ``render`` returns text that starts with a BOM: write it as UTF-8."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog

    def render(self, report: ScanReport, lang: str = "en") -> str:
        catalog = self.catalog or load_catalog()
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\r\n")
        writer.writerow(COLUMNS)
        for host in report.hosts:
            facts = host.facts
            base = [
                facts.target.address,
                facts.target.port,
                safe_cell(host_name(facts)),
                safe_cell(host_os(facts)),
            ]
            if not host.findings:
                if facts.reachable:
                    writer.writerow(base + [label("no_findings_row", lang)] + [""] * (len(COLUMNS) - 5))
                continue
            for f in host.findings:
                entry = catalog.get(f.id)
                texts = entry.text(lang) if entry else None
                writer.writerow(
                    [
                        *base,
                        label("findings", lang),
                        f.id,
                        severity_label(f.severity, lang),
                        confidence_label(f.confidence, lang),
                        safe_cell(texts.title if texts else f.id),
                        safe_cell(f.share),
                        safe_cell(
                            json.dumps(dict(f.evidence), ensure_ascii=False, sort_keys=True, default=str)
                        ),
                        "" if entry is None or entry.cvss_score is None else f"{entry.cvss_score:.1f}",
                        " ".join(entry.cve) if entry else "",
                        " ".join(entry.kb) if entry else "",
                        entry.references[0] if entry else "",
                    ]
                )
        return BOM + buf.getvalue()
