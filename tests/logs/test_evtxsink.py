"""``smbguard.logs._evtxbin.Sink``, the C column sink of ``EvtxSource.frames()``: its frames
equal the reference path's (``_fast_rows`` + ``event_row`` + ``rows_to_frame``, i.e.
``EvtxSource.sink = False``) with identical counters, on every shared EVTX file, on files
built from their chunks (``after_record`` mid-file, damaged chunks, workers) and on fuzzed
record lists with odd values; odd rows (values the sink cannot put in a column with
certainty) go to ``rows_to_frame`` in file order; error paths keep reference counts."""

from __future__ import annotations

import os
import random
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbguard.logs import winevent
from smbguard.logs.events import EventKind, frame_schema
from smbguard.logs.winevent import _LOGON, _NTLM, _SHARE_ACCESS, INTERESTING, EvtxSource, rows_to_frame

HEADER, CHUNK = 4096, 65536
DONPAPI = "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"

try:
    from smbguard.logs import _evtxbin
except ImportError:  # not built: these tests skip (and fail under CI)
    _evtxbin = None  # type: ignore[assignment]

pytestmark = pytest.mark.skipif(
    _evtxbin is None and os.environ.get("CI") != "true", reason="smbguard.logs._evtxbin not built"
)


def test_ci_has_the_sink() -> None:
    """Under CI=true the extension must be built and the sink on by default."""
    assert _evtxbin is not None and hasattr(_evtxbin, "Sink")
    assert EvtxSource("x").sink and EvtxSource("x").fast


# ------------------------------------------------------------------ files
def _frames(path: Path, sink: bool, after: int = 0, workers: int = 0, rows: int = 1000) -> tuple[Any, ...]:
    source = EvtxSource(str(path), after_record=after, workers=workers)
    source.sink = sink
    if workers:
        source.range_chunks = 1
        source.spawn_after = 0
        source.wait_for_workers = True
    frames = list(source.frames(rows=rows))
    assert all(f.height <= rows for f in frames)
    frame = pl.concat(frames) if frames else None
    return (
        frame,
        source.stats.to_dict(),
        source.max_seen,
        source.last_record,
        source.fast_chunks,
        source.slow_chunks,
        sorted(source._unknown),
    )


def _assert_same(path: Path, after: int = 0, workers: int = 0, rows: int = 1000) -> tuple[Any, ...]:
    got = _frames(path, True, after, workers, rows)
    expected = _frames(path, False, after, workers, rows)
    if expected[0] is None:
        assert got[0] is None, path
    else:
        assert got[0] is not None and got[0].equals(expected[0]), path
        assert dict(got[0].schema) == frame_schema()
    assert got[1:] == expected[1:], path
    return got


def _all_evtx(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "evtx").rglob("*.evtx"))


def test_every_shared_file_same_frames_and_counters(shared_data: Path) -> None:
    paths = _all_evtx(shared_data)
    assert len(paths) >= 30
    rows = fast = 0
    for path in paths:
        got = _assert_same(path)
        rows += 0 if got[0] is None else got[0].height
        fast += got[4]
    assert rows > 500 and fast >= 70  # the sink did the work (not everything declined)


def test_every_shared_file_small_frames(shared_data: Path) -> None:
    for path in _all_evtx(shared_data)[::3]:
        _assert_same(path, rows=7)


def _chunks_of(shared_data: Path) -> tuple[bytes, list[bytes]]:
    header = b""
    chunks: list[bytes] = []
    for path in _all_evtx(shared_data):
        data = path.read_bytes()
        header = header or data[:HEADER]
        body = data[HEADER:]
        chunks += [body[i : i + CHUNK] for i in range(0, len(body) - CHUNK + 1, CHUNK)]
    return header, chunks


