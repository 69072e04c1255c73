"""The C TSV-line reader of ZeekSource.frames() (smbguard.logs._zeektsv, zeek._tsv_lines)
against the reference, ZeekSource.parse_line: line by line (what the reader takes must be
exactly the row the reference builds; what it must take, it takes), whole files
(frames() == events(), and the reference reads exactly the headers and the declined
lines), hostile bytes and arguments."""

from __future__ import annotations

import gzip
import os
import re
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smbguard.logs import zeek
from smbguard.logs.events import events_to_frame, parse_epoch
from smbguard.logs.zeek import ZeekSource
from tests.logs.frames import frames_counting_lines
from tests.logs.test_zeek_frames import _zeek_files, assert_same


def _zt() -> Any:
    if zeek._zt is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._zeektsv is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("smbguard.logs._zeektsv is not built")
    return zeek._zt


def test_zeektsv_is_built_under_ci() -> None:
    """Under CI=true the extension must be importable: CI proves it was compiled."""
    assert _zt() is not None


_BLANK = b" \t\n\r\x0b\x0c"


def _scan(source: ZeekSource, data: bytes) -> tuple[pl.DataFrame, list[tuple[int, int, int]], int, int]:
    keys = zeek._keys(source.log_type)
    fields = tuple(source.columns.get(key, -1) for key in keys)
    ts_at = 0 if "ts" in source.columns else -1  # as zeek._tsv_lines
    sep, unset = source.sep.encode(), source.unset.encode()
    schema, array, declined, lines, blank = _zt().scan(
        data, 0, len(data), sep, unset, fields, keys, source._max_column, ts_at
    )
    return pl.DataFrame(zeek._Arrow(schema, array)), declined, lines, blank


def _reference_row(source: ZeekSource, raw: bytes) -> tuple[str, dict[str, Any] | None]:
    """What the reference makes of one data line: ("blank", None), ("row", the row dict
    _event is given), or ("other", None) (skipped, JSON, ...)."""
    rows: list[dict[str, Any]] = []
    records = source.stats.records
    skipped = source.stats.skipped

    def capture(row: Any, when: Any) -> None:
        rows.append(dict(row))

    source._event = capture  # type: ignore[assignment,method-assign]
    try:
        source.line(raw)
    finally:
        del source._event
    if rows:
        return "row", rows[0]
    if source.stats.records == records + 1 and source.stats.skipped == skipped and not raw.strip():
        return "blank", None
    return "other", None


_SEPS = st.sampled_from(["\t", "\t", "\t", ",", " ", "|", "\x0b", "{", "\x00"])
_UNSETS = st.sampled_from(["-", "-", "", "(empty)", "?", "caf\u00e9", "\ufffd"])
_WANTED_NAMES = ("ts", "id.orig_h", "id.resp_h", "action", "path", "name", "prev_name", "username", "note")
_OTHER_NAMES = ("uid", "size", "fuid", "x")
_PIECES = st.sampled_from(
    [
        b"-", b"(empty)", b"", b"?", b"caf\xc3\xa9", b"\xef\xbf\xbd", b"SMB::FILE_OPEN", b"SMB::FILE_RENAME",
        b"1332008627.33", b"XXXXXXXXXX.XXXXXX", b"\\\\srv\\share", b"a\\x09b", b"\r", b"\r\r", b" ", b"\t",
        b",", b"|", b"{", b"#", b"\x00", b"\x0b", b"\x0c", b"\xff", b"\xe2\x82", b"\xc0\xaf", b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80", b"\xf0\x9f\x98\x80", b"\xef\xbb\xbf", b"\xc2", b"\xe0\x80\x80", b"x",
    ]
)  # fmt: skip


@st.composite
def _state_and_line(draw: st.DrawFn) -> tuple[ZeekSource, bytes]:
    source = ZeekSource("x.log")
    source.sep = draw(_SEPS)
    source.unset = draw(_UNSETS)
    source.log_type = draw(st.sampled_from(["smb_files", "smb_mapping", "smb_cmd", "ntlm", "notice", "conn"]))
    names = draw(st.lists(st.sampled_from(_WANTED_NAMES + _OTHER_NAMES), min_size=1, max_size=12))
    if not any(name in zeek._WANTED for name in names):
        names.append("ts")
    source._set_columns(names)
    sep = source.sep.encode()
    fields = []
    for _ in range(draw(st.integers(0, len(names) + 2))):
        fields.append(b"".join(draw(st.lists(_PIECES, max_size=3))))
    line = sep.join(fields)
    if draw(st.integers(0, 4)) == 0:
        line = draw(st.sampled_from([b"", b" ", b"{", b"#", b"\r", b"\xef\xbb\xbf"])) + line
    if draw(st.integers(0, 4)) == 0:
        line += draw(st.sampled_from([b"\r", b"\r\r", b" ", sep, b"\r" + sep]))
    if draw(st.integers(0, 5)) == 0:
        line = draw(st.binary(max_size=30)).replace(b"\n", b"")
    return source, line


