"""SMB1 / CIFS messages ([MS-CIFS], with the [MS-SMB] extensions), both directions.

Only what a safe scanner and the lab emulator need: the 32-byte header
([MS-CIFS] 2.2.3.1), NEGOTIATE (2.2.4.52; NT LM 0.12 form with or without
extended security [MS-SMB] 2.2.4.5.2, the LANMAN2.1 form, and the 0xFFFF
"no dialect" reply), SESSION_SETUP_ANDX (2.2.4.53 non-extended; [MS-SMB]
2.2.4.6 extended security), TREE_CONNECT_ANDX (2.2.4.55; [MS-SMB] 2.2.4.7),
TRANSACTION (2.2.4.33: PeekNamedPipe on FID 0 is the MS17-010 check),
TRANSACTION2 (2.2.4.46: SESSION_SETUP subcommand 0x000E is the DoublePulsar
ping) and LOGOFF_ANDX (2.2.4.54).

A message is header + WordCount + Words + ByteCount + Bytes ([MS-CIFS] 2.2.3).
Unicode strings are aligned on 2 bytes from the start of the header; every
string read is bounded by ByteCount.
"""

from __future__ import annotations

import dataclasses
import enum
from dataclasses import dataclass
from datetime import UTC, datetime

from smbguard.errors import DecodeError
from smbguard.proto._buf import (
    datetime_to_filetime,
    filetime_to_datetime,
    guid_from_bytes,
    guid_to_bytes,
    oem,
    pack,
    take,
    u16,
    u32,
    u64,
    utf16_lenient,
)
from smbguard.proto.ntstatus import dos_error_to_status

PROTOCOL_ID = b"\xffSMB"
HEADER_SIZE = 32
NT_LM_0_12 = "NT LM 0.12"
SMB_2_002 = "SMB 2.002"
SMB_2_WILDCARD = "SMB 2.???"
LANMAN_2_1 = "LANMAN2.1"
NO_DIALECT = 0xFFFF
#: PeekNamedPipe transaction subcommand ([MS-CIFS] 2.2.5.2).
TRANS_PEEK_NMPIPE = 0x0023
#: TRANS2_SESSION_SETUP subcommand ([MS-CIFS] 2.2.6.16) used by the DoublePulsar ping.
TRANS2_SESSION_SETUP = 0x000E
_MORE_PROCESSING_REQUIRED = 0xC0000016
MAX_STRING = 1024  # characters; longer strings are cut (hostile servers)


class Command(enum.IntEnum):
    """[MS-CIFS] 2.2.2.1 SMB_COM codes used by smbguard."""

    CLOSE = 0x04
    TRANSACTION = 0x25
    TRANSACTION_SECONDARY = 0x26
    ECHO = 0x2B
    READ_ANDX = 0x2E
    WRITE_ANDX = 0x2F
    TRANSACTION2 = 0x32
    TRANSACTION2_SECONDARY = 0x33
    TREE_DISCONNECT = 0x71
    NEGOTIATE = 0x72
    SESSION_SETUP_ANDX = 0x73
    LOGOFF_ANDX = 0x74
    TREE_CONNECT_ANDX = 0x75
    NT_TRANSACT = 0xA0
    NT_TRANSACT_SECONDARY = 0xA1
    NT_CREATE_ANDX = 0xA2
    NO_ANDX_COMMAND = 0xFF


class Flags(enum.IntFlag):
    """[MS-CIFS] 2.2.3.1 Flags."""

    LOCK_AND_READ_OK = 0x01
    BUF_AVAIL = 0x02
    CASE_INSENSITIVE = 0x08
    CANONICALIZED_PATHS = 0x10
    OPLOCK = 0x20
    OPBATCH = 0x40
    REPLY = 0x80


class Flags2(enum.IntFlag):
    """[MS-CIFS] 2.2.3.1 / [MS-SMB] 2.2.3.1 Flags2."""

    LONG_NAMES = 0x0001
    EAS = 0x0002
    SMB_SECURITY_SIGNATURE = 0x0004
    COMPRESSED = 0x0008
    SMB_SECURITY_SIGNATURE_REQUIRED = 0x0010
    IS_LONG_NAME = 0x0040
    REPARSE_PATH = 0x0400
    EXTENDED_SECURITY = 0x0800
    DFS = 0x1000
    PAGING_IO = 0x2000
    NT_STATUS = 0x4000
    UNICODE = 0x8000


class Capabilities(enum.IntFlag):
    """[MS-CIFS] 2.2.4.52.2 / [MS-SMB] 2.2.4.5.2 Capabilities."""

    RAW_MODE = 0x00000001
    MPX_MODE = 0x00000002
    UNICODE = 0x00000004
    LARGE_FILES = 0x00000008
    NT_SMBS = 0x00000010
    RPC_REMOTE_APIS = 0x00000020
    STATUS32 = 0x00000040
    LEVEL_II_OPLOCKS = 0x00000080
    LOCK_AND_READ = 0x00000100
    NT_FIND = 0x00000200
    DFS = 0x00001000
    INFOLEVEL_PASSTHRU = 0x00002000
    LARGE_READX = 0x00004000
    LARGE_WRITEX = 0x00008000
    LWIO = 0x00010000
    UNIX = 0x00800000
    COMPRESSED_DATA = 0x02000000
    DYNAMIC_REAUTH = 0x20000000
    PERSISTENT_HANDLES = 0x40000000
    EXTENDED_SECURITY = 0x80000000