def test_files_built_from_chunks_after_record_mid_file(shared_data: Path, tmp_path: Path) -> None:
    """Every shared chunk in one file (twice, so more than one in-process range and more
    than one 8,192-row batch), read from the start and after record ids mid-file."""
    header, chunks = _chunks_of(shared_data)
    rnd = random.Random(66)
    body = chunks * 2
    rnd.shuffle(body)
    path = tmp_path / "built.evtx"
    path.write_bytes(header + b"".join(body))
    whole = _assert_same(path, rows=5000)
    assert whole[0] is not None and whole[0].height > 1000
    assert whole[4] > 100 and whole[5] > 0  # chunks read by the sink and by the Rust parser
    for after in (1, 50, 400, whole[2] // 2, whole[2] - 1, whole[2], 2**64):
        _assert_same(path, after=after, rows=3000)


def test_damaged_chunks_and_tail(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / DONPAPI).read_bytes()
    chunks = (len(data) - HEADER) // CHUNK
    rnd = random.Random(7)
    for case in range(8):
        damaged = bytearray(data)
        for _ in range(3):
            start = HEADER + rnd.randrange(chunks) * CHUNK
            for _ in range(rnd.randrange(1, 8)):
                damaged[start + rnd.randrange(512, CHUNK)] = rnd.randrange(256)
        if case % 3 == 0:
            damaged += data[HEADER : HEADER + 3000]  # an incomplete tail
        path = tmp_path / f"damaged{case}.evtx"
        path.write_bytes(bytes(damaged))
        _assert_same(path, after=case * 37)


def test_workers_same_frames_with_and_without_sink(shared_data: Path) -> None:
    got = _assert_same(shared_data / DONPAPI, workers=2)
    assert got[4] >= 7


# ------------------------------------------------------------------ record lists (fuzz)
_NAMES = sorted({*_LOGON, *_SHARE_ACCESS, *_NTLM, "AccessList", "OldSD", "NewSD", "ShareLocalPath",
                 "ClientName", "UserName", "ServerName"})  # fmt: skip
_SAMPLES = ["", " ", "-", " NULL ", "N/A", "0x0", "0", "3", "\u0663", "%%4417 %%1537", "%%4418", "\\\\*\\C$",
            "IPC$", "::ffff:10.0.0.1", "a\udc80b", "\u2003x\u3000", "\xe9t\xe9", "\U0001f600"]  # fmt: skip
_TEXT = st.one_of(st.sampled_from(_SAMPLES), st.text(max_size=12))
_ODD = st.one_of(st.none(), st.integers(-5, 5), st.just(b"x"), st.just(1.5), st.just(True))
_VALUE = st.one_of(_TEXT, _TEXT, _TEXT, _ODD)
_WHEN = st.one_of(
    st.none(),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)),
    st.datetimes(max_value=datetime(9999, 12, 30)),  # naive
    st.just(datetime(2021, 1, 1, tzinfo=timezone(timedelta(hours=2)))),
    st.just("2021-01-01"),
)
_FIELDS = st.one_of(
    st.none(),
    st.tuples(
        _WHEN,
        st.one_of(st.none(), _TEXT, _ODD),  # computer
        st.one_of(st.none(), st.sampled_from(["Security", "Microsoft-Windows-SMBServer/Audit", "SmbClient"])),
        st.dictionaries(st.sampled_from(_NAMES), _VALUE, max_size=8),
    ),
)
_NUMBER = st.one_of(st.sampled_from(sorted(int(x) for x in INTERESTING)), st.integers(0, 70000))
_RECORD_ID = st.one_of(st.integers(0, 300), st.integers(0, 2**64 - 1))
_RECORDS = st.lists(st.tuples(_RECORD_ID, _NUMBER, _FIELDS), max_size=25)
_HOT = ["4624", "4625", "5140", "5145", "4776"]


def _outcome(run: Any) -> tuple[Any, ...]:
    try:
        return ("ok", *run())
    except Exception as exc:  # noqa: BLE001 - the exception type is compared
        return ("raised", type(exc))


def _reference(records: list[Any], after: int, path: str) -> tuple[Any, ...]:
    """_fast_rows + rows_to_frame, each row's frame checked as it comes (the first error,
    from event_row or from a value polars refuses, is the one the sink must give)."""
    source = EvtxSource(path, after_record=after)
    rows = []
    for row in source._fast_rows(records):
        rows_to_frame([row])  # raises where the frame of the batch would
        rows.append(row)
    frame = rows_to_frame(rows) if rows else None
    return frame, _counters(source)


def _sinked(records: list[Any], after: int, path: str) -> tuple[Any, ...]:
    source = EvtxSource(path, after_record=after)
    sink = source._new_sink()
    try:
        frames = list(source._sink_records(sink, records))
        if sink.rows:
            frames.append(winevent._sink_frame(sink))
    finally:
        source._merge_sink(sink)
    frame = pl.concat(frames) if frames else None
    return frame, _counters(source)


