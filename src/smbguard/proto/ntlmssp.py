"""NTLMSSP messages ([MS-NLMP] 2.2.1.1 NEGOTIATE, 2.2.1.2 CHALLENGE, 2.2.1.3 AUTHENTICATE).

Only what an unauthenticated scanner and the lab server need: smbguard never
computes a real NTLM response. The AUTHENTICATE encoders build an anonymous
message ([MS-NLMP] 3.2.5.1.2: empty user, empty NT response, LM response Z(1))
or an NTLMv2-*shaped* message for a random, non-existent user name (random
proof), which the server cannot verify and either maps to guest or refuses.
"""

from __future__ import annotations

import enum
import os
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from smbguard.errors import DecodeError
from smbguard.proto._buf import (
    datetime_to_filetime,
    filetime_to_datetime,
    oem,
    pack,
    take,
    u16,
    u32,
    utf16_lenient,
)

SIGNATURE = b"NTLMSSP\x00"
#: Upper bound on AV pairs parsed from one message (hostile input).
MAX_AV_PAIRS = 64
NTLMSSP_REVISION_W2K3 = 0x0F


class MessageType(enum.IntEnum):
    NEGOTIATE = 1
    CHALLENGE = 2
    AUTHENTICATE = 3


class NegotiateFlags(enum.IntFlag):
    """[MS-NLMP] 2.2.2.5 NEGOTIATE."""

    UNICODE = 0x00000001
    OEM = 0x00000002
    REQUEST_TARGET = 0x00000004
    SIGN = 0x00000010
    SEAL = 0x00000020
    DATAGRAM = 0x00000040
    LM_KEY = 0x00000080
    NTLM = 0x00000200
    ANONYMOUS = 0x00000800
    OEM_DOMAIN_SUPPLIED = 0x00001000
    OEM_WORKSTATION_SUPPLIED = 0x00002000
    ALWAYS_SIGN = 0x00008000
    TARGET_TYPE_DOMAIN = 0x00010000
    TARGET_TYPE_SERVER = 0x00020000
    EXTENDED_SESSIONSECURITY = 0x00080000
    IDENTIFY = 0x00100000
    REQUEST_NON_NT_SESSION_KEY = 0x00400000
    TARGET_INFO = 0x00800000
    VERSION = 0x02000000
    NEGOTIATE_128 = 0x20000000
    KEY_EXCH = 0x40000000
    NEGOTIATE_56 = 0x80000000


#: Flags a modern Windows client sends in NEGOTIATE (minus SIGN/SEAL: smbguard never signs).
DEFAULT_FLAGS = (
    NegotiateFlags.UNICODE
    | NegotiateFlags.OEM
    | NegotiateFlags.REQUEST_TARGET
    | NegotiateFlags.NTLM
    | NegotiateFlags.ALWAYS_SIGN
    | NegotiateFlags.EXTENDED_SESSIONSECURITY
    | NegotiateFlags.TARGET_INFO
    | NegotiateFlags.VERSION
    | NegotiateFlags.NEGOTIATE_128
    | NegotiateFlags.NEGOTIATE_56
)


class AvId(enum.IntEnum):
    """[MS-NLMP] 2.2.2.1 AV_PAIR AvId."""

    EOL = 0x0000
    NB_COMPUTER_NAME = 0x0001
    NB_DOMAIN_NAME = 0x0002
    DNS_COMPUTER_NAME = 0x0003
    DNS_DOMAIN_NAME = 0x0004
    DNS_TREE_NAME = 0x0005
    FLAGS = 0x0006
    TIMESTAMP = 0x0007
    SINGLE_HOST = 0x0008
    TARGET_NAME = 0x0009
    CHANNEL_BINDINGS = 0x000A


_STRING_AVS = frozenset(
    {AvId.NB_COMPUTER_NAME, AvId.NB_DOMAIN_NAME, AvId.DNS_COMPUTER_NAME, AvId.DNS_DOMAIN_NAME,
     AvId.DNS_TREE_NAME, AvId.TARGET_NAME}
)


