"""``smbguard.logs.evtxbin`` and its C version ``smbguard.logs._evtxbin``: the binary EVTX
reader gives the rows the Rust parser + XML path gives (differential, on every shared sample
and on damaged copies), falls back per chunk on anything it does not reproduce, and raises
only DecodeError (Python) / returns None (C) on garbage. The C reader gives the Python
reference's records wherever both accept a chunk."""

from __future__ import annotations

import io
import os
import random
import struct
import zlib
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbguard.errors import DecodeError
from smbguard.logs import evtxbin, winevent
from smbguard.logs.events import EventKind, events_to_frame
from smbguard.logs.winevent import EVENT_FIELDS, INTERESTING, EvtxSource

HEADER, CHUNK = 4096, 65536
DONPAPI = "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"
RESTORE = "evtx/evtx-to-mitre-attack/ID_4776_4625-AccountRestore_local_bruteforce.evtx"
WANTED = frozenset(int(x) for x in INTERESTING)

try:
    from smbguard.logs import _evtxbin
except ImportError:  # not built: the C tests skip (and fail under CI)
    _evtxbin = None  # type: ignore[assignment]


@pytest.fixture(params=["c", "python"])
def reader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Run a test with the C reader (when built) and with the Python reference alone."""
    if request.param == "c":
        _c_or_skip()
    else:
        monkeypatch.setattr(winevent, "_c_read_chunk", None)
    return str(request.param)


def _all_evtx(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "evtx").rglob("*.evtx"))


def _frames(path: Path, fast: bool, workers: int = 0) -> tuple[pl.DataFrame, EvtxSource]:
    source = EvtxSource(str(path))
    source.workers = workers
    source.fast = fast
    if workers:
        source.range_chunks = 1
        source.spawn_after = 0
        source.wait_for_workers = True
    frames = list(source.frames(rows=1000))
    return (pl.concat(frames) if frames else pl.DataFrame()), source


def _assert_same_as_rust(path: Path, workers: int = 0) -> EvtxSource:
    """Fast reader vs the Rust + XML path (frames with fast off, and events())."""
    expected, reference = _frames(path, fast=False, workers=workers)
    got, source = _frames(path, fast=True, workers=workers)
    assert got.equals(expected), path
    assert source.stats.to_dict() == reference.stats.to_dict()
    assert (source.max_seen, source.last_record) == (reference.max_seen, reference.last_record)
    plain = EvtxSource(str(path))
    by_events = events_to_frame(plain.events())
    assert (got.equals(by_events) if got.height else by_events.height == 0) and (
        plain.stats.to_dict() == source.stats.to_dict()
    )
    return source


# ------------------------------------------------------------------ the mapping's field names
class _Recording(dict[str, str]):
    def __init__(self, seen: set[str]) -> None:
        super().__init__()
        self.seen = seen

    def get(self, key: str, default: Any = None) -> Any:
        self.seen.add(key)
        return {"AccessList": "%%4417 %%1537", "Status": "0xc000006d"}.get(key, "x")

    def __getitem__(self, key: str) -> str:
        self.seen.add(key)
        return "x"


def test_event_fields_are_every_name_event_row_reads() -> None:
    seen: set[str] = set()
    for event_id in sorted(INTERESTING):
        data: Mapping[str, str] = _Recording(seen)
        row = winevent.event_row(event_id, data, source="s", when=None, computer="c", channel=None)
        assert row is not None
    assert seen == EVENT_FIELDS


# ------------------------------------------------------------------ differential on real files
def test_every_shared_file_same_rows_as_rust(shared_data: Path, reader: str) -> None:
    paths = _all_evtx(shared_data)
    assert len(paths) >= 30
    fast = slow = 0
    files_fast = 0
    for path in paths:
        source = _assert_same_as_rust(path)
        fast += source.fast_chunks
        slow += source.slow_chunks
        files_fast += source.fast_chunks > 0
    # the test cannot pass by always falling back: most chunks (and files) took the fast path
    assert fast >= 4 * slow and fast >= 70, (fast, slow)
    assert files_fast >= 30


def test_worker_ranges_same_rows_as_rust(shared_data: Path) -> None:
    source = _assert_same_as_rust(shared_data / DONPAPI, workers=2)
    assert source.fast_chunks >= 7 and source.worker_pids


def test_hand_checked_values(shared_data: Path) -> None:
    """Values read from the XML by hand (evtx_dump) for two records."""
    got, source = _frames(shared_data / RESTORE, fast=True)
    assert source.fast_chunks == 1 and source.slow_chunks == 0
    failures = got.filter(pl.col("event_id") == "4625")
    first = failures.row(0, named=True)
    assert first["time"] == datetime(2023, 9, 25, 20, 39, 50, 822397, tzinfo=UTC)
    assert (first["kind"], first["user"], first["domain"]) == (EventKind.LOGON_FAILURE, "Admin", "WIN")
    assert (first["status"], first["detail"], first["logon_type"]) == ("0xc000006a", "0xc000006d", 2)
    assert (first["auth_package"], first["workstation"], first["server"]) == ("Negotiate", "WIN", "WIN")
    assert first["src_ip"] is None and first["lm_package"] is None  # "-" in the XML

    data = (shared_data / DONPAPI).read_bytes()
    records = evtxbin.read_chunk(data[HEADER : HEADER + CHUNK], WANTED, EVENT_FIELDS)
    (record,) = [r for r in records if r[0] == 11]  # EventRecordID 11 of the record header
    assert record[1] == 5145 and record[2] is not None
    fields = record[2]
    assert fields.when == datetime(2021, 12, 12, 7, 15, 56, 740604, tzinfo=UTC)
    assert fields.data["IpAddress"] == "10.23.123.11"
    assert fields.data["ShareName"] == "\\\\*\\IPC$" and fields.data["RelativeTargetName"] == "srvsvc"
    assert fields.data["AccessMask"] == "0x83" and fields.data["SubjectUserName"] == "admmig"
    assert fields.data["AccessList"].split() == ["%%4416", "%%4417", "%%4423"]
    assert fields.data["ShareLocalPath"] == ""  # an empty value: <Data Name="ShareLocalPath"></Data>
    assert fields.channel == "Security"


# ------------------------------------------------------------------ damaged input
def _fix_checksums(chunk: bytearray) -> bytes:
    """Recompute both CRC32s, so a mutation gets past the checksum gate into the parser."""
    free = struct.unpack_from("<I", chunk, 48)[0]
    if 512 <= free <= CHUNK:
        struct.pack_into("<I", chunk, 52, zlib.crc32(bytes(chunk[512:free])))
    struct.pack_into("<I", chunk, 124, zlib.crc32(bytes(chunk[128:512]), zlib.crc32(bytes(chunk[:120]))))
    return bytes(chunk)


def _sample_chunks(shared_data: Path) -> list[bytes]:
    chunks = []
    for name in (DONPAPI, RESTORE, "evtx/evtx-attack-samples/LM_REMCOM_5145_TargetHost.evtx"):
        data = (shared_data / name).read_bytes()
        chunks.append(data[HEADER : HEADER + CHUNK])
    return chunks


@pytest.fixture(scope="module")
def sample_chunks(shared_data: Path) -> list[bytes]:
    return _sample_chunks(shared_data)


def test_chunks_decode_before_mutation(sample_chunks: list[bytes]) -> None:
    for chunk in sample_chunks:
        assert len(evtxbin.read_chunk(chunk, WANTED, EVENT_FIELDS)) > 10


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_chunks_raise_only_decode_error(sample_chunks: list[bytes], data: st.DataObject) -> None:
    chunk = bytearray(data.draw(st.sampled_from(sample_chunks)))
    flips = data.draw(st.lists(st.tuples(st.integers(0, CHUNK - 1), st.integers(0, 255)), max_size=8))
    for at, value in flips:
        chunk[at] = value
    raw = _fix_checksums(chunk) if data.draw(st.booleans()) else bytes(chunk)
    cut = data.draw(st.integers(0, 3))
    if cut == 0:
        raw = raw[: data.draw(st.integers(0, CHUNK))]
    try:
        records = evtxbin.read_chunk(raw, WANTED, EVENT_FIELDS)
    except DecodeError:
        return
    assert isinstance(records, list)


def test_decoders_reject_garbage() -> None:
    with pytest.raises(DecodeError):
        evtxbin.parse_chunk_header(b"ElfChnk\x00" + bytes(100))
    with pytest.raises(DecodeError):
        evtxbin.parse_chunk_header(bytes(CHUNK))
    with pytest.raises(DecodeError):
        evtxbin.parse_template(bytes(CHUNK), 600)
    with pytest.raises(DecodeError):
        evtxbin.value_text(b"\x00\xd8", 0, 2, evtxbin.T_STRING)  # lone surrogate
    with pytest.raises(DecodeError):
        evtxbin.value_text(b"\x01\x02\x03", 0, 3, evtxbin.T_UINT32)


def test_value_formats() -> None:
    """The renderings row_from_xml reads: decimal, lower-case 0x hex, UTF-16 text."""
    assert evtxbin.value_text(struct.pack("<I", 3221225581), 0, 4, evtxbin.T_HEX32) == "0xc000006d"
    assert evtxbin.value_text(struct.pack("<Q", 0x3E7), 0, 8, evtxbin.T_HEX64) == "0x3e7"
    assert evtxbin.value_text(struct.pack("<I", 3), 0, 4, evtxbin.T_UINT32) == "3"
    assert evtxbin.value_text("C$".encode("utf-16-le"), 0, 4, evtxbin.T_STRING) == "C$"
    with pytest.raises(DecodeError):  # a NUL: how the XML path shows it is not reproduced
        evtxbin.value_text("C$\x00".encode("utf-16-le"), 0, 6, evtxbin.T_STRING)
    assert evtxbin.value_text(b"", 0, 0, evtxbin.T_NULL) == ""


def _damaged_files(shared_data: Path, rnd: random.Random) -> dict[str, bytes]:
    """Whole files with chunks mutated (checksums fixed or not), for the file-level check."""
    data = (shared_data / DONPAPI).read_bytes()
    chunks = (len(data) - HEADER) // CHUNK
    cases: dict[str, bytes] = {}
    for i in range(6):
        damaged = bytearray(data)
        for _ in range(4):
            index = rnd.randrange(chunks)
            start = HEADER + index * CHUNK
            chunk = bytearray(damaged[start : start + CHUNK])
            for _ in range(rnd.randrange(1, 6)):
                chunk[rnd.randrange(512, CHUNK)] = rnd.randrange(256)
            damaged[start : start + CHUNK] = _fix_checksums(chunk) if i % 2 == 0 else bytes(chunk)
        cases[f"mutated {i}"] = bytes(damaged)
    return cases


def test_damaged_files_same_rows_as_rust(shared_data: Path, tmp_path: Path, reader: str) -> None:
    rnd = random.Random(6)
    for name, content in _damaged_files(shared_data, rnd).items():
        path = tmp_path / "damaged.evtx"
        path.write_bytes(content)
        try:
            _assert_same_as_rust(path)
        except AssertionError as exc:
            raise AssertionError(f"{name}: {exc}") from exc


def test_contract_damaged_copies_with_the_binary_reader(shared_data: Path, tmp_path: Path) -> None:
    """The damaged copies of test_winevent_frames (cut, bad magic, zeroed, overwritten,
    shifted): frames with the binary reader, in-process and in workers, equal events()."""
    from tests.logs.test_winevent_frames import _damaged

    data = (shared_data / DONPAPI).read_bytes()
    rnd = random.Random(len(data))
    fast = 0
    for name, damaged in _damaged(data, rnd).items():
        path = tmp_path / "damaged.evtx"
        path.write_bytes(damaged)
        for workers in (0, 2):
            try:
                source = _assert_same_as_rust(path, workers=workers)
            except AssertionError as exc:
                raise AssertionError(f"{name}, workers={workers}: {exc}") from exc
            fast += source.fast_chunks
    assert fast > 0


def test_large_file_in_process_ranges_and_tail(shared_data: Path, tmp_path: Path) -> None:
    """In-process reading goes range by range (32 chunks); an incomplete tail stays with the
    last chunk, which the Rust parser reads."""
    data = (shared_data / DONPAPI).read_bytes()
    body = data[HEADER:]
    path = tmp_path / "large.evtx"
    path.write_bytes(data[:HEADER] + body[: len(body) - len(body) % CHUNK] * 5 + body[:5000])
    source = _assert_same_as_rust(path)
    assert source.stats.records == 750 * 5
    assert source.slow_chunks == 1 and source.fast_chunks == 17 * 5 - 1


def _rows_both_ways(header: bytes, chunk: bytes) -> tuple[Any, Any] | None:
    """(fast rows + counters, Rust rows + counters) of one chunk; None if refused."""
    import io

    try:
        records = evtxbin.read_chunk(chunk, WANTED, EVENT_FIELDS)
    except DecodeError:
        return None
    fast = EvtxSource("x")
    fast_rows = list(fast._fast_rows(records))
    fast._finish()
    rust = EvtxSource("x")
    parser = rust._parser(io.BytesIO(header + chunk))
    rust_rows = list(rust._rows(parser)) if parser is not None else []
    rust._finish()
    return (
        (fast_rows, fast.stats.to_dict(), fast.max_seen, fast.last_record),
        (rust_rows, rust.stats.to_dict(), rust.max_seen, rust.last_record),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_mutated_chunks_accepted_give_the_rust_rows(
    shared_data: Path, sample_chunks: list[bytes], data: st.DataObject
) -> None:
    """Mutations with recomputed checksums (so they reach every check): a chunk the fast
    reader accepts gives exactly the rows and counters of the Rust parser on that chunk.
    (Found this way and fixed: the header's string and template tables, which the Rust
    parser loads in full; a template's declared substitution types; FILETIMEs it cannot
    turn into dates.)"""
    header = (shared_data / DONPAPI).read_bytes()[:HEADER]
    chunk = bytearray(data.draw(st.sampled_from(sample_chunks)))
    positions = st.one_of(st.integers(512, CHUNK - 1), st.integers(0, 511))
    for at, value in data.draw(st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=4)):
        chunk[at] = value
    both = _rows_both_ways(header, _fix_checksums(chunk))
    if both is not None:
        assert both[0] == both[1]


# ------------------------------------------------------------------ the C reader
def _c_or_skip() -> Any:
    if _evtxbin is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._evtxbin is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("the C reader is not built here")
    return _evtxbin.read_chunk


def test_c_reader_is_built_and_used() -> None:
    """Under CI=true the extension must be importable; EvtxSource then reads through it."""
    c_read = _c_or_skip()
    assert winevent._c_read_chunk is c_read
    assert EvtxSource("x").fast


def _c_records(chunk: bytes) -> Any:
    return _c_or_skip()(chunk, WANTED, winevent._C_LAYOUT)


def _py_records(chunk: bytes) -> Any:
    """The Python reference's records as the C reader gives them (fields a plain tuple)."""
    try:
        records = evtxbin.read_chunk(chunk, WANTED, EVENT_FIELDS)
    except DecodeError:
        return None
    return [(rid, eid, None if fields is None else tuple(fields)) for rid, eid, fields in records]


