"""ZeekSource.frames() against ZeekSource.events(), the reference (the CONTRACT in
smbguard.logs.events.FrameSource): the same rows in the same order and the same stats,
on every real Zeek log, gzip, and hypothesis-generated hostile files read in tiny blocks
so that lines straddle block boundaries."""

from __future__ import annotations

import gzip
import json
import os
import tempfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smbguard.logs import zeek
from smbguard.logs.analyze import analyze
from smbguard.logs.detect import open_source, sniff
from smbguard.logs.events import Event, events_to_frame, parse_epoch
from smbguard.logs.zeek import ZeekSource
from tests.logs.frames import frames_counting_lines

Opener = Callable[[str], IO[bytes]] | None


def _gzip_open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb")  # type: ignore[return-value]


def assert_same(path: str, opener: Opener = None, rows: int = 131_072) -> pl.DataFrame:
    """frames() == events() row for row, stats equal, no frame above ``rows``."""
    fast = ZeekSource(path, opener)
    frames = list(fast.frames(rows))
    assert frames and all(f.height <= rows for f in frames)
    assert all(f.height == rows for f in frames[:-1])  # full frames except the last
    slow = ZeekSource(path, opener)
    want = events_to_frame(slow.events())
    got = pl.concat(frames)
    assert got.schema == want.schema
    if not got.equals(want):  # show the first differing row
        for i, (a, b) in enumerate(zip(got.iter_rows(), want.iter_rows(), strict=False)):
            assert a == b, f"row {i}"
        assert got.height == want.height
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert (fast.log_type, fast.columns, fast.sep, fast.unset) == (
        slow.log_type,
        slow.columns,
        slow.sep,
        slow.unset,
    )
    return got


def _zeek_files(shared_data: Path) -> list[Path]:
    files = sorted(p for p in (shared_data / "logs").rglob("*") if p.is_file() and sniff(str(p)) == "zeek")
    assert len(files) >= 25  # btest baselines, EternalSafety notices, MACCDC JSON
    return files


def test_every_real_zeek_log(shared_data: Path) -> None:
    total = 0
    for path in _zeek_files(shared_data):
        total += assert_same(str(path)).height
        assert_same(str(path), rows=7)
    assert total > 300


def test_every_real_zeek_log_gzip_and_tiny_blocks(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(zeek, "_BLOCK", 97)  # most lines cross a block boundary
    monkeypatch.setattr(zeek, "_SMALL", 1)  # and the fast path takes even runs of one line
    for path in _zeek_files(shared_data):
        packed = tmp_path / (path.name + ".gz")
        packed.write_bytes(gzip.compress(path.read_bytes()))
        assert sniff(str(packed)) == "gzip:zeek"
        assert_same(str(packed), _gzip_open, rows=5)
        assert_same(str(path))


def test_real_logs_repeated_with_headers_mid_file(shared_data: Path, tmp_path: Path) -> None:
    """Several logs of different types and formats in one file: each #fields/#path/#separator
    switches the parser, JSON lines follow TSV ones."""
    base = shared_data / "logs"
    parts = [
        base / "zeek-btest-baselines/smb.smb3-multichannel__smb_files.log",
        base / "zeek-maccdc2012-cyberspatiallabs/smb_mapping.log",
        base / "zeek-btest-baselines/dce-rpc.mapi__dce_rpc.log",
        base / "zeek-btest-baselines/smb.smb2__smb_mapping.log",
        base / "zeek-maccdc2012-cyberspatiallabs/dce_rpc.log",
        base / "zeek-btest-baselines/smb.smb1__smb_files.log",
    ]
    log = tmp_path / "mixed.log"
    log.write_bytes(b"".join(p.read_bytes() for p in parts) * 3)
    got = assert_same(str(log), rows=50)
    assert got.height > 200
    assert set(got["kind"]) >= {"file_access", "share_connect", "rpc_call"}


# ----------------------------------------------------------------------- epoch times
@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 9_999_999_999),
    st.integers(0, 999_999_999),
    st.integers(0, 9),
)
@example(1332008627, 33, 2)
@example(1605187817, 6673245, 7)
@example(0, 5, 7)
@example(9_999_999_999, 999_999_5, 7)
def test_epoch_conversion_equals_datetime_fromtimestamp(whole: int, frac: int, digits: int) -> None:
    text = str(whole) + (f".{frac:09d}"[: digits + 1] if digits else "")
    rows = pl.DataFrame(
        {"_i": [0], "_ok": [True], "ts": [text]}, schema={"_i": pl.UInt32, "_ok": pl.Boolean, "ts": pl.Utf8}
    )
    source = ZeekSource("x")
    source.log_type = "smb_mapping"
    block = zeek._Block(source)
    block._emit(rows.with_columns(**{k: pl.lit(None, pl.Utf8) for k in zeek._keys("smb_mapping")[1:]}))
    assert block.fast[0]["time"].to_list() == [parse_epoch(text)]


