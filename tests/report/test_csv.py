"""CSV reporter: BOM, one row per host x finding, formula neutralisation."""

from __future__ import annotations

import csv
import io
import json

import pytest

from smbguard.report.csv import BOM, COLUMNS, CsvReporter, safe_cell
from tests.report.sample import HOSTILE_NAME, sample_report


def _rows(lang: str) -> list[dict[str, str]]:
    text = CsvReporter().render(sample_report(), lang)
    assert text.startswith(BOM)
    assert text.encode("utf-8").startswith(b"\xef\xbb\xbf")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_one_row_per_host_and_finding() -> None:
    report = sample_report()
    rows = _rows("en")
    findings = [(h.facts.target.address, f.id) for h in report.hosts for f in h.findings]
    clean = [h.facts.target.address for h in report.hosts if h.facts.reachable and not h.findings]
    assert [(r["address"], r["finding_id"]) for r in rows if r["finding_id"]] == findings
    assert [r["address"] for r in rows if not r["finding_id"]] == clean == ["192.0.2.3"]
    assert "192.0.2.5" not in {r["address"] for r in rows}  # closed port
    assert list(rows[0]) == list(COLUMNS)
    smb1 = next(r for r in rows if r["address"] == "192.0.2.1" and r["finding_id"] == "smb1-enabled")
    assert smb1["severity"] == "High" and smb1["title"] == "SMB1 protocol enabled"
    assert json.loads(smb1["evidence"])["smb1.enabled"] is True
    assert smb1["reference"].startswith("https://learn.microsoft.com/")


def test_chinese() -> None:
    rows = _rows("zh-TW")
    smb1 = next(r for r in rows if r["finding_id"] == "smb1-enabled")
    assert smb1["severity"] == "高" and smb1["title"] == "SMB1 通訊協定仍啟用"


def test_hostile_host_name_is_not_a_formula() -> None:
    rows = _rows("en")
    hostile = [r for r in rows if r["address"] == "192.0.2.4"]
    assert hostile and hostile[0]["name"] == HOSTILE_NAME


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("=1+1", "'=1+1"),
        ("+cmd", "'+cmd"),
        ("-x", "'-x"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("a\x07b", "a\\x07b"),
        ("plain", "plain"),
        (None, ""),
    ],
)
def test_safe_cell(raw: str | None, expected: str) -> None:
    assert safe_cell(raw) == expected
