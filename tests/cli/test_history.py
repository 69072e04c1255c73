"""``smbguard history`` and ``smbguard diff`` through the real CLI entry point."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from smbguard.cli import main
from smbguard.store import Store
from tests.report.sample import fixed_report, sample_report


@pytest.fixture()
def db(tmp_path: Path) -> Path:
    path = tmp_path / "h.sqlite3"
    with Store(path) as store:
        store.save_scan(sample_report())
        store.save_scan(fixed_report())
    return path


def test_history_table_and_json(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--db", str(db), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert lines[0].split()[:2] == ["ID", "STARTED"]
    assert lines[1].split()[0] == "2" and lines[2].split()[0] == "1"
    assert main(["history", "--db", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [s["id"] for s in data["scans"]] == [2, 1]
    assert data["scans"][1]["hosts"] == 5 and data["scans"][1]["open"] == 4
    assert "S3cret!" not in json.dumps(data)


def test_history_empty(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--db", str(tmp_path / "new.sqlite3"), "--lang", "en"]) == 0
    assert "no scans stored yet" in capsys.readouterr().out


def test_history_in_chinese_aligns_wide_characters(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["history", "--db", str(db), "--lang", "zh-TW"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("編號")
    # the TARGETS column starts at the same terminal column on every line
    from smbguard.cli.history import _width

    starts = {_width(line[: line.index("192.0.2.0/28")]) for line in lines[1:]}
    starts.add(_width(lines[0][: lines[0].index("掃描目標")]))
    assert len(starts) == 1


def test_diff_json_default_pair(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--db", str(db), "--format", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert (data["old_scan"], data["new_scan"]) == (1, 2)
    assert set(data) >= {"fixed", "new", "still_open", "hosts_appeared", "hosts_disappeared"}
    assert {"address": "192.0.2.1", "id": "smb1-enabled"}.items() <= next(
        i for i in data["fixed"] if i["id"] == "smb1-enabled"
    ).items()


def test_diff_text_in_both_languages(db: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "1", "2", "--db", str(db), "--lang", "zh-TW"]) == 0
    out = capsys.readouterr().out
    assert "已修正" in out and "SMB1 通訊協定仍啟用" in out
    assert main(["diff", "1", "2", "--db", str(db), "--lang", "en"]) == 0
    out = capsys.readouterr().out
    assert "Fixed:" in out and "SMB1 protocol enabled" in out


def test_diff_errors_are_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["diff", "--db", str(tmp_path / "empty.sqlite3")]) == 1
    assert "history is empty" in capsys.readouterr().err
    path = tmp_path / "one.sqlite3"
    with Store(path) as store:
        store.save_scan(sample_report())
    assert main(["diff", "1", "7", "--db", str(path)]) == 1
    assert "no scan 7" in capsys.readouterr().err
