"""Terminal table: one line per host, hostile strings neutralised."""

from __future__ import annotations

from smbguard.model import HostResult, ScanInfo, ScanReport
from smbguard.report.table import TableReporter, clean
from tests.report.samples import T0, closed, hostile, samba_smb1_guest, with_finding


def render(*hosts: HostResult, interrupted: bool = False) -> str:
    info = ScanInfo(T0, T0, (), "0.1.0", (), interrupted)
    return TableReporter().render(ScanReport(info, hosts))


def test_one_line_per_host_with_the_columns() -> None:
    text = render(HostResult(closed()), with_finding(samba_smb1_guest()), HostResult(hostile()))
    lines = text.splitlines()
    assert lines[0].split() == [
        "ADDRESS",
        "NAME",
        "OS",
        "/",
        "BUILD",
        "SMB1",
        "DIALECTS",
        "SIGNING",
        "NULL/GUEST",
        "FINDINGS",
    ]
    samba = lines[1]
    assert samba.startswith("127.0.12.1 ")
    for cell in (
        "SMBGUARDLAB\\LABSMB1",
        "Samba 4.17.12-Debian (6.1.0)",
        "yes",
        "2.0.2 2.1 3.0 3.0.2 3.1.1",
        "enabled",
        "yes/yes",
        "1 (high)",
    ):
        assert cell in samba
    assert lines[2].startswith("127.0.12.9:4531")  # open hosts first, then the closed one
    assert lines[3].startswith("127.0.12.30") and "closed" in lines[3]
    assert "3 hosts scanned" in text and "1 closed" in text and "2 open" in text


def test_control_characters_from_servers_never_reach_the_terminal() -> None:
    text = render(HostResult(hostile()))
    assert "\x1b" not in text and "\x07" not in text
    assert "EVIL?[2J?name" in text


def test_clean_bounds_length() -> None:
    assert clean("x" * 100, 10) == "x" * 9 + "…"
    assert clean(None) == ""
    assert clean("a\nb\tc") == "a?b?c"


def test_interrupted_is_visible() -> None:
    assert "(interrupted)" in render(HostResult(closed()), interrupted=True)
