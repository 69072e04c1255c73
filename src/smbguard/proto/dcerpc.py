"""DCE/RPC connection-oriented PDUs ([C706] 12.6, [MS-RPCE] 2.2.2), headers and binds.

Enough to see which RPC interface a client binds to over a named pipe (svcctl
for PsExec-style service creation, atsvc / ITaskSchedulerService for remote
tasks, drsuapi for DCSync ...) and which operation numbers it calls. Stub data
(NDR) is kept as bytes, never interpreted.
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from typing import Literal

from smbguard.errors import DecodeError
from smbguard.proto._buf import pack, take, u16, u32

HEADER_SIZE = 16
#: NDR transfer syntax 8a885d04-1ceb-11c9-9fe8-08002b104860 v2.0.
NDR = ("8a885d04-1ceb-11c9-9fe8-08002b104860", 2, 0)
MAX_CONTEXTS = 32


class PacketType(enum.IntEnum):
    """[C706] 12.6.4 PTYPE."""

    REQUEST = 0
    PING = 1
    RESPONSE = 2
    FAULT = 3
    BIND = 11
    BIND_ACK = 12
    BIND_NAK = 13
    ALTER_CONTEXT = 14
    ALTER_CONTEXT_RESP = 15
    AUTH3 = 16
    SHUTDOWN = 17
    CO_CANCEL = 18
    ORPHANED = 19


class PfcFlags(enum.IntFlag):
    """[C706] 12.6.3.1 pfc_flags."""

    FIRST_FRAG = 0x01
    LAST_FRAG = 0x02
    PENDING_CANCEL = 0x04
    CONC_MPX = 0x10
    DID_NOT_EXECUTE = 0x20
    MAYBE = 0x40
    OBJECT_UUID = 0x80


#: Interfaces worth naming in monitoring ([MS-SCMR], [MS-TSCH], [MS-SRVS], [MS-SAMR], ...).
KNOWN_INTERFACES: dict[str, str] = {
    "367abb81-9844-35f1-ad32-98f038001003": "svcctl",
    "1ff70682-0a51-30e8-076d-740be8cee98b": "atsvc",
    "86d35949-83c9-4044-b424-db363231fd0c": "ITaskSchedulerService",
    "378e52b0-c0a9-11cf-822d-00aa0051e40f": "sasec",
    "4b324fc8-1670-01d3-1278-5a47bf6ee188": "srvsvc",
    "6bffd098-a112-3610-9833-46c3f87e345a": "wkssvc",
    "12345778-1234-abcd-ef00-0123456789ac": "samr",
    "12345778-1234-abcd-ef00-0123456789ab": "lsarpc",
    "12345678-1234-abcd-ef00-01234567cffb": "netlogon",
    "12345678-1234-abcd-ef00-0123456789ab": "spoolss",
    "338cd001-2244-31f1-aaaa-900038001003": "winreg",
    "e3514235-4b06-11d1-ab04-00c04fc2dcd2": "drsuapi",
    "e1af8308-5d1f-11c9-91a4-08002b14a0fa": "epmapper",
    "82273fdc-e32a-18c3-3f78-827929dc23ea": "eventlog",
    "3919286a-b10c-11d0-9ba8-00c04fd92ef5": "dssetup",
    "76f03f96-cdfd-44fc-a22c-64950a001209": "IRemoteWinspool",
}


def interface_name(interface: str) -> str | None:
    return KNOWN_INTERFACES.get(interface.lower())


@dataclass(frozen=True, slots=True)
class PduHeader:
    """[C706] 12.6.3.1 common header (16 bytes). ``little_endian`` from packed_drep."""

    ptype: int
    flags: int
    frag_length: int
    auth_length: int
    call_id: int
    version: int = 5
    version_minor: int = 0
    little_endian: bool = True


@dataclass(frozen=True, slots=True)
class ContextElement:
    """One presentation context of a BIND: abstract syntax (interface) + transfer syntaxes."""

    context_id: int
    interface: str
    interface_version: tuple[int, int]
    transfer_syntaxes: tuple[tuple[str, int, int], ...] = (NDR,)

    @property
    def interface_name(self) -> str | None:
        return interface_name(self.interface)


@dataclass(frozen=True, slots=True)
class Bind:
    """BIND / ALTER_CONTEXT ([C706] 12.6.4.3)."""

    header: PduHeader
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    contexts: tuple[ContextElement, ...]


@dataclass(frozen=True, slots=True)
class BindAck:
    """BIND_ACK / ALTER_CONTEXT_RESP ([C706] 12.6.4.4): ``results`` are (result, reason)."""

    header: PduHeader
    max_xmit_frag: int
    max_recv_frag: int
    assoc_group_id: int
    secondary_address: str
    results: tuple[tuple[int, int], ...]


@dataclass(frozen=True, slots=True)
class Request:
    """REQUEST ([C706] 12.6.4.9)."""

    header: PduHeader
    alloc_hint: int
    context_id: int
    opnum: int
    object_uuid: str | None
    stub: bytes


@dataclass(frozen=True, slots=True)
class Response:
    """RESPONSE ([C706] 12.6.4.10) or FAULT (12.6.4.7, ``status`` set)."""

    header: PduHeader
    alloc_hint: int
    context_id: int
    stub: bytes = b""
    status: int | None = None


def decode_header(buf: bytes) -> PduHeader:
    if len(buf) < HEADER_SIZE:
        raise DecodeError(f"DCE/RPC header needs 16 bytes, have {len(buf)}")
    if buf[0] != 5 or buf[1] not in (0, 1):
        raise DecodeError(f"not a DCE/RPC v5 PDU (version {buf[0]}.{buf[1]})")
    little = bool(buf[4] & 0x10)
    order: Literal["little", "big"] = "little" if little else "big"
    frag = int.from_bytes(buf[8:10], order)
    if frag < HEADER_SIZE:
        raise DecodeError(f"DCE/RPC frag_length {frag} below the header size")
    return PduHeader(
        ptype=buf[2],
        flags=buf[3],
        frag_length=frag,
        auth_length=int.from_bytes(buf[10:12], order),
        call_id=int.from_bytes(buf[12:16], order),
        version=buf[0],
        version_minor=buf[1],
        little_endian=little,
    )


def _body(buf: bytes, header: PduHeader) -> bytes:
    if not header.little_endian:
        raise DecodeError("big-endian DCE/RPC PDUs are not supported")
    end = header.frag_length - (header.auth_length + 8 if header.auth_length else 0)
    if end < HEADER_SIZE:
        raise DecodeError("DCE/RPC auth_length larger than the fragment")
    return take(buf, 0, header.frag_length)[:end]


def _uuid(data: bytes, off: int) -> str:
    return str(uuid.UUID(bytes_le=take(data, off, 16)))


def encode_header(
    ptype: int, body_length: int, call_id: int, flags: int = 0x03, auth_length: int = 0
) -> bytes:
    return (
        pack("<BBBB", 5, 0, ptype, flags)
        + b"\x10\x00\x00\x00"
        + pack(
            "<HHI", HEADER_SIZE + body_length + (auth_length + 8 if auth_length else 0), auth_length, call_id
        )
    )


def encode_bind(
    contexts: tuple[ContextElement, ...],
    call_id: int = 1,
    max_frag: int = 4280,
    assoc_group_id: int = 0,
    ptype: int = PacketType.BIND,
) -> bytes:
    body = bytearray(pack("<HHI", max_frag, max_frag, assoc_group_id))
    body += pack("<BBH", len(contexts), 0, 0)
    for ctx in contexts:
        body += pack("<HBB", ctx.context_id, len(ctx.transfer_syntaxes), 0)
        body += uuid.UUID(ctx.interface).bytes_le + pack("<HH", *ctx.interface_version)
        for syntax, major, minor in ctx.transfer_syntaxes:
            body += uuid.UUID(syntax).bytes_le + pack("<HH", major, minor)
    return encode_header(ptype, len(body), call_id) + bytes(body)


def decode_bind(buf: bytes) -> Bind:
    """BIND or ALTER_CONTEXT."""
    header = decode_header(buf)
    if header.ptype not in (PacketType.BIND, PacketType.ALTER_CONTEXT):
        raise DecodeError(f"PDU type {header.ptype} is not BIND/ALTER_CONTEXT")
    body = _body(buf, header)
    count = take(body, 24, 1)[0]
    if count > MAX_CONTEXTS:
        raise DecodeError(f"absurd context count {count}")
    off = 28
    contexts: list[ContextElement] = []
    for _ in range(count):
        cid, n_syntax = u16(body, off), take(body, off + 2, 1)[0]
        iface = _uuid(body, off + 4)
        version = (u16(body, off + 20), u16(body, off + 22))
        off += 24
        syntaxes = []
        for _ in range(n_syntax):
            syntaxes.append((_uuid(body, off), u16(body, off + 16), u16(body, off + 18)))
            off += 20
        contexts.append(ContextElement(cid, iface, version, tuple(syntaxes)))
    return Bind(header, u16(body, 16), u16(body, 18), u32(body, 20), tuple(contexts))


def encode_bind_ack(
    results: tuple[tuple[int, int], ...],
    call_id: int = 1,
    max_frag: int = 4280,
    assoc_group_id: int = 0x1234,
    secondary_address: str = "\\PIPE\\svcctl",
) -> bytes:
    addr = secondary_address.encode("ascii") + b"\x00" if secondary_address else b""
    body = bytearray(pack("<HHIH", max_frag, max_frag, assoc_group_id, len(addr)) + addr)
    body += bytes((4 - (HEADER_SIZE + len(body)) % 4) % 4)
    body += pack("<BBH", len(results), 0, 0)
    for result, reason in results:
        body += pack("<HH", result, reason) + uuid.UUID(NDR[0]).bytes_le + pack("<HH", NDR[1], NDR[2])
    return encode_header(PacketType.BIND_ACK, len(body), call_id) + bytes(body)


def decode_bind_ack(buf: bytes) -> BindAck:
    """BIND_ACK or ALTER_CONTEXT_RESP."""
    header = decode_header(buf)
    if header.ptype not in (PacketType.BIND_ACK, PacketType.ALTER_CONTEXT_RESP):
        raise DecodeError(f"PDU type {header.ptype} is not BIND_ACK")
    body = _body(buf, header)
    addr_len = u16(body, 24)
    addr = take(body, 26, addr_len).rstrip(b"\x00").decode("latin-1")
    off = 26 + addr_len
    off += (4 - off % 4) % 4
    count = take(body, off, 1)[0]
    if count > MAX_CONTEXTS:
        raise DecodeError(f"absurd result count {count}")
    off += 4
    results = []
    for _ in range(count):
        results.append((u16(body, off), u16(body, off + 2)))
        off += 24
    return BindAck(header, u16(body, 16), u16(body, 18), u32(body, 20), addr, tuple(results))


def encode_request(opnum: int, stub: bytes, call_id: int = 2, context_id: int = 0) -> bytes:
    body = pack("<IHH", len(stub), context_id, opnum) + stub
    return encode_header(PacketType.REQUEST, len(body), call_id) + body


def decode_request(buf: bytes) -> Request:
    header = decode_header(buf)
    if header.ptype != PacketType.REQUEST:
        raise DecodeError(f"PDU type {header.ptype} is not REQUEST")
    body = _body(buf, header)
    off = 24
    obj = None
    if header.flags & PfcFlags.OBJECT_UUID:
        obj = _uuid(body, 24)
        off = 40
    take(body, 16, off - 16)
    return Request(header, u32(body, 16), u16(body, 20), u16(body, 22), obj, bytes(body[off:]))


def encode_response(stub: bytes, call_id: int = 2, context_id: int = 0) -> bytes:
    body = pack("<IHBB", len(stub), context_id, 0, 0) + stub
    return encode_header(PacketType.RESPONSE, len(body), call_id) + body


def decode_response(buf: bytes) -> Response:
    """RESPONSE or FAULT."""
    header = decode_header(buf)
    body = _body(buf, header)
    if header.ptype == PacketType.FAULT:
        return Response(header, u32(body, 16), u16(body, 20), status=u32(body, 24))
    if header.ptype != PacketType.RESPONSE:
        raise DecodeError(f"PDU type {header.ptype} is not RESPONSE/FAULT")
    take(body, 16, 8)
    return Response(header, u32(body, 16), u16(body, 20), bytes(body[24:]))
