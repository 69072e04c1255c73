"""Markdown reporter: structure, both languages, escaping of server strings."""

from __future__ import annotations

import pytest

from smbguard.report.markdown import MarkdownReporter, md_escape
from tests.report.sample import HOSTILE_NAME, sample_report


def test_structure_en() -> None:
    md = MarkdownReporter().render(sample_report(), "en")
    assert md.startswith("# smbguard SMB security report\n")
    assert "| 5 | 4 | 3 |" in md
    assert "## SMB1 protocol enabled (`smb1-enabled`)" in md
    assert "### Affected hosts (3)" in md
    assert "Set-SmbServerConfiguration -EnableSMB1Protocol $false -Force" in md
    assert "- <https://learn.microsoft.com/en-us/security-updates/securitybulletins/2017/ms17-010>" in md


def test_structure_zh() -> None:
    md = MarkdownReporter().render(sample_report(), "zh-TW")
    assert md.startswith("# smbguard SMB 安全性報告\n")
    assert "## SMB1 通訊協定仍啟用 (`smb1-enabled`)" in md
    assert "**PowerShell**" in md and "**Samba（smb.conf）**" in md


def test_hostile_strings_cannot_break_tables_or_inject_html() -> None:
    md = MarkdownReporter().render(sample_report(), "en")
    assert HOSTILE_NAME not in md and "<script>" not in md and "<b>" not in md
    host_lines = [line for line in md.splitlines() if line.startswith("| 192.0.2.4:445")]
    assert host_lines
    for line in host_lines:
        # unescaped pipes delimit exactly the table's columns
        assert line.replace("\\|", "").count("|") in (6, 10)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("a|b", "a\\|b"),
        ("<x>", "&lt;x&gt;"),
        ("*bold*", "\\*bold\\*"),
        ("[l](u)", "\\[l\\](u)"),
        ("bell\x07", "bell\\\\x07"),
        ("\u202eabc", "abc"),
        (None, ""),
    ],
)
def test_md_escape(raw: str | None, expected: str) -> None:
    assert md_escape(raw) == expected