# ------------------------------------------------------------------- hostile files
_TS = st.sampled_from(
    [
        "1332008627.33",
        "1332008627.330000",
        "1605187817.6673245",
        "0",
        "0.5",
        "XXXXXXXXXX.XXXXXX",
        "-",
        "(empty)",
        "",
        "1e9",
        " 12",
        "1_000",
        "nan",
        "inf",
        "-5.5",
        "99999999999999999999",
        "1.",
        "\u0661\u0662",
        "1332008627.33\r",
    ]
)
_VALUE = st.sampled_from(
    [
        "-",
        "(empty)",
        "",
        "10.0.0.1",
        "fe80::1",
        "SMB::FILE_OPEN",
        "SMB::FILE_WRITE",
        "SMB::FILE_RENAME",
        "SMB::FILE_DELETE",
        "SMB::FILE_CLOSE",
        "SESSION_SETUP",
        "SUCCESS",
        "STATUS_LOGON_FAILURE",
        "SMB1",
        "SMB2",
        "T",
        "F",
        "\\\\\\\\srv\\\\share",
        "\\\\srv\\IPC$\\",
        "\\\\\\",
        "a\\x2cb",
        "a,b",
        "EternalSafety::EternalBlue",
        "Signatures::Sensitive",
        "PIPE",
        "DISK",
        "caf\u00e9",
        "\ufffd",
        "{x",
        "#x",
    ]
)
_NAMES = (
    "ts",
    "uid",
    "id.orig_h",
    "id.orig_p",
    "id.resp_h",
    "action",
    "path",
    "name",
    "prev_name",
    "service",
    "share_type",
    "command",
    "status",
    "version",
    "username",
    "tree",
    "hostname",
    "domainname",
    "success",
    "endpoint",
    "operation",
    "note",
    "msg",
    "src",
    "dst",
)
_TYPES = ("smb_files", "smb_mapping", "smb_cmd", "ntlm", "dce_rpc", "notice", "conn", "weird")


@st.composite
def _header(draw: st.DrawFn) -> bytes:
    names = draw(st.lists(st.sampled_from(_NAMES), min_size=1, max_size=10))
    out = []
    if draw(st.booleans()):
        out.append(b"#separator " + draw(st.sampled_from([b"\\x09", b"\\x09", b",", b"\\x2c", b"", b"\\x"])))
    if draw(st.booleans()):
        out.append(b"#unset_field\t" + draw(st.sampled_from([b"-", b"-", b"?", b""])))
    if draw(st.booleans()):
        out.append(b"#path\t" + draw(st.sampled_from(_TYPES)).encode())
    out.append(b"#fields\t" + "\t".join(names).encode())
    if draw(st.booleans()):
        out.append(b"#types\t" + b"\t".join(b"string" for _ in names))
    return b"\n".join(out)


@st.composite
def _tsv_line(draw: st.DrawFn) -> bytes:
    count = draw(st.integers(0, 14))
    fields = [draw(_TS)] + [draw(_VALUE) for _ in range(count)]
    sep = draw(st.sampled_from(["\t", "\t", "\t", ","]))
    line = sep.join(fields).encode()
    if draw(st.integers(0, 5)) == 0:
        line += draw(st.sampled_from([b"\r", b"\r\r", b"\t", b" ", b"\xff", b"\xe2\x82"]))
    return line


_JS_SCALAR = (
    st.sampled_from(["-", "(empty)", "", "T", "F", "SMB::FILE_OPEN", "SMB::FILE_RENAME", "\\\\srv\\d\\"])
    | st.text(max_size=8)
    | st.integers(-(10**25), 10**25)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.booleans()
    | st.none()
)
_JS_ANY = st.recursive(_JS_SCALAR, lambda inner: st.lists(inner, max_size=3), max_leaves=6) | st.dictionaries(
    st.text(max_size=3), _JS_SCALAR, max_size=2
)


