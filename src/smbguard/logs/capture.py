"""Passive SMB analysis of packet captures.

The capture is read once, streaming (:mod:`smbguard.logs.pcapfile`); TCP
connections to ports 445/139 are reassembled per direction and split into
NetBIOS session messages, which the scanner's own ``proto`` decoders read. What
servers say about themselves (dialect, SecurityMode, capabilities, negotiate
contexts, NTLM CHALLENGE version, native OS, guest/null session flags, answers
to MS17-010/DoublePulsar probes) becomes :class:`smbguard.model.HostFacts`, so
the scanner's checks run on passively observed servers. Client behaviour
(SMB1-only negotiation, logons, tree connects, exploit patterns) becomes
:class:`Event` objects for the log detectors.

A fact that the capture did not show stays ``None`` (unknown), never "safe".
"""

from __future__ import annotations

import ipaddress
import struct
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from smbguard.errors import DecodeError
from smbguard.logs import pcapfile
from smbguard.logs.events import Event, EventKind, SourceStats
from smbguard.logs.pcapfile import (
    FIN,
    HEAD_BYTES,
    RST,
    SYN,
    CaptureFormatError,
    Direction,
    Stamp,
    TcpSegment,
    ip_of_frame,
    packet_runs,
    read_packets,
    tcp_of_ip,
)
from smbguard.model import (
    HostFacts,
    JsonValue,
    NtlmInfo,
    PortState,
    SessionFacts,
    SigningFacts,
    Smb1Facts,
    Smb2Facts,
    Target,
    VulnProbeFacts,
)
from smbguard.proto import ntlmssp, smb1, smb2, spnego
from smbguard.proto._buf import filetime_to_datetime, guid_from_bytes, oem
from smbguard.proto.ntstatus import status_name

SMB_PORTS = frozenset({445, 139})
_NTLMSSP_SIGNATURE = b"NTLMSSP\x00"  # [MS-NLMP] 2.2.1
_TCP = struct.Struct(">HHI4xBB")  # source port, destination port, sequence number, data offset, flags
# [MS-SMB2] 2.2.1.2 SYNC header: Status (8), Command (12), Flags (16), MessageId (24), TreeId (36)
_SMB2_FIELDS = struct.Struct("<8xIH2xI4xQ4xI")
_SMB2_ASYNC = 0x00000002  # SMB2_FLAGS_ASYNC_COMMAND


def _smb2_fields(msg: bytes) -> tuple[int, int, int, int]:
    """(Command, Status, MessageId, TreeId) of an SMB2 header, without building a Header.

    Accepts exactly what :func:`smb2.decode_header` accepts; anything else goes to it,
    so a malformed header raises the same DecodeError. TreeId is 0 for an ASYNC header
    (its bytes 32..40 are the AsyncId), as in ``decode_header``."""
    if len(msg) < 64 or msg[:4] != b"\xfeSMB" or msg[4:6] != b"\x40\x00":
        hdr = smb2.decode_header(msg)  # raises DecodeError
        return hdr.command, hdr.status, hdr.message_id, hdr.tree_id
    status, command, flags, message_id, tree_id = _SMB2_FIELDS.unpack_from(msg)
    return command, status, message_id, 0 if flags & _SMB2_ASYNC else tree_id


_SMB1_INTERESTING = frozenset(
    {
        smb1.Command.NEGOTIATE,
        smb1.Command.SESSION_SETUP_ANDX,
        smb1.Command.TREE_CONNECT_ANDX,
        smb1.Command.TRANSACTION,
        smb1.Command.TRANSACTION2,
        smb1.Command.TRANSACTION2_SECONDARY,
        smb1.Command.NT_TRANSACT,
    }
)
_SMB2_INTERESTING = frozenset(
    {
        smb2.Command.NEGOTIATE,
        smb2.Command.SESSION_SETUP,
        smb2.Command.TREE_CONNECT,
        smb2.Command.CREATE,
        smb2.Command.WRITE,
        smb2.Command.SET_INFO,
    }
)
_SMB2_WRITE_FIXED = 64 + 48  # header + WRITE request fixed part ([MS-SMB2] 2.2.21): all that is decoded
# Ethernet + IPv4 without options + TCP, the common frame ([RFC 791] 3.1, [RFC 9293] 3.1): EtherType,
# version/IHL, total length, flags/fragment offset, protocol, the 12 bytes from the source address
# to the destination port (the flow index key), sequence number, data offset, TCP flags
_ETH_IP4_TCP = struct.Struct(">12xHBxH2xHxB2x12sI4xBB")
_ADDRESSES = struct.Struct(">4s4sHH")  # those 12 bytes: addresses and ports


# responses _smb2_response reads only the header of
_SMB2_DECODED_NOTHING = frozenset({smb2.Command.WRITE, smb2.Command.SET_INFO})
# for the C packet loop (_pcapscan.advance), per SMB2 Command byte: 1 = not decoded, 2 = its
# responses are not decoded beyond the header (the quiet-message test of CaptureAnalyzer._fast_events)
_QUIET = bytes(
    (0 if c in _SMB2_INTERESTING else 1) | (2 if c in _SMB2_DECODED_NOTHING else 0) for c in range(256)
)
# the first HEAD_BYTES of a message: protocol id, the SMB1 Command ([MS-CIFS] 2.2.3.1), and the
# Command (two bytes) and NextCommand of an SMB2 header ([MS-SMB2] 2.2.1): all that _keep reads
_SMB_HEAD = struct.Struct("<IB7xBB6xI")
_SMB2_PROTOCOL = int.from_bytes(b"\xfeSMB", "little")
_SMB1_PROTOCOL = int.from_bytes(b"\xffSMB", "little")
_COMPRESSED_PROTOCOL = int.from_bytes(b"\xfcSMB", "little")
# a NetBIOS session header read as one number: type 0 (session message) makes it the length
_U32BE = struct.Struct(">I")


def _keep(
    protocol: int, smb1_command: int, command: int, command_hi: int, chained: int, limit: int, to_server: bool
) -> int:
    """How many bytes of a message :meth:`CaptureAnalyzer._message` reads, from its first bytes.

    The first five arguments are the fields :data:`_SMB_HEAD` reads from its first
    HEAD_BYTES bytes; ``limit`` is what :class:`Direction` would deliver (more than
    HEAD_BYTES). Whatever is returned, ``_message`` must behave exactly as with ``limit``
    bytes (tests/logs/test_capture_fast.py)."""
    if protocol == _SMB2_PROTOCOL:
        if chained >= 64:
            return limit  # compounded: the chain walk depends on the message length
        if command_hi or command not in _SMB2_INTERESTING:
            return HEAD_BYTES  # Command and NextCommand are all the chain walk reads
        if command == smb2.Command.WRITE and to_server:
            return _SMB2_WRITE_FIXED
        if command in _SMB2_DECODED_NOTHING and not to_server:
            return 64  # the header only: WRITE and SET_INFO responses are not decoded further
        return limit
    if protocol == _SMB1_PROTOCOL:
        return limit if smb1_command in _SMB1_INTERESTING else 5
    if protocol == _COMPRESSED_PROTOCOL:
        return 16  # the compression transform header
    return 4  # encrypted or not SMB: only the protocol id is read


# Fast decoders of the requests and responses every file operation brings. Each reads the same
# fields as its smbguard.proto.smb2 counterpart and returns the same value when the message is
# well formed; anything else goes to the counterpart, so garbage raises the same DecodeError.
# ([MS-SMB2] 2.2.13, 2.2.14, 2.2.21, 2.2.9; tests/logs/test_capture_fast.py compares them.)
_CREATE_REQ = struct.Struct("<IIIIIHH")  # DesiredAccess .. CreateOptions, NameOffset, NameLength
_U16 = struct.Struct("<H")
_U32 = struct.Struct("<I")
_WRITE_REQ = struct.Struct("<IQ")  # Length, Offset
_TREE_REQ = struct.Struct("<HHH")  # Flags, PathOffset, PathLength


