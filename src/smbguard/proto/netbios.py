"""NetBIOS session service ([RFC 1002] 4.3) for port 139.

On port 139 a client must open a NetBIOS session with a SESSION REQUEST
naming the called and calling NetBIOS names before any SMB message. The
server answers POSITIVE SESSION RESPONSE (0x82) or NEGATIVE SESSION RESPONSE
(0x83, with an error code). Direct-TCP framing of SMB messages (type 0x00)
lives in :func:`smbguard.net.transport.frame`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smbguard.errors import DecodeError

# [RFC 1002] 4.3.1 packet types
SESSION_MESSAGE = 0x00
SESSION_REQUEST = 0x81
POSITIVE_SESSION_RESPONSE = 0x82
NEGATIVE_SESSION_RESPONSE = 0x83
RETARGET_SESSION_RESPONSE = 0x84
SESSION_KEEP_ALIVE = 0x85

#: "*SMBSERVER" is accepted by Windows and Samba as a called name when the real one is unknown.
WILDCARD_SERVER_NAME = "*SMBSERVER"
#: NetBIOS name suffix for the server (file server) service.
SUFFIX_SERVER = 0x20
SUFFIX_WORKSTATION = 0x00


class NegativeResponseCode(enum.IntEnum):
    """[RFC 1002] 4.3.4 NEGATIVE SESSION RESPONSE error codes."""

    NOT_LISTENING_ON_CALLED_NAME = 0x80
    NOT_LISTENING_FOR_CALLING_NAME = 0x81
    CALLED_NAME_NOT_PRESENT = 0x82
    INSUFFICIENT_RESOURCES = 0x83
    UNSPECIFIED_ERROR = 0x8F


@dataclass(frozen=True, slots=True)
class NbssResponse:
    """Answer to a SESSION REQUEST. ``error_code`` is set for a negative response."""

    packet_type: int
    positive: bool
    error_code: int | None = None

    @property
    def error_name(self) -> str | None:
        if self.error_code is None:
            return None
        try:
            return NegativeResponseCode(self.error_code).name
        except ValueError:
            return f"0x{self.error_code:02x}"


def encode_name(name: str, suffix: int = SUFFIX_SERVER) -> bytes:
    """First-level encoding of a NetBIOS name ([RFC 1001] 14.1, [RFC 1002] 4.1).

    The name is upper-cased, padded with spaces to 15 characters, the suffix byte
    appended, and each of the 16 bytes split into two nibbles written as
    ``'A' + nibble``. Result: a length byte 0x20, 32 letters, a zero terminator
    (no scope). ``"*SMBSERVER"`` is padded with spaces like any other name.
    """
    raw = name.upper().encode("ascii", errors="replace")[:15]
    raw = raw.ljust(15, b" ") + bytes([suffix & 0xFF])
    out = bytearray([32])
    for byte in raw:
        out.append(0x41 + (byte >> 4))
        out.append(0x41 + (byte & 0x0F))
    out.append(0)
    return bytes(out)


def decode_name(buf: bytes) -> tuple[str, int]:
    """Inverse of :func:`encode_name`: (name without padding, suffix)."""
    if len(buf) < 34 or buf[0] != 32 or buf[33] != 0:
        raise DecodeError("not a first-level encoded NetBIOS name")
    raw = bytearray()
    for i in range(16):
        hi, lo = buf[1 + 2 * i] - 0x41, buf[2 + 2 * i] - 0x41
        if not (0 <= hi < 16 and 0 <= lo < 16):
            raise DecodeError("invalid NetBIOS name encoding")
        raw.append((hi << 4) | lo)
    return raw[:15].decode("latin-1").rstrip(" "), raw[15]


def encode_session_request(called: str, calling: str) -> bytes:
    """SESSION REQUEST packet ([RFC 1002] 4.3.2), header included, ready for ``send_raw``.

    ``called`` gets the server suffix 0x20, ``calling`` the workstation suffix 0x00.
    """
    body = encode_name(called, SUFFIX_SERVER) + encode_name(calling, SUFFIX_WORKSTATION)
    return bytes([SESSION_REQUEST, 0]) + len(body).to_bytes(2, "big") + body


def decode_session_request(buf: bytes) -> tuple[str, str]:
    """(called, calling) names of a SESSION REQUEST packet (header included)."""
    if len(buf) < 4 or buf[0] != SESSION_REQUEST:
        raise DecodeError("not a NetBIOS SESSION REQUEST")
    length = int.from_bytes(buf[2:4], "big") | ((buf[1] & 1) << 16)
    body = buf[4 : 4 + length]
    if len(body) != length or length < 68:
        raise DecodeError("truncated NetBIOS SESSION REQUEST")
    called, _ = decode_name(body[:34])
    calling, _ = decode_name(body[34:68])
    return called, calling


def encode_session_response(
    positive: bool, error_code: int = NegativeResponseCode.UNSPECIFIED_ERROR
) -> bytes:
    """POSITIVE (4 bytes) or NEGATIVE (5 bytes) SESSION RESPONSE ([RFC 1002] 4.3.3, 4.3.4)."""
    if positive:
        return bytes([POSITIVE_SESSION_RESPONSE, 0, 0, 0])
    return bytes([NEGATIVE_SESSION_RESPONSE, 0, 0, 1, error_code & 0xFF])


def decode_session_response(buf: bytes) -> NbssResponse:
    """Decode a session-service answer (header included)."""
    if len(buf) < 4:
        raise DecodeError(f"NetBIOS session response too short ({len(buf)} bytes)")
    ptype = buf[0]
    length = int.from_bytes(buf[2:4], "big") | ((buf[1] & 1) << 16)
    if ptype == POSITIVE_SESSION_RESPONSE:
        return NbssResponse(ptype, True)
    if ptype == NEGATIVE_SESSION_RESPONSE:
        if length < 1 or len(buf) < 5:
            raise DecodeError("NEGATIVE SESSION RESPONSE without error code")
        return NbssResponse(ptype, False, buf[4])
    if ptype == RETARGET_SESSION_RESPONSE:
        return NbssResponse(ptype, False)
    raise DecodeError(f"unexpected NetBIOS session packet type 0x{ptype:02x}")