def _check_line(source: ZeekSource, line: bytes) -> None:
    keys = zeek._keys(source.log_type)
    for raw in (line, line + b"\n", line + b"\r\n"):
        if not raw:  # no line at all
            assert _scan(source, raw)[2] == 0
            continue
        rows, declined, count, blank = _scan(source, raw)
        assert count == 1
        kind, row = _reference_row(source, raw)
        if declined:
            assert declined == [(0, 0, len(raw))]
            assert rows.height == blank == 0
            # the reader declines only what it cannot read exactly: a JSON or "#" line,
            # too few fields, a wanted field Python would decode with replacement
            if kind == "row" and raw.decode("utf-8", "replace") == raw.decode("utf-8", "surrogateescape"):
                pytest.fail(f"declined a plain TSV line the reference reads: {raw!r}")
            continue
        if blank:
            assert kind == "blank" and rows.height == 0 and raw.strip(_BLANK) == b""
            continue
        assert kind == "row" and row is not None, raw
        got = rows.drop("_i").row(0, named=True)
        us = got.pop("_us", None)
        if us is not None:  # ts converted in C: as parse_epoch (the reference) reads it
            assert got["ts"] is None
            got["ts"] = row.get("ts")
            assert re.fullmatch(zeek._TS_RX, row["ts"])
            assert parse_epoch(row["ts"]) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
        assert got == {key: row.get(key) for key in keys}, raw


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_state_and_line())
def test_c_reader_takes_exactly_what_the_reference_reads(case: tuple[ZeekSource, bytes]) -> None:
    """Each taken line: the values of the wanted keys are those of the row the reference
    hands to _event (null for a missing or unset field); a blank line is blank for the
    reference too; a declined line is not a plain valid-UTF-8 TSV line (the reader takes
    those)."""
    _zt()
    source, line = case
    _check_line(source, line)


@pytest.mark.parametrize(
    "line",
    [
        b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\t",  # empty last wanted field (polars: missing)
        b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\r\tc",  # "\r" before a separator (polars drops it)
        b"1\t-\t-\tSMB::FILE_RENAME\t-\tb\tc\r\r",  # "\r\r" line end
        b"\xef\xbb\xbf1\t-\t-\tSMB::FILE_OPEN\t-\tb\tc",  # BOM
        b"\t\t\t\t\t\t",  # blank (only separators)
        b" 1\t-\t-\tSMB::FILE_OPEN\t-\tb\tc",  # first field with a space
        b"1\t-\t-\tSMB::FILE_OPEN\t-\tb\tc\tmore\t\xff",  # invalid UTF-8 in an unread field
        b"1\t\xc3\xa9\t-\tSMB::FILE_OPEN\t-\tb\tc",
    ],
)
def test_c_reader_takes_lines_polars_could_not(line: bytes) -> None:
    _zt()
    source = ZeekSource("x.log")
    source.log_type = "smb_files"
    source._set_columns(["ts", "id.orig_h", "id.resp_h", "action", "path", "name", "prev_name"])
    rows, declined, _, blank = _scan(source, line + b"\n")
    assert not declined and rows.height + blank == 1
    _check_line(source, line)


