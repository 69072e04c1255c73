"""NTSTATUS codes seen in SMB exchanges ([MS-ERREF] 2.3.1).

SMB2 carries an NTSTATUS in every header ([MS-SMB2] 2.2.1.2 ``Status``); SMB1
carries one when FLAGS2_NT_STATUS is set ([MS-CIFS] 2.2.3.1), otherwise a DOS
error class/code pair (see :func:`dos_error_to_status`).
"""

from __future__ import annotations

import enum


class NTStatus(enum.IntEnum):
    """The NTSTATUS values smbguard interprets ([MS-ERREF] 2.3.1)."""

    SUCCESS = 0x00000000
    PENDING = 0x00000103
    MORE_PROCESSING_REQUIRED = 0xC0000016
    BUFFER_OVERFLOW = 0x80000005
    NO_MORE_FILES = 0x80000006
    INVALID_SMB = 0x00010002  # SMB1 DOS error ERRSRV/ERRerror packed as NTSTATUS-like value
    SMB_BAD_TID = 0x00050002  # SMB1 ERRSRV/ERRinvnid
    SMB_BAD_COMMAND = 0x00160002  # SMB1 ERRSRV/ERRbadcmd
    SMB_BAD_UID = 0x005B0002  # SMB1 ERRSRV/ERRbaduid
    NOT_IMPLEMENTED = 0xC0000002
    INVALID_INFO_CLASS = 0xC0000003
    INFO_LENGTH_MISMATCH = 0xC0000004
    ACCESS_VIOLATION = 0xC0000005
    INVALID_HANDLE = 0xC0000008
    INVALID_PARAMETER = 0xC000000D
    NO_SUCH_DEVICE = 0xC000000E
    NO_SUCH_FILE = 0xC000000F
    INVALID_DEVICE_REQUEST = 0xC0000010
    END_OF_FILE = 0xC0000011
    ACCESS_DENIED = 0xC0000022
    BUFFER_TOO_SMALL = 0xC0000023
    OBJECT_NAME_INVALID = 0xC0000033
    OBJECT_NAME_NOT_FOUND = 0xC0000034
    OBJECT_NAME_COLLISION = 0xC0000035
    OBJECT_PATH_NOT_FOUND = 0xC000003A
    SHARING_VIOLATION = 0xC0000043
    NO_SUCH_USER = 0xC0000064
    WRONG_PASSWORD = 0xC000006A
    LOGON_FAILURE = 0xC000006D
    ACCOUNT_RESTRICTION = 0xC000006E
    INVALID_LOGON_HOURS = 0xC000006F
    INVALID_WORKSTATION = 0xC0000070
    PASSWORD_EXPIRED = 0xC0000071
    ACCOUNT_DISABLED = 0xC0000072
    INSUFFICIENT_RESOURCES = 0xC000009A
    PIPE_NOT_AVAILABLE = 0xC00000AC
    INVALID_PIPE_STATE = 0xC00000AD
    PIPE_BUSY = 0xC00000AE
    IO_TIMEOUT = 0xC00000B5
    FILE_IS_A_DIRECTORY = 0xC00000BA
    NOT_SUPPORTED = 0xC00000BB
    NETWORK_NAME_DELETED = 0xC00000C9
    NETWORK_ACCESS_DENIED = 0xC00000CA
    BAD_NETWORK_NAME = 0xC00000CC
    REQUEST_NOT_ACCEPTED = 0xC00000D0
    PIPE_DISCONNECTED = 0xC00000B0
    PIPE_CLOSING = 0xC00000B1
    CANCELLED = 0xC0000120
    FILE_CLOSED = 0xC0000128
    LOGON_TYPE_NOT_GRANTED = 0xC000015B
    NOT_FOUND = 0xC0000225
    INSUFF_SERVER_RESOURCES = 0xC0000205
    USER_SESSION_DELETED = 0xC0000203
    ACCOUNT_LOCKED_OUT = 0xC0000234
    PASSWORD_MUST_CHANGE = 0xC0000224
    CONNECTION_REFUSED = 0xC0000236
    NETWORK_SESSION_EXPIRED = 0xC000035C
    SMB_TOO_MANY_UIDS = 0xC000205A
    NETWORK_UNREACHABLE = 0xC000023C
    STOPPED_ON_SYMLINK = 0x8000002D


_BY_VALUE: dict[int, NTStatus] = {int(s): s for s in NTStatus}


def status_name(code: int) -> str:
    """``"STATUS_ACCESS_DENIED"`` for a known code, ``"0xC0001234"`` otherwise."""
    member = _BY_VALUE.get(code)
    if member is None:
        return f"0x{code & 0xFFFFFFFF:08X}"
    return f"STATUS_{member.name}"


def is_error(code: int) -> bool:
    """True for severity ERROR (the two top bits set, [MS-ERREF] 2.3)."""
    return (code >> 30) == 0x3


# [MS-CIFS] 2.2.2.4: a few DOS error (class, code) pairs mapped to NTSTATUS,
# for SMB1 servers that do not set FLAGS2_NT_STATUS.
_DOS_ERRORS: dict[tuple[int, int], NTStatus] = {
    (0x01, 0x0001): NTStatus.NOT_IMPLEMENTED,  # ERRDOS/ERRbadfunc
    (0x01, 0x0002): NTStatus.NO_SUCH_FILE,  # ERRDOS/ERRbadfile
    (0x01, 0x0005): NTStatus.ACCESS_DENIED,  # ERRDOS/ERRnoaccess
    (0x01, 0x0006): NTStatus.INVALID_HANDLE,  # ERRDOS/ERRbadfid
    (0x01, 0x0032): NTStatus.NOT_SUPPORTED,  # ERRDOS/ERRunsup
    (0x01, 0x0057): NTStatus.INVALID_PARAMETER,  # ERRDOS/ERRinvalidparam
    (0x02, 0x0001): NTStatus.INVALID_SMB,  # ERRSRV/ERRerror
    (0x02, 0x0002): NTStatus.WRONG_PASSWORD,  # ERRSRV/ERRbadpw
    (0x02, 0x0004): NTStatus.ACCESS_DENIED,  # ERRSRV/ERRaccess
    (0x02, 0x0005): NTStatus.SMB_BAD_TID,  # ERRSRV/ERRinvtid
    (0x02, 0x0006): NTStatus.BAD_NETWORK_NAME,  # ERRSRV/ERRinvnetname
    (0x02, 0x0016): NTStatus.SMB_BAD_COMMAND,  # ERRSRV/ERRbadcmd
    (0x02, 0x005B): NTStatus.SMB_BAD_UID,  # ERRSRV/ERRbaduid
    (0x02, 0xFFFF): NTStatus.NOT_SUPPORTED,  # ERRSRV/ERRnosupport
}


def dos_error_to_status(error_class: int, code: int) -> int:
    """NTSTATUS for an SMB1 DOS error; unmapped pairs keep the SMB1 packing
    ``code << 16 | class`` (the way Windows and Wireshark show them)."""
    if error_class == 0 and code == 0:
        return NTStatus.SUCCESS
    mapped = _DOS_ERRORS.get((error_class, code))
    return int(mapped) if mapped is not None else ((code & 0xFFFF) << 16) | (error_class & 0xFF)