@dataclass(frozen=True, slots=True)
class Version:
    """[MS-NLMP] 2.2.2.10 VERSION: the OS version the peer claims (Samba says 6.1.0)."""

    major: int
    minor: int
    build: int
    revision: int = NTLMSSP_REVISION_W2K3

    def encode(self) -> bytes:
        return pack("<BBH", self.major, self.minor, self.build) + b"\x00\x00\x00" + pack("<B", self.revision)

    @classmethod
    def decode(cls, data: bytes) -> Version:
        if len(data) != 8:
            raise DecodeError("NTLM VERSION must be 8 bytes")
        return cls(data[0], data[1], int.from_bytes(data[2:4], "little"), data[7])

    def __str__(self) -> str:
        return f"{self.major}.{self.minor}.{self.build}"


# ----------------------------------------------------------------------------- helpers


def _field(buf: bytes, off: int, what: str) -> bytes:
    """Payload referenced by a (Len u16, MaxLen u16, Offset u32) field at ``off``."""
    length, offset = u16(buf, off), u32(buf, off + 4)
    if length == 0:
        return b""
    if offset < 8:
        raise DecodeError(f"NTLMSSP {what}: offset {offset} inside the signature")
    return take(buf, offset, length)


def _check(buf: bytes, mtype: MessageType) -> None:
    if len(buf) < 12 or buf[:8] != SIGNATURE:
        raise DecodeError("not an NTLMSSP message")
    got = u32(buf, 8)
    if got != mtype:
        raise DecodeError(f"NTLMSSP message type {got}, expected {int(mtype)}")


def _text(data: bytes, unicode: bool) -> str:
    return utf16_lenient(data) if unicode else oem(data)


def _encode_text(text: str, unicode: bool) -> bytes:
    return text.encode("utf-16-le") if unicode else text.encode("ascii", errors="replace")


class _Payload:
    """Builds the variable part; each add returns the 8-byte (Len, MaxLen, Offset) field."""

    def __init__(self, base: int) -> None:
        self.base = base
        self.data = bytearray()

    def add(self, value: bytes) -> bytes:
        offset = self.base + len(self.data)
        self.data += value
        return pack("<HHI", len(value), len(value), offset)


def parse_message_type(buf: bytes) -> MessageType:
    """Type of an NTLMSSP message (DecodeError if not NTLMSSP or an unknown type)."""
    if len(buf) < 12 or buf[:8] != SIGNATURE:
        raise DecodeError("not an NTLMSSP message")
    try:
        return MessageType(u32(buf, 8))
    except ValueError as exc:
        raise DecodeError(f"unknown NTLMSSP message type {u32(buf, 8)}") from exc


# ----------------------------------------------------------------------------- AV pairs


def decode_av_pairs(data: bytes) -> tuple[dict[int, bytes], bool]:
    """Parse an AV_PAIR list ([MS-NLMP] 2.2.2.1) into {AvId: value}.

    Returns (pairs, terminated). Tolerates what real peers send (see Zeek's
    ntlm-empty-av-pair-seq / ntlm-unterminated-av-pair-seq traces): an empty
    list, a list with no MsvAvEOL, and trailing bytes too short for a pair.
    A pair whose length runs past the end is dropped. First occurrence wins.
    """
    pairs: dict[int, bytes] = {}
    off = 0
    for _ in range(MAX_AV_PAIRS):
        if off + 4 > len(data):
            return pairs, False
        av_id = int.from_bytes(data[off : off + 2], "little")
        length = int.from_bytes(data[off + 2 : off + 4], "little")
        if av_id == AvId.EOL:
            return pairs, True
        if off + 4 + length > len(data):
            return pairs, False
        pairs.setdefault(av_id, bytes(data[off + 4 : off + 4 + length]))
        off += 4 + length
    return pairs, False