class SecurityMode(enum.IntFlag):
    """[MS-CIFS] 2.2.4.52.2 SecurityMode."""

    USER_SECURITY = 0x01
    ENCRYPT_PASSWORDS = 0x02
    SECURITY_SIGNATURES_ENABLED = 0x04
    SECURITY_SIGNATURES_REQUIRED = 0x08


class Action(enum.IntFlag):
    """[MS-CIFS] 2.2.4.53.2 Action."""

    GUEST = 0x0001
    USE_LANMAN_KEY = 0x0002


#: What smbguard's client announces (mirrors a Windows 7 client, minus signing).
CLIENT_FLAGS2 = Flags2.LONG_NAMES | Flags2.EAS | Flags2.IS_LONG_NAME | Flags2.NT_STATUS | Flags2.UNICODE
CLIENT_CAPABILITIES = (
    Capabilities.UNICODE | Capabilities.LARGE_FILES | Capabilities.NT_SMBS | Capabilities.STATUS32
    | Capabilities.LEVEL_II_OPLOCKS | Capabilities.NT_FIND
)


# ----------------------------------------------------------------------------- header / message


@dataclass(frozen=True, slots=True)
class Header:
    """[MS-CIFS] 2.2.3.1 SMB header. ``status`` is the raw 32-bit field: an NTSTATUS
    when FLAGS2_NT_STATUS is set, else ErrorClass | Reserved<<8 | ErrorCode<<16."""

    command: int
    status: int = 0
    flags: int = Flags.CASE_INSENSITIVE | Flags.CANONICALIZED_PATHS
    flags2: int = CLIENT_FLAGS2
    pid_high: int = 0
    signature: bytes = bytes(8)
    tid: int = 0
    pid: int = 0xFEFF
    uid: int = 0
    mid: int = 0

    @property
    def is_reply(self) -> bool:
        return bool(self.flags & Flags.REPLY)

    @property
    def unicode(self) -> bool:
        return bool(self.flags2 & Flags2.UNICODE)

    @property
    def nt_status(self) -> int:
        """The status as an NTSTATUS, mapping DOS errors when FLAGS2_NT_STATUS is clear."""
        if self.flags2 & Flags2.NT_STATUS:
            return self.status
        return dos_error_to_status(self.status & 0xFF, self.status >> 16)


def encode_header(header: Header) -> bytes:
    if len(header.signature) != 8:
        raise ValueError("SMB1 security signature must be 8 bytes")
    return (
        PROTOCOL_ID
        + pack("<BIBHH", header.command, header.status, header.flags, header.flags2, header.pid_high)
        + header.signature
        + pack("<HHHHH", 0, header.tid, header.pid, header.uid, header.mid)
    )


def decode_header(buf: bytes) -> Header:
    if len(buf) < HEADER_SIZE:
        raise DecodeError(f"SMB1 header needs 32 bytes, have {len(buf)}")
    if buf[:4] != PROTOCOL_ID:
        raise DecodeError(f"not an SMB1 message (protocol id {bytes(buf[:4]).hex()})")
    return Header(
        command=buf[4],
        status=u32(buf, 5),
        flags=buf[9],
        flags2=u16(buf, 10),
        pid_high=u16(buf, 12),
        signature=take(buf, 14, 8),
        tid=u16(buf, 24),
        pid=u16(buf, 26),
        uid=u16(buf, 28),
        mid=u16(buf, 30),
    )


def is_smb1(buf: bytes) -> bool:
    return buf[:4] == PROTOCOL_ID


@dataclass(frozen=True, slots=True)
class Message:
    """One SMB1 message split into header, parameter words and data bytes.

    ``data_offset`` is where ``data`` starts, counted from the header (needed to
    align Unicode strings)."""

    header: Header
    words: bytes
    data: bytes
    data_offset: int

    @property
    def word_count(self) -> int:
        return len(self.words) // 2

    def word(self, index: int) -> int:
        return u16(self.words, 2 * index)


def decode_message(buf: bytes) -> Message:
    """Split a message ([MS-CIFS] 2.2.3.2, 2.2.3.3). A ByteCount larger than what
    arrived raises DecodeError; trailing bytes (AndX chains) are ignored."""
    header = decode_header(buf)
    wc = take(buf, HEADER_SIZE, 1)[0]
    words = take(buf, HEADER_SIZE + 1, 2 * wc)
    bc_off = HEADER_SIZE + 1 + 2 * wc
    if len(buf) < bc_off + 2:
        # Some servers omit ByteCount on errors with WordCount 0: treat as empty.
        if wc == 0 and len(buf) == bc_off:
            return Message(header, b"", b"", bc_off)
        raise DecodeError("SMB1 message truncated before ByteCount")
    bc = u16(buf, bc_off)
    data = take(buf, bc_off + 2, bc)
    return Message(header, words, data, bc_off + 2)


