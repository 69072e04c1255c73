"""The fast capture path (block reading, in-place frame decoding, messages kept only as far
as they are read) against the reference path (``CaptureAnalyzer(reference=True)``: one
read and one :class:`TcpSegment` per packet, :class:`Direction` keeping every message up
to its cap), which is the code the hand-checked tests in test_capture.py were written on.

The oracle is never typed by hand: both paths run on the same input in the same test and
everything they produce must be identical (events, hosts, clients, per-server traffic,
findings, counters and warnings)."""

from __future__ import annotations

import dataclasses
import io
import random
import struct
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbguard.errors import DecodeError
from smbguard.logs import capture, pcapfile
from smbguard.logs.capture import (
    CaptureAnalyzer,
    _ntlm_message,
    fast_create_request,
    fast_create_response,
    fast_negotiate_request,
    fast_negotiate_response,
    fast_ntlm_message,
    fast_session_setup_request,
    fast_session_setup_response,
    fast_smb1_dialects,
    fast_tree_connect_request,
    fast_write_request,
    smb1_dialects,
)
from smbguard.logs.detectors import DetectorSet, default_detectors
from smbguard.logs.events import SourceStats
from smbguard.logs.pcapfile import (
    MAX_OOO_BYTES,
    MAX_OOO_SEGMENTS,
    CaptureFormatError,
    Direction,
    ip_of_frame,
    read_blocks,
    read_packets,
    tcp_of_ip,
)
from smbguard.proto import smb2, spnego

PCAPS = "pcaps"


def _all_captures() -> list[str]:
    root = Path(__file__).resolve().parents[2].parent / "shared" / "data" / PCAPS
    if not root.is_dir():
        return ["(no shared data)"]
    return sorted(
        str(p.relative_to(root))
        for p in root.rglob("*")
        if p.is_file() and p.suffix in (".pcap", ".pcapng", ".cap")
    )


def outcome(path: Path, *, reference: bool, block_size: int = 0) -> dict[str, Any]:
    """Everything a run of the analyzer produces, in comparable form."""
    analyzer = CaptureAnalyzer(str(path), reference=reference)
    if block_size:
        analyzer.block_size = block_size
    detectors = DetectorSet(default_detectors())
    events = []
    for event in analyzer.events():
        events.append(event)
        detectors.feed(event)
    for flow in analyzer.flows.values():  # bounded state, whatever the input
        for d in (flow.c2s, flow.s2c):
            assert len(d.ooo) <= MAX_OOO_SEGMENTS + 1 and d.ooo_bytes <= MAX_OOO_BYTES + 0xFFFF
            assert d.collected <= d.cap and sum(map(len, d.parts)) <= d.cap
            assert d.held is None or len(d.held) <= d.cap
    return {
        "events": events,
        "hosts": analyzer.hosts(),
        "clients": {k: v.to_dict() for k, v in analyzer.clients.items()},
        "traffic": {k: analyzer.traffic(*k) for k in analyzer.servers},
        "findings": [f.to_dict() for f in detectors.findings()],
        "stats": analyzer.stats.to_dict(),
        "warnings": dict(analyzer.stats.warnings),
        "records": analyzer.stats.records,
        "smb_messages": analyzer.smb_messages,
        "smb_bytes": analyzer.smb_bytes,
        "flows": sorted(analyzer.flows),
    }


def assert_same(path: Path, block_size: int = 0) -> dict[str, Any]:
    """The fast path (with the C loops of ``_pcapscan`` when built, and without them: the
    Python loops stay the reference of the C code) gives what the reference path gives."""
    ref = outcome(path, reference=True)
    fast = outcome(path, reference=False, block_size=block_size)
    for key in ref:
        assert fast[key] == ref[key], key
    if pcapfile._pcapscan is not None:
        with mock.patch.object(pcapfile, "_pcapscan", None):
            plain = outcome(path, reference=False, block_size=block_size)
        for key in ref:
            assert plain[key] == ref[key], key
    return ref


@pytest.mark.parametrize("name", _all_captures())
def test_every_real_capture_same_as_reference(shared_data: Path, name: str) -> None:
    ref = assert_same(shared_data / PCAPS / name)
    assert ref["records"] > 0


@pytest.mark.parametrize("block_size", [16, 997, 65536])
def test_small_read_blocks_same_as_reference(shared_data: Path, block_size: int) -> None:
    """Records straddling block boundaries (the block grows to hold a whole record)."""
    assert_same(shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap", block_size)


def test_real_captures_are_not_trivial(shared_data: Path) -> None:
    """The differential test above means something: the captures hold messages and events."""
    names = _all_captures()
    assert len(names) >= 50
    total = [outcome(shared_data / PCAPS / n, reference=False) for n in names[:20]]
    assert sum(o["smb_messages"] for o in total) > 1000
    assert sum(len(o["events"]) for o in total) > 100


# ------------------------------------------------------------------------------ synthetic captures
def _pcap(records: list[tuple[float, bytes]], linktype: int = 1) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, linktype)]
    for ts, data in records:
        out.append(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(data), len(data)) + data)
    return b"".join(out)


def _frames(path: Path) -> list[tuple[float, int, bytes]]:
    with path.open("rb") as handle:
        return list(read_packets(handle, SourceStats(str(path), "pcap")))


def _key(frame: bytes) -> object:
    ip = ip_of_frame(1, frame)
    seg = tcp_of_ip(ip) if ip is not None else None
    return None if seg is None else (seg.src, seg.sport, seg.dst, seg.dport)