def encode_av_pairs(pairs: Mapping[int, bytes]) -> bytes:
    """AV_PAIR list terminated by MsvAvEOL."""
    out = bytearray()
    for av_id, value in pairs.items():
        if av_id == AvId.EOL:
            continue
        out += pack("<HH", av_id, len(value)) + value
    return bytes(out + b"\x00\x00\x00\x00")


# ----------------------------------------------------------------------------- NEGOTIATE


@dataclass(frozen=True, slots=True)
class Negotiate:
    """[MS-NLMP] 2.2.1.1 NEGOTIATE_MESSAGE."""

    flags: int = DEFAULT_FLAGS
    domain: str = ""
    workstation: str = ""
    version: Version | None = None


def encode_negotiate(flags: int = DEFAULT_FLAGS, domain: str = "", workstation: str = "",
                     version: Version | None = None) -> bytes:
    """NEGOTIATE_MESSAGE. Domain/workstation are OEM (and flagged as supplied) when given."""
    if domain:
        flags |= NegotiateFlags.OEM_DOMAIN_SUPPLIED
    if workstation:
        flags |= NegotiateFlags.OEM_WORKSTATION_SUPPLIED
    if version is not None:
        flags |= NegotiateFlags.VERSION
    ver = version.encode() if version is not None else bytes(8)
    payload = _Payload(40)
    dom = payload.add(domain.encode("ascii", errors="replace"))
    ws = payload.add(workstation.encode("ascii", errors="replace"))
    return SIGNATURE + pack("<II", MessageType.NEGOTIATE, flags) + dom + ws + ver + bytes(payload.data)


def decode_negotiate(buf: bytes) -> Negotiate:
    _check(buf, MessageType.NEGOTIATE)
    flags = u32(buf, 12)
    domain = workstation = ""
    if len(buf) >= 32:
        domain = oem(_field(buf, 16, "domain"))
        workstation = oem(_field(buf, 24, "workstation"))
    version = Version.decode(take(buf, 32, 8)) if flags & NegotiateFlags.VERSION and len(buf) >= 40 else None
    return Negotiate(flags=flags, domain=domain, workstation=workstation, version=version)


# ----------------------------------------------------------------------------- CHALLENGE


@dataclass(frozen=True, slots=True)
class Challenge:
    """[MS-NLMP] 2.2.1.2 CHALLENGE_MESSAGE with decoded target info.

    ``av_pairs`` maps AvId (int) to the raw value; the string properties decode
    UTF-16LE names; ``timestamp`` is MsvAvTimestamp (server clock, UTC)."""

    flags: int
    server_challenge: bytes
    target_name: str = ""
    av_pairs: Mapping[int, bytes] = field(default_factory=dict)
    version: Version | None = None
    av_pairs_terminated: bool = True

    def _av_text(self, av_id: AvId) -> str | None:
        raw = self.av_pairs.get(av_id)
        # Some stacks (QNAP/old Samba) NUL-terminate names inside the pair.
        return None if raw is None else utf16_lenient(raw).rstrip("\x00")

    @property
    def nb_computer_name(self) -> str | None:
        return self._av_text(AvId.NB_COMPUTER_NAME)

    @property
    def nb_domain_name(self) -> str | None:
        return self._av_text(AvId.NB_DOMAIN_NAME)

    @property
    def dns_computer_name(self) -> str | None:
        return self._av_text(AvId.DNS_COMPUTER_NAME)

    @property
    def dns_domain_name(self) -> str | None:
        return self._av_text(AvId.DNS_DOMAIN_NAME)

    @property
    def dns_tree_name(self) -> str | None:
        return self._av_text(AvId.DNS_TREE_NAME)

    @property
    def timestamp(self) -> datetime | None:
        raw = self.av_pairs.get(AvId.TIMESTAMP)
        if raw is None or len(raw) != 8:
            return None
        return filetime_to_datetime(int.from_bytes(raw, "little"))


