"""A small streaming pcap/pcapng reader and a bounded per-direction TCP reassembler.

Link types: Ethernet (with 802.1Q/802.1ad tags), Linux cooked SLL and SLL2, raw
IPv4/IPv6, BSD null/loopback. The files in ../shared/data use Ethernet and SLL.
IPv4 fragments are counted and skipped (SMB over TCP is not fragmented in
practice). Every length read from the file is bounded; a corrupt record ends the
file with a counted warning instead of an exception.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, NamedTuple

from smbguard.logs.events import SourceStats

try:  # the C record loops (optional extension; the Python loops below are the reference)
    from smbguard.logs import _pcapscan as _pcapscan  # "as": re-exported (capture.py reads it)
except ImportError:  # pragma: no cover - not built
    _pcapscan = None  # type: ignore[assignment]

MAX_RECORD = 1 << 24  # 16 MiB: larger packet records are corrupt
MAX_BLOCK = 1 << 26  # 64 MiB: larger pcapng blocks are corrupt

LINKTYPE_NULL = 0
LINKTYPE_ETHERNET = 1
LINKTYPE_RAW = 101
LINKTYPE_LOOP = 108
LINKTYPE_LINUX_SLL = 113
LINKTYPE_IPV4 = 228
LINKTYPE_IPV6 = 229
LINKTYPE_LINUX_SLL2 = 276
_RAW_TYPES = frozenset({LINKTYPE_RAW, LINKTYPE_IPV4, LINKTYPE_IPV6, 12, 14})

Packet = tuple[float, int, bytes]  # (timestamp seconds, link type, frame)


class CaptureFormatError(ValueError):
    """Not a pcap/pcapng file."""


def read_packets(handle: IO[bytes], stats: SourceStats) -> Iterator[Packet]:
    """Yield every packet of a pcap or pcapng stream."""
    magic = handle.read(4)
    if len(magic) < 4:
        raise CaptureFormatError("file too short for a capture header")
    if magic == b"\x0a\x0d\x0d\x0a":
        yield from _pcapng(handle, stats, magic)
    else:
        yield from _pcap(handle, stats, magic)


def _pcap(handle: IO[bytes], stats: SourceStats, magic: bytes) -> Iterator[Packet]:
    record, linktype, scale = pcap_header(handle, magic)
    read = handle.read
    while True:
        header = read(16)
        if not header:
            return
        if len(header) < 16:
            stats.warn("truncated packet header at end of file")
            return
        sec, frac, incl, _orig = record.unpack(header)
        if incl > MAX_RECORD:
            stats.skipped += 1
            stats.warn(f"corrupt packet record (length {incl}); rest of file not read")
            return
        data = read(incl)
        if len(data) < incl:
            stats.skipped += 1
            stats.warn("truncated last packet")
            return
        yield sec + frac * scale, linktype, data


# A block of the file and the packet records inside it: (timestamp, link type, start, end),
# the frame of a record being ``block[start:end]``.
Record = tuple[float, int, int, int]
BLOCK_SIZE = 1 << 22
PCAPNG_MAGIC = b"\x0a\x0d\x0d\x0a"


def pcap_header(handle: IO[bytes], magic: bytes) -> tuple[struct.Struct, int, float]:
    """(record header struct, link type, timestamp scale) of a classic pcap file whose
    4-byte ``magic`` was just read; CaptureFormatError if it is not one."""
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        endian = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        endian = ">"
    else:
        raise CaptureFormatError("not a pcap or pcapng file")
    nano = magic in (b"\x4d\x3c\xb2\xa1", b"\xa1\xb2\x3c\x4d")
    rest = handle.read(20)
    if len(rest) < 20:
        raise CaptureFormatError("truncated pcap header")
    linktype = struct.unpack(endian + "I", rest[16:20])[0] & 0x0FFFFFFF
    return struct.Struct(endian + "IIII"), linktype, 1e-9 if nano else 1e-6


def pcap_corrupt(stats: SourceStats, length: int) -> None:
    """A record longer than MAX_RECORD ends the file, as in :func:`read_packets`."""
    stats.skipped += 1
    stats.warn(f"corrupt packet record (length {length}); rest of file not read")


def pcap_leftover(stats: SourceStats, leftover: int) -> None:
    """Bytes after the last whole record at end of file, as in :func:`read_packets`."""
    if leftover >= 16:
        stats.skipped += 1
        stats.warn("truncated last packet")
    elif leftover:
        stats.warn("truncated packet header at end of file")


def pcap_records(
    handle: IO[bytes], stats: SourceStats, record: struct.Struct, size: int = BLOCK_SIZE
) -> Iterator[tuple[bytes, list[int], list[int]]]:
    """The records of a classic pcap file (its header already read), a block at a time.

    Yields ``(block, starts, ends)``: record i's frame is ``block[starts[i]:ends[i]]``, its
    16-byte header the 16 bytes before ``starts[i]``; the first record's header starts the
    block and each next header starts where the previous frame ends. The file is read
    ``size`` bytes at a time; a record cut by the end of a block is completed by reading
    just its missing bytes, so blocks are never concatenated. The same bounds, warnings
    and counters as :func:`read_packets`."""
    incl_at = struct.Struct(record.format[0] + "8xI").unpack_from
    big = record.format[0] == ">"
    scan = _pcapscan.records if _pcapscan is not None else None  # tests set _pcapscan to None
    read = handle.read
    tail = b""
    while True:
        if tail:
            # complete the record cut at the end of the last block: its header, then its frame
            need = 16 - len(tail) if len(tail) < 16 else 16 + incl_at(tail, 0)[0] - len(tail)
            chunk = read(need)
            block = tail + chunk
        else:
            chunk = block = read(size)
        if not chunk:
            pcap_leftover(stats, len(tail))
            return
        stop = len(block)
        pos = 0
        starts: list[int] = []
        ends: list[int] = []
        if scan is not None:
            pos, bad = scan(block, 0, big, starts, ends)  # the loop below, in C
            if bad >= 0:
                if ends:
                    yield block, starts, ends
                pcap_corrupt(stats, bad)
                return
        add_start = starts.append
        add_end = ends.append
        while stop - pos >= 16:
            incl = incl_at(block, pos)[0]
            if incl > MAX_RECORD:
                if ends:
                    yield block, starts, ends
                pcap_corrupt(stats, incl)
                return
            end = pos + 16 + incl
            if end > stop:
                break
            add_start(pos + 16)
            add_end(end)
            pos = end
        if ends:
            yield block, starts, ends
        tail = block[pos:] if pos < stop else b""


# A run of packet records in one block of the file that share a link type and a timestamp
# format: (block, starts, ends, link type, ts_of). Record i's frame is
# ``block[starts[i]:ends[i]]`` and its timestamp ``ts_of(block, starts[i])``.
Run = tuple[bytes, list[int], list[int], int, Callable[[bytes, int], float]]


def packet_runs(
    handle: IO[bytes], stats: SourceStats, size: int = BLOCK_SIZE, magic: bytes = b""
) -> Iterator[Run]:
    """The packets of :func:`read_packets` (same packets, bounds, warnings and counters,
    same CaptureFormatError), as runs of offsets into blocks read ``size`` bytes at a
    time: no read, copy or object per packet. ``magic``: the first 4 bytes when the
    caller already read them. The one record loop of the fast readers:
    :func:`read_blocks` and ``CaptureAnalyzer`` both iterate a run's offsets."""
    magic = magic or handle.read(4)
    if len(magic) < 4:
        raise CaptureFormatError("file too short for a capture header")
    if magic == PCAPNG_MAGIC:
        yield from pcapng_runs(handle, stats, magic, size)
        return
    record, linktype, scale = pcap_header(handle, magic)
    ts_of = Stamp(1, record.format[0], scale)
    for block, starts, ends in pcap_records(handle, stats, record, size):
        yield block, starts, ends, linktype, ts_of


