"""Static checks of the HTML report: self-contained, escaped, both languages, CSP."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from smbguard.catalog import load_catalog
from smbguard.report.html import HtmlReporter, esc
from smbguard.store import Store, diff_scans
from tests.report.sample import HOSTILE_NAME, fixed_report, sample_report


@pytest.fixture(scope="module")
def page() -> str:
    return HtmlReporter().render(sample_report(), "zh-TW")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("<script>", "&lt;script&gt;"),
        ("a\"b'c", "a&quot;b&#x27;c"),
        ("bell\x07", "bell\\x07"),
        ("\u202egnp.exe", "\\u202egnp.exe"),
        ("zero\u200bwidth", "zero\\u200bwidth"),
        ("\x9b", "\\x9b"),
        (None, ""),
        ("網路上的芳鄰", "網路上的芳鄰"),
    ],
)
def test_esc(raw: str | None, expected: str) -> None:
    assert esc(raw) == expected


def test_self_contained(page: str) -> None:
    assert "<link" not in page and "@import" not in page and "url(" not in page
    assert not re.search(r"\ssrc\s*=", page)
    assert 'http-equiv="Content-Security-Policy"' in page
    assert "default-src 'none'" in page


def test_only_the_hashed_script(page: str) -> None:
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert len(scripts) == 1 and page.count("<script") == 1
    digest = base64.b64encode(hashlib.sha256(scripts[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in page


def test_hostile_strings_are_escaped(page: str) -> None:
    assert HOSTILE_NAME not in page
    assert esc(HOSTILE_NAME) in page
    assert "<b>" not in page
    assert "\u202e" not in page and "\x07" not in page


def test_both_languages_embedded(page: str) -> None:
    catalog = load_catalog()
    ids = {f.id for h in sample_report().hosts for f in h.findings}
    for fid in ids:
        entry = catalog.entry(fid)
        assert esc(entry.title("en")) in page and esc(entry.title("zh-TW")) in page
        assert esc(entry.text("zh-TW").impact) in page
    assert 'data-lang="zh-TW"' in page and 'lang="zh-TW"' in page


def test_every_remediation_part_and_reference(page: str) -> None:
    entry = load_catalog().entry("smb1-enabled")
    assert page.count('id="f-smb1-enabled"') == 1
    for _, text in entry.text("en").remediation.parts():
        assert esc(text.split("\n")[0]) in page
    for url in entry.references:
        assert f'href="{esc(url)}"' in page


def test_no_findings_report() -> None:
    from dataclasses import replace

    report = sample_report()
    clean = replace(report, hosts=tuple(replace(h, findings=()) for h in report.hosts))
    page = HtmlReporter().render(clean, "en")
    assert "No findings" in page and 'class="finding"' not in page


def test_diff_section(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        a = store.save_scan(sample_report())
        b = store.save_scan(fixed_report())
        d = diff_scans(store, a, b)
    page = HtmlReporter(diff=d).render(fixed_report(), "en")
    assert 'id="diff"' in page
    assert "1 host(s) fixed: SMB1 protocol enabled" in page
    assert "1 台主機已修正：SMB1 通訊協定仍啟用" in page
    assert HtmlReporter().render(fixed_report(), "en").count('id="diff"') == 0