def encode_challenge(server_challenge: bytes, target_name: str = "",
                     av_pairs: Mapping[int, bytes] | None = None,
                     flags: int = DEFAULT_FLAGS | NegotiateFlags.TARGET_TYPE_SERVER,
                     version: Version | None = None) -> bytes:
    """CHALLENGE_MESSAGE (server direction). Target info is sent when ``av_pairs``
    is given (TARGET_INFO flag set); strings are Unicode when the UNICODE flag is."""
    if len(server_challenge) != 8:
        raise ValueError("server challenge must be 8 bytes")
    if av_pairs is not None:
        flags |= NegotiateFlags.TARGET_INFO
    if version is not None:
        flags |= NegotiateFlags.VERSION
    payload = _Payload(56)
    tname = payload.add(_encode_text(target_name, bool(flags & NegotiateFlags.UNICODE)))
    tinfo = payload.add(encode_av_pairs(av_pairs) if av_pairs is not None else b"")
    ver = version.encode() if version is not None else bytes(8)
    return (
        SIGNATURE
        + pack("<I", MessageType.CHALLENGE)
        + tname
        + pack("<I", flags)
        + server_challenge
        + bytes(8)
        + tinfo
        + ver
        + bytes(payload.data)
    )


def string_av_pairs(nb_computer: str, nb_domain: str, dns_computer: str = "", dns_domain: str = "",
                    dns_tree: str = "", timestamp: datetime | None = None) -> dict[int, bytes]:
    """Target-info pairs as a Windows server sends them (names UTF-16LE, FILETIME timestamp)."""
    pairs: dict[int, bytes] = {
        AvId.NB_DOMAIN_NAME: nb_domain.encode("utf-16-le"),
        AvId.NB_COMPUTER_NAME: nb_computer.encode("utf-16-le"),
    }
    if dns_domain:
        pairs[AvId.DNS_DOMAIN_NAME] = dns_domain.encode("utf-16-le")
    if dns_computer:
        pairs[AvId.DNS_COMPUTER_NAME] = dns_computer.encode("utf-16-le")
    if dns_tree:
        pairs[AvId.DNS_TREE_NAME] = dns_tree.encode("utf-16-le")
    if timestamp is not None:
        pairs[AvId.TIMESTAMP] = datetime_to_filetime(timestamp).to_bytes(8, "little")
    return pairs


def decode_challenge(buf: bytes) -> Challenge:
    """Decode a CHALLENGE_MESSAGE. Old servers (NT4 style, 32/48-byte messages)
    without target info or version are accepted."""
    _check(buf, MessageType.CHALLENGE)
    if len(buf) < 32:
        raise DecodeError(f"NTLMSSP CHALLENGE too short ({len(buf)} bytes)")
    flags = u32(buf, 20)
    target_name = _text(_field(buf, 12, "target name"), bool(flags & NegotiateFlags.UNICODE))
    pairs: dict[int, bytes] = {}
    terminated = True
    if len(buf) >= 48:
        info = _field(buf, 40, "target info")
        pairs, terminated = decode_av_pairs(info)
    version = None
    if flags & NegotiateFlags.VERSION and len(buf) >= 56:
        version = Version.decode(take(buf, 48, 8))
    return Challenge(
        flags=flags,
        server_challenge=take(buf, 24, 8),
        target_name=target_name,
        av_pairs=pairs,
        version=version,
        av_pairs_terminated=terminated,
    )


# ----------------------------------------------------------------------------- AUTHENTICATE


@dataclass(frozen=True, slots=True)
class Authenticate:
    """[MS-NLMP] 2.2.1.3 AUTHENTICATE_MESSAGE (the parts the lab server looks at)."""

    flags: int
    lm_response: bytes = b""
    nt_response: bytes = b""
    domain: str = ""
    user: str = ""
    workstation: str = ""
    session_key: bytes = b""
    version: Version | None = None

    @property
    def is_anonymous(self) -> bool:
        """[MS-NLMP] 3.3.1/3.2.5.1.2: empty user with an empty NT response (LM empty or Z(1))."""
        if self.flags & NegotiateFlags.ANONYMOUS and not self.user:
            return True
        return not self.user and not self.nt_response and self.lm_response in (b"", b"\x00")