@pytest.mark.parametrize(
    "name",
    [
        "zeek/smb2_100_small_files.pcap",
        "suricata-verify/smb2-01/smb2-peter.pcap",
        "suricata-verify/smb2-09-trunc-file-logging/input.pcap",
        "zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap",
    ],
)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_mangled_streams_same_as_reference(shared_data: Path, tmp_path: Path, name: str, seed: int) -> None:
    """Reordered, duplicated, dropped and truncated packets (gaps, resynchronisation, held
    messages cut by a reset) give the same result on both paths."""
    rng = random.Random(seed)
    frames = [(ts, f) for ts, lt, f in _frames(shared_data / PCAPS / name) if lt == 1]
    out: list[tuple[float, bytes]] = []
    for i, (ts, frame) in enumerate(frames):
        r = rng.random()
        if r < 0.03:
            continue  # lost
        if r < 0.06:
            frame = frame[: rng.randrange(14, len(frame) + 1)]  # snapped
        if r < 0.12 and out and _key(out[-1][1]) == _key(frame):
            out.insert(len(out) - 1, (ts, frame))  # swapped with the previous one
            continue
        out.append((ts, frame))
        if r > 0.95:
            out.append(frames[rng.randrange(max(0, i - 20), i + 1)])  # retransmission
    path = tmp_path / "mangled.pcap"
    path.write_bytes(_pcap(out))
    assert_same(path)


def _tcp(
    src: int,
    sport: int,
    dport: int,
    seq: int,
    flags: int,
    payload: bytes,
    *,
    total: int | None = None,
    doff: int = 5,
    ip_options: bool = False,
    down: bool = False,
) -> bytes:
    """An Ethernet/IPv4/TCP frame between 192.0.2.``src`` (the client) and 192.0.2.200 (the
    server), from the server when ``down``."""
    client, server = bytes([192, 0, 2, src]), bytes([192, 0, 2, 200])
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, doff << 4, flags, 65535, 0, 0) + bytes(
        max(0, doff - 5) * 4
    )
    options = b"\x01\x01\x01\x00" if ip_options else b""  # NOP NOP NOP EOL: a frame for _packet
    length = 20 + len(options) + len(tcp) + len(payload) if total is None else total
    ip = struct.pack(
        ">BBHHHBBH4s4s",
        0x46 if ip_options else 0x45,
        0,
        length & 0xFFFF,
        1,
        0,
        64,
        6,
        0,
        server if down else client,
        client if down else server,
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + options + tcp + payload


def _smb2(
    command: int, *, response: bool, next_command: int, body: bytes, mid: int, structure: int = 64
) -> bytes:
    header = struct.pack(
        "<4sHHIHHIIQIIQ16s",
        b"\xfeSMB",
        structure,
        0,
        0,
        command,
        1,
        1 if response else 0,
        next_command,
        mid,
        0,
        1,
        7,
        bytes(16),
    )
    return header + body


_messages = st.one_of(
    st.builds(
        _smb2,
        st.sampled_from([0, 1, 3, 5, 6, 8, 9, 11, 16, 17, 99, 0x105, 0x900, 0x109]),
        response=st.booleans(),
        next_command=st.sampled_from([0, 0, 0, 64, 100, 0xFFFFFFFF, 1, 63]),
        body=st.binary(max_size=300),
        mid=st.integers(0, 3),
        structure=st.sampled_from([64, 64, 64, 64, 0, 65]),
    ),
    st.builds(  # compounded: a READ, WRITE, CLOSE... chained to a message that is decoded
        lambda first, body, second: (
            _smb2(first, response=False, next_command=64 + len(body), body=body, mid=1) + second
        ),
        st.sampled_from([6, 8, 9, 16]),
        st.binary(max_size=16),
        st.builds(
            _smb2,
            st.sampled_from([0, 1, 3, 5]),
            response=st.booleans(),
            next_command=st.just(0),
            body=st.binary(max_size=120),
            mid=st.integers(0, 3),
        ),
    ),
    st.builds(
        lambda cmd, body: b"\xffSMB" + bytes([cmd]) + body,
        st.sampled_from([0x72, 0x73, 0x25, 0x2E, 0x33]),
        st.binary(max_size=120),
    ),
    st.builds(
        lambda magic, body: magic + body,
        st.sampled_from([b"\xfcSMB", b"\xfdSMB", b"ABCD"]),
        st.binary(max_size=60),
    ),
)


@st.composite
def _hostile_captures(draw: st.DrawFn) -> bytes:
    """A few TCP connections carrying NetBIOS messages cut at random places, with hostile
    sequence numbers, bad NetBIOS lengths, truncated frames and wrong IP total lengths."""
    streams: dict[tuple[int, bool], bytes] = {}
    # client ports: an SMB port now and then (then the server's answers are a flow of their own)
    cports = [draw(st.sampled_from([40000 + conn, 40000 + conn, 40000 + conn, 139])) for conn in range(3)]
    for conn in range(draw(st.integers(1, 3))):
        for up in (True, False):
            msgs = draw(st.lists(_messages, max_size=5))
            parts = []
            for m in msgs:
                length = len(m) if draw(st.integers(0, 9)) else draw(st.integers(0, (1 << 24) - 1))
                parts.append(
                    bytes([draw(st.sampled_from([0, 0, 0, 0x85, 0x42]))]) + length.to_bytes(3, "big") + m
                )
            streams[(conn, up)] = b"".join(parts)
    records: list[tuple[float, bytes]] = []
    base = {
        key: draw(st.sampled_from([0, 1000, 0xFFFFFF00, draw(st.integers(0, 0xFFFFFFFF))])) for key in streams
    }
    pos = dict.fromkeys(streams, 0)
    for (conn, up), seq in base.items():
        if draw(st.booleans()):
            sport, dport = (cports[conn], 445) if up else (445, cports[conn])
            records.append(
                (1.0, _tcp(conn + 1, sport, dport, (seq - 1) & 0xFFFFFFFF, 0x02, b"", down=not up))
            )
    for step in range(draw(st.integers(0, 40))):
        key = draw(st.sampled_from(sorted(streams)))
        conn, up = key
        data = streams[key]
        cut = draw(st.integers(1, 200))
        start = pos[key] if draw(st.integers(0, 5)) else draw(st.integers(0, max(0, len(data))))
        chunk = data[start : start + cut]
        if draw(st.integers(0, 4)) and start == pos[key]:
            pos[key] = start + len(chunk)
        seq = (base[key] + start) & 0xFFFFFFFF
        if not draw(st.integers(0, 15)):
            seq = draw(st.integers(0, 0xFFFFFFFF))
        flags = draw(st.sampled_from([0x18, 0x18, 0x10, 0x11, 0x14, 0x02]))
        sport, dport = (cports[conn], 445) if up else (445, cports[conn])
        frame = _tcp(
            conn + 1,
            sport,
            dport,
            seq,
            flags,
            chunk,
            total=None if draw(st.integers(0, 9)) else draw(st.integers(0, 0xFFFF)),
            doff=5 if draw(st.integers(0, 9)) else draw(st.integers(0, 15)),
            ip_options=not draw(st.integers(0, 7)),
            down=not up and bool(draw(st.integers(0, 9))),  # now and then a flow of its own
        )
        if not draw(st.integers(0, 9)):
            frame = frame[: draw(st.integers(0, len(frame)))]
        records.append((1.0 + step / 1000, frame))
    return _pcap(records)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_captures(), st.sampled_from([0, 0, 16, 100, 1000]))