def read_blocks(
    handle: IO[bytes], stats: SourceStats, size: int = BLOCK_SIZE, magic: bytes = b""
) -> Iterator[tuple[bytes, list[Record]]]:
    """The packets of :func:`read_packets`, as (block, records) with offsets instead of
    frames (:func:`packet_runs` with the timestamps worked out)."""
    for block, starts, ends, linktype, ts_of in packet_runs(handle, stats, size, magic):
        yield block, [(ts_of(block, s), linktype, s, e) for s, e in zip(starts, ends, strict=True)]


# a pcapng section header's byte-order magic -> struct byte order
_BYTE_ORDER = {b"\x4d\x3c\x2b\x1a": "<", b"\x1a\x2b\x3c\x4d": ">"}


class Stamp:
    """The ``ts_of`` of a run: the timestamp of the packet record whose frame starts at
    ``start``, from the two 32-bit numbers 16 bytes before it. ``kind`` 1: a classic pcap
    record header (seconds, then microseconds or nanoseconds: ``sec + frac * scale``, as in
    :func:`read_packets`); ``kind`` 2: an Enhanced (or obsolete) Packet Block (high and low
    32 bits of a count of ``scale`` seconds, as in :func:`_pcapng`). A class rather than a
    closure so that the C loop (``_pcapscan.advance``) can compute the same value."""

    __slots__ = ("_unpack", "big", "kind", "scale")

    def __init__(self, kind: int, endian: str, scale: float) -> None:
        self.kind = kind
        self.big = endian == ">"
        self.scale = scale
        self._unpack = struct.Struct(endian + "II").unpack_from

    def __call__(self, block: bytes, start: int) -> float:
        a, b = self._unpack(block, start - 16)
        ts: float = a + b * self.scale if self.kind == 1 else ((a << 32) | b) * self.scale
        return ts