@st.composite
def _json_line(draw: st.DrawFn) -> bytes:
    keys = draw(st.lists(st.sampled_from(_NAMES) | st.text(max_size=4), max_size=8))
    members = []
    for key in keys:
        if key == "ts" and draw(st.booleans()):
            value: Any = draw(st.sampled_from([1332008627.33, 1332008627, "1332008627.5", "XX", -1.5, 1e300]))
        else:
            value = draw(_JS_ANY)
        spaced = draw(st.integers(0, 9)) == 0  # Zeek writes no spaces; the others take the reference path
        text = json.dumps(value) if spaced else json.dumps(value, separators=(",", ":"))
        members.append(json.dumps(key) + (" : " if spaced else ":") + text)
    line = "{" + draw(st.sampled_from([",", ",", ",", ", "])).join(members) + "}"
    if draw(st.integers(0, 6)) == 0:  # break it
        cut = draw(st.integers(0, len(line)))
        line = line[:cut] + draw(st.sampled_from(["", "}", ",}", "\t", "\\u00e9", "\\ud800", "x", "\x01"]))
    if draw(st.integers(0, 8)) == 0:
        line += draw(st.sampled_from([" ", "\r", "\t", " x"]))
    return line.encode("utf-8", "surrogatepass")


_ODD = st.sampled_from(
    [
        b"",
        b" ",
        b"\t \x0b\x0c",
        b"\r",
        b"#close\t2020",
        b"#open\t2020",
        b"### BTest baseline",
        b"ts\tid.orig_h\tid.resp_h\taction\tname\tpath",
        b"0\tC\t10.0.0.1\t1\t10.0.0.2\t445\tEternalSafety::EternalBlue\tmsg\t-",
        b"0\tC\t10.0.0.1\t1\t10.0.0.2\t445\tSignatures::X\tmsg",
        b"[1, 2]",
        b"{",
        b"{}",
        b'{"ts":1}x',
        b"\xff\xfe\x00garbage",
        b"[" * 3000 + b"]" * 3000,
        b'{"a":' * 2000 + b"1" + b"}" * 2000,
        b'{"ts":"1", "id.orig_h":"\\u0041"}',
        b'{"ts":1.5e3,"path":"\\\\\\\\s\\\\x"}',
        b'{"path":"a","path":"b"}',
        b'{"x":"\tEternalSafety::Foo"}',
        b"x" * 5000,
    ]
)
_LINE = _tsv_line() | _json_line() | _ODD | _header() | st.binary(max_size=40)


def _check_file(data: bytes, block: int, rows: int, compress: bool) -> None:
    fd, name = tempfile.mkstemp(suffix=".log")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(gzip.compress(data) if compress else data)
        saved = zeek._BLOCK, zeek._SMALL
        zeek._BLOCK, zeek._SMALL = block, 1  # the fast path even for runs of one line
        try:
            assert_same(name, _gzip_open if compress else None, rows)
        finally:
            zeek._BLOCK, zeek._SMALL = saved
    finally:
        os.unlink(name)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_LINE, max_size=25),
    st.sampled_from([b"\n", b"\r\n"]),
    st.booleans(),
    st.integers(1, 300),
    st.integers(1, 9),
    st.booleans(),
)
def test_hostile_tsv_files(
    lines: list[bytes], eol: bytes, with_header: bool, block: int, rows: int, compress: bool
) -> None:
    head = (
        b"#separator \\x09\n#path\tsmb_files\n#fields\tts\tuid\tid.orig_h\tid.orig_p\tid.resp_h"
        b"\tid.resp_p\taction\tpath\tname\tsize\tprev_name\n"
    )
    data = (head if with_header else b"") + eol.join(x.replace(b"\n", b" ") for x in lines)
    _check_file(data, block, rows, compress)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(
        [
            b'{"ts":1332008627.33,"uid":"C","id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","path":"\\\\\\\\S\\\\IPC$","service":"IPC","share_type":"PIPE"}',
            b'{"ts":1332008627.34,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","action":"SMB::FILE_OPEN","path":"\\\\\\\\S\\\\C$","name":"a.txt"}',
            b'{"ts":1332008627.35,"id.orig_h":"10.0.0.1","id.resp_h":"10.0.0.2","named_pipe":"x","endpoint":"svcctl","operation":"OpenSCManagerW"}',
            b'{"ts":1332008627.36,"id.orig_h":"10.0.0.1","username":"bob","hostname":"WS","domainname":"D","success":true}',
            b'{"ts":1332008627.37,"id.orig_h":"10.0.0.1","command":"SESSION_SETUP","version":"SMB1","status":"LOGON_FAILURE"}',
            b'{"ts":1332008627.38,"id.orig_h":"10.0.0.1","note":"EternalSafety::EternalBlue","msg":"m"}',
            b'{"ts":1,"id.orig_h":"10.0.0.1"}',
        ]
    ),
    st.lists(_json_line() | _ODD | st.binary(max_size=30), max_size=25),
    st.sampled_from([b"\n", b"\r\n"]),
    st.integers(1, 300),
    st.integers(1, 9),
    st.booleans(),
)
@example(  # reference lines taken out of file order (a state change after them) must be re-sorted
    first=b'{"ts":1,"path":"IPC$","share_type":"PIPE"}',
    lines=[b" ", b"{}", b"0\tC\t10.0.0.1\t1\t10.0.0.2\t445\tEternalSafety::EternalBlue\tmsg\t-"],
    eol=b"\n",
    block=300,  # all in one block
    rows=1,
    compress=False,
)
def test_hostile_json_files(
    first: bytes, lines: list[bytes], eol: bytes, block: int, rows: int, compress: bool
) -> None:
    data = eol.join([first, *(x.replace(b"\n", b" ") for x in lines)]) + eol
    _check_file(data, block, rows, compress)