def test_c_equals_python_reference_on_every_shared_chunk(shared_data: Path) -> None:
    """Chunk by chunk over every shared file: the same chunks accepted, the same records."""
    accepted = total = 0
    for path in _all_evtx(shared_data):
        data = path.read_bytes()
        for start in range(HEADER, len(data) - CHUNK + 1, CHUNK):
            chunk = data[start : start + CHUNK]
            got, expected = _c_records(chunk), _py_records(chunk)
            assert got == expected, (path.name, start)
            total += 1
            accepted += got is not None
    assert total >= 80 and accepted >= 75, (total, accepted)


def _rust_rows(header: bytes, chunk: bytes) -> tuple[Any, ...]:
    rust = EvtxSource("x")
    parser = rust._parser(io.BytesIO(header + chunk))
    rows = list(rust._rows(parser)) if parser is not None else []
    rust._finish()
    return rows, rust.stats.to_dict(), rust.max_seen, rust.last_record


def _fast_rows(records: Any) -> tuple[Any, ...]:
    fast = EvtxSource("x")
    rows = list(fast._fast_rows(records))
    fast._finish()
    return rows, fast.stats.to_dict(), fast.max_seen, fast.last_record


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_c_mutated_chunks_decline_or_give_the_rust_rows(
    shared_data: Path, sample_chunks: list[bytes], data: st.DataObject
) -> None:
    """Hostile chunks (bytes set anywhere, header tables included, checksums fixed or not,
    bytes inserted or removed, cut short): the C reader never crashes; a chunk it accepts
    gives exactly the Rust parser's rows and counters, and the Python reference accepts it
    too (checksums recomputed: the C reader does not check them, the Rust parser does not
    either) with the same records."""
    _c_or_skip()
    header = (shared_data / DONPAPI).read_bytes()[:HEADER]
    chunk = bytearray(data.draw(st.sampled_from(sample_chunks)))
    positions = st.one_of(st.integers(512, CHUNK - 1), st.integers(0, 511), st.integers(512, 4096))
    for at, value in data.draw(st.lists(st.tuples(positions, st.integers(0, 255)), min_size=1, max_size=6)):
        chunk[at] = value
    shift = data.draw(st.sampled_from([0, 0, 0, 1, -1, 2, -4]))
    if shift:
        at = data.draw(st.integers(512, CHUNK - 8))
        chunk = chunk[:at] + bytes(shift) + chunk[at:] if shift > 0 else chunk[:at] + chunk[at - shift :]
        chunk = (chunk + bytes(CHUNK))[:CHUNK]
    raw = _fix_checksums(chunk) if data.draw(st.booleans()) else bytes(chunk)
    if data.draw(st.integers(0, 7)) == 0:
        raw = raw[: data.draw(st.integers(0, CHUNK))]
    records = _c_records(raw)
    if records is None:
        return
    assert len(raw) == CHUNK
    assert _fast_rows(records) == _rust_rows(header, raw)
    # the C reader declines all the reference declines except a checksum mismatch (and more):
    # what it accepts, the reference accepts once the checksums are right, with the same records
    assert records == _py_records(_fix_checksums(bytearray(raw)))