def _ng_stamp(endian: str, scale: float) -> Callable[[bytes, int], float]:
    """The timestamp of an Enhanced (or obsolete) Packet Block whose frame starts at
    ``start``: its high and low 32 bits are the 8 bytes 16 before, as in :func:`_pcapng`."""
    return Stamp(2, endian, scale)


def _no_stamp(block: bytes, start: int) -> float:
    """A Simple Packet Block has no timestamp (0.0, as in :func:`_pcapng`)."""
    return 0.0


def pcapng_runs(
    handle: IO[bytes], stats: SourceStats, first: bytes, size: int = BLOCK_SIZE
) -> Iterator[Run]:
    """The packets of :func:`_pcapng` (the reference: same packets, bounds, warnings and
    counters) read ``size`` bytes at a time and walked by offset. A block cut by the end
    of the buffer is completed by reading just its missing bytes. ``first``: the section
    header's block type, already read."""
    read = handle.read
    buf = first
    pos = 0
    endian = "<"
    head = struct.Struct("<II").unpack_from
    ifaces: list[tuple[int, Callable[[bytes, int], float]]] = []  # (link type, ts_of)
    stamps: dict[tuple[str, float], Callable[[bytes, int], float]] = {}
    starts: list[int] = []
    ends: list[int] = []
    run_link = -1
    run_ts: Callable[[bytes, int], float] = _no_stamp
    run_iface = -1  # the interface of the run's last Enhanced Packet Block (-1: none)
    epb = struct.Struct("<III8xI").unpack_from  # type, length, interface, captured length
    epb_c = _pcapscan.epb if _pcapscan is not None else None  # tests set _pcapscan to None
    while True:
        # the common case first: whole Enhanced Packet Blocks of the run's interface, with
        # lengths the general code below would accept; anything else goes through it
        stop = len(buf)
        if epb_c is not None:
            pos = epb_c(buf, pos, run_iface, endian == ">", starts, ends)  # the loop below, in C
        while stop - pos >= 32:
            btype, length, iface_id, cap_len = epb(buf, pos)
            if (
                btype != 6
                or iface_id != run_iface
                or length > stop - pos
                or length % 4
                or cap_len > length - 32
                or length > MAX_BLOCK
            ):
                break
            starts.append(pos + 28)
            ends.append(pos + 28 + cap_len)
            pos += length
        avail = len(buf) - pos
        if avail < 28:  # less than any block header we read: refill (whole blocks stay put)
            if ends:
                yield buf, starts, ends, run_link, run_ts
                starts, ends = [], []
            buf = buf[pos:] + read(max(size, 28 - avail))
            pos = 0
            avail = len(buf)
            if not avail:
                return
        if avail < 8:
            stats.warn("truncated pcapng block header at end of file")
            return
        if buf[pos : pos + 4] == b"\x0a\x0d\x0d\x0a":
            order = _BYTE_ORDER.get(buf[pos + 8 : pos + 12])
            if order is None:
                stats.warn("bad pcapng byte-order magic; rest of file not read")
                break
            endian = order
            head = struct.Struct(endian + "II").unpack_from
            epb = struct.Struct(endian + "III8xI").unpack_from
            run_iface = -1  # interface numbers start again in a new section
            btype, length = -1, head(buf, pos)[1]
            if length < 28 or length > MAX_BLOCK or length % 4:
                stats.warn("corrupt pcapng section header; rest of file not read")
                break
        else:
            btype, length = head(buf, pos)
            if length < 12 or length > MAX_BLOCK or length % 4:
                stats.skipped += 1
                stats.warn(f"corrupt pcapng block (length {length}); rest of file not read")
                break
        if avail < length:  # the block is cut by the end of the buffer: read the rest of it
            if ends:
                yield buf, starts, ends, run_link, run_ts
                starts, ends = [], []
            buf = buf[pos:] + read(length - avail)
            pos = 0
            if len(buf) < length:
                if btype == -1:
                    stats.warn("truncated pcapng section header")
                else:
                    stats.skipped += 1
                    stats.warn("truncated last pcapng block")
                return
        b = pos
        pos += length
        if btype == -1:  # the section header: its interfaces start again
            ifaces = []
            continue
        body = length - 12  # the bytes between the block header and the trailing length
        if btype == 6 or btype == 2:  # Enhanced Packet Block, obsolete Packet Block
            if body < 20:
                stats.skipped += 1
                continue
            if btype == 6:
                iface_id, cap_len = struct.unpack_from(endian + "I8xI", buf, b + 8)
            else:
                iface_id, cap_len = struct.unpack_from(endian + "H10xI", buf, b + 8)
            if iface_id >= len(ifaces) or cap_len > body - 20:
                stats.skipped += 1
                if btype == 6:
                    stats.warn("packet block with unknown interface or bad length skipped")
                continue
            link, ts_of = ifaces[iface_id]
            start = b + 28
            iface = iface_id if btype == 6 else -1
        elif btype == 1:  # Interface Description Block
            if body < 8:
                stats.warn("short interface description block")
                continue
            link = struct.unpack_from(endian + "H", buf, b + 8)[0]
            scale = _tsresol(buf[b + 16 : b + length - 4], endian)
            ts_of = stamps.get((endian, scale)) or _ng_stamp(endian, scale)
            stamps[endian, scale] = ts_of
            ifaces.append((link, ts_of))
            continue
        elif btype == 3:  # Simple Packet Block
            if not ifaces or body < 4:
                stats.skipped += 1
                continue
            orig = struct.unpack_from(endian + "I", buf, b + 8)[0]
            cap_len = min(orig, body - 4)
            link, ts_of = ifaces[0][0], _no_stamp
            start = b + 12
            iface = -1
        else:  # other block types (name resolution, statistics, custom...) are skipped
            continue
        if link != run_link or ts_of is not run_ts:
            if ends:
                yield buf, starts, ends, run_link, run_ts
                starts, ends = [], []
            run_link, run_ts = link, ts_of
        run_iface = iface
        starts.append(start)
        ends.append(start + cap_len)
    if ends:  # the run before a block that ends the file
        yield buf, starts, ends, run_link, run_ts