@pytest.mark.parametrize(
    "line",
    [
        b"1\t-\t-\tSMB::FILE_OPEN\t-\tb",  # too few fields
        b'{"ts":1}',
        b"#close",
        b"1\t\xff\t-\tSMB::FILE_OPEN\t-\tb\tc",  # invalid UTF-8 in a read field
        b"1\t\xed\xa0\x80\t-\tSMB::FILE_OPEN\t-\tb\tc",  # an encoded surrogate
        b"1\t\xc0\xaf\t-\tSMB::FILE_OPEN\t-\tb\tc",  # overlong
        b"1\t-\t-\tSMB::FILE_OPEN\t-\tb\t\xe2\x82",  # truncated sequence in the last field
    ],
)
def test_c_reader_declines(line: bytes) -> None:
    _zt()
    source = ZeekSource("x.log")
    source.log_type = "smb_files"
    source._set_columns(["ts", "id.orig_h", "id.resp_h", "action", "path", "name", "prev_name"])
    rows, declined, _, blank = _scan(source, line + b"\n")
    assert declined and not rows.height and not blank


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(_state_and_line().map(lambda case: case[1]), max_size=30), _state_and_line())
def test_c_reader_line_bookkeeping(lines: list[bytes], case: tuple[ZeekSource, bytes]) -> None:
    """Many lines in one buffer: each judged as alone, line numbers and declined bytes exact."""
    _zt()
    source = case[0]
    data = b"\n".join(lines)
    rows, declined, count, blank = _scan(source, data)
    raws = data.split(b"\n") if data else []
    if data.endswith(b"\n"):
        raws.pop()
    assert count == len(raws)
    assert rows.height + len(declined) + blank == count
    starts = [0]
    for raw in raws:
        starts.append(starts[-1] + len(raw) + 1)
    declined_at = {at for at, _, _ in declined}
    for at, first, last in declined:
        assert data[first:last].removesuffix(b"\n") == raws[at] and first == starts[at]
    taken = dict(zip(rows["_i"].to_list(), rows.drop("_i").rows(named=True), strict=True))
    for at, raw in enumerate(raws):
        alone, alone_declined, _, alone_blank = _scan(source, raw + b"\n")
        assert (at in declined_at) == bool(alone_declined)
        if at not in declined_at:
            assert taken.get(at) == (alone.drop("_i").row(0, named=True) if alone.height else None)
            assert (at not in taken) == bool(alone_blank)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(-2, 402), st.integers(-2, 402), st.integers(0, 40))
def test_c_reader_hostile_bytes(data: bytes, start: int, end: int, last: int) -> None:
    """Any bytes, any start/end/field count: no crash, consistent results (memory
    checks: an ASan + UBSan build, docs/zeek-frames.md)."""
    keys = zeek._keys("smb_files")
    fields = tuple(range(len(keys)))
    args = (data, start, end, b"\t", b"-", fields, keys, max(last, len(keys) - 1), last % 3 - 1)
    if not 0 <= start <= end <= len(data):
        with pytest.raises(ValueError):
            _zt().scan(*args)
        return
    schema, array, declined, lines, blank = _zt().scan(*args)
    rows = pl.DataFrame(zeek._Arrow(schema, array))
    assert rows.height + len(declined) + blank == lines
    assert all(start <= a < b <= end for _, a, b in declined)


def test_c_reader_arguments() -> None:
    scan = _zt().scan
    keys = ("ts", "name")
    good = (b"a\tb\n", 0, 4, b"\t", b"-", (0, 1), keys, 1, 0)
    assert scan(*good)[3:] == (1, 0)
    for at, bad in [
        (1, -1), (2, 5), (1, 5), (3, b"\t\t"), (3, b""), (3, b"\n"), (3, b"\r"), (3, b"\xe9"),
        (5, (0,)), (5, (0, -2)), (5, (0, 2_000_000)), (7, 0), (7, 2_000_000), (6, ()),
        (6, tuple(f"k{i}" for i in range(33))), (8, -2), (8, 2),
    ]:  # fmt: skip
        args = list(good)
        args[at] = bad
        if at == 6 and bad:
            args[5] = tuple(range(len(bad)))  # type: ignore[arg-type]
            args[7] = len(bad)
        with pytest.raises(ValueError, match="scan"):
            scan(*args)
    args = list(good)
    args[6] = (b"ts", b"name")
    with pytest.raises(TypeError):
        scan(*args)
    args = list(good)
    args[5] = ("0", "1")
    with pytest.raises(TypeError):
        scan(*args)