@settings(max_examples=300, deadline=None)
@given(
    body=st.binary(min_size=0, max_size=2048),
    fields=st.tuples(st.integers(0, 2**16), st.integers(0, 2**16), st.integers(0, 2**16)),
    tables=st.lists(st.integers(0, 2**16), max_size=8),
)
def test_c_reader_on_garbage_chunks(body: bytes, fields: tuple[int, int, int], tables: list[int]) -> None:
    """Random bytes behind a plausible chunk header (sizes and table offsets pointing into
    the chunk): None or a list, never a crash (the ASan build in docs/evtx-binary.md ran this)."""
    _c_or_skip()
    chunk = bytearray(CHUNK)
    chunk[:8] = evtxbin.CHUNK_MAGIC
    struct.pack_into("<QQQQIII", chunk, 8, 1, 1, 1, 1, 128, fields[0], fields[1])
    for i, offset in enumerate(tables):
        struct.pack_into("<I", chunk, 128 + 4 * (i * 11 % 96), offset)
    chunk[512 : 512 + len(body)] = body
    struct.pack_into("<I", chunk, 512, 0x2A2A)
    if len(body) >= 28:
        struct.pack_into("<I", chunk, 512 + 24, 0x0001010F)
    records = _c_records(bytes(chunk))
    assert records is None or records == _py_records(_fix_checksums(chunk))