def _counters(source: EvtxSource) -> tuple[Any, ...]:
    stats = source.stats
    return (stats.records, stats.events, stats.first_time, stats.last_time, source.max_seen,
            source.last_record, sorted(source._unknown), dict(stats.warnings))  # fmt: skip


def _assert_same_outcome(records: list[Any], after: int, path: str = "C:\\logs\\Security.evtx") -> None:
    expected = _outcome(lambda: _reference(records, after, path))
    got = _outcome(lambda: _sinked(records, after, path))
    if expected[0] == "raised":
        assert got[0] == "raised" and issubclass(got[1], expected[1]), (got, expected)
        return
    assert got[0] == "ok", got
    if expected[1] is None:
        assert got[1] is None
    else:
        assert got[1] is not None and got[1].equals(expected[1])
    assert got[2] == expected[2]


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(records=_RECORDS, after=st.one_of(st.integers(-3, 300), st.just(2**70)))
def test_fuzz_sink_equals_reference(records: list[Any], after: int) -> None:
    _assert_same_outcome(records, after)


@settings(max_examples=300, deadline=None)
@given(records=_RECORDS)
def test_fuzz_sink_odd_source_path(records: list[Any]) -> None:
    """A path with a lone surrogate (a non-UTF-8 file name): every row is odd; same result."""
    _assert_same_outcome(records, 0, path="/logs/\udcff.evtx")


def test_odd_rows_keep_file_order() -> None:
    when = datetime(2021, 5, 6, 7, 8, 9, 123456, tzinfo=UTC)
    good = (when, "DC1", "Security", {"IpAddress": "10.0.0.5", "LogonType": "3", "TargetUserName": "bob"})
    odd_computer = (when, 17, "Security", {"IpAddress": "10.0.0.6"})
    records = [(1, 4624, good), (2, 4624, good), (3, 4624, odd_computer), (4, 4624, good)]
    with pytest.raises(TypeError):  # polars refuses an int in a Utf8 column: the reference does too
        _sinked(records, 0, "p")
    naive = (datetime(2021, 5, 6), "DC1", "Security", {"IpAddress": "10.0.0.6"})
    with pytest.raises(TypeError):  # naive - aware
        _sinked([(1, 4624, good), (2, 4625, naive)], 0, "p")
    # a row the sink hands back but polars takes: a datetime in another zone (rows_to_frame
    # converts it); order kept around it
    other: tuple[Any, ...] = (
        datetime(2021, 5, 6, 9, tzinfo=timezone(timedelta(hours=2))),
        "DC1",
        "Security",
        {},
    )
    records = [(1, 4624, good), (2, 5140, other), (3, 4776, good), (4, 4624, good)]
    frame, counters = _sinked(records, 0, "p")
    assert frame.equals(_reference(records, 0, "p")[0])
    assert frame["event_id"].to_list() == ["4624", "5140", "4776", "4624"]
    assert counters[1] == 4 and counters[2] == other[0] and counters[3] == when


def test_declines_records_not_in_read_chunk_shape() -> None:
    sink = EvtxSource("p")._new_sink()
    when = datetime(2021, 5, 6, tzinfo=UTC)
    bad: list[Any]
    for bad in ([(1, 4624)], [("1", 4624, None)], [(-1, 4624, None)], [(2**64, 4624, None)],
                [(1, 4624.0, None)], [(1, 4624, (when, "c", "s"))], [[1, 4624, None]]):  # fmt: skip
        assert sink.feed(bad, 0) is False
        assert sink.records == 0 and sink.rows == 0
    # the reference loop then takes them (same rows, or the same exception)
    _assert_same_outcome([(1, 4624, (when, "c", "s", {})), [2, 4624, None]], 0)


def test_append_and_take() -> None:
    sink = EvtxSource("p")._new_sink()
    when = datetime(2021, 5, 6, tzinfo=UTC)
    row = (EventKind.LOGON, "p", "4624", when, "10.0.0.1", None, "DC", "u", "d", None, None, None,
           None, 3, "NTLM", None, None, "0x0")  # fmt: skip
    assert sink.append(row) is True
    for odd in (row[:17], list(row), (*row[:13], True, *row[14:]), (*row[:13], 2**63, *row[14:]),
                (*row[:4], "x\udc00", *row[5:]), (*row[:4], b"x", *row[5:]),
                (*row[:3], datetime(2021, 5, 6), *row[4:])):  # fmt: skip
        assert sink.append(odd) is False  # type: ignore[arg-type]
    assert sink.rows == 1 and sink.first_time == when == sink.last_time
    frame = winevent._sink_frame(sink)
    assert frame.equals(rows_to_frame([row])) and sink.rows == 0
    empty = winevent._sink_frame(sink)
    assert empty.height == 0 and dict(empty.schema) == frame_schema()
    big = "\u00e9" * 3_000_000  # a huge value
    assert sink.append((*row[:7], big, *row[8:])) is True
    assert winevent._sink_frame(sink)["user"][0] == big


