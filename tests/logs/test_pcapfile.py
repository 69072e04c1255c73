"""pcap/pcapng reader, link types and TCP reassembly, on the real captures.

Packet counts were checked with ``capinfos -c``; TCP packet counts with
``tshark -Y tcp`` (minus ICMP errors quoting TCP, which tshark also counts)."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.capture import CaptureAnalyzer
from smbguard.logs.events import SourceStats
from smbguard.logs.pcapfile import (
    CaptureFormatError,
    Direction,
    ip_of_frame,
    read_packets,
    tcp_of_ip,
)

PCAPS = "pcaps"


def _packets(path: Path) -> tuple[SourceStats, list[tuple[float, int, bytes]]]:
    stats = SourceStats(str(path), "pcap")
    with path.open("rb") as handle:
        return stats, list(read_packets(handle, stats))


@pytest.mark.parametrize(
    ("name", "packets", "linktype"),
    [
        ("zeek/smb2.pcap", 1178, 1),
        ("suricata-verify/output-eve-smb-01/input.pcap", 22, 113),  # Linux cooked capture
        ("pcap-attack/LM_psexec_smb_dcerpc_epm_svcctl.pcapng", 264, 1),
        ("zeek/smb2-zero-byte-error-ioctl.pcapng", 180, 1),
    ],
)
def test_packet_counts(shared_data: Path, name: str, packets: int, linktype: int) -> None:
    stats, pkts = _packets(shared_data / PCAPS / name)
    assert len(pkts) == packets
    assert {p[1] for p in pkts} == {linktype}
    assert not stats.warnings
    assert all(p[0] > 1e9 for p in pkts)  # real timestamps (seconds since 1970)


def _write_pcap(path: Path, linktype: int, packets: list[tuple[float, bytes]]) -> None:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, linktype)]
    for ts, data in packets:
        out.append(struct.pack("<IIII", int(ts), int((ts % 1) * 1e6), len(data), len(data)) + data)
    path.write_bytes(b"".join(out))


def _relink(frames: list[tuple[float, int, bytes]], linktype: int) -> list[tuple[float, bytes]]:
    """Re-encapsulate Ethernet frames into another link type (same IP packets)."""
    out = []
    for ts, _, frame in frames:
        ip = ip_of_frame(1, frame)
        if ip is None:
            continue
        family4 = ip[0] >> 4 == 4
        if linktype == 276:  # SLL2
            header = (
                (b"\x08\x00" if family4 else b"\x86\xdd")
                + b"\x00\x00"
                + struct.pack(">I", 1)
                + b"\x00\x01\x04\x06"
                + bytes(8)
            )
        elif linktype == 0:  # BSD null, little-endian family
            header = struct.pack("<I", 2 if family4 else 24)
        else:  # raw IP
            header = b""
        out.append((ts, header + ip))
    return out


def _facts(path: Path) -> list[tuple[object, ...]]:
    analyzer = CaptureAnalyzer(str(path))
    events = [(e.event_id, e.src_ip, e.server, e.detail) for e in analyzer.events()]
    hosts = [(h.target.address, h.smb1, h.smb2, h.signing, h.ntlm, h.os) for h in analyzer.hosts()]
    return [events, hosts]


@pytest.mark.parametrize("linktype", [276, 0, 101])
def test_other_link_types_give_same_result(shared_data: Path, tmp_path: Path, linktype: int) -> None:
    src = shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap"
    _, frames = _packets(src)
    relinked = tmp_path / f"lt{linktype}.pcap"
    _write_pcap(relinked, linktype, _relink(frames, linktype))
    assert _facts(relinked) == _facts(src)


@pytest.mark.skipif(shutil.which("editcap") is None, reason="editcap (wireshark) not installed")
def test_pcapng_conversion_gives_same_result(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / PCAPS / "zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap"
    ng = tmp_path / "x.pcapng"
    subprocess.run(["editcap", "-F", "pcapng", str(src), str(ng)], check=True, capture_output=True)
    assert _facts(ng) == _facts(src)


def test_out_of_order_and_duplicate_segments(shared_data: Path, tmp_path: Path) -> None:
    src = shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap"
    _, frames = _packets(src)
    packets = [(ts, frame) for ts, _, frame in frames]

    def direction(frame: bytes) -> object:
        ip = ip_of_frame(1, frame)
        seg = tcp_of_ip(ip) if ip is not None else None
        return None if seg is None else (seg.src, seg.sport, seg.dst, seg.dport)

    shuffled = list(packets)
    swaps = 0
    for i in range(100, len(shuffled) - 1, 3):  # out-of-order delivery inside one direction
        a, b = direction(shuffled[i][1]), direction(shuffled[i + 1][1])
        if a is not None and a == b:
            shuffled[i], shuffled[i + 1] = shuffled[i + 1], shuffled[i]
            swaps += 1
    assert swaps > 20
    shuffled = shuffled[:300] + packets[250:300] + shuffled[300:]  # retransmissions
    mangled = tmp_path / "mangled.pcap"
    _write_pcap(mangled, 1, shuffled)
    assert _facts(mangled) == _facts(src)


def test_truncated_capture(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / PCAPS / "zeek/smb2.pcap").read_bytes()
    cut = tmp_path / "cut.pcap"
    cut.write_bytes(data[: len(data) // 2 + 3])
    stats, pkts = _packets(cut)
    assert 0 < len(pkts) < 1178
    assert stats.warnings  # "truncated last packet" or "truncated packet header"
    analyzer = CaptureAnalyzer(str(cut))
    list(analyzer.events())
    assert [h.target.address for h in analyzer.hosts()] == ["10.0.0.12"]


def test_not_a_capture(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pcap"
    junk.write_bytes(b"hello world, not a capture")
    with junk.open("rb") as handle, pytest.raises(CaptureFormatError):
        list(read_packets(handle, SourceStats("j", "pcap")))
    analyzer = CaptureAnalyzer(str(junk))
    assert list(analyzer.events()) == []
    assert analyzer.stats.skipped == 1


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fuzz_reader_and_analyzer(blob: bytes) -> None:
    for magic in (b"\xd4\xc3\xb2\xa1", b"\x0a\x0d\x0d\x0a"):
        stats = SourceStats("f", "pcap")
        import io

        try:
            packets = list(read_packets(io.BytesIO(magic + blob), stats))
        except CaptureFormatError:
            continue
        analyzer = CaptureAnalyzer("f")
        for ts, linktype, frame in packets:
            analyzer._packet(ts, linktype, frame)
        analyzer.hosts()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3000), st.binary(max_size=300)), max_size=30))
def test_fuzz_reassembly(segments: list[tuple[int, bytes]]) -> None:
    delivered: list[tuple[bytes, int]] = []
    direction = Direction(lambda ts, msg, full: delivered.append((msg, full)), cap=64)
    direction.feed(0.0, 999, 0x02, b"")
    for offset, payload in segments:
        direction.feed(0.0, 1000 + offset, 0x10, payload)
    assert all(len(msg) <= 64 and len(msg) <= full for msg, full in delivered)
    assert len(direction.ooo) <= 65


def test_framing_skips_large_bodies_and_keeps_cap() -> None:
    delivered: list[tuple[bytes, int]] = []
    direction = Direction(lambda ts, msg, full: delivered.append((msg, full)), cap=8)
    body1 = b"\xfeSMB" + bytes(100)
    body2 = b"\xffSMB" + b"abcd"
    stream = (
        b"\x00"
        + len(body1).to_bytes(3, "big")
        + body1
        + b"\x85\x00\x00\x00"
        + b"\x00"
        + len(body2).to_bytes(3, "big")
        + body2
    )
    direction.feed(0.0, 0, 0x02, b"")
    for i in range(0, len(stream), 5):  # 5-byte segments
        direction.feed(0.0, 1 + i, 0x10, stream[i : i + 5])
    assert delivered == [(body1[:8], 104), (body2, 8)]


def test_ipv6_and_vlan() -> None:
    tcp = struct.pack(">HHIIBBHHH", 5000, 445, 7, 0, 5 << 4, 0x18, 0, 0, 0) + b"data"
    ip6 = (
        bytes([0x60, 0, 0, 0])
        + struct.pack(">HBB", len(tcp), 6, 64)
        + bytes(15)
        + b"\x01"
        + bytes(15)
        + b"\x02"
        + tcp
    )
    frame = bytes(12) + b"\x81\x00\x00\x05\x86\xdd" + ip6
    ip = ip_of_frame(1, frame)
    assert ip == ip6
    seg = tcp_of_ip(ip)
    assert seg is not None and (seg.sport, seg.dport, seg.seq, seg.payload) == (5000, 445, 7, b"data")