def test_fuzz_hostile_streams_same_as_reference(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes, block_size: int
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "f.pcap"
    path.write_bytes(blob)
    assert_same(path, block_size)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_captures())
def test_fuzz_flow_eviction_same_as_reference(tmp_path_factory: pytest.TempPathFactory, blob: bytes) -> None:
    """Room for one open flow only: each new connection evicts the open one, on both paths
    (the fast path's flow index follows)."""
    path = tmp_path_factory.mktemp("evict") / "f.pcap"
    path.write_bytes(blob)
    with mock.patch.object(capture, "MAX_FLOWS", 1):
        assert_same(path)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from([b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x0a\x0d\x0d\x0a", b"\x0a\x0d", b"junk"]),
    st.binary(max_size=600),
    st.integers(1, 64),
)
def test_fuzz_analyzer_on_random_files_same_as_reference(
    tmp_path_factory: pytest.TempPathFactory, magic: bytes, blob: bytes, block_size: int
) -> None:
    """Corrupt headers, record lengths and truncation: same counters, warnings, results."""
    path = tmp_path_factory.mktemp("rand") / "r.pcap"
    path.write_bytes(magic + blob)
    assert_same(path, block_size)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400), st.integers(1, 64))
def test_fuzz_block_reader_same_as_packet_reader(blob: bytes, size: int) -> None:
    """Random bytes after a pcap or pcapng magic, read in blocks of 1..64 bytes (records
    straddling every block boundary): same packets, warnings and counters."""
    for magic in (b"\xd4\xc3\xb2\xa1", b"\xa1\xb2\xc3\xd4", b"\x4d\x3c\xb2\xa1", b"\x0a\x0d\x0d\x0a"):
        ref_stats, stats = SourceStats("f", "pcap"), SourceStats("f", "pcap")
        try:
            ref = list(read_packets(io.BytesIO(magic + blob), ref_stats))
        except CaptureFormatError as exc:
            with pytest.raises(CaptureFormatError, match=str(exc)):
                list(read_blocks(io.BytesIO(magic + blob), stats, size))
            continue
        got = [
            (ts, linktype, block[start:end])
            for block, records in read_blocks(io.BytesIO(magic + blob), stats, size)
            for ts, linktype, start, end in records
        ]
        assert got == ref
        assert stats.to_dict() == ref_stats.to_dict() and stats.warnings == ref_stats.warnings


# ------------------------------------------------------------------------------ pcapng
def _ng_block(endian: str, btype: int, body: bytes, *, length: int | None = None) -> bytes:
    """One pcapng block: type, total length, body padded to 4 bytes, total length again
    (``length`` overrides the stored length, to make it lie)."""
    body += bytes(-len(body) % 4)
    total = 12 + len(body) if length is None else length
    return struct.pack(endian + "II", btype, total) + body + struct.pack(endian + "I", total)


def _ng_shb(endian: str) -> bytes:
    bom = struct.pack(endian + "I", 0x1A2B3C4D)
    return _ng_block(endian, 0x0A0D0D0A, bom + struct.pack(endian + "HHq", 1, 0, -1))


def _ng_idb(endian: str, linktype: int, tsresol: int | None) -> bytes:
    options = b""
    if tsresol is not None:  # if_tsresol, then opt_endofopt
        options = struct.pack(endian + "HH", 9, 1) + bytes([tsresol, 0, 0, 0]) + bytes(4)
    return _ng_block(endian, 1, struct.pack(endian + "HHI", linktype, 0, 262144) + options)


def _ng_epb(endian: str, iface: int, ts: int, frame: bytes, cap: int | None = None, lie: int = 0) -> bytes:
    """An Enhanced Packet Block; ``cap`` overrides its captured length, ``lie`` is added to
    its stored block length."""
    head = struct.pack(
        endian + "IIIII", iface, ts >> 32, ts & 0xFFFFFFFF, len(frame) if cap is None else cap, len(frame)
    )
    total = 32 + len(frame) + -len(frame) % 4
    return _ng_block(endian, 6, head + frame, length=total + lie if lie else None)


def _pcapng(packets: list[tuple[float, bytes]], endian: str = "<") -> bytes:
    """A pcapng file of Ethernet frames: one section, one interface in microseconds."""
    out = [_ng_shb(endian), _ng_idb(endian, 1, None)]
    out += [_ng_epb(endian, 0, round(ts * 1e6), frame) for ts, frame in packets]
    return b"".join(out)


@st.composite
def _ng_epbs(draw: st.DrawFn, endian: str) -> bytes:
    """An Enhanced Packet Block, now and then with a captured length around its padded
    body's end, a stored block length that lies, or an interface that does not exist."""
    data = draw(st.binary(max_size=80))
    cap = None if draw(st.integers(0, 5)) else draw(st.sampled_from([-1, -1, -2]))
    if cap == -1:
        cap = max(0, len(data) + -len(data) % 4 + draw(st.integers(-3, 5)))
    elif cap == -2:
        cap = draw(st.integers(0, 200))
    lie = 0 if draw(st.integers(0, 7)) else draw(st.sampled_from([-8, -4, -1, 1, 2, 4, 8, 64]))
    iface = draw(st.sampled_from([0, 0, 0, 1, 5]))
    return _ng_epb(endian, iface, draw(st.integers(0, 1 << 60)), data, cap, lie)