def encode_message(header: Header, words: bytes = b"", data: bytes = b"") -> bytes:
    if len(words) % 2 or len(words) > 510:
        raise ValueError("SMB1 parameter words must be an even number of bytes, at most 255 words")
    if len(data) > 0xFFFF:
        raise ValueError("SMB1 data block too long")
    return encode_header(header) + bytes([len(words) // 2]) + words + pack("<H", len(data)) + data


def _reply_header(header: Header) -> Header:
    return dataclasses.replace(header, flags=header.flags | Flags.REPLY)


def encode_error(header: Header, status: int) -> bytes:
    """An error reply: the request header with REPLY set, ``status``, WordCount 0, ByteCount 0."""
    return encode_message(dataclasses.replace(_reply_header(header), status=status))


# ----------------------------------------------------------------------------- strings


def read_string(msg_data: bytes, pos: int, unicode: bool, data_offset: int) -> tuple[str, int]:
    """Null-terminated string at ``pos`` in a data block. Unicode strings are first
    aligned to an even offset from the header. A missing terminator ends the string
    at the end of the block. Returns (text, position after the terminator)."""
    if pos > len(msg_data):
        raise DecodeError("SMB1 string offset past ByteCount")
    if unicode:
        if (data_offset + pos) % 2:
            pos += 1
        end = pos
        while end + 1 < len(msg_data) and (msg_data[end] or msg_data[end + 1]):
            end += 2
        if end + 1 >= len(msg_data):  # unterminated
            text = utf16_lenient(msg_data[pos:])
            return text[:MAX_STRING], len(msg_data)
        return utf16_lenient(msg_data[pos:end])[:MAX_STRING], end + 2
    end = msg_data.find(b"\x00", pos)
    if end < 0:
        return oem(msg_data[pos:])[:MAX_STRING], len(msg_data)
    return oem(msg_data[pos:end])[:MAX_STRING], end + 1


def encode_string(text: str, unicode: bool, offset: int) -> bytes:
    """Null-terminated string placed at header offset ``offset`` (pad byte first when
    a Unicode string would start odd)."""
    if unicode:
        return (b"\x00" if offset % 2 else b"") + text.encode("utf-16-le") + b"\x00\x00"
    return text.encode("latin-1", errors="replace") + b"\x00"


def _strings(texts: list[str], unicode: bool, offset: int) -> bytes:
    out = bytearray()
    for text in texts:
        out += encode_string(text, unicode, offset + len(out))
    return bytes(out)


def _data_offset(word_count: int) -> int:
    return HEADER_SIZE + 1 + 2 * word_count + 2


# ----------------------------------------------------------------------------- NEGOTIATE


@dataclass(frozen=True, slots=True)
class NegotiateRequest:
    """[MS-CIFS] 2.2.4.52.1: the dialect strings, in order."""

    dialects: tuple[str, ...]
    header: Header | None = None


def encode_negotiate_request(dialects: tuple[str, ...] = (NT_LM_0_12,), header: Header | None = None,
                             extended_security: bool = False) -> bytes:
    """NEGOTIATE offering ``dialects``. Use ``(NT_LM_0_12, SMB_2_002, SMB_2_WILDCARD)``
    for a multi-protocol negotiate."""
    flags2 = CLIENT_FLAGS2 | (Flags2.EXTENDED_SECURITY if extended_security else 0)
    hdr = header if header is not None else Header(command=Command.NEGOTIATE, flags2=int(flags2))
    hdr = dataclasses.replace(hdr, command=Command.NEGOTIATE)
    data = b"".join(b"\x02" + d.encode("ascii") + b"\x00" for d in dialects)
    return encode_message(hdr, b"", data)


def decode_negotiate_request(buf: bytes) -> NegotiateRequest:
    msg = decode_message(buf)
    if msg.header.command != Command.NEGOTIATE:
        raise DecodeError("not an SMB1 NEGOTIATE")
    dialects: list[str] = []
    pos = 0
    data = msg.data
    while pos < len(data):
        if data[pos] != 0x02:
            raise DecodeError(f"NEGOTIATE dialect buffer format 0x{data[pos]:02x}")
        end = data.find(b"\x00", pos + 1)
        if end < 0:
            raise DecodeError("unterminated dialect string")
        dialects.append(oem(data[pos + 1 : end]))
        pos = end + 1
        if len(dialects) > 64:
            raise DecodeError("too many dialects")
    return NegotiateRequest(tuple(dialects), msg.header)


@dataclass(frozen=True, slots=True)
class NegotiateResponse:
    """SMB1 NEGOTIATE response.

    ``form`` is "nt" (WordCount 17, [MS-CIFS] 2.2.4.52.2 / [MS-SMB] 2.2.4.5.2),
    "lanman" (WordCount 13) or "none" (DialectIndex 0xFFFF: no dialect accepted).
    ``extended_security`` means ServerGUID + SecurityBlob instead of the
    challenge/domain/server-name form. ``status`` is the header NTSTATUS."""

    dialect_index: int
    form: str = "nt"
    security_mode: int = 0
    max_mpx_count: int = 0
    max_number_vcs: int = 0
    max_buffer_size: int = 0
    max_raw_size: int = 0
    session_key: int = 0
    capabilities: int = 0
    system_time: datetime | None = None
    server_time_zone: int = 0
    challenge: bytes = b""
    domain_name: str | None = None
    server_name: str | None = None
    server_guid: str | None = None
    security_blob: bytes = b""
    extended_security: bool = False
    status: int = 0

    @property
    def accepted(self) -> bool:
        return self.dialect_index != NO_DIALECT and self.form != "none"

    @property
    def signing_enabled(self) -> bool:
        return bool(self.security_mode & SecurityMode.SECURITY_SIGNATURES_ENABLED)

    @property
    def signing_required(self) -> bool:
        return bool(self.security_mode & SecurityMode.SECURITY_SIGNATURES_REQUIRED)


def _smb_date_time(date: int, time: int) -> datetime | None:
    """[MS-CIFS] 2.2.1.4.1 SMB_DATE / SMB_TIME (local time of the server; no zone)."""
    try:
        return datetime(
            1980 + (date >> 9), (date >> 5) & 0x0F, date & 0x1F,
            time >> 11, (time >> 5) & 0x3F, (time & 0x1F) * 2, tzinfo=UTC,
        )
    except ValueError:
        return None


def decode_negotiate_response(buf: bytes) -> NegotiateResponse:
    """Decode any of the three NEGOTIATE response forms (see :class:`NegotiateResponse`)."""
    msg = decode_message(buf)
    hdr = msg.header
    if hdr.command != Command.NEGOTIATE:
        raise DecodeError(f"SMB1 command 0x{hdr.command:02x} is not NEGOTIATE")
    status = hdr.nt_status
    if msg.word_count == 0:
        return NegotiateResponse(dialect_index=NO_DIALECT, form="none", status=status)
    index = msg.word(0)
    if index == NO_DIALECT or msg.word_count == 1:
        return NegotiateResponse(dialect_index=index, form="none", status=status)
    w = msg.words
    if msg.word_count == 13:
        key_len = u16(w, 22)
        key = take(msg.data, 0, key_len) if key_len <= len(msg.data) else b""
        lm_domain, _ = read_string(msg.data, len(key), False, msg.data_offset)
        return NegotiateResponse(
            dialect_index=index,
            form="lanman",
            security_mode=u16(w, 2),
            max_buffer_size=u16(w, 4),
            max_mpx_count=u16(w, 6),
            max_number_vcs=u16(w, 8),
            session_key=u32(w, 12),
            system_time=_smb_date_time(u16(w, 18), u16(w, 16)),
            server_time_zone=int.from_bytes(w[20:22], "little", signed=True),
            challenge=key,
            domain_name=lm_domain,
            status=status,
        )
    if msg.word_count != 17:
        raise DecodeError(f"SMB1 NEGOTIATE response WordCount {msg.word_count}")
    capabilities = u32(w, 19)
    challenge_len = w[33]
    common = NegotiateResponse(
        dialect_index=index,
        form="nt",
        security_mode=w[2],
        max_mpx_count=u16(w, 3),
        max_number_vcs=u16(w, 5),
        max_buffer_size=u32(w, 7),
        max_raw_size=u32(w, 11),
        session_key=u32(w, 15),
        capabilities=capabilities,
        system_time=filetime_to_datetime(u64(w, 23)),
        server_time_zone=int.from_bytes(w[31:33], "little", signed=True),
        status=status,
    )
    if capabilities & Capabilities.EXTENDED_SECURITY:
        guid = guid_from_bytes(take(msg.data, 0, 16))
        return dataclasses.replace(
            common, server_guid=guid, security_blob=bytes(msg.data[16:]), extended_security=True
        )
    challenge = take(msg.data, 0, challenge_len)
    unicode = hdr.unicode
    # [MS-CIFS] 2.2.4.52.2: strings follow the challenge with no alignment padding.
    domain: str | None = None
    server: str | None = None
    if len(msg.data) > challenge_len:
        domain, pos = _read_unaligned(msg.data, challenge_len, unicode)
        if pos < len(msg.data):
            server, _ = _read_unaligned(msg.data, pos, unicode)
    return dataclasses.replace(common, challenge=challenge, domain_name=domain, server_name=server)


def _read_unaligned(data: bytes, pos: int, unicode: bool) -> tuple[str, int]:
    # Align relative to ``pos`` itself (offset parity 0), i.e. no padding.
    return read_string(data, pos, unicode, -pos % 2 if unicode else 0)


def encode_negotiate_response(response: NegotiateResponse, header: Header | None = None) -> bytes:
    """Server direction: all three forms."""
    base = header if header is not None else Header(command=Command.NEGOTIATE)
    flags2 = base.flags2
    if response.form == "nt" and response.extended_security:
        flags2 |= Flags2.EXTENDED_SECURITY
    hdr = dataclasses.replace(_reply_header(base), command=Command.NEGOTIATE, status=response.status,
                              flags2=flags2)
    if response.form == "none":
        return encode_message(hdr, pack("<H", NO_DIALECT))
    if response.form == "lanman":
        stamp = response.system_time or datetime(1980, 1, 1, tzinfo=UTC)
        smb_time = (stamp.hour << 11) | (stamp.minute << 5) | (stamp.second // 2)
        smb_date = ((stamp.year - 1980) << 9) | (stamp.month << 5) | stamp.day
        words = pack(
            "<HHHHHHIHHhHH", response.dialect_index, response.security_mode, response.max_buffer_size,
            response.max_mpx_count, response.max_number_vcs, 0, response.session_key, smb_time, smb_date,
            response.server_time_zone, len(response.challenge), 0,
        )
        data = response.challenge + (response.domain_name or "").encode("latin-1", errors="replace") + b"\x00"
        return encode_message(hdr, words, data)
    capabilities = response.capabilities
    if response.extended_security:
        capabilities |= Capabilities.EXTENDED_SECURITY
    else:
        capabilities &= ~Capabilities.EXTENDED_SECURITY
    words = pack(
        "<HBHHIIIIQhB", response.dialect_index, response.security_mode, response.max_mpx_count,
        response.max_number_vcs, response.max_buffer_size, response.max_raw_size, response.session_key,
        capabilities, datetime_to_filetime(response.system_time), response.server_time_zone,
        0 if response.extended_security else len(response.challenge),
    )
    if response.extended_security:
        guid = response.server_guid or "00000000-0000-0000-0000-000000000000"
        data = guid_to_bytes(guid) + response.security_blob
    else:
        unicode = bool(hdr.flags2 & Flags2.UNICODE)
        data = response.challenge
        for text in (response.domain_name or "", response.server_name or ""):
            data += text.encode("utf-16-le") + b"\x00\x00" if unicode else text.encode("latin-1") + b"\x00"
    return encode_message(hdr, words, data)


# ----------------------------------------------------------------------------- SESSION_SETUP_ANDX


@dataclass(frozen=True, slots=True)
class SessionSetupRequest:
    """SESSION_SETUP_ANDX request: non-extended ([MS-CIFS] 2.2.4.53.1, WordCount 13:
    passwords + account/domain) or extended ([MS-SMB] 2.2.4.6.1, WordCount 12:
    ``security_blob``)."""

    extended: bool = False
    max_buffer_size: int = 16644
    max_mpx_count: int = 50
    vc_number: int = 0
    session_key: int = 0
    capabilities: int = CLIENT_CAPABILITIES
    oem_password: bytes = b""
    unicode_password: bytes = b""
    account: str = ""
    primary_domain: str = ""
    native_os: str = ""
    native_lan_man: str = ""
    security_blob: bytes = b""


def encode_session_setup_request(request: SessionSetupRequest, header: Header | None = None) -> bytes:
    base = header if header is not None else Header(command=Command.SESSION_SETUP_ANDX)
    flags2 = base.flags2 & ~Flags2.EXTENDED_SECURITY
    if request.extended:
        flags2 |= Flags2.EXTENDED_SECURITY
    hdr = dataclasses.replace(base, command=Command.SESSION_SETUP_ANDX, flags2=int(flags2))
    unicode = hdr.unicode
    andx = pack("<BBH", Command.NO_ANDX_COMMAND, 0, 0)
    if request.extended:
        caps = request.capabilities | Capabilities.EXTENDED_SECURITY
        words = andx + pack("<HHHIHII", request.max_buffer_size, request.max_mpx_count, request.vc_number,
                            request.session_key, len(request.security_blob), 0, caps)
        start = _data_offset(12) + len(request.security_blob)
        data = request.security_blob + _strings([request.native_os, request.native_lan_man], unicode, start)
        return encode_message(hdr, words, data)
    words = andx + pack("<HHHIHHII", request.max_buffer_size, request.max_mpx_count, request.vc_number,
                        request.session_key, len(request.oem_password), len(request.unicode_password), 0,
                        request.capabilities & ~Capabilities.EXTENDED_SECURITY)
    head = request.oem_password + request.unicode_password
    start = _data_offset(13) + len(head)
    texts = [request.account, request.primary_domain, request.native_os, request.native_lan_man]
    return encode_message(hdr, words, head + _strings(texts, unicode, start))


def decode_session_setup_request(buf: bytes) -> SessionSetupRequest:
    msg = decode_message(buf)
    if msg.header.command != Command.SESSION_SETUP_ANDX:
        raise DecodeError("not an SMB1 SESSION_SETUP_ANDX")
    w, unicode = msg.words, msg.header.unicode
    if msg.word_count == 12:
        blob_len = u16(w, 14)
        blob = take(msg.data, 0, blob_len)
        native_os, pos = read_string(msg.data, blob_len, unicode, msg.data_offset)
        lanman, _ = read_string(msg.data, pos, unicode, msg.data_offset)
        return SessionSetupRequest(
            extended=True, max_buffer_size=u16(w, 4), max_mpx_count=u16(w, 6), vc_number=u16(w, 8),
            session_key=u32(w, 10), capabilities=u32(w, 20), security_blob=blob, native_os=native_os,
            native_lan_man=lanman,
        )
    if msg.word_count not in (10, 13):
        raise DecodeError(f"SESSION_SETUP_ANDX request WordCount {msg.word_count}")
    oem_len, uni_len = u16(w, 14), u16(w, 16) if msg.word_count == 13 else 0
    caps = u32(w, 22) if msg.word_count == 13 else 0
    oem_pw = take(msg.data, 0, oem_len)
    uni_pw = take(msg.data, oem_len, uni_len)
    pos = oem_len + uni_len
    texts: list[str] = []
    for _ in range(4):
        if pos >= len(msg.data):
            texts.append("")
            continue
        text, pos = read_string(msg.data, pos, unicode, msg.data_offset)
        texts.append(text)
    return SessionSetupRequest(
        extended=False, max_buffer_size=u16(w, 4), max_mpx_count=u16(w, 6), vc_number=u16(w, 8),
        session_key=u32(w, 10), capabilities=caps, oem_password=oem_pw, unicode_password=uni_pw,
        account=texts[0], primary_domain=texts[1], native_os=texts[2], native_lan_man=texts[3],
    )


@dataclass(frozen=True, slots=True)
class SessionSetupResponse:
    """SESSION_SETUP_ANDX response ([MS-CIFS] 2.2.4.53.2 WordCount 3; [MS-SMB]
    2.2.4.6.2 WordCount 4 with a security blob). ``action`` bit 0 = logged on as guest.
    An error reply (WordCount 0) has only ``status`` and ``uid``."""

    status: int
    uid: int = 0
    action: int = 0
    security_blob: bytes = b""
    native_os: str | None = None
    native_lan_man: str | None = None
    primary_domain: str | None = None
    extended: bool = False

    @property
    def is_guest(self) -> bool:
        return bool(self.action & Action.GUEST)


def decode_session_setup_response(buf: bytes) -> SessionSetupResponse:
    msg = decode_message(buf)
    hdr = msg.header
    if hdr.command != Command.SESSION_SETUP_ANDX:
        raise DecodeError(f"SMB1 command 0x{hdr.command:02x} is not SESSION_SETUP_ANDX")
    status = hdr.nt_status
    if msg.word_count == 0:
        return SessionSetupResponse(status=status, uid=hdr.uid)
    if msg.word_count not in (3, 4):
        raise DecodeError(f"SESSION_SETUP_ANDX response WordCount {msg.word_count}")
    action = msg.word(2)
    unicode = hdr.unicode
    pos = 0
    blob = b""
    if msg.word_count == 4:
        blob_len = msg.word(3)
        blob = take(msg.data, 0, blob_len)
        pos = blob_len
    texts: list[str | None] = []
    for _ in range(2 if msg.word_count == 4 else 3):
        if pos >= len(msg.data):
            texts.append(None)
            continue
        text, pos = read_string(msg.data, pos, unicode, msg.data_offset)
        texts.append(text)
    return SessionSetupResponse(
        status=status, uid=hdr.uid, action=action, security_blob=blob, native_os=texts[0],
        native_lan_man=texts[1], primary_domain=texts[2] if len(texts) > 2 else None,
        extended=msg.word_count == 4,
    )


def encode_session_setup_response(response: SessionSetupResponse, header: Header | None = None) -> bytes:
    base = header if header is not None else Header(command=Command.SESSION_SETUP_ANDX)
    hdr = dataclasses.replace(_reply_header(base), command=Command.SESSION_SETUP_ANDX,
                              status=response.status, uid=response.uid)
    if (response.status >> 30) == 3 and response.status != _MORE_PROCESSING_REQUIRED:
        return encode_message(hdr)
    unicode = hdr.unicode
    andx = pack("<BBH", Command.NO_ANDX_COMMAND, 0, 0)
    if response.extended:
        words = andx + pack("<HH", response.action, len(response.security_blob))
        start = _data_offset(4) + len(response.security_blob)
        texts = [response.native_os or "", response.native_lan_man or ""]
        return encode_message(hdr, words, response.security_blob + _strings(texts, unicode, start))
    words = andx + pack("<H", response.action)
    texts = [response.native_os or "", response.native_lan_man or "", response.primary_domain or ""]
    return encode_message(hdr, words, _strings(texts, unicode, _data_offset(3)))


# ----------------------------------------------------------------------------- TREE_CONNECT_ANDX


@dataclass(frozen=True, slots=True)
class TreeConnectRequest:
    """[MS-CIFS] 2.2.4.55.1: ``path`` like ``\\\\server\\IPC$``; service "?????" = any."""

    path: str
    service: str = "?????"
    password: bytes = b"\x00"
    flags: int = 0


def encode_tree_connect_request(request: TreeConnectRequest, header: Header | None = None) -> bytes:
    base = header if header is not None else Header(command=Command.TREE_CONNECT_ANDX)
    hdr = dataclasses.replace(base, command=Command.TREE_CONNECT_ANDX)
    words = pack("<BBHHH", Command.NO_ANDX_COMMAND, 0, 0, request.flags, len(request.password))
    start = _data_offset(4) + len(request.password)
    data = request.password + encode_string(request.path, hdr.unicode, start)
    data += request.service.encode("ascii") + b"\x00"
    return encode_message(hdr, words, data)


def decode_tree_connect_request(buf: bytes) -> TreeConnectRequest:
    msg = decode_message(buf)
    if msg.header.command != Command.TREE_CONNECT_ANDX or msg.word_count != 4:
        raise DecodeError("not an SMB1 TREE_CONNECT_ANDX request")
    pw_len = msg.word(3)
    password = take(msg.data, 0, pw_len)
    path, pos = read_string(msg.data, pw_len, msg.header.unicode, msg.data_offset)
    service, _ = read_string(msg.data, pos, False, msg.data_offset)
    return TreeConnectRequest(path=path, service=service, password=password, flags=msg.word(2))


@dataclass(frozen=True, slots=True)
class TreeConnectResponse:
    """[MS-CIFS] 2.2.4.55.2 / [MS-SMB] 2.2.4.7.2 (WordCount 7 adds access masks)."""

    status: int
    tid: int = 0
    optional_support: int = 0
    maximal_access: int | None = None
    guest_maximal_access: int | None = None
    service: str | None = None
    native_file_system: str | None = None


def decode_tree_connect_response(buf: bytes) -> TreeConnectResponse:
    msg = decode_message(buf)
    hdr = msg.header
    if hdr.command != Command.TREE_CONNECT_ANDX:
        raise DecodeError(f"SMB1 command 0x{hdr.command:02x} is not TREE_CONNECT_ANDX")
    if msg.word_count == 0:
        return TreeConnectResponse(status=hdr.nt_status, tid=hdr.tid)
    if msg.word_count not in (3, 7):
        raise DecodeError(f"TREE_CONNECT_ANDX response WordCount {msg.word_count}")
    service, pos = read_string(msg.data, 0, False, msg.data_offset)
    fs = None
    if pos < len(msg.data):
        fs, _ = read_string(msg.data, pos, hdr.unicode, msg.data_offset)
    return TreeConnectResponse(
        status=hdr.nt_status, tid=hdr.tid, optional_support=msg.word(2),
        maximal_access=u32(msg.words, 6) if msg.word_count == 7 else None,
        guest_maximal_access=u32(msg.words, 10) if msg.word_count == 7 else None,
        service=service, native_file_system=fs,
    )


def encode_tree_connect_response(response: TreeConnectResponse, header: Header | None = None) -> bytes:
    base = header if header is not None else Header(command=Command.TREE_CONNECT_ANDX)
    hdr = dataclasses.replace(_reply_header(base), command=Command.TREE_CONNECT_ANDX,
                              status=response.status, tid=response.tid)
    if (response.status >> 30) == 3:
        return encode_message(hdr)
    words = pack("<BBHH", Command.NO_ANDX_COMMAND, 0, 0, response.optional_support)
    wc = 3
    if response.maximal_access is not None:
        words += pack("<II", response.maximal_access, response.guest_maximal_access or 0)
        wc = 7
    data = (response.service or "IPC").encode("ascii") + b"\x00"
    data += encode_string(response.native_file_system or "", hdr.unicode, _data_offset(wc) + len(data))
    return encode_message(hdr, words, data)


# ----------------------------------------------------------------------------- TRANSACTION / TRANSACTION2


@dataclass(frozen=True, slots=True)
class TransactionRequest:
    """TRANSACTION ([MS-CIFS] 2.2.4.33.1) or TRANSACTION2 (2.2.4.46.1) request.

    ``name`` is the pipe/mailslot name (TRANSACTION only; "\\\\PIPE\\\\" for
    named-pipe transactions). ``setup`` words carry the subcommand (and FID)."""

    command: int = Command.TRANSACTION
    setup: tuple[int, ...] = ()
    name: str = ""
    parameters: bytes = b""
    data: bytes = b""
    max_parameter_count: int = 0xFFFF
    max_data_count: int = 0xFFFF
    max_setup_count: int = 0
    flags: int = 0
    timeout: int = 0
    total_parameter_count: int | None = None
    total_data_count: int | None = None


def encode_transaction_request(request: TransactionRequest, header: Header | None = None) -> bytes:
    """Single-fragment transaction: all parameters and data in this message."""
    if request.command not in (Command.TRANSACTION, Command.TRANSACTION2):
        raise ValueError("command must be TRANSACTION or TRANSACTION2")
    base = header if header is not None else Header(command=request.command)
    hdr = dataclasses.replace(base, command=request.command)
    wc = 14 + len(request.setup)
    start = _data_offset(wc)
    if request.command == Command.TRANSACTION:
        name = encode_string(request.name, hdr.unicode, start)
    else:
        name = b"\x00"  # TRANSACTION2 Name: a null string ([MS-CIFS] 2.2.4.46.1)
    pos = start + len(name)
    pad1 = bytes((4 - pos % 4) % 4) if request.parameters or request.data else b""
    param_off = pos + len(pad1)
    pos = param_off + len(request.parameters)
    pad2 = bytes((4 - pos % 4) % 4) if request.data else b""
    data_off = pos + len(pad2)
    total_p = request.total_parameter_count
    total_d = request.total_data_count
    words = pack(
        "<HHHHBBHIHHHHHBB",
        len(request.parameters) if total_p is None else total_p,
        len(request.data) if total_d is None else total_d,
        request.max_parameter_count, request.max_data_count, request.max_setup_count, 0, request.flags,
        request.timeout, 0, len(request.parameters), param_off, len(request.data), data_off,
        len(request.setup), 0,
    ) + b"".join(pack("<H", s) for s in request.setup)
    return encode_message(hdr, words, name + pad1 + request.parameters + pad2 + request.data)


def decode_transaction_request(buf: bytes) -> TransactionRequest:
    msg = decode_message(buf)
    cmd = msg.header.command
    if cmd not in (Command.TRANSACTION, Command.TRANSACTION2) or msg.word_count < 14:
        raise DecodeError("not an SMB1 TRANSACTION/TRANSACTION2 request")
    w = msg.words
    setup_count = w[26]
    if msg.word_count != 14 + setup_count:
        raise DecodeError("transaction SetupCount does not match WordCount")
    setup = tuple(u16(w, 28 + 2 * i) for i in range(setup_count))
    name = ""
    if cmd == Command.TRANSACTION:
        name, _ = read_string(msg.data, 0, msg.header.unicode, msg.data_offset)
    params = _slice_from_header(buf, u16(w, 20), u16(w, 18), msg)
    data = _slice_from_header(buf, u16(w, 24), u16(w, 22), msg)
    return TransactionRequest(
        command=cmd, setup=setup, name=name, parameters=params, data=data,
        max_parameter_count=u16(w, 4), max_data_count=u16(w, 6), max_setup_count=w[8], flags=u16(w, 10),
        timeout=u32(w, 12), total_parameter_count=u16(w, 0), total_data_count=u16(w, 2),
    )


def _slice_from_header(buf: bytes, offset: int, count: int, msg: Message) -> bytes:
    if count == 0:
        return b""
    if offset < msg.data_offset or offset + count > msg.data_offset + len(msg.data):
        raise DecodeError("transaction parameter/data outside the data block")
    return take(buf, offset, count)


@dataclass(frozen=True, slots=True)
class TransactionResponse:
    """TRANSACTION / TRANSACTION2 response ([MS-CIFS] 2.2.4.33.2, 2.2.4.46.2).
    Error replies (WordCount 0) carry only ``status`` and the header ``mid``;
    ``header`` is kept because the DoublePulsar check reads Multiplex ID / signature."""

    status: int
    header: Header
    setup: tuple[int, ...] = ()
    parameters: bytes = b""
    data: bytes = b""
    total_parameter_count: int = 0
    total_data_count: int = 0


def decode_transaction_response(buf: bytes) -> TransactionResponse:
    msg = decode_message(buf)
    hdr = msg.header
    if hdr.command not in (Command.TRANSACTION, Command.TRANSACTION2):
        raise DecodeError(f"SMB1 command 0x{hdr.command:02x} is not a transaction")
    if msg.word_count == 0:
        return TransactionResponse(status=hdr.nt_status, header=hdr)
    if msg.word_count < 10:
        raise DecodeError(f"transaction response WordCount {msg.word_count}")
    w = msg.words
    setup_count = w[18]
    if msg.word_count != 10 + setup_count:
        raise DecodeError("transaction response SetupCount does not match WordCount")
    return TransactionResponse(
        status=hdr.nt_status, header=hdr,
        setup=tuple(u16(w, 20 + 2 * i) for i in range(setup_count)),
        parameters=_slice_from_header(buf, u16(w, 8), u16(w, 6), msg),
        data=_slice_from_header(buf, u16(w, 14), u16(w, 12), msg),
        total_parameter_count=u16(w, 0), total_data_count=u16(w, 2),
    )


def encode_transaction_response(response: TransactionResponse) -> bytes:
    """Server direction; an error status gives an empty (WordCount 0) reply."""
    hdr = dataclasses.replace(_reply_header(response.header), status=response.status)
    if (response.status >> 30) == 3:
        return encode_message(hdr)
    wc = 10 + len(response.setup)
    start = _data_offset(wc)
    pad1 = bytes((4 - start % 4) % 4)
    param_off = start + len(pad1)
    pos = param_off + len(response.parameters)
    pad2 = bytes((4 - pos % 4) % 4) if response.data else b""
    data_off = pos + len(pad2)
    words = pack(
        "<HHHHHHHHHBB", len(response.parameters), len(response.data), 0, len(response.parameters),
        param_off, 0, len(response.data), data_off, 0, len(response.setup), 0,
    ) + b"".join(pack("<H", s) for s in response.setup)
    return encode_message(hdr, words, pad1 + response.parameters + pad2 + response.data)


def peek_named_pipe_request(header: Header) -> bytes:
    """TRANSACTION PeekNamedPipe on FID 0 over ``\\PIPE\\`` (the read-only MS17-010 check:
    unpatched hosts answer STATUS_INSUFF_SERVER_RESOURCES, patched ones
    STATUS_INVALID_HANDLE / ACCESS_DENIED)."""
    return encode_transaction_request(
        TransactionRequest(command=Command.TRANSACTION, setup=(TRANS_PEEK_NMPIPE, 0), name="\\PIPE\\",
                           max_parameter_count=0xFFFF, max_data_count=0xFFFF),
        header,
    )


def trans2_session_setup_request(header: Header, timeout: int = 0x0134EE00) -> bytes:
    """TRANSACTION2 SESSION_SETUP (subcommand 0x000E) with 12 zero parameter bytes:
    the read-only DoublePulsar ping. An implant answers STATUS_NOT_IMPLEMENTED with
    Multiplex ID = request MID + 0x10; a clean host echoes the MID."""
    return encode_transaction_request(
        TransactionRequest(command=Command.TRANSACTION2, setup=(TRANS2_SESSION_SETUP,), parameters=bytes(12),
                           max_parameter_count=1, max_data_count=0, timeout=timeout),
        header,
    )


# ----------------------------------------------------------------------------- LOGOFF_ANDX


def encode_logoff_request(header: Header) -> bytes:
    """LOGOFF_ANDX ([MS-CIFS] 2.2.4.54.1)."""
    hdr = dataclasses.replace(header, command=Command.LOGOFF_ANDX)
    return encode_message(hdr, pack("<BBH", Command.NO_ANDX_COMMAND, 0, 0))


def encode_logoff_response(header: Header, status: int = 0) -> bytes:
    hdr = dataclasses.replace(_reply_header(header), command=Command.LOGOFF_ANDX, status=status)
    if (status >> 30) == 3:
        return encode_message(hdr)
    return encode_message(hdr, pack("<BBH", Command.NO_ANDX_COMMAND, 0, 0))


def decode_logoff(buf: bytes) -> Header:
    """LOGOFF_ANDX request or response: only the header matters."""
    msg = decode_message(buf)
    if msg.header.command != Command.LOGOFF_ANDX:
        raise DecodeError("not an SMB1 LOGOFF_ANDX")
    return msg.header


# ----------------------------------------------------------------------------- NT_TRANSACT
NT_TRANSACT_RENAME = 0x0005  # reserved, not implemented by Windows ([MS-CIFS] 2.2.7)


def nt_transact_function(buf: bytes) -> int:
    """Function code of an NT_TRANSACT request ([MS-CIFS] 2.2.4.62.1: the 16-bit word after
    SetupCount, 36 bytes into the parameter words). Only the words are read, so a request
    whose data block was cut off still decodes. Used by passive capture analysis: the
    unimplemented NT_TRANSACT_RENAME is an EternalChampion marker."""
    header = decode_header(buf)
    if header.command != Command.NT_TRANSACT:
        raise DecodeError("not an SMB1 NT_TRANSACT")
    word_count = take(buf, HEADER_SIZE, 1)[0]
    if word_count < 19:
        raise DecodeError(f"NT_TRANSACT request WordCount {word_count} < 19")
    return u16(buf, HEADER_SIZE + 1 + 36)