@settings(max_examples=1000, deadline=None)
@given(st.integers(0, 99_999_999_999), st.integers(0, 99_999_999_999), st.integers(0, 11))
@example(1605187817, 6673245, 7)  # 17 digits: above 2^53, left to polars
@example(1332008627, 33, 2)
@example(0, 5, 7)
@example(9_999_999_999, 999_999, 6)
@example(1, 5, 7)  # 1.0000005: half a micro-second, to even
@example(1, 5, 10)  # ten decimals: not the _TS_RX form, left as text
@example(10_000_000_000, 5, 1)  # eleven integer digits: left as text
def test_c_epoch_conversion_equals_parse_epoch(whole: int, frac: int, digits: int) -> None:
    """ts converted in C (``_us``) is parse_epoch's time (datetime.fromtimestamp(float));
    values whose digits reach 2^53, or not of the _TS_RX form, are left as text
    (zeek._emit converts them)."""
    text = str(whole) if not digits else f"{whole}.{frac % 10**digits:0{digits}d}"
    keys = ("ts",)
    data = text.encode() + b"\n"
    schema, array, declined, _, _ = _zt().scan(data, 0, len(data), b"\t", b"-", (0,), keys, 0, 0)
    row = pl.DataFrame(zeek._Arrow(schema, array)).row(0, named=True)
    assert not declined
    if int(text.replace(".", "")) >= 2**53 or not re.fullmatch(zeek._TS_RX, text):
        assert row == {"_i": 0, "ts": text, "_us": None}
        return
    assert row["ts"] is None
    assert parse_epoch(text) == datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=row["_us"])


# ------------------------------------------------------------------------ whole files
_HEAD = b"#separator \\x09\n#set_separator\t,\n#path\tsmb_files\n"
_NAMES = ("ts", "uid", "id.orig_h", "id.orig_p", "id.resp_h", "id.resp_p", "action", "path", "name")
_NAMES += ("size", "prev_name", "times.modified")
_VALID = st.sampled_from(
    [b"-", b"(empty)", b"", b"10.0.0.1", b"SMB::FILE_OPEN", b"SMB::FILE_RENAME", b"SMB::FILE_WRITE",
     b"SMB::FILE_CLOSE", b"\\\\\\\\srv\\\\share", b"\\\\srv\\IPC$\\", b"a\\x09b", b"caf\xc3\xa9", b"\x00",
     b"x{y", b"x#y", b"1332008627.33", b"XXXXXXXXXX.XXXXXX", b"1e9", b" "]
)  # fmt: skip
# perturbation -> whether the reference reads the line (with the C reader)
_NEEDS = {
    "none": False, "short": True, "json": True, "bad_utf8_read": True, "bad_utf8_unread": False,
    "blank": False, "cr": False, "bom": False, "empty_last": False, "extra": False, "same_header": True,
}  # fmt: skip


@st.composite
def _tsv_log(draw: st.DrawFn) -> tuple[bytes, int, int]:
    """(file, reference calls expected, data lines) of an smb_files TSV log."""
    names = list(_NAMES)
    out = [_HEAD + b"#fields\t" + "\t".join(names).encode()]
    expected = 4
    data_lines = 0
    for _ in range(draw(st.integers(1, 80))):
        kind = draw(st.sampled_from(sorted(_NEEDS))) if draw(st.integers(0, 3)) == 0 else "none"
        if kind == "same_header":
            out.append(draw(st.sampled_from([b"#close\t2020", b"#open\t2020", b"### banner"])))
            expected += 1
            continue
        if draw(st.integers(0, 40)) == 0:  # a header that changes the state
            names.reverse()
            out.append(b"#fields\t" + "\t".join(names).encode())
            expected += 1
            continue
        fields = [draw(_VALID) for _ in names]
        last = max(names.index(n) for n in zeek._keys("smb_files") if n in names)
        if kind == "short":
            fields = fields[: draw(st.integers(1, last))]
        elif kind == "bad_utf8_read":
            fields[names.index("name")] += b"\xff"
        elif kind == "bad_utf8_unread":
            fields[names.index("size")] += b"\xe2\x82"
        elif kind == "empty_last":
            fields[last] = b""
        elif kind == "extra":
            fields += [draw(_VALID) for _ in range(draw(st.integers(1, 3)))]
        line = b"\t".join(fields)
        if fields[0] in (b"", b" ") and not line.strip(_BLANK):
            fields[0] = b"x"
            line = b"\t".join(fields)
        if kind == "blank":
            line = draw(st.sampled_from([b"", b" ", b"\t\t", b"\x0c", b"\t" * 15]))
        elif kind == "json":
            line = b'{"ts":1332008627.5,"action":"SMB::FILE_OPEN","name":"j"}'
        elif kind == "cr":
            at = draw(st.sampled_from([0, line.find(b"\t"), len(line), len(line)]))
            line = line[:at] + draw(st.sampled_from([b"\r", b"\r\r"])) + line[at:]
        elif kind == "bom":
            line = b"\xef\xbb\xbf" + line
        out.append(line)
        data_lines += 1
        expected += _NEEDS[kind]
    ends = draw(st.booleans()) or not out[-1]
    return b"\n".join(out) + (b"\n" if ends else b""), expected, data_lines