def test_argument_errors() -> None:
    assert _evtxbin is not None
    with pytest.raises(TypeError):
        _evtxbin.Sink("p", 0, 5, set(), {})  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        _evtxbin.Sink("p", "0", winevent.event_row, set(), {})  # type: ignore[arg-type]
    sink = EvtxSource("p")._new_sink()
    with pytest.raises(TypeError):
        sink.feed((), 0)  # type: ignore[arg-type]
    with pytest.raises(IndexError):
        sink.feed([], 1)


def test_refcounts_on_error_and_odd_paths() -> None:
    """An event_row that raises, odd rows, records changed in the callback: every object
    the sink touched keeps its reference count (no leak, no early free)."""
    assert _evtxbin is not None
    when = datetime(2021, 5, 6, tzinfo=UTC)
    data = {"ShareName": "x" * 40, "OldSD": "a"}
    computer = "DC" * 20
    fields = (when, computer, "Security", data)
    odd_row = (EventKind.SHARE_CREATED, "p", "5142", when) + (7,) * 14
    records: list[Any] = [(5, 5142, fields), (6, 4624, fields), (7, 1, None)]

    def raising(*args: Any, **kwargs: Any) -> Any:
        raise ValueError("no")

    def odd(*args: Any, **kwargs: Any) -> Any:
        return odd_row

    mine: list[Any] = list(records)

    def mutating(*args: Any, **kwargs: Any) -> Any:
        mine.clear()  # the record tuples stay alive in ``records``
        return None

    watched = (when, data, computer, fields, odd_row, *odd_row[4:5])
    before = [sys.getrefcount(x) for x in watched]
    for _ in range(200):
        sink = _evtxbin.Sink("p", 0, raising, set(), {})
        with pytest.raises(ValueError):
            sink.feed(records, 0)
        sink = _evtxbin.Sink("p", 0, odd, set(), {})
        assert sink.feed(records, 0) == (0, odd_row)
        assert sink.feed(records, 1) is True and sink.rows == 1
        assert sink.take() is not None
        del sink
    assert [sys.getrefcount(x) for x in watched] == before
    sink = _evtxbin.Sink("p", 0, mutating, set(), {})
    assert sink.feed(mine, 0) is True and sink.records == 1  # the list ended in the callback
    mine[:] = [(5, 5142, fields), 5, (6, 4624, fields)]
    sink = _evtxbin.Sink("p", 0, lambda *a, **k: mine.__setitem__(1, "x"), set(), {})
    assert sink.feed(mine, 2) is True  # resumed after an index: items re-checked as read
    mine[:] = [(5, 5142, fields), (6, 4624, fields)]
    sink = _evtxbin.Sink("p", 0, lambda *a, **k: mine.__setitem__(1, "x"), set(), {})
    with pytest.raises(RuntimeError):
        sink.feed(mine, 0)
    del mine[:]
    assert [sys.getrefcount(x) for x in watched] == before


def test_hot_rows_in_c_need_configure_order() -> None:
    """The sink's hot rows are _evtxbin.row's: spot check against event_row on each hot ID."""
    when = datetime(2021, 5, 6, tzinfo=UTC)
    data = {"IpAddress": "::ffff:10.1.2.3", "LogonType": "10", "Status": "0xC000006D", "AccessList": "%%4417",
            "ShareName": "\\\\*\\D$", "RelativeTargetName": "a\\b.txt", "Workstation": "W"}  # fmt: skip
    records = [(i + 1, int(eid), (when, "DC", "Security", data)) for i, eid in enumerate(_HOT)]
    _assert_same_outcome(records, 0)
    frame, _ = _sinked(records, 0, "p")
    assert frame["kind"].to_list() == [
        "logon",
        "logon_failure",
        "share_connect",
        "file_write",
        "logon_failure",
    ]
