"""``smbguard demo``: one command, the emulated office scanned by the real scanner."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from smbguard.cli import main
from smbguard.report import REPORTERS

REPO = Path(__file__).resolve().parents[2]


def test_demo_scans_the_office(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    out_json = tmp_path / "demo.json"
    html = tmp_path / "demo-report.html"
    code = main(
        ["demo", "--port", "45449", "--base", "127.1.33.0", "--html", str(html), "--json", str(out_json)]
    )
    text = capsys.readouterr().out
    assert code == 0
    assert "7 hosts scanned" in text
    lines = text.splitlines()

    def block(address: str) -> str:
        start = next(i for i, line in enumerate(lines) if line.strip().startswith(address + "  "))
        end = next((i for i in range(start + 1, len(lines)) if not lines[i].startswith("    ")), len(lines))
        return "\n".join(lines[start:end])

    assert "AFFECTED  ms17-010" in block("127.1.33.11")
    assert "ok        ms17-010" in block("127.1.33.12")
    assert "AFFECTED  cve-2020-0796" in block("127.1.33.13")
    assert "MITIGATED cve-2020-0796" in block("127.1.33.14")
    assert "AFFECTED  samba-outdated" in block("127.1.33.16")
    assert "AFFECTED  doublepulsar" in block("127.1.33.17")
    assert '"doublepulsar"' in out_json.read_text()
    if "html" in REPORTERS:
        page = html.read_text(encoding="utf-8")
        assert "ms17-010" in page and "reception-pc" in page.lower()
    else:
        assert not html.exists()


def test_demo_refuses_a_non_loopback_base(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--base", "192.168.1.0"]) == 2
    assert "loopback" in capsys.readouterr().err


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to drop to nobody")
def test_demo_runs_without_root(tmp_path: Path) -> None:
    """As user nobody (no privilege to bind port 445 or add addresses) the demo still works."""
    setpriv = shutil.which("setpriv")
    python = shutil.which("python3", path="/usr/bin:/usr/local/bin")
    if setpriv is None or python is None:
        pytest.skip("setpriv or a system python3 is missing")
    tmp_path.chmod(0o777)
    env = {"HOME": str(tmp_path), "PYTHONPATH": str(REPO / "src"), "PATH": "/usr/bin:/bin"}
    cmd = [setpriv, "--reuid=65534", "--regid=65534", "--clear-groups", python]
    probe = subprocess.run(
        [*cmd, "-c", "import smbguard.cli, smbguard.probes.host, smbguard.checks.evaluate"],
        env=env,
        capture_output=True,
        timeout=60,
    )
    if probe.returncode != 0:
        pytest.skip(f"the system python cannot import smbguard as nobody: {probe.stderr[-200:]!r}")
    run = subprocess.run(
        [*cmd, "-m", "smbguard", "demo", "--base", "127.1.34.0", "--html", ""],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    assert "127.1.34.11:10445" in run.stdout
    assert "AFFECTED  ms17-010" in run.stdout


def test_demo_serve_keeps_the_lab_running_until_sigterm() -> None:
    import asyncio
    import signal
    import sys

    from smbguard.model import Target
    from smbguard.probes import ms17_010

    env = dict(
        os.environ,
        PYTHONPATH=os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")])),
    )
    proc = subprocess.Popen(
        [sys.executable, "-m", "smbguard", "demo", "--serve", "--port", "45452", "--base", "127.1.32.0"],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("Try:"):
                break
        assert any("127.1.32.11" in line and "win7-unpatched" in line for line in lines)
        state = asyncio.run(ms17_010.probe(Target("127.1.32.11", 45452))).state
        assert state == "vulnerable"
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0


def test_demo_in_traditional_chinese(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["demo", "--port", "45454", "--base", "127.1.38.0", "--html", "", "--lang", "zh-TW"])
    text = capsys.readouterr().out
    assert code == 0
    assert "弱點檢查" in text and "共 7 台主機" in text
    assert "受影響    ms17-010" in text  # label padded to 9 terminal columns
    assert "缺少 MS17-010 更新" in text  # catalog title in zh-TW
