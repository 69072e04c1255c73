"""`smbguard logs analyze` and `smbguard pcap` end to end (real files, output parsed back)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smbguard.cli import main


def test_logs_analyze_json(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "alerts.json"
    code = main(
        [
            "logs",
            "analyze",
            str(shared_data / "evtx/evtx-attack-samples/LM_ScheduledTask_ATSVC_target_host.evtx"),
            str(shared_data / "logs/samba/crowdsec-hub_smb-logs.log"),
            "--spray-accounts",
            "2",
            "--format",
            "json",
            "-o",
            str(out),
        ]
    )
    assert code == 0
    doc = json.loads(out.read_text())
    assert {f["id"] for f in doc["findings"]} == {
        "admin-share-access",
        "anonymous-logon",
        "password-spraying",
    }
    assert [(s["type"], s["events"], s["records"]) for s in doc["sources"]] == [
        ("evtx", 19, 34),
        ("samba", 2, 2),
    ]
    for finding in doc["findings"]:
        assert {"count", "first_seen", "last_seen", "sources", "accounts"} <= set(finding["evidence"])


@pytest.mark.parametrize("fmt", ["table", "md", "jsonl"])
def test_logs_analyze_text_formats(shared_data: Path, capsys: pytest.CaptureFixture[str], fmt: str) -> None:
    path = str(shared_data / "evtx/evtx-to-mitre-attack/ID5142-_New_file_share_created.evtx")
    assert main(["logs", "analyze", path, "--format", fmt, "--lang", "zh-TW"]) == 0
    text = capsys.readouterr().out
    assert "share-created" in text
    if fmt == "jsonl":
        assert {json.loads(line)["id"] for line in text.splitlines()} == {
            "share-created",
            "admin-share-access",
        }
    else:
        assert "新增了網路共用資料夾" in text


def test_pcap_json_and_html(shared_data: Path, tmp_path: Path) -> None:
    capture = str(shared_data / "pcaps/zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap")
    out = tmp_path / "p.json"
    assert main(["pcap", capture, "--format", "json", "-o", str(out)]) == 0
    doc = json.loads(out.read_text())
    hosts = {h["address"]: h for h in doc["hosts"]}
    assert hosts["192.168.198.203"]["doublepulsar"]["state"] == "infected"
    assert "doublepulsar" in {f["id"] for f in hosts["192.168.198.203"]["findings"]}
    assert "ms17-010-exploit-traffic" in {f["id"] for f in doc["findings"]}
    page = tmp_path / "p.html"
    assert main(["pcap", capture, "--format", "html", "-o", str(page)]) == 0
    assert page.read_text().startswith("<!DOCTYPE html>")


def test_pcap_missing_file(tmp_path: Path) -> None:
    assert main(["pcap", str(tmp_path / "nope.pcap")]) == 2