@dataclass(slots=True)
class _Iface:
    linktype: int
    scale: float = 1e-6


def _pcapng(handle: IO[bytes], stats: SourceStats, first: bytes) -> Iterator[Packet]:
    endian = "<"
    ifaces: list[_Iface] = []
    pending_type = first
    while True:
        block_type_raw = pending_type or handle.read(4)
        pending_type = b""
        if not block_type_raw:
            return
        head = handle.read(4)
        if len(block_type_raw) < 4 or len(head) < 4:
            stats.warn("truncated pcapng block header at end of file")
            return
        if block_type_raw == b"\x0a\x0d\x0d\x0a":
            order = _BYTE_ORDER.get(handle.read(4))
            if order is None:
                stats.warn("bad pcapng byte-order magic; rest of file not read")
                return
            endian = order
            length = struct.unpack(endian + "I", head)[0]
            if length < 28 or length > MAX_BLOCK or length % 4:
                stats.warn("corrupt pcapng section header; rest of file not read")
                return
            if len(handle.read(length - 12)) < length - 12:
                stats.warn("truncated pcapng section header")
                return
            ifaces = []
            continue
        btype = struct.unpack(endian + "I", block_type_raw)[0]
        length = struct.unpack(endian + "I", head)[0]
        if length < 12 or length > MAX_BLOCK or length % 4:
            stats.skipped += 1
            stats.warn(f"corrupt pcapng block (length {length}); rest of file not read")
            return
        body = handle.read(length - 8)
        if len(body) < length - 8:
            stats.skipped += 1
            stats.warn("truncated last pcapng block")
            return
        body = body[:-4]  # trailing block length
        if btype == 1:  # Interface Description Block
            if len(body) < 8:
                stats.warn("short interface description block")
                continue
            linktype = struct.unpack(endian + "H", body[:2])[0]
            ifaces.append(_Iface(linktype, _tsresol(body[8:], endian)))
        elif btype == 6:  # Enhanced Packet Block
            if len(body) < 20:
                stats.skipped += 1
                continue
            iface_id, ts_hi, ts_lo, cap_len, _orig = struct.unpack(endian + "IIIII", body[:20])
            if iface_id >= len(ifaces) or cap_len > len(body) - 20:
                stats.skipped += 1
                stats.warn("packet block with unknown interface or bad length skipped")
                continue
            iface = ifaces[iface_id]
            yield ((ts_hi << 32) | ts_lo) * iface.scale, iface.linktype, body[20 : 20 + cap_len]
        elif btype == 3:  # Simple Packet Block
            if not ifaces or len(body) < 4:
                stats.skipped += 1
                continue
            orig = struct.unpack(endian + "I", body[:4])[0]
            yield 0.0, ifaces[0].linktype, body[4 : 4 + min(orig, len(body) - 4)]
        elif btype == 2:  # obsolete Packet Block
            if len(body) < 20:
                stats.skipped += 1
                continue
            iface_id, _drops, ts_hi, ts_lo, cap_len, _orig = struct.unpack(endian + "HHIIII", body[:20])
            if iface_id >= len(ifaces) or cap_len > len(body) - 20:
                stats.skipped += 1
                continue
            iface = ifaces[iface_id]
            yield ((ts_hi << 32) | ts_lo) * iface.scale, iface.linktype, body[20 : 20 + cap_len]
        # other block types (name resolution, statistics, custom...) are skipped