EXTRA = {"id.orig_h": "10.0.0.1", "share_type": "DISK"}
ZEEK: dict[str, Any] = {"separators": (",", ":")}  # as Zeek writes (spaced lines: reference path)


_TRICKY_JSON = {
    "smb_mapping": [
        '{"ts":1332008627.5,"path":"\\\\\\\\a\\\\b","share_type":"DISK"}',
        '{"ts":1332008627.5,"path":"\\\\\\\\a\\\\b","path":"\\\\\\\\c\\\\d","share_type":"DISK"}',
        '{"ts":1,"path":1.0,"share_type":true}',
        '{"ts":1,"path":["a"],"share_type":"x"}',
        '{"ts":1,"path":"x\\"\\\\y\\/z\\t","share_type":null,"id.orig_h":""}',
        '{"ts":true,"path":"p"}',
        '{"ts":"1332008627.25","path":"p"}',
        '{"ts":null,"path":"p"}',
        '{"ts":[1],"path":"p"}',
        '{"ts":1.0,"ts":2.0,"path":"p"}',
        '{"ts":1,"id.resp_h":false,"path":"p"}',
    ],
    "ntlm": [
        '{"ts":1,"username":"u","hostname":"h","success":true}',
        '{"ts":1,"username":"u","success":false,"domainname":"D"}',
        '{"ts":1,"username":"u","success":"T"}',
        '{"ts":1,"username":"u","success":"true"}',
        '{"ts":1,"username":"u","success":1}',
        '{"ts":1,"username":"u","success":0.0}',
        '{"ts":1,"username":"u","success":null}',
        '{"ts":1,"username":"u","success":"F","success":true}',
        '{"ts":1,"username":7,"success":true}',
    ],
    "smb_files": [
        '{"ts":1,"action":"SMB::FILE_OPEN","name":"a","path":"\\\\\\\\s\\\\d"}',
        '{"ts":1,"action":"SMB::FILE_OPEN","action":"SMB::FILE_DELETE","name":"a"}',
        '{"ts":1,"action":"SMB::FILE_RENAME","name":"b","prev_name":"a","prev_name":"c"}',
        '{"ts":1,"action":"SMB::FILE_RENAME","name":1.5,"prev_name":"a"}',
    ],
}


@pytest.mark.parametrize("log_type", sorted(_TRICKY_JSON))
def test_json_lines_polars_would_read_differently(log_type: str, tmp_path: Path) -> None:
    """Duplicate keys (json.loads keeps the last, polars the first) and non-string values
    (str(1.0) is "1.0", str(True) "True") must give what the reference gives."""
    lines = _TRICKY_JSON[log_type]
    log = tmp_path / "x.log"
    log.write_text("\n".join([lines[0], *lines, *lines[::-1]] * 3) + "\n")
    got = assert_same(str(log))
    assert got.height >= 2