def _smb2_body(msg: bytes, size: int, structure: bytes) -> bool:
    """``msg`` is at least ``size`` bytes with a SYNC/ASYNC SMB2 header and this body StructureSize."""
    return len(msg) >= size and msg[:4] == b"\xfeSMB" and msg[4:6] == b"\x40\x00" and msg[64:66] == structure


def _buffer_at(msg: bytes, offset: int, length: int) -> bytes | None:
    """The buffer ``smb2._buffer`` would return, or None where it would raise."""
    if not length:
        return b""
    if offset < 64 or offset + length > len(msg):
        return None
    return msg[offset : offset + length]


def _utf16_at(msg: bytes, offset: int, length: int) -> str | None:
    """The UTF-16 buffer at ``offset`` as ``_buffer`` + ``utf16`` would return it, or None."""
    raw = _buffer_at(msg, offset, length)
    if raw is None or length & 1:
        return None
    try:
        return raw.decode("utf-16-le")
    except UnicodeDecodeError:
        return None


def fast_create_request(msg: bytes) -> smb2.CreateRequest:
    if _smb2_body(msg, 112, b"\x39\x00"):
        access, attributes, share, disposition, options, offset, length = _CREATE_REQ.unpack_from(msg, 88)
        name = _utf16_at(msg, offset, length)
        if name is not None:
            return smb2.CreateRequest(name, access, attributes, share, disposition, options)
    return smb2.decode_create_request(msg)


def fast_create_response(msg: bytes) -> smb2.CreateResponse:
    if _smb2_body(msg, 144, b"\x59\x00"):
        return smb2.CreateResponse(_U32.unpack_from(msg, 8)[0], msg[128:144], _U32.unpack_from(msg, 68)[0])
    return smb2.decode_create_response(msg)


def fast_write_request(msg: bytes) -> smb2.WriteRequest:
    if _smb2_body(msg, 96, b"\x31\x00"):
        length, offset = _WRITE_REQ.unpack_from(msg, 68)
        return smb2.WriteRequest(msg[80:96], length, offset)
    return smb2.decode_write_request(msg)


def fast_tree_connect_request(msg: bytes) -> smb2.TreeConnectRequest:
    if _smb2_body(msg, 72, b"\x09\x00"):
        flags, offset, length = _TREE_REQ.unpack_from(msg, 66)
        path = _utf16_at(msg, offset, length)
        if path is not None:
            return smb2.TreeConnectRequest(path=path, flags=flags)
    return smb2.decode_tree_connect_request(msg)


_SESSION_REQ = struct.Struct("<BBIIHHQ")  # Flags .. Channel, SecurityBufferOffset/Length, PreviousSessionId
_SESSION_RESP = struct.Struct("<HHH")  # SessionFlags, SecurityBufferOffset, SecurityBufferLength
_U64 = struct.Struct("<Q")


def fast_session_setup_request(msg: bytes) -> smb2.SessionSetupRequest:
    if _smb2_body(msg, 88, b"\x19\x00"):
        flags, mode, capabilities, channel, offset, length, previous = _SESSION_REQ.unpack_from(msg, 66)
        blob = _buffer_at(msg, offset, length)
        if blob is not None:
            return smb2.SessionSetupRequest(blob, flags, mode, capabilities, channel, previous)
    return smb2.decode_session_setup_request(msg)


def fast_session_setup_response(msg: bytes) -> smb2.SessionSetupResponse:
    if _smb2_body(msg, 72, b"\x09\x00"):
        status = _U32.unpack_from(msg, 8)[0]
        session_id = _U64.unpack_from(msg, 40)[0]
        if status not in (0, STATUS_MORE_PROCESSING):
            return smb2.SessionSetupResponse(status, session_id)
        flags, offset, length = _SESSION_RESP.unpack_from(msg, 66)
        blob = _buffer_at(msg, offset, length)
        if blob is not None:
            return smb2.SessionSetupResponse(status, session_id, flags, blob)
    return smb2.decode_session_setup_response(msg)


# SecurityMode, DialectRevision, (NegotiateContextCount), ServerGuid, Capabilities, MaxTransactSize,
# MaxReadSize, MaxWriteSize, SystemTime, ServerStartTime, SecurityBufferOffset/Length,
# NegotiateContextOffset: the NEGOTIATE response fixed part after StructureSize ([MS-SMB2] 2.2.4)
_NEGOTIATE_RESP = struct.Struct("<HHH16sIIIIQQHHI")
_DIALECTS: dict[int, int] = {int(d): d for d in smb2.Dialect}  # what smb2._as_enum(Dialect, .) gives
_GUIDS: dict[bytes, str] = {}  # GUID bytes -> text: a server (client) sends the same GUID every time


def _guid_text(guid: bytes) -> str:
    text = _GUIDS.get(guid)
    if text is None:
        if len(_GUIDS) >= 4096:
            _GUIDS.clear()
        text = _GUIDS[guid] = guid_from_bytes(guid)
    return text


def fast_negotiate_response(msg: bytes) -> smb2.NegotiateResponse:
    if _smb2_body(msg, 128, b"\x41\x00"):
        (mode, dialect, count, guid, capabilities, transact, read, write, system, start, offset, length,
         contexts_at) = _NEGOTIATE_RESP.unpack_from(msg, 66)  # fmt: skip
        contexts: tuple[smb2.NegotiateContext, ...] = ()
        if dialect == smb2.Dialect.SMB_3_1_1:
            # the same call, in the same order, as decode_negotiate_response: the same value or error
            contexts = smb2._decode_contexts(msg, contexts_at, count)
        blob = _buffer_at(msg, offset, length)
        if blob is not None:
            return smb2.NegotiateResponse(
                dialect=_DIALECTS.get(dialect, dialect),
                security_mode=mode,
                server_guid=_guid_text(guid),
                capabilities=capabilities,
                max_transact_size=transact,
                max_read_size=read,
                max_write_size=write,
                system_time=filetime_to_datetime(system),
                server_start_time=filetime_to_datetime(start),
                security_buffer=blob,
                contexts=contexts,
                status=_U32.unpack_from(msg, 8)[0],
            )
    return smb2.decode_negotiate_response(msg)


# DialectCount, SecurityMode, Capabilities, ClientGuid, NegotiateContextOffset, NegotiateContextCount:
# the NEGOTIATE request fixed part after StructureSize ([MS-SMB2] 2.2.3)
_NEGOTIATE_REQ = struct.Struct("<HH2xI16sIH")
_DIALECT_LISTS: dict[int, struct.Struct] = {}  # DialectCount -> Struct reading that many dialects


def fast_negotiate_request(msg: bytes) -> smb2.NegotiateRequest:
    if _smb2_body(msg, 100, b"\x24\x00"):
        count, mode, capabilities, guid, contexts_at, contexts_count = _NEGOTIATE_REQ.unpack_from(msg, 66)
        if 0 < count <= smb2.MAX_ITEMS and 100 + 2 * count <= len(msg):
            dialect_list = _DIALECT_LISTS.get(count)
            if dialect_list is None:
                dialect_list = _DIALECT_LISTS[count] = struct.Struct(f"<{count}H")
            dialects = tuple([_DIALECTS.get(d, d) for d in dialect_list.unpack_from(msg, 100)])
            contexts: tuple[smb2.NegotiateContext, ...] = ()
            if smb2.Dialect.SMB_3_1_1 in dialects:
                # the same call as decode_negotiate_request makes: the same value or error
                contexts = smb2._decode_contexts(msg, contexts_at, contexts_count)
            return smb2.NegotiateRequest(
                dialects=dialects,
                security_mode=mode,
                capabilities=capabilities,
                client_guid=_guid_text(guid),
                contexts=contexts,
            )
    return smb2.decode_negotiate_request(msg)


def smb1_dialects(msg: bytes) -> tuple[str, ...]:
    """The dialects of an SMB1 NEGOTIATE request (the reference path)."""
    return smb1.decode_negotiate_request(msg).dialects


