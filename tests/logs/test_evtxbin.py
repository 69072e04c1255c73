"""``smbguard.logs.evtxbin``: the binary EVTX reader gives the rows the Rust parser + XML
path gives (differential, on every shared sample and on damaged copies), falls back per
chunk on anything it does not reproduce, and raises only DecodeError on garbage."""

from __future__ import annotations

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
def test_every_shared_file_same_rows_as_rust(shared_data: Path) -> None:
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


def test_damaged_files_same_rows_as_rust(shared_data: Path, tmp_path: Path) -> None:
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