def _tsresol(options: bytes, endian: str) -> float:
    """if_tsresol (option 9) of an IDB; default microseconds."""
    pos = 0
    while pos + 4 <= len(options):
        code, length = struct.unpack(endian + "HH", options[pos : pos + 4])
        if code == 0:
            break
        value = options[pos + 4 : pos + 4 + length]
        if code == 9 and length >= 1:
            v = value[0]
            return 2.0 ** -(v & 0x7F) if v & 0x80 else 10.0 ** -(v & 0x7F)
        pos += 4 + length + ((4 - length % 4) % 4)
    return 1e-6


# ------------------------------------------------------------------------------ link + IP + TCP
class TcpSegment(NamedTuple):
    """One TCP segment (a named tuple: built once per packet, so it must be cheap)."""

    src: bytes
    dst: bytes
    sport: int
    dport: int
    seq: int
    flags: int
    payload: bytes


_ETH_VLAN = (0x8100, 0x88A8, 0x9100)


def ip_of_frame(linktype: int, frame: bytes) -> bytes | None:
    """The IP packet inside a link-layer frame, or None (not IP / unsupported link type)."""
    if linktype == LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        etype = (frame[12] << 8) | frame[13]
        off = 14
        for _ in range(2):
            if etype in _ETH_VLAN and len(frame) >= off + 4:
                etype = (frame[off + 2] << 8) | frame[off + 3]
                off += 4
        return frame[off:] if etype in (0x0800, 0x86DD) else None
    if linktype == LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        etype = (frame[14] << 8) | frame[15]
        return frame[16:] if etype in (0x0800, 0x86DD) else None
    if linktype == LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        etype = (frame[0] << 8) | frame[1]
        return frame[20:] if etype in (0x0800, 0x86DD) else None
    if linktype in _RAW_TYPES:
        return frame
    if linktype in (LINKTYPE_NULL, LINKTYPE_LOOP):
        if len(frame) < 4:
            return None
        family = int.from_bytes(frame[:4], "big" if linktype == LINKTYPE_LOOP else "little")
        if linktype == LINKTYPE_NULL and family > 0xFFFF:  # written by a big-endian host
            family = int.from_bytes(frame[:4], "big")
        return frame[4:] if family in (2, 10, 24, 28, 30) else None
    return None