@st.composite
def _pcapng_files(draw: st.DrawFn) -> bytes:
    """pcapng files with every block kind the reader knows, in both byte orders, several
    sections and interfaces (link types and timestamp resolutions), and lying lengths,
    unknown interfaces, short bodies and truncation now and then."""
    frame = st.binary(max_size=80)
    parts: list[bytes] = []
    for _section in range(draw(st.integers(1, 3))):
        endian = draw(st.sampled_from(["<", ">"]))
        parts.append(_ng_shb(endian))
        if draw(st.booleans()):
            parts.append(_ng_idb(endian, 1, None))
        for _ in range(draw(st.integers(0, 12))):
            kind = draw(st.sampled_from(["idb", "epb", "epb", "burst", "burst", "spb", "pb", "other", "bad"]))
            if kind == "idb":
                parts.append(
                    _ng_idb(
                        endian,
                        draw(st.sampled_from([1, 1, 113, 101])),
                        draw(st.sampled_from([None, 6, 9, 0x8A])),
                    )
                )
            elif kind in ("epb", "burst"):  # a burst: packets in a row (the reader's hot loop)
                for _ in range(draw(st.integers(2, 5)) if kind == "burst" else 1):
                    parts.append(draw(_ng_epbs(endian)))
            elif kind == "spb":
                data = draw(frame)
                orig = len(data) if draw(st.booleans()) else draw(st.integers(0, 200))
                parts.append(_ng_block(endian, 3, struct.pack(endian + "I", orig) + data))
            elif kind == "pb":
                data = draw(frame)
                ts = draw(st.integers(0, 1 << 60))
                head = struct.pack(
                    endian + "HHIIII",
                    draw(st.sampled_from([0, 1, 7])),
                    0,
                    ts >> 32,
                    ts & 0xFFFFFFFF,
                    len(data),
                    len(data),
                )
                parts.append(_ng_block(endian, 2, head + data))
            elif kind == "other":
                parts.append(
                    _ng_block(endian, draw(st.sampled_from([4, 5, 0xBAD])), draw(st.binary(max_size=20)))
                )
            else:  # a short body, or a length that lies
                body = draw(st.binary(max_size=24))
                length = draw(
                    st.sampled_from([None, 8, 13, 1 << 27, 12 + len(body) + 4 * draw(st.integers(1, 50))])
                )
                parts.append(_ng_block(endian, draw(st.sampled_from([1, 2, 3, 6])), body, length=length))
    blob = b"".join(parts)
    if not draw(st.integers(0, 4)):
        blob = blob[: draw(st.integers(4, max(4, len(blob))))]
    return blob


@settings(max_examples=400, deadline=None)
@given(_pcapng_files(), st.sampled_from([1, 7, 28, 64, 1000, 1 << 22, 1 << 22, 1 << 22]))
def test_fuzz_pcapng_block_reader_same_as_packet_reader(blob: bytes, size: int) -> None:
    """The pcapng block walker (runs of offsets, blocks read ``size`` bytes at a time) gives
    the packets, timestamps, link types, warnings and counters of the per-block reader."""
    ref_stats, stats = SourceStats("f", "pcap"), SourceStats("f", "pcap")
    ref = list(read_packets(io.BytesIO(blob), ref_stats))
    got = [
        (ts, linktype, block[start:end])
        for block, records in read_blocks(io.BytesIO(blob), stats, size)
        for ts, linktype, start, end in records
    ]
    assert got == ref
    assert stats.to_dict() == ref_stats.to_dict() and stats.warnings == ref_stats.warnings


@pytest.mark.parametrize(
    "blob",
    [
        # a captured length 1..4 bytes past the frame's padding, after a good packet
        *(
            _ng_shb("<")
            + _ng_idb("<", 1, None)
            + _ng_epb("<", 0, 5, b"abcdef")
            + _ng_epb("<", 0, 5, b"abc", cap)
            for cap in (5, 6, 7, 8)
        ),
        # a new section forgets the interfaces: its packet for interface 0 has none
        _ng_shb("<")
        + _ng_idb("<", 1, None)
        + _ng_epb("<", 0, 5, b"ab")
        + _ng_shb(">")
        + _ng_epb(">", 0, 5, b"cd"),
        # a stored length that is not a multiple of 4, after a good packet
        _ng_shb("<") + _ng_idb("<", 1, None) + _ng_epb("<", 0, 5, b"abcd") + _ng_epb("<", 0, 5, b"ab", lie=2),
    ],
    ids=["cap+1", "cap+2", "cap+3", "cap+4", "new-section", "length-not-4"],
)
def test_pcapng_block_reader_edges(blob: bytes) -> None:
    """Packets the per-block reader skips right after one it takes: the block walker's
    loop over consecutive packets must skip them too."""
    ref_stats, stats = SourceStats("f", "pcap"), SourceStats("f", "pcap")
    ref = list(read_packets(io.BytesIO(blob), ref_stats))
    got = [
        (ts, lt, block[s:e])
        for block, records in read_blocks(io.BytesIO(blob), stats)
        for ts, lt, s, e in records
    ]
    assert got == ref and len(ref) == 1
    assert stats.to_dict() == ref_stats.to_dict() and stats.warnings == ref_stats.warnings


def test_pcapng_files_are_not_trivial() -> None:
    """The strategy above reaches packets of every kind, several link types and warnings."""
    seen: set[object] = set()

    @settings(max_examples=300, deadline=None, database=None)
    @given(_pcapng_files())
    def collect(blob: bytes) -> None:
        stats = SourceStats("f", "pcap")
        for ts, linktype, _frame in read_packets(io.BytesIO(blob), stats):
            seen.add(linktype)
            seen.add("zero ts" if ts == 0.0 else "ts")
        seen.update(stats.warnings)

    collect()
    assert {1, 113, "ts", "zero ts", "packet block with unknown interface or bad length skipped"} <= seen
    assert any(isinstance(w, str) and w.startswith("corrupt pcapng block") for w in seen)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_hostile_captures(), st.sampled_from(["<", ">"]), st.sampled_from([0, 0, 16, 100, 1000]))