def test_c_reader_small_inputs_and_empty_chunk() -> None:
    _c_or_skip()
    assert _c_records(b"") is None
    assert _c_records(b"ElfChnk\x00") is None
    assert _c_records(bytes(CHUNK)) == []  # an empty chunk in a dirty file: no records
    assert _c_records(b"\x01" + bytes(CHUNK - 1)) is None


def test_c_reader_layout_callback(sample_chunks: list[bytes]) -> None:
    """The layouts come from the callback given (its own cache per callback): one that
    declines makes the chunk declined; a malformed answer is a TypeError, not a crash."""
    read = _c_or_skip()
    chunk = sample_chunks[0]
    assert read(chunk, WANTED, lambda *args: None) is None
    assert read(chunk, WANTED, winevent._C_LAYOUT) == _py_records(chunk)
    with pytest.raises(TypeError):
        read(chunk, WANTED, lambda *args: (1, 2))
    with pytest.raises(ZeroDivisionError):
        read(chunk, WANTED, lambda *args: 1 / 0)
    assert read(chunk, frozenset(), winevent._C_LAYOUT) == [(r, e, None) for r, e, _ in _py_records(chunk)]


def test_c_template_nesting_is_bounded(sample_chunks: list[bytes]) -> None:
    """A template table entry whose elements nest 3,000 deep (as deep as a chunk allows):
    declined, no crash."""
    _c_or_skip()
    chunk = bytearray(sample_chunks[0])
    start = 20000
    name_at = start + 24 + 4 + 11  # the first element's name, inline; the others refer to it
    header = struct.pack("<BHII", 0x01, 0, 0, name_at)
    name = struct.pack("<IHH", 0, 0, 1) + "a".encode("utf-16-le") + b"\x00\x00"
    template = b"\x0f\x01\x01\x00" + header + name + b"\x02" + (header + b"\x02") * 3000 + b"\x00"
    struct.pack_into("<I", chunk, start + 20, len(template))
    chunk[start + 24 : start + 24 + len(template)] = template
    struct.pack_into("<I", chunk, 384, start)
    assert _c_records(bytes(chunk)) is None


