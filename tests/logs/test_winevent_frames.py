"""``EvtxSource.frames()``: the same events and counters as ``events()``, in-process and
with the file's chunk ranges parsed by worker processes; workers never outlive the reader.

Every comparison is against ``events_to_frame(EvtxSource(p).events())`` on a fresh
source, the contract of :class:`smbguard.logs.events.FrameSource`.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from collections.abc import Generator
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from smbguard.logs import winevent
from smbguard.logs.events import events_to_frame
from smbguard.logs.winevent import EvtxSource

DONPAPI = "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"
HEADER, CHUNK = 4096, 65536


def _source(path: Path, mode: str, **settings: Any) -> EvtxSource:
    """mode: "here" (no workers), "workers" (every range to a worker), "auto" (the default rule)."""
    source = EvtxSource(str(path))
    if mode == "here":
        source.workers = 0
    elif mode == "workers":
        source.workers = 2
        source.range_chunks = 1
        source.spawn_after = 0  # start workers before the first range
        source.wait_for_workers = True  # and never read a range in the parent while they live
    for name, value in settings.items():
        setattr(source, name, value)
    return source


def _assert_same(
    path: Path, mode: str, rows: int = 500, after_record: int = 0, **settings: Any
) -> EvtxSource:
    reference = EvtxSource(str(path), after_record=after_record)
    expected = events_to_frame(reference.events())
    source = _source(path, mode, **settings)
    source.after_record = source.last_record = after_record
    frames = list(source.frames(rows=rows))
    assert all(0 < frame.height <= rows for frame in frames)
    got = pl.concat(frames) if frames else expected.clear()
    assert got.equals(expected)
    assert source.stats.to_dict() == reference.stats.to_dict()
    assert (source.max_seen, source.last_record) == (reference.max_seen, reference.last_record)
    _assert_gone(source.worker_pids)
    return source


def _assert_gone(pids: list[int]) -> None:
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"worker {pid} still exists"


def _all_evtx(shared_data: Path) -> list[Path]:
    return sorted((shared_data / "evtx").rglob("*.evtx"))


@pytest.mark.parametrize("mode", ["here", "workers"])
def test_every_shared_file_same_as_events(shared_data: Path, mode: str) -> None:
    paths = _all_evtx(shared_data)
    assert len(paths) >= 30
    used_workers = 0
    for path in paths:
        source = _assert_same(path, mode)
        used_workers += bool(source.worker_pids)
    if mode == "workers":  # every file of two chunks or more went through worker processes
        assert used_workers == sum(1 for p in paths if (p.stat().st_size - HEADER) // CHUNK >= 2) >= 3


def test_small_frames_and_after_record(shared_data: Path) -> None:
    path = shared_data / DONPAPI
    _assert_same(path, "here", rows=7)
    _assert_same(path, "workers", rows=7)
    for after in (1, 92, 400, 750, 10_000):  # logs watch: only records after this EventRecordID
        _assert_same(path, "here", after_record=after)
    for after in (92, 400, 10_000):
        _assert_same(path, "workers", after_record=after)


def _damaged(data: bytes, rnd: random.Random) -> dict[str, bytes]:
    """Truncated, zeroed, bad-magic, overwritten and shifted copies of an EVTX file."""
    chunks = (len(data) - HEADER) // CHUNK
    cases = {
        "cut in chunk 2": data[: HEADER + CHUNK + 30_000],
        "cut after chunk 3": data[: HEADER + 3 * CHUNK],
        "cut in header": data[:2000],
    }
    damaged = bytearray(data)
    damaged[HEADER + CHUNK + 1000 : HEADER + CHUNK + 3000] = b"\xff" * 2000
    cases["body of chunk 1 overwritten"] = bytes(damaged)
    damaged = bytearray(data)
    damaged[HEADER + 3 * CHUNK : HEADER + 3 * CHUNK + 8] = b"XXXXXXXX"
    damaged[HEADER + 5 * CHUNK : HEADER + 6 * CHUNK] = bytes(CHUNK)
    cases["chunk 3 bad magic, chunk 5 zeroed"] = bytes(damaged)
    for i in range(3):
        damaged = bytearray(data)
        for _ in range(30):  # in place: chunk boundaries stay where they were
            at = rnd.randrange(HEADER, len(damaged) - 64)
            damaged[at : at + 16] = rnd.randbytes(16)
        cases[f"overwritten {i}"] = bytes(damaged)
    for i in range(2):
        damaged = bytearray(data)
        at = rnd.randrange(HEADER, HEADER + chunks * CHUNK)
        damaged[at:at] = rnd.randbytes(rnd.randrange(1, 300))  # everything after it shifts
        cases[f"shifted {i}"] = bytes(damaged)
    return cases


@pytest.mark.parametrize("source_name", [DONPAPI, "mixed"])
def test_damaged_copies_same_as_events(shared_data: Path, tmp_path: Path, source_name: str) -> None:
    if source_name == "mixed":  # chunks of several files: other event IDs, other templates
        data = bytearray((shared_data / DONPAPI).read_bytes()[:HEADER])
        for path in _all_evtx(shared_data)[:12]:
            body = path.read_bytes()[HEADER:]
            data += body[: len(body) - len(body) % CHUNK]
    else:
        data = bytearray((shared_data / source_name).read_bytes())
    rnd = random.Random(len(data))
    for name, damaged in _damaged(bytes(data), rnd).items():
        path = tmp_path / "damaged.evtx"
        path.write_bytes(damaged)
        modes: list[tuple[str, dict[str, Any]]] = [("here", {}), ("workers", {})]
        if name.startswith(("cut in chunk", "chunk 3", "shifted 0")):  # ranges of several chunks
            modes.append(("workers", {"range_chunks": 3}))
        for mode, settings in modes:
            try:
                _assert_same(path, mode, **settings)
            except AssertionError as exc:
                raise AssertionError(f"{name}, {mode} {settings}: {exc}") from exc


def test_large_generated_file(shared_data: Path, tmp_path: Path) -> None:
    """Many ranges, the default scheduling (the parent reads until workers are ready), and
    frames cut at ``rows``; the same chunks repeated, as benchmarks/logs_bench.py builds them."""
    data = (shared_data / DONPAPI).read_bytes()
    body = data[HEADER:]
    path = tmp_path / "large.evtx"
    path.write_bytes(data[:HEADER] + body[: len(body) - len(body) % CHUNK] * 40 + body[:5000])
    source = _assert_same(path, "auto", rows=10_000, workers=2, range_chunks=8, spawn_after=0)
    assert len(source.worker_pids) == 2
    assert source.stats.records == 750 * 40
    assert any("truncated" in warning for warning in source.stats.warnings)


def _workers_source(path: Path) -> EvtxSource:
    return _source(path, "workers", range_chunks=1)


def test_closing_the_generator_stops_workers(shared_data: Path) -> None:
    source = _workers_source(shared_data / DONPAPI)
    frames = source.frames(rows=10)
    assert isinstance(frames, Generator)
    first = next(frames)
    assert first.height == 10
    assert len(source.worker_pids) == 2
    frames.close()
    _assert_gone(source.worker_pids)


def test_interrupt_while_waiting_stops_workers(shared_data: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = 0
    poll = winevent._Pool.poll

    def interrupted(self: winevent._Pool, timeout: float) -> Any:
        nonlocal calls
        calls += 1
        if calls == 5:
            raise KeyboardInterrupt
        return poll(self, timeout)

    monkeypatch.setattr(winevent._Pool, "poll", interrupted)
    source = _workers_source(shared_data / DONPAPI)
    with pytest.raises(KeyboardInterrupt):
        for _ in source.frames():
            pass
    assert len(source.worker_pids) == 2
    _assert_gone(source.worker_pids)


def test_consumer_error_stops_workers(shared_data: Path) -> None:
    source = _workers_source(shared_data / DONPAPI)
    with pytest.raises(RuntimeError, match="consumer"):
        for _ in source.frames(rows=10):
            raise RuntimeError("consumer failed")
    # the generator is finalised when its last reference goes (CPython refcounting)
    _assert_gone(source.worker_pids)


def test_workers_dead_before_work_file_is_read_here(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = winevent._Pool.start

    def start_and_kill(self: winevent._Pool) -> None:
        start(self)
        for pid in self.pids():
            os.kill(pid, signal.SIGKILL)

    monkeypatch.setattr(winevent._Pool, "start", start_and_kill)
    source = _assert_same(shared_data / DONPAPI, "workers")
    assert len(source.worker_pids) == 2


def test_workers_that_cannot_start_leave_the_work_to_the_parent(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "executable", "/nonexistent/python")
    source = _assert_same(shared_data / DONPAPI, "workers")
    assert source.worker_pids == []


def test_worker_dying_on_a_range_loses_only_that_range(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assign = winevent._Pool.assign
    killed: list[int] = []

    def assign_and_kill(self: winevent._Pool, part: Any, path: str, after_record: int) -> bool:
        sent = assign(self, part, path, after_record)
        if sent and part.first_chunk == 4 and not killed:
            worker = next(w for w in self.workers if w.queue and w.queue[-1] is part)
            killed.append(worker.process.pid)
            worker.process.kill()
        return sent

    monkeypatch.setattr(winevent._Pool, "assign", assign_and_kill)
    path = shared_data / DONPAPI
    reference = EvtxSource(str(path))
    expected = events_to_frame(reference.events())
    source = _workers_source(path)
    got = pl.concat(list(source.frames()))
    assert killed
    warnings = source.stats.warnings
    lost = [w for w in warnings if w.startswith("chunks ")]
    # the range being parsed when the worker died (4, or one queued before it) is reported
    # lost; ranges queued behind it are read in the parent
    assert len(lost) == 1 and source.stats.skipped == 1
    number = int(lost[0].split()[1].split("-")[0])
    assert number <= 4
    assert lost[0] == f"chunks {number}-{number} not read: parser process died (exit code -9)"
    assert 0 < got.height < expected.height
    assert source.stats.records < reference.stats.records
    _assert_gone(source.worker_pids)


def test_worker_timeout_is_reported_not_waited_for(shared_data: Path) -> None:
    source = _workers_source(shared_data / DONPAPI)
    source.range_timeout = 0.0  # every range a worker starts overruns at once
    frames = list(source.frames())
    assert sum(f.height for f in frames) < 701
    lost = [w for w in source.stats.warnings if "timed out" in w]
    assert lost and source.stats.skipped >= 1
    _assert_gone(source.worker_pids)


def test_not_an_evtx_file_and_empty(tmp_path: Path) -> None:
    for content in (
        b"ElfFile\x00" + b"\x00" * 100,
        b"",
        b"ElfFile\x00" + bytes(HEADER - 8) + bytes(3 * CHUNK),
    ):
        path = tmp_path / "x.evtx"
        path.write_bytes(content)
        for mode in ("here", "workers"):
            _assert_same(path, mode)
    missing = EvtxSource(str(tmp_path / "missing.evtx"))
    assert list(missing.frames()) == []
    assert missing.stats.warnings


def test_rows_must_be_positive(shared_data: Path) -> None:
    with pytest.raises(ValueError, match="rows"):
        next(EvtxSource(str(shared_data / DONPAPI)).frames(rows=0))