def test_fuzz_hostile_streams_pcapng_same_as_reference(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes, endian: str, block_size: int
) -> None:
    """The hostile connections of the pcap fuzz written as pcapng: the analyzer's fast
    loop over pcapng runs gives what the reference gives."""
    path = tmp_path_factory.mktemp("fuzzng") / "f.pcapng"
    path.write_bytes(
        _pcapng(
            [(ts, frame) for ts, _lt, frame in read_packets(io.BytesIO(blob), SourceStats("f", "pcap"))],
            endian,
        )
    )
    assert_same(path, block_size)


@pytest.mark.parametrize(
    "name", ["zeek/smb2_100_small_files.pcap", "zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap"]
)
def test_real_capture_as_pcapng_same_as_reference(shared_data: Path, tmp_path: Path, name: str) -> None:
    """A real capture converted to pcapng: the fast path reads it as the reference does,
    and finds what it finds in the pcap (the events do not depend on the file format)."""
    ng = tmp_path / "x.pcapng"
    ng.write_bytes(_pcapng([(ts, f) for ts, lt, f in _frames(shared_data / PCAPS / name) if lt == 1]))
    ref = assert_same(ng, 4096)
    assert ref["records"] > 100 and ref["smb_messages"] > 50 and ref["events"]
    pcap_events = outcome(shared_data / PCAPS / name, reference=False)["events"]
    same_source = [dataclasses.replace(e, source="") for e in pcap_events]
    assert [dataclasses.replace(e, source="") for e in ref["events"]] == same_source


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(-100, 3000), st.binary(max_size=300), st.sampled_from([0x10, 0x10, 0x02])),
        max_size=30,
    ),
    st.binary(min_size=1, max_size=400),
    st.integers(1, 200),
    st.integers(8, 200),
)
def test_fuzz_keeping_direction_delivers_prefixes(
    segments: list[tuple[int, bytes, int]], stream: bytes, keep_n: int, cap: int
) -> None:
    """A Direction with ``keep`` delivers, at the same moments and in the same order as one without,
    each message's first ``keep`` bytes (never fewer than the head, never more than the
    cap); its buffers stay bounded whatever the segments."""
    ref: list[tuple[float, bytes, int]] = []
    got: list[tuple[float, bytes, int]] = []
    plain = Direction(lambda ts, m, full: ref.append((ts, m, full)), cap=cap)
    keeping = Direction(
        lambda ts, m, full: got.append((ts, m, full)), cap=cap, keep=lambda head, limit: keep_n
    )
    plain.feed(0.0, 999, 0x02, b"")
    keeping.feed(0.0, 999, 0x02, b"")
    # a stream of NetBIOS messages the segments cut anywhere, plus the random ones
    nbss = b"".join(
        b"\x00" + len(stream[i : i + 97]).to_bytes(3, "big") + stream[i : i + 97]
        for i in range(0, len(stream), 97)
    )
    pieces = [(i, nbss[i : i + 37], 0x10) for i in range(0, len(nbss), 37)] + segments
    for n, (offset, payload, flags) in enumerate(pieces):
        seq = (1000 + offset) & 0xFFFFFFFF
        plain.feed(float(n), seq, flags, payload)
        keeping.feed(float(n), seq, flags, payload)
        assert len(keeping.ooo) <= 65 and keeping.ooo_bytes <= (1 << 20) + 300
        assert keeping.held is None or len(keeping.held) <= cap
    assert [(ts, full) for ts, _, full in got] == [(ts, full) for ts, _, full in ref]
    for (_, mine, full), (_, theirs, _) in zip(got, ref, strict=True):
        n = len(theirs) if len(theirs) <= 24 else min(max(keep_n, 24), len(theirs))
        assert mine == theirs[:n]
        assert len(mine) <= min(full, cap)


def _decoded(decode: Any, msg: bytes) -> object:
    try:
        return decode(msg)
    except DecodeError as exc:
        return ("DecodeError", str(exc))


@st.composite
def _smb2_bodies(draw: st.DrawFn) -> tuple[int, bytes]:
    """A request/response for one of the fast decoders: header and StructureSize mostly
    right, offsets and lengths near the buffer, names often invalid UTF-16."""
    which = draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6]))
    structure = {0: 57, 1: 89, 2: 49, 3: 9, 4: 25, 5: 9, 6: 65}[which]
    header = bytearray(
        _smb2(
            {0: 5, 1: 5, 2: 9, 3: 3, 4: 1, 5: 1, 6: 0}[which],
            response=which in (1, 5, 6),
            next_command=0,
            body=b"",
            mid=draw(st.integers(0, 9)),
        )
    )
    struct.pack_into(
        "<I",
        header,
        8,
        draw(st.sampled_from([0, 0, 0xC0000016, 0xC0000034, draw(st.integers(0, 0xFFFFFFFF))])),
    )
    if not draw(st.integers(0, 9)):
        header[draw(st.integers(0, 7))] ^= draw(st.integers(1, 255))
    fixed = bytearray(draw(st.binary(min_size=max(0, structure - 1), max_size=structure + 8)))
    size = structure if draw(st.integers(0, 5)) else draw(st.sampled_from([9, 49, 57, 89, 0]))
    if len(fixed) >= 2:
        struct.pack_into("<H", fixed, 0, size)
    if which == 6 and len(fixed) >= 8 and draw(st.booleans()):
        # DialectRevision and NegotiateContextCount: a known dialect, 3.1.1 (contexts) often
        struct.pack_into(
            "<HH",
            fixed,
            4,
            draw(st.sampled_from([0x202, 0x210, 0x300, 0x302, 0x311, 0x311, 0x2FF])),
            draw(st.integers(0, 3)),
        )
    name = draw(
        st.one_of(
            st.text(max_size=20).map(lambda t: t.encode("utf-16-le", "surrogatepass")), st.binary(max_size=21)
        )
    )
    msg = bytearray(header + fixed + name)
    where = {0: 108, 3: 68, 4: 76, 5: 68, 6: 120}.get(which)
    if where is not None and len(msg) >= where + 4 and draw(st.integers(0, 4)):
        offset = 64 + len(fixed) if draw(st.integers(0, 4)) else draw(st.integers(0, 0xFFFF))
        length = len(name) if draw(st.integers(0, 4)) else draw(st.integers(0, 0xFFFF))
        struct.pack_into("<HH", msg, where, offset, length)
    return which, bytes(msg[: draw(st.integers(0, len(msg)))] if not draw(st.integers(0, 7)) else msg)