# ------------------------------------------------------------------ the C row (event_row)
def _c_row_or_skip() -> Any:
    _c_or_skip()
    assert winevent._c_row is not None
    return winevent._c_row


def _same_row(event_id: str, fields: tuple[Any, ...]) -> bool:
    """_evtxbin.row gives event_row's row (types included) or None; True if it gave one."""
    got = _c_row_or_skip()(event_id, fields, "src")
    when, computer, channel, data = fields
    expected = winevent.event_row(event_id, data, source="src", when=when, computer=computer, channel=channel)
    if got is None:
        return False
    assert got == expected
    assert [type(x) for x in got] == [type(x) for x in expected]
    return True


def test_c_row_equals_event_row_on_every_shared_record(shared_data: Path) -> None:
    taken = total = 0
    for path in _all_evtx(shared_data):
        data = path.read_bytes()
        for start in range(HEADER, len(data) - CHUNK + 1, CHUNK):
            for _rid, number, fields in winevent.read_chunk(data[start : start + CHUNK]) or []:
                if fields is not None:
                    total += 1
                    taken += _same_row(str(number), tuple(fields))
    assert total >= 900 and taken >= 0.95 * total, (taken, total)


_PIECES = ["a", "Z", "0", "7", "x", "X", "-", " ", "\t", "\u2003", "\u3000", "\x1c", "\x85", "\\", "$", ":"]
_PIECES += ["f", "%%1537", "%%4417", "%%4418", "::ffff:", "NULL", "N/A", "IPC$"]
_PIECES += ["\u0663", "\u0130", "\u212a", "é"]
_TEXT = st.lists(st.sampled_from(_PIECES), max_size=6).map("".join)
_NAMES = sorted(EVENT_FIELDS)