def test_generated_lines_are_mostly_taken_by_the_fast_path(tmp_path: Path) -> None:
    """The differential tests above would pass with a fast path that never runs: this one
    checks that well-formed TSV and JSON lines do not go through ZeekSource.line()."""
    tsv = tmp_path / "smb_files.log"
    head = "#separator \\x09\n#path\tsmb_files\n#fields\tts\tid.orig_h\tid.resp_h\taction\tpath\tname\tprev_name\n"  # noqa: E501
    actions = ("OPEN", "WRITE", "RENAME", "CLOSE")
    body = "".join(
        f"1332008627.{i:02d}\t10.0.0.{i % 7}\t10.0.0.99\tSMB::FILE_{actions[i % 4]}"
        f"\t\\\\\\\\srv\\\\share{i % 3}\tf{i}.txt\t-\n"
        for i in range(100)
    )
    tsv.write_text(head + body)
    js = tmp_path / "smb_mapping.log"
    js.write_text(
        "".join(
            json.dumps({"ts": 1332008627.5 + i, "path": f"\\\\S\\s{i}"} | EXTRA, **ZEEK)
            + "\n"
            for i in range(100)
        )
    )
    for path, events in ((tsv, 75), (js, 100)):
        source = ZeekSource(str(path))
        calls: list[bytes] = []
        line = source.line

        def counting(
            raw: bytes, line: Callable[[bytes], Event | None] = line, calls: list[bytes] = calls
        ) -> Event | None:
            calls.append(raw)
            return line(raw)

        source.line = counting  # type: ignore[method-assign]
        frame = pl.concat(list(source.frames()))
        assert frame.height == events == source.stats.events
        assert len(calls) <= 5  # the header lines (and the first JSON line, which names the type)
        assert_same(str(path))
    first = pl.concat(list(ZeekSource(str(js)).frames())).row(0, named=True)
    assert first["time"] == datetime.fromtimestamp(1332008627.5, tz=UTC)
    assert (first["kind"], first["share"], first["detail"]) == ("share_connect", "s0", "DISK")