@settings(max_examples=1000, deadline=None)
@given(_smb2_bodies())
def test_fuzz_fast_decoders_same_as_proto(case: tuple[int, bytes]) -> None:
    which, msg = case
    fast, proto = {
        0: (fast_create_request, smb2.decode_create_request),
        1: (fast_create_response, smb2.decode_create_response),
        2: (fast_write_request, smb2.decode_write_request),
        3: (fast_tree_connect_request, smb2.decode_tree_connect_request),
        4: (fast_session_setup_request, smb2.decode_session_setup_request),
        5: (fast_session_setup_response, smb2.decode_session_setup_response),
        6: (fast_negotiate_response, smb2.decode_negotiate_response),
    }[which]
    assert _decoded(fast, msg) == _decoded(proto, msg)


@st.composite
def _one_message_per_segment(draw: st.DrawFn) -> bytes:
    """In-order segments that each hold exactly one whole message: the inline path of the
    fast loop (quiet messages, kept prefixes, first message of a flow)."""
    records = [
        (1.0, _tcp(1, 40000, 445, 99, 0x02, b"")),
        (1.0, _tcp(1, 445, 40000, 499, 0x12, b"", down=True)),
    ]
    seqs = {True: 100, False: 500}
    for step, (up, message) in enumerate(draw(st.lists(st.tuples(st.booleans(), _messages), max_size=12))):
        nbss = b"\x00" + len(message).to_bytes(3, "big") + message
        sport, dport = (40000, 445) if up else (445, 40000)
        records.append((2.0 + step, _tcp(1, sport, dport, seqs[up], 0x18, nbss, down=not up)))
        seqs[up] += len(nbss)
    return _pcap(records)


@settings(max_examples=300, deadline=None)
@given(_one_message_per_segment())
def test_fuzz_whole_message_segments_same_as_reference(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes
) -> None:
    path = tmp_path_factory.mktemp("whole") / "w.pcap"
    path.write_bytes(blob)
    assert_same(path)


@pytest.mark.parametrize("name", ["zeek/smb2.pcap", "pcap-attack/LM_psexec_smb_dcerpc_epm_svcctl.pcapng"])
def test_named_pipe_input(shared_data: Path, tmp_path: Path, name: str) -> None:
    """The fast path never seeks: a capture streamed through a FIFO gives the same result."""
    import os
    import threading

    src = shared_data / PCAPS / name
    fifo = tmp_path / "capture.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(src.read_bytes()))
    writer.start()
    try:
        piped = outcome(fifo, reference=False)
    finally:
        writer.join(timeout=30)
    ref = outcome(src, reference=True)
    import dataclasses

    def unsourced(events: list[Any]) -> list[Any]:
        return [dataclasses.replace(e, source="") for e in events]

    assert unsourced(piped["events"]) == unsourced(ref["events"])
    for key in ("hosts", "clients", "warnings", "smb_messages", "smb_bytes", "records"):
        assert piped[key] == ref[key], key


@st.composite
def _negotiate_requests(draw: st.DrawFn) -> bytes:
    """SMB2 NEGOTIATE requests: dialect lists with and without 3.1.1, counts that do and do
    not fit, contexts at any offset, a damaged header or StructureSize now and then."""
    dialects = draw(st.lists(st.sampled_from([0x202, 0x210, 0x300, 0x302, 0x311, 0x2FF, 0x1234]), max_size=6))
    count = len(dialects) if draw(st.integers(0, 5)) else draw(st.sampled_from([0, 1, 7, 300, 0xFFFF]))
    contexts = draw(st.binary(max_size=80))
    at = 100 + 2 * len(dialects)
    offset = at if draw(st.integers(0, 3)) else draw(st.integers(0, 300))
    fixed = struct.pack(
        "<HHHHI16sIHH",
        36 if draw(st.integers(0, 7)) else draw(st.sampled_from([0, 35, 37])),
        count,
        draw(st.integers(0, 3)),
        0,
        draw(st.integers(0, 0xFFFFFFFF)),
        draw(st.binary(min_size=16, max_size=16)),
        offset,
        draw(st.integers(0, 4)),
        0,
    )
    msg = bytearray(_smb2(0, response=False, next_command=0, body=fixed, mid=0))
    msg += b"".join(d.to_bytes(2, "little") for d in dialects) + contexts
    if not draw(st.integers(0, 9)):
        msg[draw(st.integers(0, 7))] ^= draw(st.integers(1, 255))
    return bytes(msg[: draw(st.integers(0, len(msg)))] if not draw(st.integers(0, 7)) else msg)


@settings(max_examples=500, deadline=None)
@given(_negotiate_requests())
def test_fuzz_fast_negotiate_request_same_as_proto(msg: bytes) -> None:
    assert _decoded(fast_negotiate_request, msg) == _decoded(smb2.decode_negotiate_request, msg)


@st.composite
def _smb1_negotiates(draw: st.DrawFn) -> bytes:
    """SMB1 NEGOTIATE requests: 0x02-prefixed NUL-terminated dialect strings (any bytes in
    them, up to 70 of them), with wrong buffer formats, terminators, ByteCounts, WordCounts."""
    names = draw(
        st.lists(
            st.one_of(
                st.sampled_from([b"NT LM 0.12", b"SMB 2.002", b"SMB 2.???", b"PC NETWORK PROGRAM 1.0", b""]),
                st.binary(max_size=8),
            ),
            max_size=draw(st.sampled_from([4, 70])),
        )
    )
    data = b"".join(bytes([2 if draw(st.integers(0, 30)) else 3]) + n + b"\x00" for n in names)
    if not draw(st.integers(0, 9)):
        data = data[: draw(st.integers(0, len(data)))] + draw(st.binary(max_size=3))
    count = len(data) if draw(st.integers(0, 5)) else draw(st.integers(0, len(data) + 3))
    header = bytearray(b"\xffSMB\x72" + bytes(27))
    if not draw(st.integers(0, 9)):
        header[draw(st.integers(0, 4))] ^= draw(st.integers(1, 255))
    words = b"\x00" if draw(st.integers(0, 7)) else b"\x01\x00\x00"
    msg = bytes(header) + words + count.to_bytes(2, "little") + data
    return msg[: draw(st.integers(0, len(msg)))] if not draw(st.integers(0, 7)) else msg