@settings(max_examples=1500, deadline=None)
@given(
    event_id=st.sampled_from(["4624", "4625", "5140", "5145", "4776", "5142", "3000", "462", "46245"]),
    data=st.dictionaries(st.sampled_from(_NAMES), _TEXT, max_size=12),
    when=st.sampled_from([None, datetime(2021, 1, 2, 3, 4, 5, 6, tzinfo=UTC)]),
    computer=st.sampled_from([None, "DC01"]),
)
def test_fuzz_c_row_equals_event_row(
    event_id: str, data: dict[str, str], when: datetime | None, computer: str | None
) -> None:
    """Values with Unicode blanks around empty markers, IPv4-mapped prefixes, backslashes,
    access codes, non-ASCII digits and letters whose lower() is ASCII."""
    _same_row(event_id, (when, computer, "Security", data))


def test_c_row_declines_what_it_does_not_reproduce() -> None:
    row = _c_row_or_skip()
    fields = (None, "DC", "Security", {"LogonType": "\u0663"})  # Arabic-Indic 3: isdecimal()
    assert row("4624", fields, "s") is None
    assert row("4776", (None, "DC", "Security", {"Status": "\u0130"}), "s") is None
    assert row("4624", (None, "DC", "Security", {"IpAddress": 3}), "s") is None  # not a str
    assert row("5142", (None, "DC", "Security", {}), "s") is None
    with pytest.raises(TypeError):
        row("4624", None, "s")


def _value_offsets(chunk: bytes, value_type: int) -> list[int]:
    """Where the substitution values of a type are in a chunk's records (Python reference)."""
    state = evtxbin._Chunk(chunk, EVENT_FIELDS)
    free = struct.unpack_from("<I", chunk, 48)[0]
    pos, found = 512, []
    while pos < free:
        size = struct.unpack_from("<I", chunk, pos + 4)[0]
        instance = state.instance(pos + 28, pos + size - 4)
        for group in (instance, *(inner for _, inner in instance.nested)):
            found += [group.offsets[i] for i, t in enumerate(group.types) if t == value_type]
        pos += size
    return found


def _filetime_offsets(chunk: bytes) -> list[int]:
    return _value_offsets(chunk, evtxbin.T_FILETIME)


