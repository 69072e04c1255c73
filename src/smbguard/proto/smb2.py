"""SMB 2 and 3 messages ([MS-SMB2]), both directions, sans I/O.

Every ``encode_*`` returns one whole SMB2 message (64-byte header + body);
every ``decode_*`` takes one whole message (header included, because
[MS-SMB2] buffer offsets count from the first byte of the header) and returns
a frozen dataclass or raises :class:`~smbguard.errors.DecodeError`.

Covered: header (2.2.1.2 sync / 2.2.1.1 async), ERROR (2.2.2), NEGOTIATE
request/response with negotiate contexts (2.2.3, 2.2.3.1.x, 2.2.4,
2.2.4.1.x), SESSION_SETUP (2.2.5, 2.2.6), LOGOFF (2.2.7, 2.2.8),
TREE_CONNECT (2.2.9, 2.2.10), COMPRESSION_TRANSFORM_HEADER (2.2.42, decode only).
"""

from __future__ import annotations

import dataclasses
import enum
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from smbguard.errors import DecodeError
from smbguard.proto._buf import (
    datetime_to_filetime,
    filetime_to_datetime,
    guid_from_bytes,
    guid_to_bytes,
    pack,
    take,
    u16,
    u32,
    u64,
    utf16,
)

__all__ = [
    "ALL_DIALECTS",
    "COMPRESSION_PROTOCOL_ID",
    "HEADER_SIZE",
    "PROTOCOL_ID",
    "TRANSFORM_PROTOCOL_ID",
    "Capabilities",
    "Cipher",
    "Command",
    "CompressionAlgorithm",
    "CompressionCapabilitiesContext",
    "CompressionFlags",
    "CompressionTransformHeader",
    "Dialect",
    "EncryptionCapabilitiesContext",
    "ErrorResponse",
    "Flags",
    "HashAlgorithm",
    "Header",
    "LogoffMessage",
    "NegotiateContext",
    "NegotiateContextType",
    "NegotiateRequest",
    "NegotiateResponse",
    "NetnameContext",
    "PreauthIntegrityContext",
    "RdmaTransform",
    "RdmaTransformContext",
    "SecurityMode",
    "SessionFlags",
    "SessionSetupFlags",
    "SessionSetupRequest",
    "SessionSetupResponse",
    "ShareType",
    "SigningAlgorithm",
    "SigningCapabilitiesContext",
    "TransportCapabilitiesContext",
    "TransportFlags",
    "TreeConnectRequest",
    "TreeConnectResponse",
    "UnknownContext",
    "datetime_to_filetime",
    "decode_compression_transform_header",
    "decode_error_response",
    "decode_header",
    "decode_logoff",
    "decode_negotiate_request",
    "decode_negotiate_response",
    "decode_session_setup_request",
    "decode_session_setup_response",
    "decode_tree_connect_request",
    "decode_tree_connect_response",
    "dialect_name",
    "encode_error_response",
    "encode_header",
    "encode_logoff_request",
    "encode_logoff_response",
    "encode_negotiate_request",
    "encode_negotiate_response",
    "encode_session_setup_request",
    "encode_session_setup_response",
    "encode_tree_connect_request",
    "encode_tree_connect_response",
    "enum_name",
    "filetime_to_datetime",
    "flag_names",
    "is_smb2",
]

PROTOCOL_ID = b"\xfeSMB"
TRANSFORM_PROTOCOL_ID = b"\xfdSMB"
COMPRESSION_PROTOCOL_ID = b"\xfcSMB"
HEADER_SIZE = 64
#: Upper bound on negotiate contexts / dialects a decoder accepts (hostile counts).
MAX_ITEMS = 256


class Dialect(enum.IntEnum):
    """[MS-SMB2] 2.2.3 Dialects. WILDCARD (0x02FF) answers a multi-protocol SMB1 negotiate."""

    SMB_2_0_2 = 0x0202
    SMB_2_1 = 0x0210
    SMB_3_0 = 0x0300
    SMB_3_0_2 = 0x0302
    SMB_3_1_1 = 0x0311
    WILDCARD = 0x02FF


ALL_DIALECTS: tuple[Dialect, ...] = (
    Dialect.SMB_2_0_2,
    Dialect.SMB_2_1,
    Dialect.SMB_3_0,
    Dialect.SMB_3_0_2,
    Dialect.SMB_3_1_1,
)

_DIALECT_NAMES = {
    Dialect.SMB_2_0_2: "2.0.2",
    Dialect.SMB_2_1: "2.1",
    Dialect.SMB_3_0: "3.0",
    Dialect.SMB_3_0_2: "3.0.2",
    Dialect.SMB_3_1_1: "3.1.1",
    Dialect.WILDCARD: "2.???",
}


def dialect_name(dialect: int) -> str:
    """``"3.1.1"`` for 0x0311; ``"0x0abc"`` for an unknown revision."""
    try:
        return _DIALECT_NAMES[Dialect(dialect)]
    except ValueError:
        return f"0x{dialect:04x}"


class Command(enum.IntEnum):
    """[MS-SMB2] 2.2.1.2 Command."""

    NEGOTIATE = 0x0000
    SESSION_SETUP = 0x0001
    LOGOFF = 0x0002
    TREE_CONNECT = 0x0003
    TREE_DISCONNECT = 0x0004
    CREATE = 0x0005
    CLOSE = 0x0006
    FLUSH = 0x0007
    READ = 0x0008
    WRITE = 0x0009
    LOCK = 0x000A
    IOCTL = 0x000B
    CANCEL = 0x000C
    ECHO = 0x000D
    QUERY_DIRECTORY = 0x000E
    CHANGE_NOTIFY = 0x000F
    QUERY_INFO = 0x0010
    SET_INFO = 0x0011
    OPLOCK_BREAK = 0x0012


