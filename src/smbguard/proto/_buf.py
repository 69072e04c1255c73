"""Bounded little-endian readers shared by the codecs.

Every read checks bounds and raises :class:`~smbguard.errors.DecodeError`;
callers never see IndexError, struct.error or UnicodeDecodeError.
"""

from __future__ import annotations

import struct
import uuid
from datetime import UTC, datetime, timedelta

from smbguard.errors import DecodeError

_FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)
_MAX_FILETIME_YEAR = 9999


def u8(buf: bytes, off: int) -> int:
    if off < 0 or off + 1 > len(buf):
        raise DecodeError(f"need 1 byte at offset {off}, have {len(buf)}")
    return buf[off]


def u16(buf: bytes, off: int) -> int:
    if off < 0 or off + 2 > len(buf):
        raise DecodeError(f"need 2 bytes at offset {off}, have {len(buf)}")
    return int.from_bytes(buf[off : off + 2], "little")


def u32(buf: bytes, off: int) -> int:
    if off < 0 or off + 4 > len(buf):
        raise DecodeError(f"need 4 bytes at offset {off}, have {len(buf)}")
    return int.from_bytes(buf[off : off + 4], "little")


def u64(buf: bytes, off: int) -> int:
    if off < 0 or off + 8 > len(buf):
        raise DecodeError(f"need 8 bytes at offset {off}, have {len(buf)}")
    return int.from_bytes(buf[off : off + 8], "little")


def take(buf: bytes, off: int, length: int) -> bytes:
    """``buf[off:off+length]``, or DecodeError if it does not fit."""
    if off < 0 or length < 0 or off + length > len(buf):
        raise DecodeError(f"need {length} bytes at offset {off}, have {len(buf)}")
    return bytes(buf[off : off + length])


def need(buf: bytes, length: int, what: str) -> None:
    if len(buf) < length:
        raise DecodeError(f"{what}: need {length} bytes, have {len(buf)}")


def utf16(data: bytes, what: str = "string") -> str:
    """Decode UTF-16LE strictly (odd length or lone surrogates -> DecodeError)."""
    if len(data) % 2:
        raise DecodeError(f"{what}: odd UTF-16 length {len(data)}")
    try:
        return data.decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise DecodeError(f"{what}: invalid UTF-16") from exc


def utf16_lenient(data: bytes) -> str:
    """Decode UTF-16LE, replacing invalid code units (for display-only strings)."""
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-le", errors="replace")


def oem(data: bytes) -> str:
    """OEM strings: decode as latin-1 after trying UTF-8 (never fails)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def filetime_to_datetime(value: int) -> datetime | None:
    """FILETIME ([MS-DTYP] 2.3.3: 100-ns since 1601-01-01 UTC) -> aware datetime.

    0 means "not set" and gives None; values past year 9999 give None too."""
    if value <= 0:
        return None
    try:
        result = _FILETIME_EPOCH + timedelta(microseconds=value // 10)
    except OverflowError:
        return None
    if result.year > _MAX_FILETIME_YEAR:
        return None
    return result


def datetime_to_filetime(value: datetime | None) -> int:
    """Aware (or naive = UTC) datetime -> FILETIME; None -> 0."""
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    delta = value - _FILETIME_EPOCH
    return (delta.days * 86400 + delta.seconds) * 10_000_000 + delta.microseconds * 10


def guid_from_bytes(data: bytes) -> str:
    """[MS-DTYP] 2.3.4 GUID (mixed-endian) -> canonical string."""
    if len(data) != 16:
        raise DecodeError("GUID must be 16 bytes")
    return str(uuid.UUID(bytes_le=data))


def guid_to_bytes(text: str) -> bytes:
    return uuid.UUID(text).bytes_le


def pack(fmt: str, *values: int) -> bytes:
    """struct.pack with a ValueError (not struct.error) for out-of-range encoder input."""
    try:
        return struct.pack(fmt, *values)
    except struct.error as exc:
        raise ValueError(str(exc)) from exc


__all__ = [
    "datetime_to_filetime",
    "filetime_to_datetime",
    "guid_from_bytes",
    "guid_to_bytes",
    "need",
    "oem",
    "pack",
    "take",
    "u8",
    "u16",
    "u32",
    "u64",
    "utf16",
    "utf16_lenient",
]
