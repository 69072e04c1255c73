"""End to end against the SMB emulator on loopback (127.0.44.x, port 45544):
``smbguard scan`` -> history -> ``--fail-on`` -> csv/md/html reports -> ``diff`` -> ``fix-script``.
Every command runs as a real ``python -m smbguard`` process."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from smbguard.lab import personas
from tests.helpers.lab import checkout_env, lab_process

pytestmark = pytest.mark.integration

PORT = 45544
BASE = "127.0.44"
# Child processes import this checkout, not whatever copy is installed.
ENV = checkout_env()


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, personas.Persona]]:
    with lab_process(BASE, PORT) as layout:
        assert layout, "the lab did not start"
        yield layout


def smbguard(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "smbguard", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=ENV,
    )


def scan(lab: dict[str, personas.Persona], db: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return smbguard("scan", *sorted(lab), "--port", str(PORT), "--timeout", "3", "--db", str(db), *extra)


def test_scan_store_reports_diff_fixscript(lab: dict[str, personas.Persona], tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite3"
    html_path = tmp_path / "report.html"
    first = scan(lab, db, "--format", "html", "-o", str(html_path), "--fail-on", "high", "--lang", "zh-TW")
    assert first.returncode == 3, first.stderr  # the lab has SMB1 hosts and MS17-010
    page = html_path.read_text(encoding="utf-8")
    assert 'data-lang="zh-TW"' in page and "SMB1 通訊協定仍啟用" in page

    second = scan(lab, db, "--format", "json", "-o", str(tmp_path / "scan.json"), "--fail-on", "critical")
    doc = json.loads((tmp_path / "scan.json").read_text(encoding="utf-8"))
    worst = {f["severity"] for h in doc["hosts"] for f in h["findings"]}
    assert second.returncode == (3 if "critical" in worst else 0), second.stderr

    history = smbguard("history", "--db", str(db), "--format", "json")
    scans = json.loads(history.stdout)["scans"]
    assert [s["id"] for s in scans] == [2, 1] and scans[0]["hosts"] == len(lab)
    assert scans[0]["findings"] == sum(len(h["findings"]) for h in doc["hosts"]) > 0

    diff = json.loads(smbguard("diff", "--db", str(db), "--format", "json").stdout)
    assert diff["fixed"] == [] and diff["new"] == [] and diff["hosts_appeared"] == []
    assert len(diff["still_open"]) == scans[0]["findings"]

    csv_out = scan(lab, db, "--no-store", "--format", "csv")
    assert csv_out.stdout.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(csv_out.stdout[1:])))
    assert {r["address"] for r in rows} == set(lab)
    again = tmp_path / "again.html"
    scan(lab, db, "--no-store", "--format", "html", "-o", str(again))
    page = again.read_text(encoding="utf-8")
    assert 'id="diff"' in page and "(#2 → *)" in page
    assert 'id="diff"' not in html_path.read_text(encoding="utf-8")  # the first scan had no history
    md = scan(lab, db, "--no-store", "--format", "md", "--lang", "en").stdout
    assert md.startswith("# smbguard SMB security report")
    assert len(json.loads(smbguard("history", "--db", str(db), "--format", "json").stdout)["scans"]) == 2

    smb1_hosts = [h["address"] for h in doc["hosts"] if any(f["id"] == "smb1-enabled" for f in h["findings"])]
    assert smb1_hosts
    fixes = tmp_path / "fixes"
    assert smbguard("fix-script", "--all", "--db", str(db), "-o", str(fixes)).returncode == 0
    files = {p.name: p.read_text(encoding="utf-8") for p in fixes.iterdir()}
    assert len(files) == sum(1 for h in doc["hosts"] if h["findings"])
    for address in smb1_hosts:
        (text,) = [t for n, t in files.items() if n.startswith(f"{address}-{PORT}")]
        assert (
            "EnableSMB1Protocol $false" in text
            or "server min protocol = SMB2_10" in text
            or ("smb1-only" in text)
        )