@settings(max_examples=500, deadline=None)
@given(_smb1_negotiates())
def test_fuzz_fast_smb1_dialects_same_as_proto(msg: bytes) -> None:
    assert _decoded(fast_smb1_dialects, msg) == _decoded(smb1_dialects, msg)


@st.composite
def _security_blobs(draw: st.DrawFn) -> bytes:
    """Security blobs: NTLMSSP raw or in SPNEGO, Kerberos-like SPNEGO, random bytes with
    the NTLMSSP signature somewhere or cut, and mangled DER."""
    ntlm = b"NTLMSSP\x00" + draw(st.binary(max_size=60))
    kind = draw(st.integers(0, 5))
    if kind == 0:
        blob = ntlm
    elif kind == 1:
        blob = draw(st.sampled_from([spnego.wrap_ntlmssp_negotiate, spnego.wrap_ntlmssp_authenticate]))(ntlm)
    elif kind == 2:
        token = spnego.NegTokenInit(
            ("1.2.840.48018.1.2.2", "1.2.840.113554.1.2.2", spnego.OID_NTLMSSP),
            draw(st.binary(max_size=80)),
        )
        blob = spnego.encode_neg_token_init(token)
    elif kind == 3:
        blob = spnego.wrap_ntlmssp_challenge(ntlm) + draw(st.binary(max_size=8))
    else:
        middle = ntlm if kind == 4 else b"NTLMSSP"  # the whole signature, or all but its NUL
        blob = draw(st.binary(max_size=40)) + middle + draw(st.binary(max_size=20))
    if not draw(st.integers(0, 5)):
        mangled = bytearray(blob)
        if mangled:
            mangled[draw(st.integers(0, len(mangled) - 1))] = draw(st.integers(0, 255))
        blob = bytes(mangled)
    return blob[: draw(st.integers(0, len(blob)))] if not draw(st.integers(0, 5)) else blob


@settings(max_examples=500, deadline=None)
@given(_security_blobs())
def test_fuzz_fast_ntlm_message_same_as_spnego(blob: bytes) -> None:
    assert fast_ntlm_message(blob) == _ntlm_message(blob)


# ------------------------------------------------------------------------------ CREATE and WRITE in C
def _header(
    command: int, *, response: bool, mid: int, status: int = 0, tree: int = 1, flags: int = 0
) -> bytes:
    """An SMB2 SYNC header ([MS-SMB2] 2.2.1.2); ``flags`` 2 makes it ASYNC (no TreeId)."""
    return struct.pack(
        "<4sHHIHHIIQIIQ16s",
        b"\xfeSMB",
        64,
        0,
        status,
        command,
        1,
        (1 if response else 0) | flags,
        0,
        mid,
        0,
        tree,
        7,
        bytes(16),
    )


_FILE_IDS = [bytes([n]) * 16 for n in range(3)]
_names = st.one_of(  # lone surrogates too; random bytes (odd lengths, invalid UTF-16) in _create_request
    st.text(max_size=12).map(lambda t: t.encode("utf-16-le", "surrogatepass")),
    st.sampled_from([b"\x00\xd8", b"\x00\xdca\x00", b"\x3d\xd8\x00\xde"]),
)


def _create_request(draw: st.DrawFn, mid: int) -> bytes:
    name = draw(_names) if draw(st.integers(0, 3)) else draw(st.binary(max_size=9))
    offset = _mostly(draw, 120, 0, 63, 64, 200, 0xFFFF)
    length = _mostly(draw, len(name), 0, len(name) + 1, 0xFFFF)
    fixed = struct.pack(
        "<HBBIQQIIIIIHHII",
        _mostly(draw, 57, 56),
        0,
        0,
        0,
        0,
        0,
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 2**32 - 1)),
        7,
        draw(st.integers(0, 5)),
        draw(st.sampled_from([0, 0x40, 1, 0x1000, 0x1001, 0xFFFFFFFF])),  # CreateOptions
        offset,
        length,
        0,
        0,
    )
    header = _header(5, response=False, mid=mid, tree=draw(st.sampled_from([1, 1, 2])), flags=draw(_async))
    return header[: _mostly(draw, 64, 63)] + fixed + name + draw(st.binary(max_size=3))


def _create_response(draw: st.DrawFn, mid: int) -> bytes:
    if draw(st.integers(0, 4)):
        status = _mostly(draw, 0, 0xC0000022, 0x103)
        body = struct.pack(
            "<HBBI48xII16sII",
            _mostly(draw, 89, 88),
            0,
            0,
            draw(st.sampled_from([0, 1, 2, 3, 5])),  # CreateAction
            0,
            0,
            draw(st.sampled_from(_FILE_IDS)),
            0,
            0,
        )
        body = body[: _mostly(draw, len(body), 79)]
    else:  # an ERROR body
        status = draw(st.sampled_from([0xC0000034, 0]))
        body = struct.pack("<HBBI", 9, 0, 0, 0) + b"\x00"
    header = _header(
        5, response=True, mid=mid, status=status, tree=draw(st.sampled_from([1, 2])), flags=draw(_async)
    )
    return header + body


_async = st.sampled_from([0, 0, 0, 2])  # SMB2_FLAGS_ASYNC_COMMAND: no TreeId


def _mostly(draw: st.DrawFn, good: int, *bad: int) -> int:
    """``good`` most of the time (hypothesis draws the ends of a range more often than the
    rest, so the bad case is a value in the middle)."""
    return good if draw(st.integers(0, 15)) != 7 else draw(st.sampled_from(bad))


