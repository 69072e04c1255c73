"""The C loops of ``smbguard.logs._pcapscan`` against the Python loops they replace.

Whole analyses (C on, C off, reference path) are compared in test_capture_fast.py
(``assert_same`` runs all three on every capture and fuzzed input); here: the module is
built and used, and the record loops alone on random blocks."""

from __future__ import annotations

import io
import os
import struct
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs import capture, pcapfile
from smbguard.logs.events import SourceStats

try:
    from smbguard.logs import _pcapscan
except ImportError:  # not built: the tests below skip (and fail under CI)
    _pcapscan = None  # type: ignore[assignment]


def _module() -> Any:
    if _pcapscan is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._pcapscan is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("the C loops are not built here")
    return _pcapscan


def test_c_loops_are_built_and_used() -> None:
    """Under CI=true the extension must be importable: CI proves it was compiled."""
    assert pcapfile._pcapscan is _module()


def _runs(
    blob: bytes, size: int
) -> tuple[list[tuple[bytes, list[int], list[int], int, float]], dict[str, Any]]:
    stats = SourceStats("f", "pcap")
    out = []
    try:
        for block, starts, ends, linktype, ts_of in pcapfile.packet_runs(io.BytesIO(blob), stats, size):
            out.append((block, starts, ends, linktype, sum(ts_of(block, s) for s in starts)))
    except pcapfile.CaptureFormatError as exc:
        out.append((b"", [], [], -1, 0.0))
        stats.warn(str(exc))
    return out, {"stats": stats.to_dict(), "warnings": dict(stats.warnings)}


def _same_runs(blob: bytes, size: int) -> None:
    _module()
    got = _runs(blob, size)
    with mock.patch.object(pcapfile, "_pcapscan", None):
        want = _runs(blob, size)
    assert got == want


@st.composite
def _records(draw: st.DrawFn) -> bytes:
    """pcap record headers with lengths around the block and MAX_RECORD, in both byte orders."""
    endian = draw(st.sampled_from(["<", ">"]))
    magic = 0xA1B2C3D4 if draw(st.booleans()) else 0xA1B23C4D
    out = [struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, 262144, 1)]
    for _ in range(draw(st.integers(0, 8))):
        data = draw(st.binary(max_size=40))
        incl = draw(
            st.sampled_from([len(data), len(data), len(data) + 3, (1 << 24), (1 << 24) + 1, 0xFFFFFFFF])
        )
        out.append(
            struct.pack(
                endian + "IIII",
                draw(st.integers(0, 2**32 - 1)),
                draw(st.integers(0, 2**32 - 1)),
                incl,
                len(data),
            )
            + data
        )
    blob = b"".join(out)
    return blob[: draw(st.integers(0, len(blob)))] if draw(st.booleans()) else blob


@settings(max_examples=400, deadline=None)
@given(_records(), st.sampled_from([1, 16, 17, 40, 1000, 1 << 22]))
def test_fuzz_pcap_record_loop_same_as_python(blob: bytes, size: int) -> None:
    _same_runs(blob, size)


