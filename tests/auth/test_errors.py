"""impacket exceptions become AuthError subclasses whose text never holds the secret."""

from __future__ import annotations

from impacket import smb3
from impacket.dcerpc.v5 import rrp
from impacket.smbconnection import SessionError

from smbguard.auth._errors import (
    AuthDenied,
    AuthFailed,
    AuthTimeout,
    AuthUnsupported,
    code_name,
    to_auth_error,
)
from smbguard.auth.credentials import Credentials

SECRET = "Leak-Me-Not-42!"


def test_status_codes_map_to_kinds() -> None:
    assert isinstance(to_auth_error("login", SessionError(0xC000006D)), AuthDenied)
    assert "STATUS_LOGON_FAILURE" in str(to_auth_error("login", SessionError(0xC000006D)))
    assert isinstance(to_auth_error("fsctl", smb3.SessionError(0xC0000010)), AuthUnsupported)
    assert isinstance(to_auth_error("x", SessionError(0xC0000001)), AuthFailed)
    reg = rrp.DCERPCSessionError(error_code=2)
    assert isinstance(to_auth_error("open key", reg), AuthUnsupported)
    assert "ERROR_FILE_NOT_FOUND" in str(to_auth_error("open key", reg))


def test_win32_codes_are_named_as_win32() -> None:
    assert code_name(2) == "ERROR_FILE_NOT_FOUND"
    assert code_name(0xC0000022) == "STATUS_ACCESS_DENIED"
    assert code_name(0xDEADBEEF) == "0xdeadbeef"


def test_timeouts() -> None:
    assert isinstance(to_auth_error("read", TimeoutError("timed out")), AuthTimeout)


def test_foreign_text_is_redacted_and_bounded() -> None:
    creds = Credentials.with_password("alice", SECRET)
    exc = RuntimeError(f"kerberos said: bad password {SECRET} for alice " + "x" * 1000)
    err = to_auth_error("session setup", exc, creds)
    assert SECRET not in str(err)
    assert "[REDACTED]" in str(err)
    assert len(str(err)) < 300
    utf16 = RuntimeError(SECRET.encode("utf-16-le").hex())
    assert SECRET.encode("utf-16-le").hex() not in str(to_auth_error("x", utf16, creds))