def fast_smb1_dialects(msg: bytes) -> tuple[str, ...]:
    """:func:`smb1_dialects` with one split: a NEGOTIATE with WordCount 0 whose ByteCount bytes
    are 0x02-prefixed NUL-terminated strings ([MS-CIFS] 2.2.4.52.1); anything else goes to
    ``smb1.decode_negotiate_request``, so garbage raises the same DecodeError."""
    if len(msg) >= 35 and msg[:5] == b"\xffSMB\x72" and not msg[32]:
        count = msg[33] | msg[34] << 8
        data = msg[35 : 35 + count]
        if len(data) == count and data[:1] == b"\x02" and data[-1:] == b"\x00":
            names = data[1:-1].split(b"\x00\x02")
            if len(names) <= 64 and data.count(b"\x00") == len(names):  # no NUL inside a name
                return tuple([oem(name) for name in names])
    return smb1_dialects(msg)


def _keep_up(head: bytes, limit: int) -> int:
    protocol, smb1_command, command, command_hi, chained = _SMB_HEAD.unpack_from(head)
    return _keep(protocol, smb1_command, command, command_hi, chained, limit, True)


def _keep_down(head: bytes, limit: int) -> int:
    protocol, smb1_command, command, command_hi, chained = _SMB_HEAD.unpack_from(head)
    return _keep(protocol, smb1_command, command, command_hi, chained, limit, False)


_CREATED = frozenset({0, 2, 3})  # CreateAction: FILE_SUPERSEDED, FILE_CREATED, FILE_OVERWRITTEN
MAX_FILES_PER_FLOW = 10_000
_RELATED_FILE_ID = b"\xff" * 16
MAX_FLOWS = 65_536
STATUS_MORE_PROCESSING = 0xC0000016
_SESSION_IS_GUEST = int(smb2.SessionFlags.IS_GUEST)
_SESSION_IS_NULL = int(smb2.SessionFlags.IS_NULL)
STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205
STATUS_INVALID_HANDLE = 0xC0000008
STATUS_ACCESS_DENIED = 0xC0000022
STATUS_NOT_IMPLEMENTED = 0xC0000002
DOUBLEPULSAR_MID_DELTA = 0x10
SMBGHOST_ORIGINAL_SIZE = 0xFFFF0000  # sizes this close to 4 GiB only come from exploits


def _utc(ts: float | None) -> datetime | None:
    """Capture timestamp -> aware datetime; None when absent or out of range (garbage)."""
    if not ts or ts <= 0:
        return None
    try:
        return datetime.fromtimestamp(ts, tz=UTC)
    except (ValueError, OverflowError, OSError):
        return None


def _addr(raw: bytes) -> str:
    return str(ipaddress.ip_address(raw))


@dataclass(slots=True)
class _Server:
    address: str
    port: int
    first: float | None = None
    last: float | None = None
    smb1_dialect: str | None = None
    smb1_refused: bool = False
    smb1_negotiate: smb1.NegotiateResponse | None = None
    native_os: str | None = None
    native_lan_manager: str | None = None
    primary_domain: str | None = None
    smb2_modes: dict[int, int] = field(default_factory=dict)  # dialect -> SecurityMode
    smb2_wildcard: bool = False
    smb2_negotiate: smb2.NegotiateResponse | None = None
    challenge: ntlmssp.Challenge | None = None
    null: bool | None = None
    guest: bool | None = None
    shares: set[str] = field(default_factory=set)
    encrypted: int = 0
    compressed: int = 0
    ms17: VulnProbeFacts | None = None
    doublepulsar: VulnProbeFacts | None = None
    clients: set[str] = field(default_factory=set)

    def see(self, ts: float) -> None:
        if self.first is None or ts < self.first:
            self.first = ts
        if self.last is None or ts > self.last:
            self.last = ts


@dataclass(slots=True)
class _Client:
    address: str
    smb1_dialects: set[str] = field(default_factory=set)
    smb2_dialects: set[str] = field(default_factory=set)
    smb1_only_negotiations: int = 0
    compression_offered: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)

    @property
    def smb1_only(self) -> bool:
        """Every negotiation seen from this client offered SMB1 dialects only."""
        offered_smb2 = self.smb2_dialects or any(d.startswith("SMB 2") for d in self.smb1_dialects)
        return self.smb1_only_negotiations > 0 and not offered_smb2

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "address": self.address,
            "smb1_dialects_offered": [d for d in sorted(self.smb1_dialects)],
            "smb2_dialects_offered": [d for d in sorted(self.smb2_dialects)],
            "smb1_only": self.smb1_only,
            "smb1_only_negotiations": self.smb1_only_negotiations,
            "compression_offered": [c for c in sorted(self.compression_offered)],
            "servers": [s for s in sorted(self.servers)],
        }


@dataclass(slots=True)
class _Flow:
    client: str
    server: str
    cport: int
    sport: int
    c2s: Direction
    s2c: Direction
    key: tuple[bytes, int, bytes, int] = (b"", 0, b"", 0)  # its key in CaptureAnalyzer.flows
    index_keys: tuple[bytes, ...] = ()  # its keys in CaptureAnalyzer._index
    smb1_dialects: tuple[str, ...] = ()
    smb1_session: bool = False
    pending: dict[tuple[int, int], tuple[Any, ...]] = field(default_factory=dict)
    primary: dict[int, int] = field(default_factory=dict)  # MID -> command of the last primary transaction
    eternalblue: int = 0
    nt_rename: bool = False
    ghost: bool = False
    state: _Server | None = None
    trees: dict[int, str] = field(default_factory=dict)  # SMB2 TreeId -> share name
    files: dict[bytes, tuple[str | None, str]] = field(default_factory=dict)  # FileId -> (share, name)
    written: set[bytes] = field(default_factory=set)  # FileIds already reported as written
    user: str | None = None  # account of the last successful session setup
    domain: str | None = None


def _ntlm_info(challenge: ntlmssp.Challenge) -> NtlmInfo:
    version = challenge.version
    return NtlmInfo(
        netbios_computer=challenge.nb_computer_name,
        netbios_domain=challenge.nb_domain_name,
        dns_computer=challenge.dns_computer_name,
        dns_domain=challenge.dns_domain_name,
        dns_tree=challenge.dns_tree_name,
        os_major=version.major if version else None,
        os_minor=version.minor if version else None,
        os_build=version.build if version else None,
        ntlm_revision=version.revision if version else None,
        timestamp=challenge.timestamp,
    )


def _ntlm_message(blob: bytes) -> bytes | None:
    try:
        return spnego.extract_ntlmssp(blob) if blob else None
    except DecodeError:
        return None


def fast_ntlm_message(blob: bytes) -> bytes | None:
    """:func:`_ntlm_message` without decoding the SPNEGO (DER) of a blob that holds no
    NTLMSSP message: what ``spnego.extract_ntlmssp`` returns is the blob, a slice of it
    (DER values are slices), or the rest of it from the signature on, so it always holds
    the signature. Kerberos logons, most of the blobs, are not decoded at all."""
    return _ntlm_message(blob) if _NTLMSSP_SIGNATURE in blob else None