class Flags(enum.IntFlag):
    """[MS-SMB2] 2.2.1.2 Flags."""

    SERVER_TO_REDIR = 0x00000001
    ASYNC_COMMAND = 0x00000002
    RELATED_OPERATIONS = 0x00000004
    SIGNED = 0x00000008
    PRIORITY_MASK = 0x00000070
    DFS_OPERATIONS = 0x10000000
    REPLAY_OPERATION = 0x20000000


class SecurityMode(enum.IntFlag):
    """[MS-SMB2] 2.2.3 / 2.2.4 SecurityMode (16 bits in NEGOTIATE, 8 in SESSION_SETUP)."""

    SIGNING_ENABLED = 0x0001
    SIGNING_REQUIRED = 0x0002


class Capabilities(enum.IntFlag):
    """[MS-SMB2] 2.2.3 / 2.2.4 Capabilities."""

    DFS = 0x00000001
    LEASING = 0x00000002
    LARGE_MTU = 0x00000004
    MULTI_CHANNEL = 0x00000008
    PERSISTENT_HANDLES = 0x00000010
    DIRECTORY_LEASING = 0x00000020
    ENCRYPTION = 0x00000040
    NOTIFICATIONS = 0x00000080


class SessionFlags(enum.IntFlag):
    """[MS-SMB2] 2.2.6 SessionFlags."""

    IS_GUEST = 0x0001
    IS_NULL = 0x0002
    ENCRYPT_DATA = 0x0004


class SessionSetupFlags(enum.IntFlag):
    """[MS-SMB2] 2.2.5 Flags."""

    BINDING = 0x01


