"""Turn impacket's exceptions into :class:`smbguard.errors.AuthError` with safe text.

impacket's messages are built from server data and sometimes from what the client
sent; nothing of it reaches a user unfiltered. The message is the operation, the
NTSTATUS / Win32 error name when there is one, and otherwise the exception type
and its text with every form of the secret removed, cut to a bounded length.
"""

from __future__ import annotations

import socket

from smbguard.auth.credentials import Credentials
from smbguard.errors import AuthError

_MAX_MESSAGE = 200

# Errors that mean "you may not", as opposed to "it broke".
DENIED_CODES = {
    0xC0000022: "STATUS_ACCESS_DENIED",
    0xC000006D: "STATUS_LOGON_FAILURE",
    0xC000006E: "STATUS_ACCOUNT_RESTRICTION",
    0xC0000072: "STATUS_ACCOUNT_DISABLED",
    0xC0000234: "STATUS_ACCOUNT_LOCKED_OUT",
    0xC00000CC: "STATUS_BAD_NETWORK_NAME",
    0xC00000CA: "STATUS_NETWORK_ACCESS_DENIED",
    0xC0000071: "STATUS_PASSWORD_EXPIRED",
    0xC0000224: "STATUS_PASSWORD_MUST_CHANGE",
    0xC000015B: "STATUS_LOGON_TYPE_NOT_GRANTED",
    0x00000005: "ERROR_ACCESS_DENIED",
}
# Errors that mean "this server does not offer that".
UNSUPPORTED_CODES = {
    0xC00000BB: "STATUS_NOT_SUPPORTED",
    0xC0000010: "STATUS_INVALID_DEVICE_REQUEST",
    0xC0000002: "STATUS_NOT_IMPLEMENTED",
    0x00000032: "ERROR_NOT_SUPPORTED",
    0xC0000034: "STATUS_OBJECT_NAME_NOT_FOUND",  # e.g. \winreg pipe absent: RemoteRegistry stopped
    0xC00000AC: "STATUS_PIPE_NOT_AVAILABLE",
    0x00000002: "ERROR_FILE_NOT_FOUND",
    0x1C010003: "nca_s_op_rng_error",
}


class AuthDenied(AuthError):
    """The server refused (logon failure, access denied, no such share)."""

    kind = "denied"


class AuthUnsupported(AuthError):
    """The server does not offer the operation (no winreg, no snapshots FSCTL, SMB1 only...)."""

    kind = "unsupported"


class AuthTimeout(AuthError):
    """No answer within the timeout."""

    kind = "timeout"


class AuthFailed(AuthError):
    """Anything else: connection refused or reset, malformed reply, library error."""

    kind = "protocol"


def error_code(exc: BaseException) -> int | None:
    """The NTSTATUS / Win32 code carried by an impacket exception, if any."""
    for attr in ("getErrorCode", "get_error_code"):
        getter = getattr(exc, attr, None)
        if callable(getter):
            try:
                code = getter()
            except Exception:  # impacket getters can fail on half-built exceptions
                return None
            return code if isinstance(code, int) else None
    code = getattr(exc, "error_code", None)
    return code if isinstance(code, int) else None


def code_name(code: int) -> str:
    """NTSTATUS or Win32 error name for ``code`` (hex when unknown)."""
    from impacket import nt_errors, system_errors

    # Small codes are Win32 errors (DCE/RPC interfaces such as winreg return them);
    # NTSTATUS values carry severity bits in the top nibble.
    tables = (system_errors.ERROR_MESSAGES, nt_errors.ERROR_MESSAGES)
    if code >= 0x10000:
        tables = (nt_errors.ERROR_MESSAGES, system_errors.ERROR_MESSAGES)
    for table in tables:
        entry = table.get(code)
        if entry:
            return str(entry[0])
    return f"0x{code:08x}"


def to_auth_error(operation: str, exc: BaseException, creds: Credentials | None = None) -> AuthError:
    """An :class:`AuthError` subclass for ``exc``; its message never contains the secret."""
    code = error_code(exc)
    if code is not None:
        name = code_name(code)
        message = f"{operation}: {name}"
        if code in DENIED_CODES:
            return AuthDenied(message)
        if code in UNSUPPORTED_CODES:
            return AuthUnsupported(message)
        return AuthFailed(message)
    if isinstance(exc, TimeoutError | socket.timeout) or "timed out" in type(exc).__name__.lower():
        return AuthTimeout(f"{operation}: timed out")
    if isinstance(exc, ConnectionRefusedError):
        return AuthFailed(f"{operation}: connection refused")
    if isinstance(exc, ConnectionResetError | BrokenPipeError):
        return AuthFailed(f"{operation}: connection reset")
    text = " ".join(str(exc).split())
    if creds is not None:
        text = creds.redact(text)
    text = text[:_MAX_MESSAGE]
    if "timed out" in text.lower() or "timeout" in text.lower():
        return AuthTimeout(f"{operation}: timed out")
    return AuthFailed(f"{operation}: {type(exc).__name__}" + (f": {text}" if text else ""))


def kind_of(exc: AuthError) -> str:
    """The :class:`smbguard.model.ProbeError` kind of an :class:`AuthError`."""
    return str(getattr(exc, "kind", "protocol"))