def tcp_of_ip(ip: bytes, stats: SourceStats | None = None) -> TcpSegment | None:
    """Parse IPv4/IPv6 + TCP; None for other protocols, fragments or garbage."""
    if len(ip) < 20:
        return None
    version = ip[0] >> 4
    if version == 4:
        ihl = (ip[0] & 0x0F) * 4
        total = (ip[2] << 8) | ip[3]
        if ihl < 20 or total < ihl or ip[9] != 6:
            return None
        if ((ip[6] & 0x3F) << 8 | ip[7]) or ip[6] & 0x20:  # fragment offset or MF
            if stats is not None:
                stats.warn("IP fragments skipped (not reassembled)")
            return None
        src, dst = ip[12:16], ip[16:20]
        tcp = ip[ihl:total] if total <= len(ip) else ip[ihl:]
    elif version == 6:
        if len(ip) < 40:
            return None
        nxt = ip[6]
        plen = (ip[4] << 8) | ip[5]
        src, dst = ip[8:24], ip[24:40]
        body = ip[40 : 40 + plen] if plen else ip[40:]
        for _ in range(8):
            if nxt in (0, 43, 60) and len(body) >= 8:
                nxt, body = body[0], body[(body[1] + 1) * 8 :]
            else:
                break
        if nxt != 6:
            return None
        tcp = body
    else:
        return None
    if len(tcp) < 20:
        return None
    doff = (tcp[12] >> 4) * 4
    if doff < 20 or doff > len(tcp):
        return None
    sport, dport, seq = struct.unpack_from(">HHI", tcp)
    return TcpSegment(src, dst, sport, dport, seq, tcp[13], tcp[doff:])