class NegotiateContextType(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1 ContextType."""

    PREAUTH_INTEGRITY_CAPABILITIES = 0x0001
    ENCRYPTION_CAPABILITIES = 0x0002
    COMPRESSION_CAPABILITIES = 0x0003
    NETNAME_NEGOTIATE_CONTEXT_ID = 0x0005
    TRANSPORT_CAPABILITIES = 0x0006
    RDMA_TRANSFORM_CAPABILITIES = 0x0007
    SIGNING_CAPABILITIES = 0x0008
    CONTEXTTYPE_RESERVED = 0x0100


class HashAlgorithm(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1.1 HashAlgorithms."""

    SHA_512 = 0x0001


class Cipher(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1.2 Ciphers."""

    AES_128_CCM = 0x0001
    AES_128_GCM = 0x0002
    AES_256_CCM = 0x0003
    AES_256_GCM = 0x0004


class CompressionAlgorithm(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1.3 CompressionAlgorithms."""

    NONE = 0x0000
    LZNT1 = 0x0001
    LZ77 = 0x0002
    LZ77_HUFFMAN = 0x0003
    PATTERN_V1 = 0x0004
    LZ4 = 0x0005


class CompressionFlags(enum.IntFlag):
    """[MS-SMB2] 2.2.3.1.3 Flags (capabilities) / 2.2.42 Flags (transform header)."""

    NONE = 0x0000
    CHAINED = 0x0001


class SigningAlgorithm(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1.7 SigningAlgorithms."""

    HMAC_SHA256 = 0x0000
    AES_CMAC = 0x0001
    AES_GMAC = 0x0002


class RdmaTransform(enum.IntEnum):
    """[MS-SMB2] 2.2.3.1.6 RDMATransformIds."""

    NONE = 0x0000
    ENCRYPTION = 0x0001
    SIGNING = 0x0002


class TransportFlags(enum.IntFlag):
    """[MS-SMB2] 2.2.3.1.5 Flags."""

    ACCEPT_TRANSPORT_LEVEL_SECURITY = 0x00000001


class ShareType(enum.IntEnum):
    """[MS-SMB2] 2.2.10 ShareType."""

    DISK = 0x01
    PIPE = 0x02
    PRINT = 0x03


def enum_name(enum_type: type[enum.IntEnum], value: int) -> str:
    """Member name, or ``0x....`` for a value the enum does not know."""
    try:
        return enum_type(value).name
    except ValueError:
        return f"0x{value:04x}"


def flag_names(flag_type: type[enum.IntFlag], value: int) -> tuple[str, ...]:
    """Names of the single-bit members set in ``value``, plus ``0x...`` for unknown bits."""
    names: list[str] = []
    known = 0
    for member in flag_type:
        bit = int(member)
        if bit and bit & (bit - 1) == 0:
            known |= bit
            if value & bit:
                names.append(str(member.name))
    rest = value & ~known
    if rest:
        names.append(f"0x{rest:x}")
    return tuple(names)


def _as_enum(enum_type: type[enum.IntEnum], value: int) -> int:
    try:
        return enum_type(value)
    except ValueError:
        return value


def _pad8(length: int) -> int:
    return (8 - length % 8) % 8


# --------------------------------------------------------------------------- header


@dataclass(frozen=True, slots=True)
class Header:
    """[MS-SMB2] 2.2.1.1 (async) / 2.2.1.2 (sync) packet header, 64 bytes.

    ``status`` is the NTSTATUS in responses (ChannelSequence/Reserved in requests
    of 3.x). ``tree_id`` is used when ``ASYNC_COMMAND`` is clear, ``async_id`` when set.
    """

    command: int = Command.NEGOTIATE
    status: int = 0
    flags: int = 0
    message_id: int = 0
    session_id: int = 0
    tree_id: int = 0
    async_id: int = 0
    credit_charge: int = 0
    credits: int = 1  # CreditRequest / CreditResponse
    next_command: int = 0
    signature: bytes = bytes(16)

    @property
    def is_response(self) -> bool:
        return bool(self.flags & Flags.SERVER_TO_REDIR)

    @property
    def is_async(self) -> bool:
        return bool(self.flags & Flags.ASYNC_COMMAND)


def encode_header(header: Header) -> bytes:
    """64-byte header ([MS-SMB2] 2.2.1)."""
    if len(header.signature) != 16:
        raise ValueError("signature must be 16 bytes")
    if header.flags & Flags.ASYNC_COMMAND:
        middle = pack("<Q", header.async_id)
    else:
        middle = pack("<II", 0, header.tree_id)
    return (
        PROTOCOL_ID
        + pack(
            "<HHIHHIIQ",
            HEADER_SIZE,
            header.credit_charge,
            header.status,
            header.command,
            header.credits,
            header.flags,
            header.next_command,
            header.message_id,
        )
        + middle
        + pack("<Q", header.session_id)
        + header.signature
    )


def is_smb2(buf: bytes) -> bool:
    """True when ``buf`` starts with the SMB2 protocol id 0xFE 'SMB'."""
    return buf[:4] == PROTOCOL_ID


_HEADER_STRUCT = struct.Struct("<4sHHIHHIIQIIQ16s")
_COMMANDS: dict[int, int] = {int(c): c for c in Command}


def decode_header(buf: bytes) -> Header:
    """Decode the 64-byte SMB2 header at the start of ``buf`` ([MS-SMB2] 2.2.1.1 / 2.2.1.2).

    One ``struct`` call: this runs for every message of every capture."""
    if len(buf) < HEADER_SIZE:
        raise DecodeError(f"SMB2 header needs 64 bytes, have {len(buf)}")
    (
        protocol,
        size,
        credit_charge,
        status,
        command,
        credits,
        flags,
        next_command,
        message_id,
        reserved,
        tree_id,
        session_id,
        signature,
    ) = _HEADER_STRUCT.unpack_from(buf)
    if protocol != PROTOCOL_ID:
        raise DecodeError(f"not an SMB2 message (protocol id {bytes(buf[:4]).hex()})")
    if size != HEADER_SIZE:
        raise DecodeError(f"SMB2 header StructureSize {size} != 64")
    is_async = flags & Flags.ASYNC_COMMAND
    return Header(
        credit_charge=credit_charge,
        status=status,
        command=_COMMANDS.get(command, command),
        credits=credits,
        flags=flags,
        next_command=next_command,
        message_id=message_id,
        async_id=reserved | tree_id << 32 if is_async else 0,  # AsyncId spans both fields
        tree_id=0 if is_async else tree_id,
        session_id=session_id,
        signature=signature,
    )


def _body(buf: bytes, structure_size: int, what: str) -> int:
    """Check header + fixed body StructureSize; return the body offset (64)."""
    decode_header(buf)
    size = u16(buf, HEADER_SIZE)
    if size != structure_size:
        raise DecodeError(f"{what}: StructureSize {size}, expected {structure_size}")
    return HEADER_SIZE


def _with_command(header: Header | None, command: Command, response: bool) -> Header:
    base = header if header is not None else Header()
    flags = base.flags | Flags.SERVER_TO_REDIR if response else base.flags & ~Flags.SERVER_TO_REDIR
    return dataclasses.replace(base, command=command, flags=int(flags))


def _buffer(buf: bytes, offset: int, length: int, what: str) -> bytes:
    """Security/path buffer at an offset from the header start; zero length -> b''."""
    if length == 0:
        return b""
    if offset < HEADER_SIZE:
        raise DecodeError(f"{what}: buffer offset {offset} inside the header")
    return take(buf, offset, length)


# --------------------------------------------------------------------------- error


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """[MS-SMB2] 2.2.2 ERROR response body. ``error_data`` holds ErrorData bytes
    (error contexts for 3.1.1, symlink data...), ``status`` comes from the header."""

    status: int
    error_context_count: int = 0
    error_data: bytes = b""


def encode_error_response(status: int, header: Header | None = None, error_data: bytes = b"",
                          command: Command | None = None, error_context_count: int = 0) -> bytes:
    """ERROR response ([MS-SMB2] 2.2.2) with ``status`` in the header.

    ByteCount 0 is followed by one zero byte, as the spec requires."""
    base = header if header is not None else Header()
    if command is not None:
        base = dataclasses.replace(base, command=command)
    base = dataclasses.replace(base, status=status, flags=base.flags | Flags.SERVER_TO_REDIR)
    body = pack("<HBBI", 9, error_context_count, 0, len(error_data)) + (error_data or b"\x00")
    return encode_header(base) + body


def decode_error_response(buf: bytes) -> ErrorResponse:
    """Decode an ERROR response ([MS-SMB2] 2.2.2). Servers pad ByteCount 0 with one byte
    that some omit: tolerated."""
    header = decode_header(buf)
    off = _body(buf, 9, "ERROR")
    count = buf[off + 2] if len(buf) > off + 2 else 0
    byte_count = u32(buf, off + 4)
    data = take(buf, off + 8, byte_count) if byte_count else b""
    return ErrorResponse(status=header.status, error_context_count=count, error_data=data)


# --------------------------------------------------------------------------- negotiate contexts


@dataclass(frozen=True, slots=True)
class PreauthIntegrityContext:
    """[MS-SMB2] 2.2.3.1.1 SMB2_PREAUTH_INTEGRITY_CAPABILITIES."""

    hash_algorithms: tuple[int, ...] = (HashAlgorithm.SHA_512,)
    salt: bytes = b""
    context_type = NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES

    def data(self) -> bytes:
        return (
            pack("<HH", len(self.hash_algorithms), len(self.salt))
            + b"".join(pack("<H", h) for h in self.hash_algorithms)
            + self.salt
        )


@dataclass(frozen=True, slots=True)
class EncryptionCapabilitiesContext:
    """[MS-SMB2] 2.2.3.1.2 SMB2_ENCRYPTION_CAPABILITIES."""

    ciphers: tuple[int, ...] = ()
    context_type = NegotiateContextType.ENCRYPTION_CAPABILITIES

    def data(self) -> bytes:
        return pack("<H", len(self.ciphers)) + b"".join(pack("<H", c) for c in self.ciphers)


@dataclass(frozen=True, slots=True)
class CompressionCapabilitiesContext:
    """[MS-SMB2] 2.2.3.1.3 SMB2_COMPRESSION_CAPABILITIES."""

    algorithms: tuple[int, ...] = ()
    flags: int = 0
    context_type = NegotiateContextType.COMPRESSION_CAPABILITIES

    def data(self) -> bytes:
        return pack("<HHI", len(self.algorithms), 0, self.flags) + b"".join(
            pack("<H", a) for a in self.algorithms
        )


@dataclass(frozen=True, slots=True)
class NetnameContext:
    """[MS-SMB2] 2.2.3.1.4 SMB2_NETNAME_NEGOTIATE_CONTEXT_ID (client only)."""

    name: str = ""
    context_type = NegotiateContextType.NETNAME_NEGOTIATE_CONTEXT_ID

    def data(self) -> bytes:
        return self.name.encode("utf-16-le")


@dataclass(frozen=True, slots=True)
class TransportCapabilitiesContext:
    """[MS-SMB2] 2.2.3.1.5 SMB2_TRANSPORT_CAPABILITIES."""

    flags: int = 0
    context_type = NegotiateContextType.TRANSPORT_CAPABILITIES

    def data(self) -> bytes:
        return pack("<I", self.flags)


@dataclass(frozen=True, slots=True)
class RdmaTransformContext:
    """[MS-SMB2] 2.2.3.1.6 SMB2_RDMA_TRANSFORM_CAPABILITIES."""

    transforms: tuple[int, ...] = ()
    context_type = NegotiateContextType.RDMA_TRANSFORM_CAPABILITIES

    def data(self) -> bytes:
        return pack("<HHI", len(self.transforms), 0, 0) + b"".join(pack("<H", t) for t in self.transforms)


@dataclass(frozen=True, slots=True)
class SigningCapabilitiesContext:
    """[MS-SMB2] 2.2.3.1.7 SMB2_SIGNING_CAPABILITIES."""

    algorithms: tuple[int, ...] = ()
    context_type = NegotiateContextType.SIGNING_CAPABILITIES

    def data(self) -> bytes:
        return pack("<H", len(self.algorithms)) + b"".join(pack("<H", a) for a in self.algorithms)


@dataclass(frozen=True, slots=True)
class UnknownContext:
    """A context whose type smbguard does not parse; kept as raw bytes."""

    type_id: int
    raw: bytes = b""

    @property
    def context_type(self) -> int:
        return self.type_id

    def data(self) -> bytes:
        return self.raw


NegotiateContext = (
    PreauthIntegrityContext
    | EncryptionCapabilitiesContext
    | CompressionCapabilitiesContext
    | NetnameContext
    | TransportCapabilitiesContext
    | RdmaTransformContext
    | SigningCapabilitiesContext
    | UnknownContext
)


def _u16_list(data: bytes, off: int, count: int, enum_type: type[enum.IntEnum], what: str) -> tuple[int, ...]:
    if count > MAX_ITEMS:
        raise DecodeError(f"{what}: absurd count {count}")
    return tuple(_as_enum(enum_type, u16(data, off + 2 * i)) for i in range(count))


def _decode_context(ctype: int, data: bytes) -> NegotiateContext:
    """One context's Data ([MS-SMB2] 2.2.3.1.x / 2.2.4.1.x)."""
    if ctype == NegotiateContextType.PREAUTH_INTEGRITY_CAPABILITIES:
        count, salt_len = u16(data, 0), u16(data, 2)
        algs = _u16_list(data, 4, count, HashAlgorithm, "preauth")
        return PreauthIntegrityContext(algs, take(data, 4 + 2 * count, salt_len))
    if ctype == NegotiateContextType.ENCRYPTION_CAPABILITIES:
        return EncryptionCapabilitiesContext(_u16_list(data, 2, u16(data, 0), Cipher, "encryption"))
    if ctype == NegotiateContextType.COMPRESSION_CAPABILITIES:
        count = u16(data, 0)
        return CompressionCapabilitiesContext(
            _u16_list(data, 8, count, CompressionAlgorithm, "compression"), u32(data, 4)
        )
    if ctype == NegotiateContextType.NETNAME_NEGOTIATE_CONTEXT_ID:
        return NetnameContext(utf16(data, "netname"))
    if ctype == NegotiateContextType.TRANSPORT_CAPABILITIES:
        return TransportCapabilitiesContext(u32(data, 0))
    if ctype == NegotiateContextType.RDMA_TRANSFORM_CAPABILITIES:
        return RdmaTransformContext(_u16_list(data, 8, u16(data, 0), RdmaTransform, "rdma"))
    if ctype == NegotiateContextType.SIGNING_CAPABILITIES:
        return SigningCapabilitiesContext(_u16_list(data, 2, u16(data, 0), SigningAlgorithm, "signing"))
    return UnknownContext(ctype, data)


def _encode_contexts(contexts: Sequence[NegotiateContext]) -> bytes:
    """Contexts, each 8-byte aligned ([MS-SMB2] 2.2.3.1); the caller aligns the first."""
    out = bytearray()
    for i, ctx in enumerate(contexts):
        data = ctx.data()
        out += pack("<HHI", int(ctx.context_type), len(data), 0) + data
        if i != len(contexts) - 1:
            out += bytes(_pad8(len(out)))
    return bytes(out)


def _decode_contexts(buf: bytes, offset: int, count: int) -> tuple[NegotiateContext, ...]:
    if count > MAX_ITEMS:
        raise DecodeError(f"absurd NegotiateContextCount {count}")
    if count and offset < HEADER_SIZE:
        raise DecodeError(f"NegotiateContextOffset {offset} inside the header")
    out: list[NegotiateContext] = []
    off = offset
    for _ in range(count):
        off += _pad8(off)  # contexts start 8-byte aligned from the header start
        ctype, length = u16(buf, off), u16(buf, off + 2)
        data = take(buf, off + 8, length)
        out.append(_decode_context(ctype, data))
        off += 8 + length
    return tuple(out)


def _context_of(
    contexts: Iterable[NegotiateContext], kind: type[NegotiateContext]
) -> NegotiateContext | None:
    for ctx in contexts:
        if isinstance(ctx, kind):
            return ctx
    return None


# --------------------------------------------------------------------------- negotiate


@dataclass(frozen=True, slots=True)
class NegotiateRequest:
    """[MS-SMB2] 2.2.3 SMB2 NEGOTIATE Request.

    ``contexts`` are sent only when 3.1.1 is offered (NegotiateContextOffset/Count);
    otherwise the 8 bytes hold ClientStartTime (0)."""

    dialects: tuple[int, ...]
    security_mode: int = SecurityMode.SIGNING_ENABLED
    capabilities: int = 0
    client_guid: str = "00000000-0000-0000-0000-000000000000"
    contexts: tuple[NegotiateContext, ...] = ()


def encode_negotiate_request(request: NegotiateRequest, header: Header | None = None) -> bytes:
    """Whole NEGOTIATE request message."""
    hdr = encode_header(_with_command(header, Command.NEGOTIATE, response=False))
    dialects = b"".join(pack("<H", d) for d in request.dialects)
    fixed = 36
    ctx_bytes = b""
    ctx_offset = 0
    if request.contexts:
        end = HEADER_SIZE + fixed + len(dialects)
        pad = _pad8(end)
        ctx_offset = end + pad
        ctx_bytes = bytes(pad) + _encode_contexts(request.contexts)
    body = (
        pack("<HHHHI", fixed, len(request.dialects), request.security_mode, 0, request.capabilities)
        + guid_to_bytes(request.client_guid)
        + pack("<IHH", ctx_offset, len(request.contexts), 0)
        + dialects
        + ctx_bytes
    )
    return hdr + body


def decode_negotiate_request(buf: bytes) -> NegotiateRequest:
    """Decode a NEGOTIATE request; contexts are parsed when 0x0311 is offered."""
    off = _body(buf, 36, "NEGOTIATE request")
    count = u16(buf, off + 2)
    if count == 0 or count > MAX_ITEMS:
        raise DecodeError(f"NEGOTIATE request DialectCount {count}")
    dialects = tuple(_as_enum(Dialect, u16(buf, off + 36 + 2 * i)) for i in range(count))
    contexts: tuple[NegotiateContext, ...] = ()
    if Dialect.SMB_3_1_1 in dialects:
        contexts = _decode_contexts(buf, u32(buf, off + 28), u16(buf, off + 32))
    return NegotiateRequest(
        dialects=dialects,
        security_mode=u16(buf, off + 4),
        capabilities=u32(buf, off + 8),
        client_guid=guid_from_bytes(take(buf, off + 12, 16)),
        contexts=contexts,
    )


@dataclass(frozen=True, slots=True)
class NegotiateResponse:
    """[MS-SMB2] 2.2.4 SMB2 NEGOTIATE Response. Times are FILETIME decoded to UTC
    (None for 0); ``security_buffer`` is the GSS/SPNEGO hint token; ``contexts``
    are present for 3.1.1 only."""

    dialect: int
    security_mode: int = SecurityMode.SIGNING_ENABLED
    server_guid: str = "00000000-0000-0000-0000-000000000000"
    capabilities: int = 0
    max_transact_size: int = 65536
    max_read_size: int = 65536
    max_write_size: int = 65536
    system_time: datetime | None = None
    server_start_time: datetime | None = None
    security_buffer: bytes = b""
    contexts: tuple[NegotiateContext, ...] = ()
    status: int = 0

    @property
    def signing_enabled(self) -> bool:
        return bool(self.security_mode & SecurityMode.SIGNING_ENABLED)

    @property
    def signing_required(self) -> bool:
        return bool(self.security_mode & SecurityMode.SIGNING_REQUIRED)

    @property
    def dialect_name(self) -> str:
        return dialect_name(self.dialect)

    def context(self, kind: type[NegotiateContext]) -> NegotiateContext | None:
        """First context of the given class, or None."""
        return _context_of(self.contexts, kind)


def encode_negotiate_response(response: NegotiateResponse, header: Header | None = None) -> bytes:
    """Whole NEGOTIATE response message (server direction)."""
    hdr = encode_header(
        dataclasses.replace(_with_command(header, Command.NEGOTIATE, response=True), status=response.status)
    )
    fixed = 64
    sec_offset = HEADER_SIZE + fixed if response.security_buffer else 0
    tail = response.security_buffer
    ctx_offset = 0
    if response.contexts:
        end = HEADER_SIZE + fixed + len(tail)
        pad = _pad8(end)
        ctx_offset = end + pad
        tail = tail + bytes(pad) + _encode_contexts(response.contexts)
    body = (
        pack("<HHHH", fixed + 1, response.security_mode, response.dialect, len(response.contexts))
        + guid_to_bytes(response.server_guid)
        + pack(
            "<IIIIQQHHI",
            response.capabilities,
            response.max_transact_size,
            response.max_read_size,
            response.max_write_size,
            datetime_to_filetime(response.system_time),
            datetime_to_filetime(response.server_start_time),
            sec_offset,
            len(response.security_buffer),
            ctx_offset,
        )
        + tail
    )
    return hdr + body


def decode_negotiate_response(buf: bytes) -> NegotiateResponse:
    """Decode a NEGOTIATE response. An ERROR body (status != 0, StructureSize 9)
    raises DecodeError: check the header status first."""
    header = decode_header(buf)
    off = _body(buf, 65, "NEGOTIATE response")
    dialect = u16(buf, off + 4)
    contexts: tuple[NegotiateContext, ...] = ()
    if dialect == Dialect.SMB_3_1_1:
        contexts = _decode_contexts(buf, u32(buf, off + 60), u16(buf, off + 6))
    return NegotiateResponse(
        dialect=_as_enum(Dialect, dialect),
        security_mode=u16(buf, off + 2),
        server_guid=guid_from_bytes(take(buf, off + 8, 16)),
        capabilities=u32(buf, off + 24),
        max_transact_size=u32(buf, off + 28),
        max_read_size=u32(buf, off + 32),
        max_write_size=u32(buf, off + 36),
        system_time=filetime_to_datetime(u64(buf, off + 40)),
        server_start_time=filetime_to_datetime(u64(buf, off + 48)),
        security_buffer=_buffer(buf, u16(buf, off + 56), u16(buf, off + 58), "NEGOTIATE response"),
        contexts=contexts,
        status=header.status,
    )


# --------------------------------------------------------------------------- session setup


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    """[MS-SMB2] 2.2.5 SMB2 SESSION_SETUP Request. ``security_buffer`` is a GSS token
    (SPNEGO-wrapped or raw NTLMSSP)."""

    security_buffer: bytes
    flags: int = 0
    security_mode: int = SecurityMode.SIGNING_ENABLED
    capabilities: int = 0
    channel: int = 0
    previous_session_id: int = 0


def encode_session_setup_request(request: SessionSetupRequest, header: Header | None = None) -> bytes:
    hdr = encode_header(_with_command(header, Command.SESSION_SETUP, response=False))
    body = pack(
        "<HBBIIHHQ",
        25,
        request.flags,
        request.security_mode,
        request.capabilities,
        request.channel,
        HEADER_SIZE + 24,
        len(request.security_buffer),
        request.previous_session_id,
    )
    return hdr + body + request.security_buffer


def decode_session_setup_request(buf: bytes) -> SessionSetupRequest:
    off = _body(buf, 25, "SESSION_SETUP request")
    return SessionSetupRequest(
        flags=buf[off + 2] if len(buf) > off + 2 else 0,
        security_mode=buf[off + 3] if len(buf) > off + 3 else 0,
        capabilities=u32(buf, off + 4),
        channel=u32(buf, off + 8),
        security_buffer=_buffer(buf, u16(buf, off + 12), u16(buf, off + 14), "SESSION_SETUP request"),
        previous_session_id=u64(buf, off + 16),
    )


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    """[MS-SMB2] 2.2.6 SMB2 SESSION_SETUP Response. ``status`` and ``session_id``
    come from the header (MORE_PROCESSING_REQUIRED carries the NTLM CHALLENGE)."""

    status: int
    session_id: int
    session_flags: int = 0
    security_buffer: bytes = b""

    @property
    def is_guest(self) -> bool:
        return bool(self.session_flags & SessionFlags.IS_GUEST)

    @property
    def is_null(self) -> bool:
        return bool(self.session_flags & SessionFlags.IS_NULL)


def encode_session_setup_response(response: SessionSetupResponse, header: Header | None = None) -> bytes:
    base = _with_command(header, Command.SESSION_SETUP, response=True)
    base = dataclasses.replace(base, status=response.status, session_id=response.session_id)
    sec_offset = HEADER_SIZE + 8 if response.security_buffer else 0
    body = pack("<HHHH", 9, response.session_flags, sec_offset, len(response.security_buffer))
    return encode_header(base) + body + response.security_buffer


def decode_session_setup_response(buf: bytes) -> SessionSetupResponse:
    """Decode SESSION_SETUP response; an ERROR body (e.g. LOGON_FAILURE) decodes to
    a response with the header status, no flags and no buffer."""
    header = decode_header(buf)
    off = HEADER_SIZE
    size = u16(buf, off)
    if size != 9:
        raise DecodeError(f"SESSION_SETUP response: StructureSize {size}, expected 9")
    # ERROR (2.2.2) and SESSION_SETUP (2.2.6) responses both have StructureSize 9.
    if header.status not in (0, 0xC0000016):
        return SessionSetupResponse(status=header.status, session_id=header.session_id)
    return SessionSetupResponse(
        status=header.status,
        session_id=header.session_id,
        session_flags=u16(buf, off + 2),
        security_buffer=_buffer(buf, u16(buf, off + 4), u16(buf, off + 6), "SESSION_SETUP response"),
    )


# --------------------------------------------------------------------------- logoff


@dataclass(frozen=True, slots=True)
class LogoffMessage:
    """[MS-SMB2] 2.2.7 / 2.2.8 LOGOFF request and response (StructureSize 4)."""

    status: int = 0
    session_id: int = 0


def encode_logoff_request(header: Header | None = None) -> bytes:
    return encode_header(_with_command(header, Command.LOGOFF, response=False)) + pack("<HH", 4, 0)


def encode_logoff_response(header: Header | None = None, status: int = 0) -> bytes:
    base = dataclasses.replace(_with_command(header, Command.LOGOFF, response=True), status=status)
    return encode_header(base) + pack("<HH", 4, 0)


def decode_logoff(buf: bytes) -> LogoffMessage:
    """Decode a LOGOFF request or response."""
    header = decode_header(buf)
    size = u16(buf, HEADER_SIZE)
    if size not in (4, 9):
        raise DecodeError(f"LOGOFF: StructureSize {size}")
    return LogoffMessage(status=header.status, session_id=header.session_id)


# --------------------------------------------------------------------------- tree connect


@dataclass(frozen=True, slots=True)
class TreeConnectRequest:
    """[MS-SMB2] 2.2.9 TREE_CONNECT Request: ``path`` like ``\\\\server\\IPC$``."""

    path: str
    flags: int = 0


def encode_tree_connect_request(request: TreeConnectRequest, header: Header | None = None) -> bytes:
    hdr = encode_header(_with_command(header, Command.TREE_CONNECT, response=False))
    path = request.path.encode("utf-16-le")
    return hdr + pack("<HHHH", 9, request.flags, HEADER_SIZE + 8, len(path)) + path


def decode_tree_connect_request(buf: bytes) -> TreeConnectRequest:
    off = _body(buf, 9, "TREE_CONNECT request")
    path = _buffer(buf, u16(buf, off + 4), u16(buf, off + 6), "TREE_CONNECT request")
    return TreeConnectRequest(path=utf16(path, "share path"), flags=u16(buf, off + 2))


@dataclass(frozen=True, slots=True)
class TreeConnectResponse:
    """[MS-SMB2] 2.2.10 TREE_CONNECT Response; ``tree_id`` and ``status`` from the header."""

    status: int
    tree_id: int = 0
    share_type: int = ShareType.DISK
    share_flags: int = 0
    capabilities: int = 0
    maximal_access: int = 0


def encode_tree_connect_response(response: TreeConnectResponse, header: Header | None = None) -> bytes:
    base = _with_command(header, Command.TREE_CONNECT, response=True)
    base = dataclasses.replace(base, status=response.status, tree_id=response.tree_id)
    body = pack(
        "<HBBIII", 16, response.share_type, 0, response.share_flags, response.capabilities,
        response.maximal_access,
    )
    return encode_header(base) + body


def decode_tree_connect_response(buf: bytes) -> TreeConnectResponse:
    """TREE_CONNECT response; an ERROR body gives status only."""
    header = decode_header(buf)
    size = u16(buf, HEADER_SIZE)
    if size == 9 and header.status != 0:
        return TreeConnectResponse(status=header.status, tree_id=header.tree_id)
    if size != 16:
        raise DecodeError(f"TREE_CONNECT response: StructureSize {size}, expected 16")
    off = HEADER_SIZE
    return TreeConnectResponse(
        status=header.status,
        tree_id=header.tree_id,
        share_type=_as_enum(ShareType, take(buf, off + 2, 1)[0]),
        share_flags=u32(buf, off + 4),
        capabilities=u32(buf, off + 8),
        maximal_access=u32(buf, off + 12),
    )


# --------------------------------------------------------------------------- compression transform


@dataclass(frozen=True, slots=True)
class CompressionTransformHeader:
    """[MS-SMB2] 2.2.42 SMB2 COMPRESSION_TRANSFORM_HEADER (unchained 2.2.42.1,
    chained 2.2.42.2). ``offset_or_length`` is Offset when unchained, Length of the
    first payload when chained. SMBGhost (CVE-2020-0796) exploits send a huge
    ``original_size`` (e.g. 0xFFFFFFFF) or an Offset past the message."""

    original_size: int
    algorithm: int
    flags: int
    offset_or_length: int
    message_length: int

    @property
    def chained(self) -> bool:
        return bool(self.flags & CompressionFlags.CHAINED)

    @property
    def suspicious(self) -> bool:
        """True for sizes no legitimate sender uses: original size over 16 MiB + headers,
        or an unchained offset past the end of the message."""
        if self.original_size > (1 << 24) + 0x10000:
            return True
        return not self.chained and self.offset_or_length > self.message_length - 16


def decode_compression_transform_header(buf: bytes) -> CompressionTransformHeader:
    """Decode the 16-byte compression transform header (0xFC 'SMB')."""
    if len(buf) < 16:
        raise DecodeError(f"compression transform header needs 16 bytes, have {len(buf)}")
    if buf[:4] != COMPRESSION_PROTOCOL_ID:
        raise DecodeError("not an SMB2 compression transform header")
    return CompressionTransformHeader(
        original_size=u32(buf, 4),
        algorithm=_as_enum(CompressionAlgorithm, u16(buf, 8)),
        flags=u16(buf, 10),
        offset_or_length=u32(buf, 12),
        message_length=len(buf),
    )


def encode_compression_transform_header(original_size: int, algorithm: int, offset: int,
                                        flags: int = 0) -> bytes:
    """16-byte header; for tests and the lab only (smbguard never sends compressed traffic)."""
    return COMPRESSION_PROTOCOL_ID + pack("<IHHI", original_size, algorithm, flags, offset)



# --------------------------------------------------------------------------- CREATE / WRITE / SET_INFO
# Read-only decoders used by passive capture analysis (smbguard.logs.capture) to see file
# creation, writes, renames and deletions; smbguard itself never sends these requests.

FILE_DELETE_ON_CLOSE = 0x00001000  # CreateOptions ([MS-SMB2] 2.2.13)
SMB2_0_INFO_FILE = 0x01  # SET_INFO InfoType ([MS-SMB2] 2.2.39)
FILE_RENAME_INFORMATION = 10  # FileInfoClass ([MS-FSCC] 2.4.37)
FILE_DISPOSITION_INFORMATION = 13  # [MS-FSCC] 2.4.11
FILE_DISPOSITION_INFORMATION_EX = 64  # [MS-FSCC] 2.4.12


class CreateDisposition(enum.IntEnum):
    """[MS-SMB2] 2.2.13 CreateDisposition."""

    SUPERSEDE = 0
    OPEN = 1
    CREATE = 2
    OPEN_IF = 3
    OVERWRITE = 4
    OVERWRITE_IF = 5


@dataclass(frozen=True, slots=True)
class CreateRequest:
    """[MS-SMB2] 2.2.13 SMB2 CREATE Request: the fields passive analysis reads."""

    name: str
    desired_access: int
    file_attributes: int
    share_access: int
    create_disposition: int
    create_options: int

    @property
    def delete_on_close(self) -> bool:
        return bool(self.create_options & FILE_DELETE_ON_CLOSE)


def decode_create_request(buf: bytes) -> CreateRequest:
    off = _body(buf, 57, "CREATE request")
    name = _buffer(buf, u16(buf, off + 44), u16(buf, off + 46), "CREATE request")
    return CreateRequest(
        name=utf16(name, "file name"),
        desired_access=u32(buf, off + 24),
        file_attributes=u32(buf, off + 28),
        share_access=u32(buf, off + 32),
        create_disposition=u32(buf, off + 36),
        create_options=u32(buf, off + 40),
    )


@dataclass(frozen=True, slots=True)
class CreateResponse:
    """[MS-SMB2] 2.2.14 SMB2 CREATE Response; an ERROR body gives ``status`` only.
    ``file_id`` is the 16-byte SMB2_FILEID (persistent + volatile)."""

    status: int
    file_id: bytes = b""
    create_action: int = 0


def decode_create_response(buf: bytes) -> CreateResponse:
    header = decode_header(buf)
    size = u16(buf, HEADER_SIZE)
    if size == 9 and header.status != 0:
        return CreateResponse(status=header.status)
    if size != 89:
        raise DecodeError(f"CREATE response: StructureSize {size}, expected 89")
    return CreateResponse(
        status=header.status,
        file_id=take(buf, HEADER_SIZE + 64, 16),
        create_action=u32(buf, HEADER_SIZE + 4),
    )


@dataclass(frozen=True, slots=True)
class WriteRequest:
    """[MS-SMB2] 2.2.21 SMB2 WRITE Request header fields (the data itself is not kept)."""

    file_id: bytes
    length: int
    offset: int


def decode_write_request(buf: bytes) -> WriteRequest:
    """Only the fixed part is read, so a message cut after its first bytes still decodes."""
    off = _body(buf, 49, "WRITE request")
    return WriteRequest(file_id=take(buf, off + 16, 16), length=u32(buf, off + 4), offset=u64(buf, off + 8))


@dataclass(frozen=True, slots=True)
class SetInfoRequest:
    """[MS-SMB2] 2.2.39 SMB2 SET_INFO Request."""

    info_type: int
    file_info_class: int
    file_id: bytes
    buffer: bytes

    @property
    def rename_target(self) -> str | None:
        """New name of a FileRenameInformation request ([MS-FSCC] 2.4.37.2), else None."""
        if self.info_type != SMB2_0_INFO_FILE or self.file_info_class != FILE_RENAME_INFORMATION:
            return None
        length = u32(self.buffer, 16)
        return utf16(take(self.buffer, 20, length), "rename target")

    @property
    def deletes(self) -> bool:
        """FileDispositionInformation(Ex) asking for deletion."""
        if self.info_type != SMB2_0_INFO_FILE or not self.buffer:
            return False
        if self.file_info_class == FILE_DISPOSITION_INFORMATION:
            return bool(self.buffer[0])
        if self.file_info_class == FILE_DISPOSITION_INFORMATION_EX:
            return bool(u32(self.buffer, 0) & 0x1)  # FILE_DISPOSITION_DELETE
        return False


def decode_set_info_request(buf: bytes) -> SetInfoRequest:
    off = _body(buf, 33, "SET_INFO request")
    data = _buffer(buf, u16(buf, off + 8), u32(buf, off + 4), "SET_INFO request")
    return SetInfoRequest(
        info_type=take(buf, off + 2, 1)[0],
        file_info_class=take(buf, off + 3, 1)[0],
        file_id=take(buf, off + 16, 16),
        buffer=data,
    )
