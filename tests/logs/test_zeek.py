"""Zeek sources on the real logs in ../shared/data/logs (TSV, JSON, header-less notices, gzip)."""

# ruff: noqa: E501  (recorded log lines are kept on one line)

from __future__ import annotations

import gzip
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.detect import open_source, sniff
from smbguard.logs.events import EventKind
from smbguard.logs.zeek import ZeekSource

MACCDC = "logs/zeek-maccdc2012-cyberspatiallabs"
BTEST = "logs/zeek-btest-baselines"


def _read(path: Path) -> tuple[ZeekSource, list]:  # type: ignore[type-arg]
    source = ZeekSource(str(path))
    return source, list(source.events())


def test_json_smb_files(shared_data: Path) -> None:
    source, events = _read(shared_data / MACCDC / "smb_files.log")
    assert source.log_type == "smb_files"
    assert source.stats.records == 30 and len(events) == 30
    assert Counter(e.kind for e in events) == {EventKind.FILE_ACCESS: 30}  # only SMB::FILE_OPEN
    assert events[0].time == datetime.fromtimestamp(1332008627.34, tz=UTC)
    assert (events[0].src_ip, events[0].server, events[0].path) == (
        "192.168.202.102",
        "192.168.23.100",
        "\\browser",
    )


def test_json_smb_mapping_and_dce_rpc(shared_data: Path) -> None:
    source, events = _read(shared_data / MACCDC / "smb_mapping.log")
    assert source.log_type == "smb_mapping" and len(events) == 101
    assert Counter(e.share for e in events)["IPC$"] == sum(1 for e in events if e.share == "IPC$") > 0
    rpc_source, rpc = _read(shared_data / MACCDC / "dce_rpc.log")
    assert rpc_source.log_type == "dce_rpc" and len(rpc) == 11
    assert {e.path for e in rpc} == {"spoolss", "wkssvc", "srvsvc"}


def test_tsv_with_masked_timestamps(shared_data: Path) -> None:
    source, events = _read(shared_data / BTEST / "smb.smb2-create-delete-on-close__smb_files.log")
    assert source.log_type == "smb_files"
    assert len(events) == 8
    assert all(e.time is None for e in events)
    assert any("masked" in w for w in source.stats.warnings)


def test_tsv_smb_cmd_smb2_only_gives_no_smb1_events(shared_data: Path) -> None:
    source, events = _read(shared_data / BTEST / "smb.smb2-create-delete-on-close__smb_cmd.log")
    assert source.log_type == "smb_cmd" and source.stats.records == 24
    assert events == []


def test_headerless_eternalsafety_notices(shared_data: Path) -> None:
    path = shared_data / "logs/zeek-eternalsafety-notices/eternal-safety.eternalchampion__notice.log"
    assert sniff(str(path)) == "zeek"
    _source, events = _read(path)
    assert {e.kind for e in events} == {EventKind.EXPLOIT}
    # checked with: cut -f6 FILE | sort | uniq -c (4 Signatures:: notes are not ours)
    assert Counter(e.detail for e in events) == {
        "EternalSafety::ViolationNtRename": 2,
        "EternalSafety::EternalChampion": 2,
    }
    assert {(e.src_ip, e.server) for e in events} == {("10.1.75.167", "10.1.75.4")}


def test_gzip_is_transparent(shared_data: Path, tmp_path: Path) -> None:
    original = shared_data / MACCDC / "smb_mapping.log"
    packed = tmp_path / "smb_mapping.log.gz"
    packed.write_bytes(gzip.compress(original.read_bytes()))
    assert sniff(str(packed)) == "gzip:zeek"
    events = list(open_source(str(packed)).events())
    _, plain = _read(original)
    assert [(e.time, e.src_ip, e.share) for e in events] == [(e.time, e.src_ip, e.share) for e in plain]


def test_malformed_lines_are_counted(tmp_path: Path) -> None:
    log = tmp_path / "smb_files.log"
    log.write_text(
        "#separator \\x09\n#path\tsmb_files\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h\tid.resp_p\taction\tpath\tname\n"
        "1700000000.5\tC1\t10.0.0.1\t5000\t10.0.0.2\t445\tSMB::FILE_DELETE\t\\\\\\\\srv\\\\data\tx.doc\n"
        "short\tline\n"
        "1700000001.0\tC1\t10.0.0.1\t5000\t10.0.0.2\t445\tSMB::FILE_RENAME\t\\\\\\\\srv\\\\data\ty.doc\n"
    )
    source, events = _read(log)
    assert [(e.kind, e.path) for e in events] == [
        (EventKind.FILE_DELETE, "x.doc"),
        (EventKind.FILE_RENAME, None),
    ]
    assert events[0].share == "data"
    assert source.stats.skipped == 1


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=120), max_size=20))
def test_fuzz_lines_never_crash(lines: list[bytes]) -> None:
    source = ZeekSource("fuzz")
    header = [b"#separator \\x09\n", b"#fields\tts\tid.orig_h\tid.resp_h\taction\tname\tpath\n"]
    fed = header + [line.replace(b"\n", b"") + b"\n" for line in lines]
    events = list(source.events_from_lines(fed))
    assert source.stats.events == len(events)
