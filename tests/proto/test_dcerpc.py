"""DCE/RPC PDU codec on a real at.exe (atsvc) capture and round trips."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import dcerpc
from tests.helpers.pcap import SmbMessage

Pcap = Callable[[str], list[SmbMessage]]
PTYPES = {
    dcerpc.PacketType.REQUEST,
    dcerpc.PacketType.RESPONSE,
    dcerpc.PacketType.BIND,
    dcerpc.PacketType.BIND_ACK,
}


def _pdus(messages: list[SmbMessage]) -> list[bytes]:
    """DCE/RPC PDUs carried in SMB messages (found by their v5.0 little-endian header)."""
    out = []
    for m in messages:
        p = m.payload
        for i in range(64, len(p) - 16):
            if p[i] == 5 and p[i + 1] == 0 and p[i + 2] in PTYPES and p[i + 4] == 0x10:
                out.append(p[i:])
                break
    return out


def test_at_schedule_capture(pcap: Pcap) -> None:
    pdus = _pdus(pcap("zeek/doc_20171220_smb_at_schedule.pcap"))
    binds = [dcerpc.decode_bind(p) for p in pdus if p[2] == dcerpc.PacketType.BIND]
    assert binds and {c.interface_name for c in binds[0].contexts} == {"atsvc"}
    assert binds[0].contexts[0].interface_version == (1, 0)
    acks = [dcerpc.decode_bind_ack(p) for p in pdus if p[2] == dcerpc.PacketType.BIND_ACK]
    assert acks[0].secondary_address == "\\PIPE\\atsvc" and acks[0].results[1] == (0, 0)
    requests = [dcerpc.decode_request(p) for p in pdus if p[2] == dcerpc.PacketType.REQUEST]
    assert requests[0].opnum == 0  # NetrJobAdd ([MS-TSCH] 3.2.5.2.1)


def test_round_trips() -> None:
    ctx = dcerpc.ContextElement(0, "367abb81-9844-35f1-ad32-98f038001003", (2, 0))
    bind = dcerpc.decode_bind(dcerpc.encode_bind((ctx,), call_id=7))
    assert bind.contexts == (ctx,) and bind.header.call_id == 7 and ctx.interface_name == "svcctl"
    ack = dcerpc.decode_bind_ack(dcerpc.encode_bind_ack(((0, 0),)))
    assert ack.results == ((0, 0),) and ack.secondary_address == "\\PIPE\\svcctl"
    req = dcerpc.decode_request(dcerpc.encode_request(12, b"stub", call_id=3))
    assert (req.opnum, req.stub, req.header.call_id) == (12, b"stub", 3)
    resp = dcerpc.decode_response(dcerpc.encode_response(b"out"))
    assert resp.stub == b"out" and resp.status is None


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x05\x00\x0b\x03\x10\x00\x00\x00\x08\x00",
        b"\x04" + bytes(20),
        b"\x05\x00\x0b\x03\x10\x00\x00\x00\xff\x00\x00\x00\x01\x00\x00\x00",
    ],
)
def test_bad_pdus(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        dcerpc.decode_bind(raw)