def test_truncated_gzip_keeps_what_was_read(shared_data: Path, tmp_path: Path) -> None:
    """A broken gzip stops both paths after the same lines; analyze() reports it once."""
    original = (shared_data / "logs/zeek-maccdc2012-cyberspatiallabs/smb_mapping.log").read_bytes()
    packed = gzip.compress(original * 40)
    broken = tmp_path / "broken.log.gz"
    broken.write_bytes(packed[: len(packed) * 2 // 3])

    def collect(read: Callable[[ZeekSource], Any]) -> tuple[list[Any], ZeekSource, str]:
        source = ZeekSource(str(broken), _gzip_open)
        out: list[Any] = []
        try:
            for item in read(source):
                out.append(item)
        except EOFError as exc:
            return out, source, type(exc).__name__
        return out, source, "no error"

    frames, fast, fast_error = collect(lambda s: s.frames(64))
    events, slow, slow_error = collect(lambda s: s.events())
    assert fast_error == slow_error == "EOFError"
    assert pl.concat(frames).equals(events_to_frame(events))
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert 0 < len(events) < 101 * 40
    result = analyze([str(broken)])
    assert result.sources[0].records == slow.stats.records
    assert any("reading stopped early" in w for w in result.sources[0].warnings)


def test_open_source_gives_frames_for_zeek(shared_data: Path) -> None:
    source = open_source(str(shared_data / "logs/zeek-maccdc2012-cyberspatiallabs/dce_rpc.log"))
    assert isinstance(source, ZeekSource)
    frame = pl.concat(list(source.frames()))
    assert frame.height == 11 and set(frame["path"]) == {"spoolss", "wkssvc", "srvsvc"}
    assert source.stats.type == "zeek:dce_rpc"


def test_rows_must_be_positive(tmp_path: Path) -> None:
    log = tmp_path / "x.log"
    log.write_text("")
    with pytest.raises(ValueError):
        list(ZeekSource(str(log)).frames(0))
    assert_same(str(log))  # an empty file: one empty frame, like events_to_frame([])


def test_lone_surrogates_from_json_escapes_do_not_stop_reading(tmp_path: Path) -> None:
    """json.loads turns "\\ud800" into a lone surrogate, which no frame can hold: that line's
    fields get U+FFFD instead (the one documented difference), and the lines after it are
    still read (analyze() would otherwise stop at it with 'reading stopped early')."""
    good = '{"ts":1332008627.5,"id.orig_h":"10.0.0.1","path":"\\\\\\\\S\\\\data","share_type":"DISK"}'
    bad = '{"ts":1332008628.5,"id.orig_h":"10.0.0.1","path":"\\\\\\\\S\\\\x\\ud800","share_type":"DISK"}'
    log = tmp_path / "smb_mapping.log"
    log.write_text("\n".join([good, bad, *[good] * 50]) + "\n")
    events = list(ZeekSource(str(log)).events())
    assert events[1].share == "x\ud800"
    source = ZeekSource(str(log))
    frame = pl.concat(list(source.frames()))
    assert frame.height == len(events) == 52
    assert frame["share"].to_list() == ["data", "x\ufffd", *["data"] * 50]
    assert not source.stats.warnings
    result = analyze([str(log)])
    assert result.sources[0].records == 52 and not result.sources[0].warnings


# ------------------------------------------------ TSV segments read by polars' CSV reader
_NAMES_SMB_FILES = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "fuid", "action")
_NAMES_SMB_FILES += ("path", "name", "size", "prev_name", "times.modified")
_LAST_WANTED = "prev_name"  # of the fields smb_files reads, the last in _NAMES_SMB_FILES
_FIELD = st.sampled_from(
    [
        b"-",
        b"(empty)",
        b"10.0.0.1",
        b"fe80::1",
        b"SMB::FILE_OPEN",
        b"SMB::FILE_WRITE",
        b"SMB::FILE_RENAME",
        b"SMB::FILE_DELETE",
        b"SMB::FILE_CLOSE",
        b"\\\\\\\\srv\\\\share",
        b"\\\\srv\\IPC$\\",
        b"a\\x09b",
        b"a,b",
        b"caf\xc3\xa9",
        b"x\xffy",
        b"\xe2\x82",
        b'"q"',
        b"\x00",
        b"x{y",
        b"x#y",
    ]
)
_GOOD_TS = st.sampled_from(
    [b"1332008627.33", b"1600000000.010000", b"XXXXXXXXXX.XXXXXX", b"-", b"0", b"1e9", b"nan", b"12 "]
)
_SHORT_HEAD = b"#separator \\x09\n#path\tsmb_files\n"
_SHORT_HEAD += b"#fields\tts\tid.orig_h\tid.resp_h\taction\tpath\tname\tprev_name\n"
_OPEN = b"1\t-\t-\tSMB::FILE_OPEN\t-\tc\t-\n"
# perturbation -> whether the reference must read the line (None: cannot say in advance)
_PERTURB: dict[str, bool | None] = {
    "none": False,
    "short": True,  # too few fields for the last wanted one
    "empty_last": True,  # last wanted field "": read as missing by polars
    "extra": False,  # more fields than #fields names
    "blank": True,
    "json": True,
    "empty_first": True,
    "cr": None,  # polars ends lines at "\r": the whole segment goes to the line runs
    "bom": None,  # dropped by polars at the start of its input
    "same_header": True,  # a header that changes nothing: the segment goes on
}


@st.composite
def _segment_log(draw: st.DrawFn) -> tuple[bytes, int | None, int]:
    """A TSV smb_files log with a few perturbed lines: (data, reference calls expected or
    None, data lines)."""
    names = list(_NAMES_SMB_FILES)
    out = [
        b"#separator \\x09",
        b"#set_separator\t,",
        b"#path\tsmb_files",
        b"#fields\t" + "\t".join(names).encode(),
    ]
    expected: int | None = len(out)
    data_lines = 0
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(list(_PERTURB))) if draw(st.integers(0, 4)) == 0 else "none"
        if kind == "same_header":
            if draw(st.booleans()):
                out.append(draw(st.sampled_from([b"#close\t2020", b"#open\t2020", b"### banner"])))
            else:  # the same names again: the state does not change
                out.append(b"#fields\t" + "\t".join(names).encode())
            expected = None if expected is None else expected + 1
            continue
        if draw(st.integers(0, 30)) == 0:  # a header that does change the state
            names.reverse()
            out.append(b"#fields\t" + "\t".join(names).encode())
            expected = None if expected is None else expected + 1
            continue
        fields = [draw(_GOOD_TS) if name == "ts" else draw(_FIELD) for name in names]
        if kind == "short":
            fields = fields[: draw(st.integers(1, names.index(_LAST_WANTED)))]
        elif kind == "empty_last":
            wanted = ("ts", "id.orig_h", "id.resp_h", "action", "path", "name", "prev_name")
            fields[max(names.index(n) for n in wanted)] = b""
        elif kind == "extra":
            fields += [draw(_FIELD) for _ in range(draw(st.integers(1, 3)))]
        elif kind == "empty_first":
            fields[0] = draw(st.sampled_from([b"", b" ", b"\x0b"]))
        line = b"\t".join(fields)
        if kind == "blank":
            line = draw(st.sampled_from([b"", b" ", b"\t\t", b"\x0c", b"\t" * 15]))
        elif kind == "json":
            line = b'{"ts":1332008627.5,"action":"SMB::FILE_OPEN","name":"j"}'
        elif kind == "cr":  # polars drops a "\r" before a separator, keeps one of "\r\r"...
            at = draw(st.sampled_from([0, line.find(b"\t"), len(line), len(line)]))
            line = line[:at] + draw(st.sampled_from([b"\r", b"\r\r"])) + line[at:]
        elif kind == "bom":
            line = b"\xef\xbb\xbf" + line
        out.append(line)
        data_lines += 1
        need = _PERTURB[kind]
        if need is None:
            expected = None
        elif need and expected is not None:
            expected += 1
    ends = draw(st.booleans()) or not out[-1]  # (an empty last line is a line only with its "\n")
    data = b"\n".join(out) + (b"\n" if ends else b"")
    return data, expected, data_lines


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_segment_log(), st.integers(40, 2000), st.integers(1, 50))
@example(  # an empty last wanted field reads as missing in polars: the reference must take it
    (_SHORT_HEAD + b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\t\n" + _OPEN, 4, 2), 2000, 1
)
@example(  # polars drops a "\r" before the separator
    (_SHORT_HEAD + b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\r\tc\n" + _OPEN, None, 2), 2000, 1
)
@example(  # ... and only one "\r" of a "\r\r\n" line end, where rstrip("\r\n") takes both
    (_SHORT_HEAD + b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\tc\r\r\n" + _OPEN, None, 2), 2000, 1
)
@example(  # polars drops a BOM at the start of its input (here: the first line after the headers)
    (_SHORT_HEAD + b"\xef\xbb\xbf1\t-\t-\tSMB::FILE_OPEN\t-\tb\tc\n" + _OPEN, None, 2), 2000, 1
)
def test_tsv_segments_polars_reads_exactly(
    case: tuple[bytes, int | None, int], block: int, rows: int
) -> None:
    """Mostly good TSV lines with a few that polars' CSV reader would read differently:
    frames() == events(), only the lines it cannot vouch for (and the headers) go through
    the reference, and every data line went through the segment reader (with no CR and no
    BOM, no segment is given up). The polars reader is the one used when the C reader
    (``_zeektsv``, tests/logs/test_zeek_tsv.py) is not built."""
    data, expected, data_lines = case
    fd, name = tempfile.mkstemp(suffix=".log")
    segments: list[tuple[int, bool]] = []
    real = zeek._tsv_segment

    def spy(source: ZeekSource, segment: bytes) -> pl.DataFrame | None:
        got = real(source, segment)
        segments.append((segment.count(b"\n") + (not segment.endswith(b"\n")), got is None))
        return got

    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        saved = zeek._BLOCK, zeek._zt
        zeek._BLOCK = block
        zeek._zt = None  # type: ignore[assignment]
        zeek._tsv_segment = spy  # type: ignore[assignment]
        try:
            fast = ZeekSource(name)
            got, calls = frames_counting_lines(fast, rows)
        finally:
            zeek._BLOCK, zeek._zt = saved
            zeek._tsv_segment = real  # type: ignore[assignment]
        slow = ZeekSource(name)
        want = events_to_frame(slow.events())
        assert got.equals(want)
        assert fast.stats.to_dict() == slow.stats.to_dict()
        if expected is not None:
            assert calls == expected
            assert not any(given_up for _, given_up in segments)
            assert sum(n for n, _ in segments) == data_lines
    finally:
        os.unlink(name)