@pytest.mark.parametrize(("at", "value"), [(0, 2), (0, 0), (1, 0), (1, 1), (1, 5), (1, 200)])
def test_c_malformed_sid_values(shared_data: Path, sample_chunks: list[bytes], at: int, value: int) -> None:
    """A SID whose revision is not 1 or whose sub-authority count does not match its size:
    the C reader declines the chunk or gives the Rust parser's rows and counters."""
    read = _c_or_skip()
    header = (shared_data / DONPAPI).read_bytes()[:HEADER]
    tried = 0
    for chunk in sample_chunks:
        offsets = _value_offsets(chunk, evtxbin.T_SID)
        for start in offsets[:1] + offsets[len(offsets) // 2 :][:1] + offsets[-1:]:
            damaged = bytearray(chunk)
            damaged[start + at] = value
            if damaged == chunk:
                continue
            tried += 1
            for wanted in (WANTED, frozenset()):
                records = read(bytes(damaged), wanted, winevent._C_LAYOUT)
                if records is not None:
                    rust = _rust_rows(header, bytes(damaged))
                    if wanted:
                        assert _fast_rows(records) == rust
                    else:
                        assert len(records) == rust[1]["records"] and rust[1]["skipped"] == 0
    assert tried


@pytest.mark.parametrize("ticks", [2**64 - 1, evtxbin._FILETIME_MAX, 10**15, 0])
def test_c_filetime_values_out_of_range(shared_data: Path, sample_chunks: list[bytes], ticks: int) -> None:
    """A FILETIME the Rust parser cannot turn into a date fails its record there: the C reader
    declines such a chunk (whether the record's EventID is wanted or not, whether the value
    is the SystemTime or another); one before 1970 it declines as the SystemTime."""
    _c_or_skip()
    header = (shared_data / DONPAPI).read_bytes()[:HEADER]
    for chunk in sample_chunks:
        offsets = _filetime_offsets(chunk)
        assert offsets
        for at in (offsets[0], offsets[len(offsets) // 2], offsets[-1]):
            damaged = bytearray(chunk)
            struct.pack_into("<Q", damaged, at, ticks)
            for wanted in (WANTED, frozenset()):
                records = _c_or_skip()(bytes(damaged), wanted, winevent._C_LAYOUT)
                if records is not None and wanted:
                    assert _fast_rows(records) == _rust_rows(header, bytes(damaged))
                if records is not None and not wanted:  # no fields read: the value check decides
                    rust = _rust_rows(header, bytes(damaged))
                    assert len(records) == rust[1]["records"] and rust[1]["skipped"] == 0


def test_c_reader_threads_with_two_callbacks(sample_chunks: list[bytes]) -> None:
    """Two threads, each with its own layout callback (which releases the GIL): the cache
    is never cleared under a call in progress; every answer is a decline or the reference."""
    import threading
    import time

    read = _c_or_skip()

    def slow(*args: Any) -> Any:
        time.sleep(0.0005)
        return winevent._C_LAYOUT(*args)

    results: list[tuple[bytes, Any]] = []

    def work(layout: Any) -> None:
        for _ in range(4):
            for chunk in sample_chunks:
                results.append((chunk, read(chunk, WANTED, layout)))

    threads = [threading.Thread(target=work, args=(layout,)) for layout in (slow, winevent._C_LAYOUT)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8 * len(sample_chunks)
    for chunk, records in results:
        assert records is None or records == _py_records(chunk)
    assert any(records is not None for _, records in results)


def _read_value(chunk: bytes) -> bytes:
    """The UTF-16 bytes of a value the reference reads (a wanted record's field)."""
    for _rid, _eid, fields in _py_records(chunk):
        if fields is not None:
            for value in fields[3].values():
                if len(value) >= 3:
                    return str(value).encode("utf-16-le")
    raise AssertionError("no value")


def _slack(chunk: bytes) -> int:
    """An offset in the unused tail of a chunk (after the free space offset), 8-aligned."""
    free = struct.unpack_from("<I", chunk, 48)[0]
    assert CHUNK - free > 64
    return (free + 15) // 8 * 8


def _declined_cases(chunk: bytes) -> dict[str, bytes]:
    cases: dict[str, bytearray] = {}
    value = _read_value(chunk)
    for name, unit in (("C1 control", 0x85), ("C0 control", 0x01), ("lone surrogate", 0xD800),
                       ("non-character", 0xFFFE)):  # fmt: skip
        damaged = bytearray(chunk)
        at = chunk.find(value)
        while at >= 0:  # every copy of the value (some are in records not read)
            struct.pack_into("<H", damaged, at, unit)
            at = chunk.find(value, at + 1)
        cases[f"{name} in a value read"] = damaged
    empty_slot = next(i for i in range(64) if struct.unpack_from("<I", chunk, 128 + 4 * i)[0] == 0)
    for name, text in (("empty name", b""), ("name with lone surrogate", b"\x00\xd8")):
        damaged = bytearray(chunk)
        at = _slack(chunk)
        struct.pack_into("<IHH", damaged, at, 0, 0, len(text) // 2)
        damaged[at + 8 : at + 8 + len(text) + 2] = text + b"\x00\x00"
        struct.pack_into("<I", damaged, 128 + 4 * empty_slot, at)
        cases[f"string table: {name}"] = damaged
    damaged = bytearray(chunk)
    struct.pack_into("<I", damaged, 384 + 4 * 31, _slack(chunk))  # a template of size 0
    cases["template table: empty template"] = damaged
    # a substitution of a template the records use declaring a value type nobody knows (the
    # C reader's own check of declared types matters only for templates no record uses: then
    # the Python layout callback, which parses the template again, does not run; no chunk
    # sample had room for such a template, so that check is not covered here)
    template = next(o for o in struct.unpack_from("<32I", chunk, 384) if o)
    size = struct.unpack_from("<I", chunk, template + 20)[0]
    for at in range(template + 24, template + 24 + size - 4):
        if chunk[at] in (0x0D, 0x0E) and chunk[at + 3] in evtxbin._KNOWN_TYPES:
            damaged = bytearray(chunk)
            damaged[at + 3] = 0x16  # a value type neither libyal nor the Rust parser knows
            if _py_records(_fix_checksums(damaged)) is None:
                cases["template table: unknown declared value type"] = damaged
                break
    state = evtxbin._Chunk(chunk, EVENT_FIELDS)
    size = struct.unpack_from("<I", chunk, 512 + 4)[0]
    first = state.instance(512 + 28, 512 + size - 4)  # the first record's template instance
    damaged = bytearray(chunk)
    damaged[first.offsets[-1]] = 1  # the end-of-fragment token after the values
    cases["record data not ending after its values"] = damaged
    if first.nested:
        _index, inner = first.nested[0]
        damaged = bytearray(chunk)
        damaged[inner.offsets[-1]] = 1
        cases["nested BinXML not ending after its values"] = damaged
    # a fixed-size value (an integer, FILETIME, GUID...) whose descriptor gives another size
    # (two bytes taken from the next value, so the values still end where they did)
    descriptors = first.offsets[0] - 4 * len(first.types)
    for i in range(len(first.types) - 1):
        if first.types[i] in evtxbin._FIXED and first.types[i] != evtxbin.T_NULL and first.sizes[i + 1] >= 2:
            damaged = bytearray(chunk)
            struct.pack_into("<H", damaged, descriptors + 4 * i, first.sizes[i] + 2)
            struct.pack_into("<H", damaged, descriptors + 4 * (i + 1), first.sizes[i + 1] - 2)
            cases["fixed-size value of another size"] = damaged
            break
    channel = "Security".encode("utf-16-le")
    if channel in chunk:
        damaged = bytearray(chunk.replace(channel, "Secur&ty".encode("utf-16-le")))
        cases["Channel that renders escaped"] = damaged
    damaged = bytearray(chunk)
    for at in _filetime_offsets(chunk):  # every SystemTime in 1604: the reference checks from 1970
        struct.pack_into("<Q", damaged, at, 10**15)
    cases["SystemTime before 1970"] = damaged
    second = 512 + struct.unpack_from("<I", chunk, 512 + 4)[0]
    damaged = bytearray(chunk)
    struct.pack_into("<Q", damaged, second + 8, struct.unpack_from("<Q", chunk, second + 8)[0] + 5)
    cases["record id out of sequence"] = damaged
    return {name: _fix_checksums(damaged) for name, damaged in cases.items()}


def test_c_declines_what_the_reference_declines(sample_chunks: list[bytes]) -> None:
    """Targeted damage the Python reference declines (checksums right): the C reader
    declines it too (text it does not reproduce in values; string and template tables the
    Rust parser loads in full; a record out of sequence)."""
    _c_or_skip()
    for chunk in sample_chunks:
        cases = _declined_cases(chunk)
        assert "template table: unknown declared value type" in cases
        assert "fixed-size value of another size" in cases
        for name, damaged in cases.items():
            assert _py_records(damaged) is None, name
            assert _c_records(damaged) is None, name
