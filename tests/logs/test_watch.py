"""``logs watch``: growth, partial lines, rotation, truncation, restart without re-alerting."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

from smbguard.logs.detectors import Thresholds
from smbguard.logs.watch import Watcher

T = Thresholds(brute_force_failures=3, spray_accounts=50)


def _auth(user: str, ip: str, second: int) -> str:
    return (
        f"Auth: [SMB2,(null)] user [CORP]\\[{user}] at [Thu, 14 Oct 2021 15:24:{second:02d}.000000 UTC] "
        f"with [NTLMv2] status [NT_STATUS_WRONG_PASSWORD] workstation [W] remote host [ipv4:{ip}:4000] "
        f"mapped to [CORP]\\[{user}]. local host [ipv4:10.0.0.1:445]\n"
    )


def _watcher(tmp_path: Path, target: Path, out: io.StringIO, from_start: bool = False) -> Watcher:
    return Watcher(
        [str(target)], state_path=str(tmp_path / "state.json"), thresholds=T, from_start=from_start, out=out
    )


def _append(path: Path, text: str) -> None:
    with path.open("a") as handle:
        handle.write(text)


def test_follow_growth_partial_lines_and_restart(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    logs.mkdir()
    log = logs / "samba.log"
    log.write_text(_auth("old", "10.9.9.9", 1) * 5)  # already there: not re-read
    out = io.StringIO()
    w = _watcher(tmp_path, logs, out)
    assert w.poll() == []
    _append(log, _auth("bob", "10.0.0.5", 2) * 2)
    _append(log, _auth("bob", "10.0.0.5", 3)[:40])  # half a line: not parsed yet
    assert w.poll() == []
    _append(log, _auth("bob", "10.0.0.5", 3)[40:])
    alerts = w.poll()
    assert [(a.id, a.key) for a in alerts] == [("smb-brute-force", "smb-brute-force|10.0.0.5")]
    w.emit(alerts, jsonl=True)
    assert json.loads(out.getvalue())["id"] == "smb-brute-force"
    w.save_state()
    w.close()
    state = json.loads((tmp_path / "state.json").read_text())
    assert state["files"][str(log)]["offset"] == log.stat().st_size
    # restart: old lines are not read again, the alert is not repeated
    w2 = _watcher(tmp_path, logs, io.StringIO())
    assert w2.poll() == []
    _append(log, _auth("bob", "10.0.0.5", 4) * 3)  # detector windows restart empty after a restart ...
    assert w2.poll() == []  # ... and the key was already alerted: no duplicate
    _append(log, _auth("eve", "10.0.0.6", 5) * 3)
    assert [a.key for a in w2.poll()] == ["smb-brute-force|10.0.0.6"]
    w2.close()


def test_rotation_and_truncation(tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_text("")
    w = _watcher(tmp_path, log, io.StringIO(), from_start=True)
    _append(log, _auth("a", "10.1.0.1", 1))
    assert w.poll() == []  # empty at first poll: discovered once it has content
    _append(log, _auth("a", "10.1.0.1", 2))
    # rotate: the last line of the old file is written after the rename, then a new file appears
    os.rename(log, tmp_path / "auth.log.1")
    _append(tmp_path / "auth.log.1", _auth("a", "10.1.0.1", 3))
    log.write_text(_auth("c", "10.2.0.1", 4) * 3)
    alerts = {a.key for a in w.poll()}
    assert "smb-brute-force|10.1.0.1" in alerts  # rest of the rotated file was read
    assert "smb-brute-force|10.2.0.1" in alerts  # and the new file from its start
    # copytruncate: the file shrinks and is written again from offset 0
    log.write_text("")
    w.poll()
    log.write_text(_auth("d", "10.3.0.1", 5) * 3)
    assert [a.key for a in w.poll()] == ["smb-brute-force|10.3.0.1"]
    w.close()


def test_run_once_writes_state(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text(_auth("x", "10.4.0.1", 1) * 3)
    out = io.StringIO()
    w = _watcher(tmp_path, log, out, from_start=True)
    assert w.run(jsonl=False, once=True) == 0
    assert "HIGH smb-brute-force" in out.getvalue()
    assert (tmp_path / "state.json").exists()


def test_evtx_records_are_not_analysed_twice(shared_data: Path, tmp_path: Path) -> None:
    import shutil

    logs = tmp_path / "evtx"
    logs.mkdir()
    target = logs / "Security.evtx"
    shutil.copy(shared_data / "evtx/evtx-attack-samples/LM_ScheduledTask_ATSVC_target_host.evtx", target)
    w = _watcher(tmp_path, logs, io.StringIO(), from_start=True)
    assert {a.id for a in w.poll()} == {"admin-share-access", "anonymous-logon"}
    assert w.poll() == []
    w.save_state()
    assert json.loads((tmp_path / "state.json").read_text())["files"][str(target)]["record"] > 0
    w2 = _watcher(tmp_path, logs, io.StringIO())
    assert w2.poll() == []  # same file, same records: nothing new
    # the log is replaced by another one (new inode): its records are new
    target.unlink()
    shutil.copy(shared_data / "evtx/evtx-to-mitre-attack/ID5142-_New_file_share_created.evtx", target)
    assert "share-created" in {a.id for a in w2.poll()}


def test_once_takes_a_last_line_without_newline(shared_data: Path, tmp_path: Path) -> None:
    log = tmp_path / "auth.log"
    log.write_bytes((shared_data / "logs/samba/crowdsec-hub_smb-logs.log").read_bytes())  # no final newline
    w = Watcher(
        [str(log)],
        state_path=str(tmp_path / "s.json"),
        thresholds=Thresholds(spray_accounts=2),
        from_start=True,
        out=io.StringIO(),
    )
    assert [a.id for a in w.poll()] == []  # the second line is not complete yet
    assert [a.id for a in w.poll(final=True)] == ["password-spraying"]
