"""Self-relative security descriptors ([MS-DTYP] 2.4.6) to :class:`AceFacts`.

Pure functions: bytes in, facts out. Malformed input raises
:class:`smbguard.errors.DecodeError` only. Share-level descriptors come from
srvsvc NetShareGetInfo level 502 ([MS-SRVS] 2.2.4.26), folder descriptors from
SMB2 QUERY_INFO with InfoType SMB2_0_INFO_SECURITY ([MS-SMB2] 2.2.37).
"""

from __future__ import annotations

import enum
import struct
from dataclasses import dataclass

from smbguard.errors import DecodeError
from smbguard.model import AceFacts


class AccessMask(enum.IntFlag):
    """Access mask bits for files and directories ([MS-DTYP] 2.4.3, [MS-SMB2] 2.2.13.1)."""

    FILE_READ_DATA = 0x00000001  # list directory
    FILE_WRITE_DATA = 0x00000002  # add file
    FILE_APPEND_DATA = 0x00000004  # add subdirectory
    FILE_READ_EA = 0x00000008
    FILE_WRITE_EA = 0x00000010
    FILE_EXECUTE = 0x00000020  # traverse
    FILE_DELETE_CHILD = 0x00000040
    FILE_READ_ATTRIBUTES = 0x00000080
    FILE_WRITE_ATTRIBUTES = 0x00000100
    DELETE = 0x00010000
    READ_CONTROL = 0x00020000
    WRITE_DAC = 0x00040000
    WRITE_OWNER = 0x00080000
    SYNCHRONIZE = 0x00100000
    GENERIC_ALL = 0x10000000
    GENERIC_EXECUTE = 0x20000000
    GENERIC_WRITE = 0x40000000
    GENERIC_READ = 0x80000000


FULL_CONTROL = 0x001F01FF  # every specific and standard right on a file/directory
READ_BITS = AccessMask.FILE_READ_DATA | AccessMask.GENERIC_READ | AccessMask.GENERIC_ALL
WRITE_BITS = (
    AccessMask.FILE_WRITE_DATA
    | AccessMask.FILE_APPEND_DATA
    | AccessMask.GENERIC_WRITE
    | AccessMask.GENERIC_ALL
    | AccessMask.WRITE_DAC
    | AccessMask.WRITE_OWNER
)

_ACE_TYPES = {0x00: "allow", 0x01: "deny", 0x05: "allow", 0x06: "deny"}  # [MS-DTYP] 2.4.4.1
INHERIT_ONLY = 0x08  # AceFlags INHERIT_ONLY_ACE: applies to children, not to this object

SE_DACL_PRESENT = 0x0004


def rights(mask: int) -> tuple[str, ...]:
    """Human rights of an access mask: ``("full",)``, or some of ``read``/``write``."""
    if mask & AccessMask.GENERIC_ALL or mask & FULL_CONTROL == FULL_CONTROL:
        return ("full", "read", "write")
    out = []
    if mask & READ_BITS:
        out.append("read")
    if mask & WRITE_BITS:
        out.append("write")
    return tuple(out)


def sid_to_str(buf: bytes, offset: int = 0) -> tuple[str, int]:
    """Decode a binary SID ([MS-DTYP] 2.4.2.2) at ``offset``; returns (``S-1-...``, length)."""
    if offset < 0 or len(buf) < offset + 8:
        raise DecodeError("SID truncated")
    revision, count = buf[offset], buf[offset + 1]
    if revision != 1 or count > 15:
        raise DecodeError(f"bad SID (revision {revision}, {count} sub-authorities)")
    end = offset + 8 + 4 * count
    if len(buf) < end:
        raise DecodeError("SID sub-authorities truncated")
    authority = int.from_bytes(buf[offset + 2 : offset + 8], "big")
    subs = struct.unpack_from(f"<{count}I", buf, offset + 8)
    return "-".join(["S", "1", str(authority), *map(str, subs)]), end - offset


@dataclass(frozen=True, slots=True)
class RawAce:
    sid: str
    ace_type: str
    flags: int
    mask: int


@dataclass(frozen=True, slots=True)
class SecurityDescriptor:
    """The parts smbguard uses. ``dacl`` is None for a NULL DACL (everyone: full access)."""

    owner: str | None
    group: str | None
    dacl: tuple[RawAce, ...] | None


def parse_security_descriptor(buf: bytes) -> SecurityDescriptor:
    """Parse a self-relative SECURITY_DESCRIPTOR ([MS-DTYP] 2.4.6)."""
    if len(buf) < 20:
        raise DecodeError("security descriptor shorter than its 20-byte header")
    revision, _sbz, control, off_owner, off_group, _off_sacl, off_dacl = struct.unpack_from("<BBHIIII", buf)
    if revision != 1:
        raise DecodeError(f"security descriptor revision {revision}")
    owner = sid_to_str(buf, off_owner)[0] if off_owner else None
    group = sid_to_str(buf, off_group)[0] if off_group else None
    if not control & SE_DACL_PRESENT or not off_dacl:
        return SecurityDescriptor(owner, group, None)
    if len(buf) < off_dacl + 8:
        raise DecodeError("ACL header truncated")
    _acl_rev, _sbz1, acl_size, ace_count, _sbz2 = struct.unpack_from("<BBHHH", buf, off_dacl)
    end = off_dacl + acl_size
    if acl_size < 8 or end > len(buf):
        raise DecodeError("ACL size outside the descriptor")
    pos = off_dacl + 8
    aces: list[RawAce] = []
    for _ in range(ace_count):
        if pos + 8 > end:
            raise DecodeError("ACE header truncated")
        ace_type, flags, size = struct.unpack_from("<BBH", buf, pos)
        if size < 8 or pos + size > end:
            raise DecodeError("ACE size outside the ACL")
        kind = _ACE_TYPES.get(ace_type)
        if kind is not None:
            (mask,) = struct.unpack_from("<I", buf, pos + 4)
            sid_at = pos + 8 if ace_type in (0x00, 0x01) else _object_sid_offset(buf, pos, size)
            sid, _ = sid_to_str(buf[: pos + size], sid_at)
            aces.append(RawAce(sid=sid, ace_type=kind, flags=flags, mask=mask))
        pos += size
    return SecurityDescriptor(owner, group, tuple(aces))


def _object_sid_offset(buf: bytes, pos: int, size: int) -> int:
    """Offset of the SID in an ACCESS_ALLOWED/DENIED_OBJECT_ACE ([MS-DTYP] 2.4.4.3)."""
    if size < 12:
        raise DecodeError("object ACE truncated")
    (obj_flags,) = struct.unpack_from("<I", buf, pos + 8)
    return pos + 12 + (16 if obj_flags & 1 else 0) + (16 if obj_flags & 2 else 0)


def to_ace_facts(
    sd: SecurityDescriptor, names: dict[str, str], include_inherit_only: bool = False
) -> tuple[AceFacts, ...]:
    """The DACL as :class:`AceFacts`, names from ``names`` (SID -> name). A NULL DACL
    becomes one synthetic "Everyone: full" entry, which is what it means."""
    if sd.dacl is None:
        return (
            AceFacts(
                sid="S-1-1-0",
                name=names.get("S-1-1-0", "Everyone"),
                ace_type="allow",
                access_mask=FULL_CONTROL,
                rights=("full", "read", "write"),
            ),
        )
    return tuple(
        AceFacts(
            sid=a.sid, name=names.get(a.sid), ace_type=a.ace_type, access_mask=a.mask, rights=rights(a.mask)
        )
        for a in sd.dacl
        if include_inherit_only or not a.flags & INHERIT_ONLY
    )