def _read(data: bytes, block: int, rows: int, gz: bool = False) -> tuple[pl.DataFrame, int]:
    fd, name = tempfile.mkstemp(suffix=".log")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(gzip.compress(data) if gz else data)
        opener = (lambda p: gzip.open(p, "rb")) if gz else None  # noqa: SIM115
        saved = zeek._BLOCK
        zeek._BLOCK = block
        try:
            fast = ZeekSource(name, opener)  # type: ignore[arg-type]
            got, calls = frames_counting_lines(fast, rows)
        finally:
            zeek._BLOCK = saved
        slow = ZeekSource(name, opener)  # type: ignore[arg-type]
        want = events_to_frame(slow.events())
        assert got.equals(want)
        assert fast.stats.to_dict() == slow.stats.to_dict()
        return got, calls
    finally:
        os.unlink(name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_tsv_log(), st.integers(40, 4000), st.integers(1, 50), st.booleans())
@example((_HEAD + b"#fields\tts\tname\n1\ta\n#close\t2\n2\tb\n", 5, 2), 4000, 1, False)
def test_c_tsv_files(case: tuple[bytes, int, int], block: int, rows: int, gz: bool) -> None:
    """frames() == events() with the C reader, and the reference reads exactly the header
    lines and the lines the reader must decline (a block that ends inside a line makes
    the line count off only through the blocks, which are cut at line ends)."""
    _zt()
    data, expected, _ = case
    _, calls = _read(data, block, rows, gz)
    assert calls == expected


def test_c_reader_is_used_on_real_tsv_logs(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every real Zeek TSV log: frames() == events() (also through the C reader in tiny
    blocks), and no data line goes through the reference."""
    _zt()
    checked = 0
    for path in _zeek_files(shared_data):
        data = path.read_bytes()
        if b"#fields" not in data:
            continue
        assert_same(str(path))
        headers = sum(1 for line in data.split(b"\n") if line.startswith(b"#"))
        _, calls = _read(data, 1 << 20, 7)
        assert calls == headers, path
        _read(data, 97, 5)
        checked += 1
    assert checked >= 15


def test_without_c_reader_the_polars_reader_reads(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fallback (module not built): the real logs through polars' CSV reader."""
    monkeypatch.setattr(zeek, "_zt", None)
    for path in _zeek_files(shared_data):
        assert_same(str(path))


@pytest.mark.parametrize("limit", [-1, 0, 256])
def test_per_value_maps_and_their_fallbacks(
    limit: int, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """zeek._to_events computes the share per distinct path with the reference
    (_share_of) up to _SHARE_MAP distinct paths, in polars above; zeek._emit converts the
    ts values the C reader left as text with parse_epoch up to _TS_MAP distinct values,
    in polars above: all equal events()."""
    monkeypatch.setattr(zeek, "_SHARE_MAP", limit)
    monkeypatch.setattr(zeek, "_TS_MAP", limit)
    for path in _zeek_files(shared_data):
        assert_same(str(path))
    paths = ["-", "(empty)", "", "\\\\\\\\s\\\\a", "\\\\s\\b\\\\", "\\", "x", "caf\u00e9\\"]
    stamps = ["XXXXXXXXXX.XXXXXX", "1605187817.6673245", "1332008627.33", "", "-", "1e9"]
    stamps.append("9999999999.999999999")
    lines = [
        f"{stamps[i % len(stamps)]}\t10.0.0.1\t10.0.0.2\tSMB::FILE_OPEN\t{p}\tn{i}\t-"
        for i, p in enumerate(paths * 40)
    ]
    head = "#fields\tts\tid.orig_h\tid.resp_h\taction\tpath\tname\tprev_name\n"
    log = tmp_path / "shares.log"
    log.write_text(_HEAD.decode() + head + "\n".join(lines))
    assert assert_same(str(log)).height == len(lines)