# ------------------------------------------------------------------------------ reassembly
SYN, FIN, RST = 0x02, 0x01, 0x04
NBSS_TYPES = frozenset({0x00, 0x81, 0x82, 0x83, 0x84, 0x85})
SMB_MAGICS = (b"\xffSMB", b"\xfeSMB", b"\xfdSMB", b"\xfcSMB")
MAX_NBSS = 1 << 24
MAX_OOO_SEGMENTS = 64
MAX_OOO_BYTES = 1 << 20

# deliver(timestamp, message_head, full_length): at most ``cap`` bytes of each message
Deliver = Callable[[float, bytes, int], None]

# keep(head, limit): how many bytes of a message the reader of the messages needs, given its
# first min(limit, HEAD_BYTES) bytes and ``limit`` = min(message length, cap)
Keep = Callable[[bytes, int], int]
HEAD_BYTES = 24


@dataclass(slots=True)
class Direction:
    """One direction of a TCP connection, framed into NetBIOS session messages.

    Only the first ``cap`` bytes of a message are kept; the rest is skipped without
    copying. Out-of-order segments wait in a bounded buffer; a gap that does not
    fill in time makes the stream resynchronise on the next segment that starts
    with a NetBIOS header followed by an SMB protocol id.

    With ``keep`` (the fast capture path), only the bytes ``keep(head, limit)`` asks
    for are copied: each message is still delivered exactly when, and with the
    timestamp with which, it would be without ``keep`` (when its first ``cap`` bytes
    have arrived), but the rest is counted off by sequence-number arithmetic. Without
    ``keep`` the states for this (``want`` = the whole message, ``held``, ``until``,
    ``after``) never leave their initial values."""

    deliver: Deliver
    cap: int = 70_000
    next_seq: int | None = None
    synced: bool = False
    header: bytes = b""
    parts: list[bytes] = field(default_factory=list)
    collected: int = 0
    msg_len: int = 0
    msg_type: int = 0
    skip: int = 0
    ooo: dict[int, bytes] = field(default_factory=dict)
    ooo_bytes: int = 0
    gaps: int = 0
    keep: Keep | None = None
    want: int = 0  # bytes of the current message to collect
    decided: bool = False  # ``keep`` was asked for the current message
    held: bytes | None = None  # collected message waiting for its delivery point
    held_full: int = 0
    until: int = 0  # bytes still to arrive before the held message is delivered
    after: int = 0  # bytes to skip after the held message is delivered

    def feed(self, ts: float, seq: int, flags: int, payload: bytes) -> None:
        size = len(payload)
        if (
            seq == self.next_seq
            and 0 < size <= self.skip
            and not flags & SYN
            and self.synced
            and not self.ooo
        ):
            # in order, inside the part of a large message that is not kept: just count it
            self.skip -= size
            self.next_seq = (seq + size) & 0xFFFFFFFF
            return
        if flags & SYN:
            self.next_seq = (seq + 1) & 0xFFFFFFFF
            self.synced = True
            self._reset()
            return
        if not payload:
            return
        if self.next_seq is None:  # capture started mid-connection
            self.next_seq = seq
        rel = (seq - self.next_seq) & 0xFFFFFFFF
        if rel >= 0x80000000:  # before next_seq: retransmission / overlap
            back = 0x100000000 - rel
            if back >= len(payload):
                return
            payload = payload[back:]
            seq = self.next_seq
            rel = 0
        if rel:
            if len(self.ooo) < MAX_OOO_SEGMENTS and self.ooo_bytes + len(payload) <= MAX_OOO_BYTES:
                if seq not in self.ooo:
                    self.ooo[seq] = payload
                    self.ooo_bytes += len(payload)
                return
            # the gap will not fill: drop what is missing and resynchronise
            self.gaps += 1
            self.ooo[seq] = payload
            first = min(self.ooo, key=lambda s: (s - self.next_seq) & 0xFFFFFFFF)  # type: ignore[operator]
            self.next_seq = first
            self.synced = False
            self._reset()
        self._consume(ts, payload)
        self.next_seq = (self.next_seq + len(payload)) & 0xFFFFFFFF
        while self.ooo:
            nxt = self.ooo.pop(self.next_seq, None)
            if nxt is None:
                # drop stale segments that are now behind next_seq
                stale = [s for s in self.ooo if (s - self.next_seq) & 0xFFFFFFFF >= 0x80000000]
                for s in stale:
                    self.ooo_bytes -= len(self.ooo.pop(s))
                break
            self.ooo_bytes -= len(nxt)
            self._consume(ts, nxt)
            self.next_seq = (self.next_seq + len(nxt)) & 0xFFFFFFFF

    def _reset(self) -> None:
        self.header = b""
        self.parts = []
        self.collected = 0
        self.msg_len = 0
        self.skip = 0
        self.want = 0
        self.held = None
        self.until = 0
        self.after = 0

    def _consume(self, ts: float, data: bytes) -> None:
        if not self.synced:
            if len(data) >= 8 and data[0] == 0 and data[4:8] in SMB_MAGICS:
                self.synced = True
                self._reset()
            else:
                return
        end = len(data)
        keep = self.keep
        if (
            not self.msg_len
            and not self.header
            and not self.skip
            and not self.until
            and end >= 8
            and data[0] == 0
        ):
            length = int.from_bytes(data[1:4], "big")
            if length + 4 == end and length <= self.cap:
                if keep is None or length <= HEAD_BYTES:
                    self.deliver(ts, data[4:], length)
                else:
                    n = keep(data[4 : 4 + HEAD_BYTES], length)
                    self.deliver(ts, data[4:] if n >= length else data[4 : 4 + max(n, HEAD_BYTES)], length)
                return
        pos = 0
        while pos < end:
            if self.until:
                n = min(self.until, end - pos)
                self.until -= n
                pos += n
                if not self.until and self.held is not None:
                    message, full = self.held, self.held_full
                    self.held = None
                    self.skip = self.after
                    self.after = 0
                    self.deliver(ts, message, full)
                continue
            if self.skip:
                n = min(self.skip, end - pos)
                self.skip -= n
                pos += n
                continue
            if self.msg_len == 0 and len(self.header) < 4:
                need = 4 - len(self.header)
                self.header += data[pos : pos + need]
                pos += need
                if len(self.header) < 4:
                    return
                mtype = self.header[0]
                length = int.from_bytes(self.header[1:4], "big")
                if mtype not in NBSS_TYPES or length > MAX_NBSS:
                    self.synced = False
                    self._reset()
                    return
                self.header = b""
                if length == 0:
                    continue
                if mtype != 0:
                    self.skip = length
                    continue
                self.msg_len = length
                self.collected = 0
                self.parts = []
                limit = min(length, self.cap)
                self.decided = keep is None or limit <= HEAD_BYTES
                self.want = limit if self.decided else HEAD_BYTES
                continue
            chunk = data[pos : pos + self.want - self.collected]
            self.parts.append(chunk)
            self.collected += len(chunk)
            pos += len(chunk)
            if self.collected < self.want:
                continue
            message = self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)
            limit = min(self.msg_len, self.cap)
            if not self.decided:
                self.decided = True
                assert keep is not None
                n = min(max(keep(message, limit), HEAD_BYTES), limit)
                if n > self.collected:
                    self.want = n
                    self.parts = [message]
                    continue
            full = self.msg_len
            self.parts = []
            self.collected = 0
            self.msg_len = 0
            if len(message) < limit:
                # delivered where Direction would deliver it: when byte ``limit`` arrives
                self.held = message
                self.held_full = full
                self.until = limit - len(message)
                self.after = full - limit
                continue
            self.skip = full - limit
            self.deliver(ts, message, full)