def encode_authenticate(user: str = "", domain: str = "", workstation: str = "",
                        lm_response: bytes = b"", nt_response: bytes = b"",
                        flags: int = DEFAULT_FLAGS, session_key: bytes = b"",
                        version: Version | None = None) -> bytes:
    """AUTHENTICATE_MESSAGE with the 88-byte fixed part (Version + zero MIC)."""
    unicode = bool(flags & NegotiateFlags.UNICODE)
    payload = _Payload(88)
    fields = (
        payload.add(lm_response)
        + payload.add(nt_response)
        + payload.add(_encode_text(domain, unicode))
        + payload.add(_encode_text(user, unicode))
        + payload.add(_encode_text(workstation, unicode))
        + payload.add(session_key)
    )
    ver = version.encode() if version is not None else bytes(8)
    head = SIGNATURE + pack("<I", MessageType.AUTHENTICATE) + fields + pack("<I", flags) + ver
    return head + bytes(16) + bytes(payload.data)


def encode_anonymous_authenticate(flags: int = DEFAULT_FLAGS) -> bytes:
    """Anonymous AUTHENTICATE ([MS-NLMP] 3.2.5.1.2): null user, empty NT response, LM = Z(1)."""
    flags = (flags | NegotiateFlags.ANONYMOUS) & ~NegotiateFlags.KEY_EXCH
    return encode_authenticate(lm_response=b"\x00", flags=flags)


def encode_guest_authenticate(challenge: Challenge, user: str, workstation: str = "",
                              flags: int = DEFAULT_FLAGS, now: datetime | None = None) -> bytes:
    """AUTHENTICATE for a (random, non-existent) user with a random NTLMv2-shaped response.

    NTProofStr and client challenge are random: no password is involved, the server
    cannot validate the proof and either maps the unknown user to guest
    (Samba ``map to guest = Bad User``, Windows with Guest enabled) or refuses."""
    stamp = datetime_to_filetime(now or datetime.now(UTC))
    blob = (
        b"\x01\x01\x00\x00\x00\x00\x00\x00"
        + struct.pack("<Q", stamp)
        + os.urandom(8)
        + b"\x00\x00\x00\x00"
        + encode_av_pairs(challenge.av_pairs)
        + b"\x00\x00\x00\x00"
    )
    nt_response = os.urandom(16) + blob
    lm_response = os.urandom(24)
    flags &= ~(NegotiateFlags.KEY_EXCH | NegotiateFlags.ANONYMOUS)
    return encode_authenticate(user=user, domain="", workstation=workstation, lm_response=lm_response,
                               nt_response=nt_response, flags=flags)


def decode_authenticate(buf: bytes) -> Authenticate:
    """Decode an AUTHENTICATE_MESSAGE (64-byte NT4 form or 72/88-byte forms)."""
    _check(buf, MessageType.AUTHENTICATE)
    if len(buf) < 64:
        raise DecodeError(f"NTLMSSP AUTHENTICATE too short ({len(buf)} bytes)")
    flags = u32(buf, 60)
    unicode = bool(flags & NegotiateFlags.UNICODE)
    version = None
    if flags & NegotiateFlags.VERSION and len(buf) >= 72 and u32(buf, 16) >= 72:
        version = Version.decode(take(buf, 64, 8))
    return Authenticate(
        flags=flags,
        lm_response=_field(buf, 12, "LM response"),
        nt_response=_field(buf, 20, "NT response"),
        domain=_text(_field(buf, 28, "domain"), unicode),
        user=_text(_field(buf, 36, "user"), unicode),
        workstation=_text(_field(buf, 44, "workstation"), unicode),
        session_key=_field(buf, 52, "session key"),
        version=version,
    )


