"""Extract SMB messages per TCP stream from a pcap/pcapng (tests only, read in place).

A small reader over dpkt: TCP segments are reassembled per direction by
sequence number (retransmissions and overlaps dropped), then split into
NetBIOS session-service frames; each session message (type 0x00) is one SMB
message. The server side is the endpoint on port 445 or 139.
"""

from __future__ import annotations

import socket
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import dpkt

SMB_PORTS = (445, 139)


@dataclass(frozen=True)
class SmbMessage:
    stream: tuple[str, int, str, int]  # client ip, client port, server ip, server port
    from_server: bool
    index: int  # position within its direction of the stream
    payload: bytes  # the SMB message (NBSS header removed)

    @property
    def protocol(self) -> bytes:
        return self.payload[:4]


def _packets(path: Path) -> Iterator[tuple[int, bytes]]:
    with path.open("rb") as fh:
        magic = fh.read(4)
        fh.seek(0)
        reader: dpkt.pcap.Reader | dpkt.pcapng.Reader
        reader = dpkt.pcapng.Reader(fh) if magic == b"\x0a\x0d\x0d\x0a" else dpkt.pcap.Reader(fh)
        linktype = reader.datalink()
        for _ts, raw in reader:
            yield linktype, raw


def _ip_of(linktype: int, raw: bytes) -> dpkt.ip.IP | dpkt.ip6.IP6 | None:
    try:
        if linktype == dpkt.pcap.DLT_EN10MB:
            pkt = dpkt.ethernet.Ethernet(raw).data
        elif linktype == dpkt.pcap.DLT_LINUX_SLL:
            pkt = dpkt.sll.SLL(raw).data
        elif linktype in (dpkt.pcap.DLT_RAW, 101):
            pkt = dpkt.ip.IP(raw) if raw[0] >> 4 == 4 else dpkt.ip6.IP6(raw)
        elif linktype == dpkt.pcap.DLT_NULL:
            pkt = dpkt.loopback.Loopback(raw).data
        else:
            return None
    except (dpkt.UnpackError, IndexError):
        return None
    return pkt if isinstance(pkt, dpkt.ip.IP | dpkt.ip6.IP6) else None


def _addr(ip: dpkt.ip.IP | dpkt.ip6.IP6, which: str) -> str:
    raw = getattr(ip, which)
    return socket.inet_ntop(socket.AF_INET6 if len(raw) == 16 else socket.AF_INET, raw)


def _reassemble(segments: dict[int, bytes]) -> bytes:
    out = bytearray()
    expected: int | None = None
    for seq in sorted(segments):
        data = segments[seq]
        if expected is None:
            expected = seq
        if seq > expected:  # gap (lost segment): stop, the rest cannot be framed
            break
        skip = expected - seq
        if skip < len(data):
            out += data[skip:]
            expected = seq + len(data)
    return bytes(out)


def _frames(stream: bytes) -> Iterator[bytes]:
    pos = 0
    while pos + 4 <= len(stream):
        ftype = stream[pos]
        length = (
            int.from_bytes(stream[pos + 1 : pos + 4], "big")
            if ftype == 0
            else int.from_bytes(stream[pos + 2 : pos + 4], "big")
        )
        body = stream[pos + 4 : pos + 4 + length]
        if len(body) < length:
            return
        if ftype == 0 and body:
            yield body
        pos += 4 + length


def smb_messages(path: Path) -> list[SmbMessage]:
    """Every SMB message in the capture, grouped by stream, in order per direction."""
    flows: dict[tuple[str, int, str, int, bool], dict[int, bytes]] = defaultdict(dict)
    for linktype, raw in _packets(path):
        ip = _ip_of(linktype, raw)
        if ip is None or not isinstance(ip.data, dpkt.tcp.TCP):
            continue
        tcp = ip.data
        src, dst = _addr(ip, "src"), _addr(ip, "dst")
        if tcp.dport in SMB_PORTS:
            key = (src, tcp.sport, dst, tcp.dport, False)
        elif tcp.sport in SMB_PORTS:
            key = (dst, tcp.dport, src, tcp.sport, True)
        else:
            continue
        if tcp.data:
            flows[key].setdefault(tcp.seq, bytes(tcp.data))
    out: list[SmbMessage] = []
    for (cip, cport, sip, sport, from_server), segments in flows.items():
        for i, payload in enumerate(_frames(_reassemble(segments))):
            out.append(SmbMessage((cip, cport, sip, sport), from_server, i, payload))
    return out


def server_messages(path: Path, protocol: bytes | None = None, command: int | None = None) -> list[bytes]:
    """Server-to-client SMB messages, optionally filtered by protocol id (b"\\xfeSMB",
    b"\\xffSMB") and command (SMB2: u16 at offset 12; SMB1: byte at offset 4)."""
    return _filter(path, True, protocol, command)


def client_messages(path: Path, protocol: bytes | None = None, command: int | None = None) -> list[bytes]:
    return _filter(path, False, protocol, command)


def _filter(path: Path, from_server: bool, protocol: bytes | None, command: int | None) -> list[bytes]:
    result = []
    for msg in smb_messages(path):
        if msg.from_server != from_server:
            continue
        if protocol is not None and msg.protocol != protocol:
            continue
        if command is not None:
            if msg.protocol == b"\xfeSMB" and int.from_bytes(msg.payload[12:14], "little") != command:
                continue
            if msg.protocol == b"\xffSMB" and msg.payload[4:5] != bytes([command]):
                continue
        result.append(msg.payload)
    return result