@st.composite
def _create_message(draw: st.DrawFn) -> list[tuple[bool, bytes]]:
    """A CREATE request and its response (mostly: same MessageId), alone or compounded, a
    WRITE request or a SESSION_SETUP request, well formed or nearly: what the C loop takes
    (or declines) instead of _message."""
    which = ["create", "create", "create", "write", "write", "response", "session"][draw(st.integers(0, 6))]
    mid = draw(st.integers(0, 3))
    if which == "write":
        data = draw(st.binary(max_size=40))
        fid = draw(st.sampled_from(_FILE_IDS))
        body = struct.pack("<HHIQ16sIIHHI", 49, 112, len(data), 0, fid, 0, 0, 0, 0, 0) + data
        message = _header(9, response=False, mid=mid, flags=draw(_async)) + body
        return [(True, message[: _mostly(draw, 200, 95, 96)])]
    if which == "response":  # no request before it (or a request of another kind)
        return [(False, _create_response(draw, mid))]
    if which == "session":
        status = draw(st.sampled_from([0, 0xC000006D]))
        response = _header(1, response=True, mid=mid, status=status) + struct.pack("<HHHH", 9, 0, 72, 0)
        return [(True, _compound(draw, [_session_request(draw, mid)])), (False, response)]
    answer = mid if draw(st.integers(0, 5)) else draw(st.integers(0, 3))
    request, response = _create_request(draw, mid), _create_response(draw, answer)
    return [(True, _compound(draw, [request], up=True)), (False, _compound(draw, [response], up=False))]


def _ntlm_authenticate(user: str) -> bytes:
    """An NTLMSSP AUTHENTICATE message ([MS-NLMP] 2.2.1.3, 64-byte form, Unicode) from
    ``user`` with a 24-byte NT response (NTLMv1)."""
    payload = [b"", bytes(24), "DOM".encode("utf-16-le"), user.encode("utf-16-le"), b"", b""]
    fields, offset = b"", 64
    for item in payload:
        fields += struct.pack("<HHI", len(item), len(item), offset)
        offset += len(item)
    return b"NTLMSSP\x00" + struct.pack("<I", 3) + fields + struct.pack("<I", 0x1) + b"".join(payload)


_AUTH = _ntlm_authenticate("alice")


def _session_request(draw: st.DrawFn, mid: int) -> bytes:
    """A SESSION_SETUP request: Kerberos-like (nothing read from it), NTLMSSP, or a buffer
    outside the message."""
    blob = draw(
        st.sampled_from([b"", b"\x60\x82kerberos", b"\x60NTLMSSP\x00\x01\x00\x00\x00", b"NTLMSSP", _AUTH])
    )
    offset = _mostly(draw, 88, 0, 63, 200)
    fixed = struct.pack("<HBBIIHHQ", _mostly(draw, 25, 24), 0, 1, 0, 0, offset, len(blob), 0)
    return _header(1, response=False, mid=mid, flags=draw(_async)) + fixed + blob


def _compound(draw: st.DrawFn, parts: list[bytes], *, up: bool = True) -> bytes:
    """The message alone, or compounded ([MS-SMB2] 3.2.4.1.4) with parts _message reads
    nothing from (CLOSE, QUERY_INFO, READ), a SESSION_SETUP request, another CREATE, or a
    NextCommand that does not fit."""
    if draw(st.integers(0, 2)):
        return parts[0]
    others = [
        _header(6, response=not up, mid=5) + bytes(24),  # CLOSE
        _header(16, response=not up, mid=6) + bytes(40),  # QUERY_INFO
        _header(8, response=not up, mid=7) + bytes(49),  # READ
        _session_request(draw, 8),
        _create_request(draw, 9) if up else _create_response(draw, 9),
    ]
    chain = list(parts) + draw(st.lists(st.sampled_from(others), min_size=1, max_size=2))
    if draw(st.booleans()):
        chain.reverse()
    out = b""
    for n, part in enumerate(chain):
        if n + 1 < len(chain):
            padded = part + bytes(-len(part) % 8)
            next_command = (
                len(padded) if draw(st.integers(0, 15)) != 7 else draw(st.sampled_from([63, 1 << 20]))
            )
            part = padded[:20] + struct.pack("<I", next_command) + padded[24:]
        out += part
    return out


@st.composite
def _create_exchanges(draw: st.DrawFn) -> bytes:
    """One connection, one whole message per segment: a TREE_CONNECT (tree 1 known, tree 2
    not), then CREATE requests and responses matched or not by MessageId, with names,
    options, actions and statuses that make file events or none, and WRITE requests to the
    files they opened."""
    records = [
        (1.0, _tcp(1, 40000, 445, 99, 0x02, b"")),
        (1.0, _tcp(1, 445, 40000, 499, 0x12, b"", down=True)),
    ]
    path = "\\\\srv\\share".encode("utf-16-le")
    tree_request = _header(3, response=False, mid=9) + struct.pack("<HHHH", 9, 0, 72, len(path)) + path
    tree_response = _header(3, response=True, mid=9) + struct.pack("<HBBIII", 16, 1, 0, 0, 0, 0)
    messages = [(True, tree_request), (False, tree_response)] if draw(st.booleans()) else []
    for pair in draw(st.lists(_create_message(), max_size=8)):
        messages += pair
    seqs = {True: 100, False: 500}
    for step, (up, message) in enumerate(messages):
        nbss = b"\x00" + len(message).to_bytes(3, "big") + message
        sport, dport = (40000, 445) if up else (445, 40000)
        records.append((2.0 + step / 7, _tcp(1, sport, dport, seqs[up], 0x18, nbss, down=not up)))
        seqs[up] += len(nbss)
    return _pcap(records)


@settings(max_examples=400, deadline=None)
@given(_create_exchanges(), st.sampled_from([10_000, 10_000, 1, 0]))
def test_fuzz_create_and_write_same_as_reference(
    tmp_path_factory: pytest.TempPathFactory, blob: bytes, max_files: int
) -> None:
    """CREATE requests/responses and WRITE requests, which the C loop handles itself when it
    can prove the result (no file event, a well-formed body): same result as the reference
    and as the Python loop, also when the per-flow file table is full."""
    path = tmp_path_factory.mktemp("create") / "c.pcap"
    path.write_bytes(blob)
    with mock.patch.object(capture, "MAX_FILES_PER_FLOW", max_files):
        ref = assert_same(path)
    assert ref["records"] >= 2