@st.composite
def _epbs(draw: st.DrawFn) -> bytes:
    """A section and interfaces, then Enhanced Packet Blocks whose type, length, interface
    and captured length lie in every way the hot loop tests for."""
    endian = draw(st.sampled_from(["<", ">"]))
    out = [struct.pack(endian + "IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28)]
    for _ in range(draw(st.integers(0, 2))):
        out.append(struct.pack(endian + "IIHHII", 1, 20, 1, 0, 262144, 20))
    for _ in range(draw(st.integers(0, 10))):
        data = draw(st.binary(max_size=24))
        pad = -len(data) % 4
        length = 32 + len(data) + pad + draw(st.sampled_from([0, 0, 0, -4, 4, 1, 2, -32, 1 << 26]))
        cap = len(data) + draw(st.sampled_from([0, 0, 1, 4, -1 if data else 0]))
        btype = draw(st.sampled_from([6, 6, 6, 5]))
        iface = draw(st.sampled_from([0, 0, 1, 7]))
        out.append(
            struct.pack(endian + "IIIIIII", btype, length & 0xFFFFFFFF, iface, 0, 1, cap, len(data))
            + data
            + bytes(pad)
            + struct.pack(endian + "I", length & 0xFFFFFFFF)
        )
    blob = b"".join(out)
    return blob[: draw(st.integers(0, len(blob)))] if draw(st.booleans()) else blob


@settings(max_examples=400, deadline=None)
@given(_epbs(), st.sampled_from([1, 28, 64, 100, 1 << 22]))
def test_fuzz_pcapng_block_loop_same_as_python(blob: bytes, size: int) -> None:
    _same_runs(blob, size)


def test_c_loop_takes_create_and_write_messages(tmp_path: Path) -> None:
    """The C loop handles whole CREATE requests/responses (no file event) and WRITE requests
    to files already reported, so _message runs fewer times with it, and the result is the
    same (test_capture_fast.py: the CREATE/WRITE fuzz compares every field)."""
    _module()
    from tests.logs.test_capture_fast import _FILE_IDS, _header, _pcap, _tcp, outcome

    name = "a.txt".encode("utf-16-le")
    create = struct.pack("<HBBIQQIIIIIHHII", 57, 0, 0, 0, 0, 0, 1, 0, 7, 1, 0, 120, len(name), 0, 0) + name
    opened = struct.pack("<HBBI48xII16sII", 89, 0, 0, 1, 0, 0, _FILE_IDS[1], 0, 0)
    written = struct.pack("<HBBI48xII16sII", 89, 0, 0, 2, 0, 0, _FILE_IDS[2], 0, 0)  # FILE_CREATED: an event
    write = struct.pack("<HHIQ16sIIHHI", 49, 112, 4, 0, _FILE_IDS[2], 0, 0, 0, 0, 0) + b"data"
    messages = [
        (True, _header(5, response=False, mid=1) + create),
        (False, _header(5, response=True, mid=1) + opened),
        (True, _header(5, response=False, mid=2) + create),
        (False, _header(5, response=True, mid=2) + written),
        (True, _header(9, response=False, mid=3) + write),
        (True, _header(9, response=False, mid=4) + write),
    ]
    records = [
        (1.0, _tcp(1, 40000, 445, 99, 0x02, b"")),
        (1.0, _tcp(1, 445, 40000, 499, 0x12, b"", down=True)),
    ]
    seqs = {True: 100, False: 500}
    for step, (up, message) in enumerate(messages):
        nbss = b"\x00" + len(message).to_bytes(3, "big") + message
        sport, dport = (40000, 445) if up else (445, 40000)
        records.append((2.0 + step, _tcp(1, sport, dport, seqs[up], 0x18, nbss, down=not up)))
        seqs[up] += len(nbss)
    path = tmp_path / "c.pcap"
    path.write_bytes(_pcap(records))
    calls: list[bytes] = []
    original = capture.CaptureAnalyzer._message

    def spy(self: capture.CaptureAnalyzer, flow: Any, up: bool, ts: float, msg: bytes, full: int) -> None:
        calls.append(msg[12:13])
        original(self, flow, up, ts, msg, full)

    with mock.patch.object(capture.CaptureAnalyzer, "_message", spy):
        with_c = outcome(path, reference=False)
        taken_by_c = list(calls)
        calls.clear()
        with mock.patch.object(pcapfile, "_pcapscan", None):
            without_c = outcome(path, reference=False)
    assert with_c == without_c
    assert len(calls) == 6 and [e.event_id for e in with_c["events"]] == ["pcap:create"]
    # Python: the first message of the flow (its server is not known yet) and the response
    # that makes a file event; C: the other CREATE pair and both WRITEs (their file was
    # reported as written by its CREATE)
    assert taken_by_c == [b"\x05", b"\x05"]