class CaptureAnalyzer:
    """Reads one capture; ``events()`` streams events, then ``hosts()``/``clients`` hold the facts.

    ``reference=True`` takes the plain path (one read per packet, one
    :class:`TcpSegment` per packet, every message kept up to the cap): the readable
    reference the fast path is tested against, with identical results."""

    block_size = 1 << 22  # bytes read at a time on the fast path

    def __init__(self, path: str, ports: frozenset[int] = SMB_PORTS, *, reference: bool = False) -> None:
        self.path = path
        self.ports = ports
        self.reference = reference
        self._create_request = smb2.decode_create_request if reference else fast_create_request
        self._create_response = smb2.decode_create_response if reference else fast_create_response
        self._write_request = smb2.decode_write_request if reference else fast_write_request
        self._tree_request = smb2.decode_tree_connect_request if reference else fast_tree_connect_request
        self._session_request = smb2.decode_session_setup_request if reference else fast_session_setup_request
        self._session_response = (
            smb2.decode_session_setup_response if reference else fast_session_setup_response
        )
        self._negotiate_response = smb2.decode_negotiate_response if reference else fast_negotiate_response
        self._ntlm = _ntlm_message if reference else fast_ntlm_message
        self._negotiate_request = smb2.decode_negotiate_request if reference else fast_negotiate_request
        self._smb1_dialects = smb1_dialects if reference else fast_smb1_dialects
        self._names: dict[bytes, str] = {}  # address bytes -> text, for new flows
        # fast path: source address to destination port of an IPv4 packet (12 bytes) ->
        # (direction, flow, to the server) of the open flow it belongs to
        self._index: dict[bytes, tuple[Direction, _Flow, bool]] = {}
        self.stats = SourceStats(path=path, type="pcap")
        self.flows: dict[tuple[bytes, int, bytes, int], _Flow] = {}
        self.servers: dict[tuple[str, int], _Server] = {}
        self.clients: dict[str, _Client] = {}
        self._out: deque[Event] = deque()
        self._chain_file: tuple[str | None, str] | None = None
        self.smb_messages = 0
        self.smb_bytes = 0

    # -- driving -------------------------------------------------------------------------------
    def events(self) -> Iterator[Event]:
        try:
            handle = open(self.path, "rb")  # noqa: SIM115
        except OSError as exc:
            self.stats.warn(f"cannot open: {exc.strerror}")
            return
        with handle:
            if not self.reference:
                yield from self._fast_events(handle)
                return
            try:
                for ts, linktype, frame in read_packets(handle, self.stats):
                    self.stats.records += 1
                    self._packet(ts, linktype, frame)
                    while self._out:
                        event = self._out.popleft()
                        self.stats.events += 1
                        self.stats.see(event.time)
                        yield event
            except CaptureFormatError as exc:
                self.stats.skipped += 1
                self.stats.warn(str(exc))

    def _fast_events(self, handle: IO[bytes]) -> Iterator[Event]:
        """``events()`` without per-packet reads or objects: the file (pcap or pcapng) is
        read in blocks and its packets found by offset (:func:`packet_runs`); the common
        Ethernet/IPv4/TCP frame is decoded in place with one ``unpack_from``; in-order
        segments inside a message body nobody reads are only counted; a segment that is
        exactly one SMB message is handled here. Every other packet goes through
        :meth:`_packet`."""
        stats = self.stats
        out = self._out
        flows = self.flows
        index = self._index
        ports = self.ports
        unpack_frame = _ETH_IP4_TCP.unpack_from
        unpack_addresses = _ADDRESSES.unpack
        unpack_head = _SMB_HEAD.unpack_from
        syn_rst = SYN | RST
        scan = pcapfile._pcapscan  # None: not built, or turned off by the tests
        runs = packet_runs(handle, stats, self.block_size)
        while True:
            try:
                block, starts, ends, linktype, ts_of = next(runs)
            except StopIteration:
                return
            except CaptureFormatError as exc:
                stats.skipped += 1
                stats.warn(str(exc))
                return
            stats.records += len(ends)  # all read: counted once per run
            fast_link = linktype == 1
            # the C loop takes the packets this loop would handle without producing anything
            # (see _pcapscan.c) and stops at the first other one, which the body below handles
            advance = scan.advance if scan is not None and fast_link and type(ports) is frozenset else None
            stamp = (ts_of.kind, ts_of.big, ts_of.scale) if isinstance(ts_of, Stamp) else (0, False, 0.0)
            rules = (smb2.CreateRequest, MAX_FILES_PER_FLOW, smb2.FILE_DELETE_ON_CLOSE, _CREATED)
            i = 0
            count = len(ends)
            while i < count:
                if advance is not None:
                    i = advance(block, starts, ends, i, index, ports, stamp, _QUIET, self, rules)
                    if i >= count:
                        break
                at = starts[i]  # the frame is block[at:end]
                end = ends[i]
                i += 1
                if fast_link and end - at >= 54:
                    etype, vihl, total, frag, proto, addresses, seq, doff, flags = unpack_frame(block, at)
                    if etype == 0x0800 and proto == 6 and vihl & 0x0F == 5 and not frag & 0x3FFF:
                        # what _packet does with this frame, without its copies and objects
                        if total < 40:
                            continue
                        pstart = at + 34 + (doff >> 4) * 4
                        pend = at + 14 + total
                        if pend > end:
                            pend = end
                        n = pend - pstart
                        if n <= 0:
                            if not flags & syn_rst:
                                continue
                            n = 0
                        d: Direction
                        entry = index.get(addresses)
                        if entry is None:
                            src, dst, sport, dport = unpack_addresses(addresses)
                            if dport in ports:
                                key = (src, sport, dst, dport)
                                up = True
                            elif sport in ports:
                                key = (dst, dport, src, sport)
                                up = False
                            else:
                                continue
                            flow = flows.get(key)
                            if flow is None:
                                if not n and not flags & SYN:
                                    continue
                                flow = self._new_flow(key)
                            d = flow.c2s if up else flow.s2c
                        else:
                            d, flow, up = entry  # the flow these addresses and ports belong to
                        if n and seq == d.next_seq and not flags & syn_rst and d.synced and not d.ooo:
                            # in order: what Direction.feed would do, without its calls
                            if n <= d.skip:
                                d.skip -= n
                                d.next_seq = (seq + n) & 0xFFFFFFFF
                                continue
                            if n < d.until:
                                d.until -= n
                                d.next_seq = (seq + n) & 0xFFFFFFFF
                                continue
                            if (
                                not d.skip
                                and not d.until
                                and not d.msg_len
                                and not d.header
                                and n >= 8
                                and (length := _U32BE.unpack_from(block, pstart)[0]) + 4 == n
                                and length <= d.cap
                            ):
                                # the segment is exactly one whole session message
                                d.next_seq = (seq + n) & 0xFFFFFFFF
                                ts = ts_of(block, at)
                                if length > HEAD_BYTES:
                                    server = flow.state
                                    protocol, smb1_command, command, command_hi, chained = unpack_head(
                                        block, pstart + 4
                                    )
                                    if (
                                        protocol == _SMB2_PROTOCOL
                                        and chained < 64
                                        and server is not None
                                        and (
                                            command_hi
                                            or command not in _SMB2_INTERESTING
                                            or (
                                                not up
                                                and command in _SMB2_DECODED_NOTHING
                                                and length >= 64
                                                and block[pstart + 8 : pstart + 10] == b"\x40\x00"
                                            )
                                        )
                                    ):
                                        # an SMB2 message nothing is decoded from (not compounded, and
                                        # a command _message does not read, or a WRITE/SET_INFO
                                        # response whose header _smb2_fields accepts): what _message
                                        # does with it
                                        self.smb_messages += 1
                                        self.smb_bytes += length
                                        if server.first is None or ts < server.first:
                                            server.first = ts
                                        if server.last is None or ts > server.last:
                                            server.last = ts
                                        self._chain_file = None
                                        continue
                                    keep = _keep(
                                        protocol, smb1_command, command, command_hi, chained, length, up
                                    )
                                    if keep < length:
                                        pend = pstart + 4 + (keep if keep > HEAD_BYTES else HEAD_BYTES)
                                self._message(flow, up, ts, block[pstart + 4 : pend], length)
                                while out:
                                    event = out.popleft()
                                    stats.events += 1
                                    stats.see(event.time)
                                    yield event
                                continue
                        d.feed(ts_of(block, at), seq, flags, block[pstart:pend] if n else b"")
                        if flags & RST and flow.c2s.next_seq is not None:
                            self._drop_flow(flow.key)
                        while out:
                            event = out.popleft()
                            stats.events += 1
                            stats.see(event.time)
                            yield event
                        continue
                    if etype == 0x0806 or (etype == 0x0800 and proto != 6 and vihl >> 4 == 4):
                        continue  # ARP, or IPv4 that is not TCP: _packet would find no TCP segment
                self._packet(ts_of(block, at), linktype, block[at:end])
                while out:
                    event = out.popleft()
                    stats.events += 1
                    stats.see(event.time)
                    yield event

    def _packet(self, ts: float, linktype: int, frame: bytes) -> None:
        # Fast path for the common case, Ethernet + IPv4 (not fragmented) + TCP; every
        # other frame goes through the general link/IP/TCP parsers.
        if (
            linktype == 1
            and len(frame) >= 54
            and frame[12] == 0x08
            and frame[13] == 0x00
            and frame[23] == 6
            and not frame[20] & 0x3F
            and not frame[21]
        ):
            ihl = (frame[14] & 0x0F) * 4
            total = (frame[16] << 8) | frame[17]
            tcp_off = 14 + ihl
            if ihl < 20 or total < ihl + 20 or len(frame) < tcp_off + 20:
                return
            sport, dport, seq, doff, flags = _TCP.unpack_from(frame, tcp_off)
            if 14 + total <= tcp_off + (doff >> 4) * 4 and not flags & (SYN | RST):
                # no payload, no SYN, no RST (a pure ACK or a FIN): feeding it changes
                # nothing, neither for a known flow nor for an unknown one
                return
            seg = TcpSegment(
                frame[26:30],
                frame[30:34],
                sport,
                dport,
                seq,
                flags,
                frame[tcp_off + (doff >> 4) * 4 : 14 + total],
            )
        else:
            ip = ip_of_frame(linktype, frame)
            if ip is None:
                return
            parsed = tcp_of_ip(ip, self.stats)
            if parsed is None:
                return
            seg = parsed
        ports = self.ports
        if seg.dport in ports:
            key = (seg.src, seg.sport, seg.dst, seg.dport)
            to_server = True
        elif seg.sport in ports:
            key = (seg.dst, seg.dport, seg.src, seg.sport)
            to_server = False
        else:
            return
        flow = self.flows.get(key)
        if flow is None:
            if not seg.payload and not seg.flags & 0x02:
                return
            flow = self._new_flow(key)
        direction = flow.c2s if to_server else flow.s2c
        direction.feed(ts, seg.seq, seg.flags, seg.payload)
        if seg.flags & (FIN | RST) and flow.c2s.next_seq is not None and seg.flags & RST:
            self._drop_flow(key)

    def _new_flow(self, key: tuple[bytes, int, bytes, int]) -> _Flow:
        if len(self.flows) >= MAX_FLOWS:
            self._drop_flow(next(iter(self.flows)))
            self.stats.warn(f"more than {MAX_FLOWS} concurrent connections: oldest dropped")
        if self.reference:
            client, server = _addr(key[0]), _addr(key[2])
        else:
            names = self._names
            if len(names) > MAX_FLOWS:
                names.clear()
            client = names.get(key[0]) or names.setdefault(key[0], _addr(key[0]))
            server = names.get(key[2]) or names.setdefault(key[2], _addr(key[2]))
        holder: list[_Flow] = []

        def up(ts: float, msg: bytes, full: int) -> None:
            self._message(holder[0], True, ts, msg, full)

        def down(ts: float, msg: bytes, full: int) -> None:
            self._message(holder[0], False, ts, msg, full)

        if self.reference:
            flow = _Flow(client, server, key[1], key[3], Direction(up), Direction(down))
        else:
            flow = _Flow(
                client,
                server,
                key[1],
                key[3],
                Direction(up, keep=_keep_up),
                Direction(down, keep=_keep_down),
            )
        holder.append(flow)
        self.flows[key] = flow
        flow.key = key
        if not self.reference and len(key[0]) == 4:
            # IPv4: the bytes from source address to destination port of the packets of each
            # direction, for the fast loop; server-to-client packets only when they belong to
            # this flow (a client port that is an SMB port makes them a flow of their own)
            client_port, server_port = key[1].to_bytes(2, "big"), key[3].to_bytes(2, "big")
            up_key = key[0] + key[2] + client_port + server_port
            self._index[up_key] = (flow.c2s, flow, True)
            if key[1] in self.ports:
                flow.index_keys = (up_key,)
            else:
                down_key = key[2] + key[0] + server_port + client_port
                self._index[down_key] = (flow.s2c, flow, False)
                flow.index_keys = (up_key, down_key)
        return flow

    def _drop_flow(self, key: tuple[bytes, int, bytes, int]) -> None:
        flow = self.flows.pop(key, None)
        if flow is not None:
            for index_key in flow.index_keys:
                del self._index[index_key]

    def _server(self, flow: _Flow) -> _Server:
        key = (flow.server, flow.sport)
        server = self.servers.get(key)
        if server is None:
            server = self.servers[key] = _Server(flow.server, flow.sport)
        return server

    def _client(self, flow: _Flow) -> _Client:
        client = self.clients.get(flow.client)
        if client is None:
            client = self.clients[flow.client] = _Client(flow.client)
        client.servers.add(flow.server)
        return client

    def _emit(self, flow: _Flow, ts: float, kind: EventKind, event_id: str, **fields: Any) -> None:
        self._out.append(
            Event(
                kind=kind,
                source=self.path,
                event_id=event_id,
                time=_utc(ts),
                src_ip=flow.client,
                server=flow.server,
                **fields,
            )
        )

    # -- messages ------------------------------------------------------------------------------
    def _message(self, flow: _Flow, to_server: bool, ts: float, msg: bytes, full: int) -> None:
        self.smb_messages += 1
        self.smb_bytes += full
        server = flow.state
        if server is None:
            server = flow.state = self._server(flow)
            server.clients.add(flow.client)
        if server.first is None or ts < server.first:
            server.first = ts
        if server.last is None or ts > server.last:
            server.last = ts
        magic = msg[:4]
        try:
            if magic == b"\xffSMB":
                # [MS-CIFS] 2.2.3.1: Command is the byte after the protocol id; most commands
                # (reads, writes, closes...) need no decoding at all
                if len(msg) > 4 and msg[4] in _SMB1_INTERESTING:
                    if to_server:
                        self._smb1_request(flow, server, ts, msg)
                    else:
                        self._smb1_response(flow, server, ts, msg)
                elif to_server and not flow.smb1_session:
                    flow.smb1_session = True
                    self._emit(
                        flow,
                        ts,
                        EventKind.SMB1_ACCESS,
                        "pcap:smb1-session",
                        protocol="SMB1",
                        detail="SMB1 session",
                    )
            elif magic == b"\xfeSMB":
                # [MS-SMB2] 2.2.1: Command is the 16-bit field at offset 12, NextCommand the
                # 32-bit field at offset 20 (compounded requests/responses, 3.2.4.1.4)
                self._chain_file = None
                pos = 0
                for _ in range(32):
                    part = msg[pos:]
                    next_command = _U32.unpack_from(part, 20)[0] if len(part) >= 24 else 0
                    if 64 <= next_command < len(part):
                        part = part[:next_command]
                    else:
                        next_command = 0
                    if len(part) >= 14 and part[12] in _SMB2_INTERESTING and part[13] == 0:
                        if to_server:
                            self._smb2_request(flow, ts, part)
                        else:
                            self._smb2_response(flow, server, ts, part)
                    if not next_command:
                        break
                    pos += next_command
            elif magic == b"\xfdSMB":
                server.encrypted += 1
            elif magic == b"\xfcSMB":
                server.compressed += 1
                self._compressed(flow, ts, msg, full)
            else:
                self.stats.warn("NetBIOS message without SMB protocol id")
        except DecodeError as exc:
            self.stats.skipped += 1
            self.stats.warn(f"undecodable SMB message: {str(exc)[:80]}")

    def _smb1_request(self, flow: _Flow, server: _Server, ts: float, msg: bytes) -> None:
        if msg[4] == smb1.Command.NEGOTIATE:  # [MS-CIFS] 2.2.3.1: Command follows the protocol id
            dialects = self._smb1_dialects(msg)  # decodes (and checks) the header too
            flow.smb1_dialects = dialects
            client = self._client(flow)
            client.smb1_dialects.update(dialects)
            if dialects and not any(d.startswith("SMB 2") for d in dialects):
                client.smb1_only_negotiations += 1
                self._emit(
                    flow,
                    ts,
                    EventKind.SMB1_ACCESS,
                    "pcap:smb1-negotiate",
                    protocol="SMB1",
                    detail="client offered only SMB1 dialects",
                )
            return
        hdr = smb1.decode_header(msg)
        cmd = hdr.command
        if not flow.smb1_session:
            flow.smb1_session = True
            self._emit(
                flow, ts, EventKind.SMB1_ACCESS, "pcap:smb1-session", protocol="SMB1", detail="SMB1 session"
            )
        if cmd == smb1.Command.SESSION_SETUP_ANDX:
            req1 = smb1.decode_session_setup_request(msg)
            if req1.extended:
                raw = self._ntlm(req1.security_blob)
                if raw is not None and ntlmssp.parse_message_type(raw) == ntlmssp.MessageType.AUTHENTICATE:
                    flow.pending[(1, hdr.mid)] = ("auth", ntlmssp.decode_authenticate(raw))
            else:
                anonymous = (
                    not req1.account and not req1.unicode_password and req1.oem_password in (b"", b"\x00")
                )
                flow.pending[(1, hdr.mid)] = (
                    "auth1",
                    req1.account,
                    req1.primary_domain,
                    anonymous,
                    len(req1.unicode_password),
                )
        elif cmd == smb1.Command.TREE_CONNECT_ANDX:
            flow.pending[(1, hdr.mid)] = ("tree", smb1.decode_tree_connect_request(msg).path)
        elif cmd in (smb1.Command.TRANSACTION, smb1.Command.TRANSACTION2):
            trans = smb1.decode_transaction_request(msg)
            sub = trans.setup[0] if trans.setup else None
            if cmd == smb1.Command.TRANSACTION and sub == smb1.TRANS_PEEK_NMPIPE:
                fid = trans.setup[1] if len(trans.setup) > 1 else None
                flow.pending[(1, hdr.mid)] = ("peek", fid)
                if fid == 0:
                    self._emit(
                        flow,
                        ts,
                        EventKind.EXPLOIT,
                        "pcap:ms17-010:peek-fid0",
                        detail="MS17-010 check: TRANS PeekNamedPipe on FID 0",
                    )
            elif cmd == smb1.Command.TRANSACTION2:
                self._primary(flow, hdr.mid, cmd)
                if sub == smb1.TRANS2_SESSION_SETUP:
                    flow.pending[(1, hdr.mid)] = ("trans2-session-setup",)
                    self._emit(
                        flow,
                        ts,
                        EventKind.EXPLOIT,
                        "pcap:ms17-010:doublepulsar-ping",
                        detail="DoublePulsar ping: TRANS2 SESSION_SETUP",
                    )
        elif cmd == smb1.Command.NT_TRANSACT:
            self._primary(flow, hdr.mid, cmd)
            if smb1.nt_transact_function(msg) == smb1.NT_TRANSACT_RENAME and not flow.nt_rename:
                flow.nt_rename = True
                self._emit(
                    flow,
                    ts,
                    EventKind.EXPLOIT,
                    "pcap:ms17-010:nt-rename",
                    detail="NT_TRANSACT_RENAME request (not implemented by Windows; EternalChampion marker)",
                )
        elif (
            cmd == smb1.Command.TRANSACTION2_SECONDARY
            and flow.primary.get(hdr.mid) == smb1.Command.NT_TRANSACT
        ):
            # a TRANSACTION2 secondary continuing an NT_TRANSACT: the EternalBlue type confusion
            flow.eternalblue += 1
            if flow.eternalblue == 1:
                self._emit(
                    flow,
                    ts,
                    EventKind.EXPLOIT,
                    "pcap:ms17-010:eternalblue",
                    detail="NT_TRANSACT continued by TRANSACTION2_SECONDARY (EternalBlue pattern)",
                )

    @staticmethod
    def _primary(flow: _Flow, mid: int, command: int) -> None:
        if mid not in flow.primary and len(flow.primary) >= 4096:
            flow.primary.clear()
        flow.primary[mid] = command

    def _smb1_response(self, flow: _Flow, server: _Server, ts: float, msg: bytes) -> None:
        hdr = smb1.decode_header(msg)
        cmd = hdr.command
        status = hdr.nt_status
        if cmd == smb1.Command.NEGOTIATE:
            resp = smb1.decode_negotiate_response(msg)
            if resp.form == "none" or resp.dialect_index == smb1.NO_DIALECT:
                server.smb1_refused = True
            elif resp.accepted and resp.dialect_index < len(flow.smb1_dialects):
                dialect = flow.smb1_dialects[resp.dialect_index]
                if not dialect.startswith("SMB 2"):
                    server.smb1_dialect = dialect
                    server.smb1_negotiate = resp
            return
        if cmd == smb1.Command.SESSION_SETUP_ANDX:
            resp1 = smb1.decode_session_setup_response(msg)
            if resp1.native_os:
                server.native_os = resp1.native_os
                server.native_lan_manager = resp1.native_lan_man
                server.primary_domain = resp1.primary_domain
            raw = self._ntlm(resp1.security_blob)
            if raw is not None and ntlmssp.parse_message_type(raw) == ntlmssp.MessageType.CHALLENGE:
                server.challenge = ntlmssp.decode_challenge(raw)
            pending = flow.pending.pop((1, hdr.mid), None)
            if status == STATUS_MORE_PROCESSING:
                return
            if status == 0 and resp1.is_guest:
                server.guest = True
            self._logon(flow, server, ts, status, pending, guest=resp1.is_guest, null=False, protocol="SMB1")
        elif cmd == smb1.Command.TREE_CONNECT_ANDX:
            pending = flow.pending.pop((1, hdr.mid), None)
            if pending and pending[0] == "tree":
                self._tree(flow, server, ts, pending[1], status)
        elif cmd == smb1.Command.TRANSACTION:
            pending = flow.pending.pop((1, hdr.mid), None)
            if pending and pending[0] == "peek" and pending[1] == 0:
                if status == STATUS_INSUFF_SERVER_RESOURCES:
                    server.ms17 = VulnProbeFacts(
                        state="vulnerable", evidence={"status": status_name(status), "source": "capture"}
                    )
                    self._emit(
                        flow,
                        ts,
                        EventKind.EXPLOIT,
                        "pcap:ms17-010:vulnerable-answer",
                        detail="MS17-010 check answered STATUS_INSUFF_SERVER_RESOURCES (unpatched)",
                    )
                elif status in (STATUS_INVALID_HANDLE, STATUS_ACCESS_DENIED) and server.ms17 is None:
                    server.ms17 = VulnProbeFacts(
                        state="patched", evidence={"status": status_name(status), "source": "capture"}
                    )
        elif cmd == smb1.Command.TRANSACTION2:
            # DoublePulsar answers its ping with Multiplex ID = request MID + 0x10 (0x41 -> 0x51)
            key: tuple[int, int] | None = None
            for mid in (hdr.mid, (hdr.mid - DOUBLEPULSAR_MID_DELTA) & 0xFFFF):
                candidate = flow.pending.get((1, mid))
                if candidate is not None and candidate[0] == "trans2-session-setup":
                    key = (1, mid)
                    break
            if key is None:
                return
            flow.pending.pop(key)
            if hdr.mid == (key[1] + DOUBLEPULSAR_MID_DELTA) & 0xFFFF:
                server.doublepulsar = VulnProbeFacts(
                    state="infected",
                    evidence={"request_mid": key[1], "reply_mid": hdr.mid, "source": "capture"},
                )
                self._emit(
                    flow,
                    ts,
                    EventKind.EXPLOIT,
                    "pcap:ms17-010:doublepulsar-reply",
                    detail="DoublePulsar implant answered (reply Multiplex ID = request + 0x10)",
                )
            elif status == STATUS_NOT_IMPLEMENTED and server.doublepulsar is None:
                server.doublepulsar = VulnProbeFacts(
                    state="clean", evidence={"request_mid": key[1], "reply_mid": hdr.mid, "source": "capture"}
                )

    def _smb2_request(self, flow: _Flow, ts: float, msg: bytes) -> None:
        if msg[12] == smb2.Command.WRITE and msg[80:96] in flow.written:
            # only the first WRITE to a file is reported; its FileId sits at bytes 80..96
            # ([MS-SMB2] 2.2.21), so later writes are recognised without decoding them
            return
        cmd, _status, message_id, tree_id = _smb2_fields(msg)
        if cmd == smb2.Command.NEGOTIATE:
            req = self._negotiate_request(msg)
            client = self._client(flow)
            client.smb2_dialects.update(smb2.dialect_name(d) for d in req.dialects)
            for ctx in req.contexts:
                if isinstance(ctx, smb2.CompressionCapabilitiesContext):
                    client.compression_offered.update(
                        smb2.enum_name(smb2.CompressionAlgorithm, a) for a in ctx.algorithms
                    )
        elif cmd == smb2.Command.SESSION_SETUP:
            ss = self._session_request(msg)
            raw = self._ntlm(ss.security_buffer)
            if raw is not None and ntlmssp.parse_message_type(raw) == ntlmssp.MessageType.AUTHENTICATE:
                flow.pending[(2, message_id)] = ("auth", ntlmssp.decode_authenticate(raw))
        elif cmd == smb2.Command.TREE_CONNECT:
            flow.pending[(2, message_id)] = ("tree", self._tree_request(msg).path)
        elif cmd == smb2.Command.CREATE:
            create = self._create_request(msg)
            flow.pending[(2, message_id)] = ("create", tree_id, create)
            self._chain_file = (flow.trees.get(tree_id), create.name)
        elif cmd == smb2.Command.WRITE:
            write = self._write_request(msg)
            if write.file_id not in flow.written:
                self._file_event(flow, ts, EventKind.FILE_WRITE, "pcap:write", tree_id, write.file_id)
        elif cmd == smb2.Command.SET_INFO:
            info = smb2.decode_set_info_request(msg)
            target = info.rename_target
            if target is not None:
                share, old = self._file_name(flow, tree_id, info.file_id)
                self._emit(
                    flow,
                    ts,
                    EventKind.FILE_RENAME,
                    "pcap:rename",
                    share=share,
                    path=old,
                    new_path=target,
                    user=flow.user,
                    domain=flow.domain,
                )
                if len(flow.files) < MAX_FILES_PER_FLOW or info.file_id in flow.files:
                    flow.files[info.file_id] = (share, target)
            elif info.deletes:
                self._file_event(flow, ts, EventKind.FILE_DELETE, "pcap:delete", tree_id, info.file_id)

    def _smb2_response(self, flow: _Flow, server: _Server, ts: float, msg: bytes) -> None:
        cmd, status, message_id, tree_id = _smb2_fields(msg)
        if cmd == smb2.Command.NEGOTIATE:
            if status != 0:
                return
            resp = self._negotiate_response(msg)
            if resp.dialect == smb2.Dialect.WILDCARD:
                server.smb2_wildcard = True
                return
            server.smb2_modes[resp.dialect] = resp.security_mode
            best = server.smb2_negotiate
            if best is None or resp.dialect >= best.dialect:
                server.smb2_negotiate = resp
        elif cmd == smb2.Command.SESSION_SETUP:
            resp2 = self._session_response(msg)
            if status == STATUS_MORE_PROCESSING:
                raw = self._ntlm(resp2.security_buffer)
                if raw is not None and ntlmssp.parse_message_type(raw) == ntlmssp.MessageType.CHALLENGE:
                    server.challenge = ntlmssp.decode_challenge(raw)
                return
            pending = flow.pending.pop((2, message_id), None)
            # is_guest/is_null of the SessionFlags, with int arithmetic: an IntFlag "&" costs
            # microseconds (it builds a flag value), and this runs for every logon
            session_flags = int(resp2.session_flags)
            guest = bool(session_flags & _SESSION_IS_GUEST)
            null = bool(session_flags & _SESSION_IS_NULL)
            if status == 0:
                if guest:
                    server.guest = True
                if null:
                    server.null = True
            self._logon(
                flow,
                server,
                ts,
                status,
                pending,
                guest=guest,
                null=null,
                protocol="SMB2",
            )
        elif cmd == smb2.Command.TREE_CONNECT:
            pending = flow.pending.pop((2, message_id), None)
            if pending and pending[0] == "tree":
                self._tree(flow, server, ts, pending[1], status)
                if status == 0 and len(flow.trees) < 1024:
                    flow.trees[tree_id] = pending[1].rstrip("\\").rsplit("\\", 1)[-1]
        elif cmd == smb2.Command.CREATE:
            pending = flow.pending.pop((2, message_id), None)
            if not pending or pending[0] != "create":
                return
            created = self._create_response(msg)
            if created.status != 0:
                return
            request: smb2.CreateRequest = pending[2]
            share = flow.trees.get(pending[1])
            if len(flow.files) < MAX_FILES_PER_FLOW:
                flow.files[created.file_id] = (share, request.name)
            if request.delete_on_close:
                self._file_event(
                    flow, ts, EventKind.FILE_DELETE, "pcap:delete-on-close", pending[1], created.file_id
                )
            elif created.create_action in _CREATED and not request.create_options & 0x1:  # not a directory
                self._file_event(flow, ts, EventKind.FILE_WRITE, "pcap:create", pending[1], created.file_id)

    def _logon(
        self,
        flow: _Flow,
        server: _Server,
        ts: float,
        status: int,
        pending: tuple[Any, ...] | None,
        *,
        guest: bool,
        null: bool,
        protocol: str,
    ) -> None:
        user = domain = workstation = None
        anonymous = null
        lm_package: str | None = None
        if pending and pending[0] == "auth":
            auth: ntlmssp.Authenticate = pending[1]
            user, domain, workstation = auth.user or None, auth.domain or None, auth.workstation or None
            anonymous = anonymous or auth.is_anonymous
            if not auth.is_anonymous:
                lm_package = "NTLM V1" if len(auth.nt_response) == 24 else "NTLM V2"
        elif pending and pending[0] == "auth1":
            user, domain = pending[1] or None, pending[2] or None
            anonymous = anonymous or bool(pending[3])
            if not pending[3]:
                lm_package = "NTLM V1" if pending[4] == 24 else ("NTLM V2" if pending[4] > 24 else None)
        if anonymous:
            user = "ANONYMOUS LOGON"
            if status == 0:
                server.null = True
            elif server.null is None:
                server.null = False
        ok = status == 0
        if ok:
            flow.user, flow.domain = user, domain
        self._emit(
            flow,
            ts,
            EventKind.LOGON if ok else EventKind.LOGON_FAILURE,
            "pcap:session-setup",
            user=user,
            domain=domain,
            workstation=workstation,
            status=None if ok else status_name(status),
            auth_package="NTLM" if pending else None,
            lm_package=lm_package,
            protocol=protocol,
            detail="guest" if guest else ("anonymous" if anonymous else None),
        )

    def _file_name(self, flow: _Flow, tree_id: int, file_id: bytes) -> tuple[str | None, str]:
        """(share, name) of an open file; ``fileid:...`` when the CREATE was not captured.
        FileId all-ones in a compounded request means "the file the CREATE before opened"."""
        if file_id == _RELATED_FILE_ID and self._chain_file is not None:
            return self._chain_file
        known = flow.files.get(file_id)
        if known is not None:
            return known
        return flow.trees.get(tree_id), f"fileid:{file_id.hex()}"

    def _file_event(
        self, flow: _Flow, ts: float, kind: EventKind, event_id: str, tree_id: int, file_id: bytes
    ) -> None:
        share, name = self._file_name(flow, tree_id, file_id)
        if kind is EventKind.FILE_WRITE:
            if len(flow.written) >= MAX_FILES_PER_FLOW:
                flow.written.clear()
            flow.written.add(file_id)
        self._emit(flow, ts, kind, event_id, share=share, path=name, user=flow.user, domain=flow.domain)

    def _tree(self, flow: _Flow, server: _Server, ts: float, path: str, status: int) -> None:
        share = path.rstrip("\\").rsplit("\\", 1)[-1] if path else None
        if status == 0 and share and len(server.shares) < 1000:
            server.shares.add(share)
        self._emit(
            flow,
            ts,
            EventKind.SHARE_CONNECT,
            "pcap:tree-connect",
            share=share,
            path=path,
            user=flow.user,
            domain=flow.domain,
            status=None if status == 0 else status_name(status),
        )

    def _compressed(self, flow: _Flow, ts: float, msg: bytes, full: int) -> None:
        header = smb2.decode_compression_transform_header(msg[:16] if len(msg) >= 16 else msg)
        overflow = header.original_size + (0 if header.chained else header.offset_or_length) > 0xFFFFFFFF
        huge = header.original_size >= SMBGHOST_ORIGINAL_SIZE
        past_end = not header.chained and header.offset_or_length > full - 16
        if (overflow or huge or past_end) and not flow.ghost:
            flow.ghost = True
            self._emit(
                flow,
                ts,
                EventKind.EXPLOIT,
                "pcap:smbghost:compression-header",
                detail=(
                    "SMB2 compression transform with OriginalCompressedSegmentSize "
                    f"0x{header.original_size:08x}, "
                    f"offset 0x{header.offset_or_length:08x} in a {full}-byte message"
                ),
            )

    # -- facts ---------------------------------------------------------------------------------
    def hosts(self) -> list[HostFacts]:
        """One :class:`HostFacts` per server that answered SMB in the capture."""
        out = []
        for (address, port), s in sorted(self.servers.items()):
            if (
                s.smb1_negotiate is None
                and s.smb2_negotiate is None
                and s.challenge is None
                and not s.native_os
            ):
                continue  # only mid-stream traffic: nothing to judge
            out.append(self._facts(s, address, port))
        return out

    def _facts(self, s: _Server, address: str, port: int) -> HostFacts:
        smb1_facts: Smb1Facts | None = None
        if s.smb1_negotiate is not None:
            n = s.smb1_negotiate
            smb1_facts = Smb1Facts(
                enabled=True,
                dialect=s.smb1_dialect,
                signing_enabled=n.signing_enabled if n.form == "nt" else None,
                signing_required=n.signing_required if n.form == "nt" else None,
                capabilities=smb2.flag_names(smb1.Capabilities, n.capabilities),
                native_os=s.native_os,
                native_lan_manager=s.native_lan_manager,
                primary_domain=s.primary_domain or n.domain_name,
                server_name=n.server_name,
                system_time=n.system_time,
                reason="observed passively in a capture",
            )
        elif s.smb1_refused:
            smb1_facts = Smb1Facts(enabled=False, reason="server refused every SMB1 dialect in the capture")
        smb2_facts: Smb2Facts | None = None
        if s.smb2_negotiate is not None:
            r = s.smb2_negotiate
            ctx: dict[str, tuple[str, ...]] = {}
            comp_flags: int | None = None
            transport: int | None = None
            for c in r.contexts:
                if isinstance(c, smb2.PreauthIntegrityContext):
                    ctx["preauth"] = tuple(smb2.enum_name(smb2.HashAlgorithm, a) for a in c.hash_algorithms)
                elif isinstance(c, smb2.EncryptionCapabilitiesContext):
                    ctx["ciphers"] = tuple(smb2.enum_name(smb2.Cipher, a) for a in c.ciphers)
                elif isinstance(c, smb2.CompressionCapabilitiesContext):
                    ctx["compression"] = tuple(
                        smb2.enum_name(smb2.CompressionAlgorithm, a) for a in c.algorithms
                    )
                    comp_flags = c.flags
                elif isinstance(c, smb2.SigningCapabilitiesContext):
                    ctx["signing"] = tuple(smb2.enum_name(smb2.SigningAlgorithm, a) for a in c.algorithms)
                elif isinstance(c, smb2.RdmaTransformContext):
                    ctx["rdma"] = tuple(smb2.enum_name(smb2.RdmaTransform, a) for a in c.transforms)
                elif isinstance(c, smb2.TransportCapabilitiesContext):
                    transport = c.flags
            dialects = sorted(s.smb2_modes)
            smb2_facts = Smb2Facts(
                dialects=tuple(smb2.dialect_name(d) for d in dialects),
                decided=False,
                highest=smb2.dialect_name(r.dialect),
                server_guid=r.server_guid,
                capabilities=smb2.flag_names(smb2.Capabilities, r.capabilities),
                security_modes={smb2.dialect_name(d): m for d, m in s.smb2_modes.items()},
                max_transact_size=r.max_transact_size,
                max_read_size=r.max_read_size,
                max_write_size=r.max_write_size,
                system_time=r.system_time,
                server_start_time=r.server_start_time,
                preauth_integrity=ctx.get("preauth", ()),
                encryption_ciphers=ctx.get("ciphers", ()),
                compression_algorithms=ctx.get("compression", ()),
                compression_flags=comp_flags,
                signing_algorithms=ctx.get("signing", ()),
                rdma_transforms=ctx.get("rdma", ()),
                transport_capabilities=transport,
                reason="observed passively: only the dialects clients asked for were seen",
            )
        smb1_req = smb1_facts.signing_required if smb1_facts and smb1_facts.enabled else None
        smb2_req: bool | None = None
        smb2_en: bool | None = None
        if s.smb2_modes:
            smb2_req = all(m & smb2.SecurityMode.SIGNING_REQUIRED for m in s.smb2_modes.values())
            smb2_en = any(
                m & (smb2.SecurityMode.SIGNING_ENABLED | smb2.SecurityMode.SIGNING_REQUIRED)
                for m in s.smb2_modes.values()
            )
        known_req = [v for v in (smb1_req, smb2_req) if v is not None]
        smb1_en = smb1_facts.signing_enabled if smb1_facts and smb1_facts.enabled else None
        known_en = [v for v in (smb1_en, smb2_en) if v is not None]
        signing = SigningFacts(
            enabled=any(known_en) if known_en else None,
            required=all(known_req) if known_req else None,
            smb1_required=smb1_req,
            smb2_required=smb2_req,
        )
        ntlm = _ntlm_info(s.challenge) if s.challenge is not None else None
        os_name = s.native_os or (f"Windows NT {ntlm.os_version}" if ntlm and ntlm.os_version else None)
        return HostFacts(
            target=Target(address, port),
            port_state=PortState.OPEN,
            smb1=smb1_facts,
            smb2=smb2_facts,
            signing=signing,
            ntlm=ntlm,
            os=os_name,
            sessions=SessionFacts(
                null=s.null,
                guest=s.guest,
                null_reason=None if s.null is not None else "not observed in the capture",
                guest_reason=None if s.guest is not None else "not observed in the capture",
            ),
            ms17_010=s.ms17,
            doublepulsar=s.doublepulsar,
            started=_utc(s.first),
            finished=_utc(s.last),
        )

    def traffic(self, address: str, port: int) -> dict[str, JsonValue]:
        """Capture-only observations about one server (not part of HostFacts)."""
        s = self.servers[(address, port)]
        return {
            "clients": [c for c in sorted(s.clients)],
            "shares_connected": [x for x in sorted(s.shares)],
            "encrypted_messages": s.encrypted,
            "compressed_messages": s.compressed,
            "smb2_wildcard_answer": s.smb2_wildcard,
        }


class CaptureSource:
    """pcap/pcapng as a :class:`LogSource` for ``logs analyze`` (events only)."""

    type = "pcap"

    def __init__(self, path: str) -> None:
        self.analyzer = CaptureAnalyzer(path)
        self.stats = self.analyzer.stats

    def events(self) -> Iterator[Event]:
        return self.analyzer.events()
