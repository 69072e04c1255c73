"""``smbguard fix-script`` from a saved JSON scan and from the history."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smbguard.cli import main
from smbguard.report.json import JsonReporter
from smbguard.store import Store
from tests.report.sample import sample_report


@pytest.fixture()
def scan_json(tmp_path: Path) -> Path:
    path = tmp_path / "scan.json"
    path.write_text(JsonReporter().render(sample_report(), "en"), encoding="utf-8")
    return path


def test_powershell_for_one_host_from_json(scan_json: Path, tmp_path: Path) -> None:
    out = tmp_path / "fix.ps1"
    assert (
        main(
            [
                "fix-script",
                "--host",
                "192.0.2.1",
                "--format",
                "powershell",
                "--input",
                str(scan_json),
                "-o",
                str(out),
            ]
        )
        == 0
    )
    text = out.read_text(encoding="utf-8")
    assert "Set-SmbServerConfiguration -EnableSMB1Protocol $false -Force" in text
    assert "$ExpectedName = 'PC-ACCT01'" in text


def test_host_by_name_and_auto_format(scan_json: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix-script", "--host", "nas01", "--input", str(scan_json)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# smbguard remediation for 192.0.2.2:445 (NAS01)")
    assert "    map to guest = Never" in out


def test_all_hosts_from_history_into_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "h.sqlite3"
    with Store(db) as store:
        store.save_scan(sample_report())
    out_dir = tmp_path / "fixes"
    assert main(["fix-script", "--all", "--db", str(db), "-o", str(out_dir)]) == 0
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == ["192.0.2.1-445.ps1", "192.0.2.2-445.smb.conf", "192.0.2.4-445.ps1"]
    hostile = (out_dir / "192.0.2.4-445.ps1").read_text(encoding="utf-8")
    assert "<script>" not in hostile


def test_errors(scan_json: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fix-script", "--host", "10.9.9.9", "--input", str(scan_json)]) == 2
    assert "not in this scan" in capsys.readouterr().err
    assert main(["fix-script", "--host", "x", "--db", str(tmp_path / "empty.sqlite3")]) == 1
    assert "history is empty" in capsys.readouterr().err
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"nothing": 1}), encoding="utf-8")
    assert main(["fix-script", "--all", "--input", str(bad)]) == 2
