"""The audit's orchestration (``_HostAudit``) with scripted sessions: who listed what,
refused identities, the write test's cleanup report, timeouts not retried."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from smbguard.auth import collect
from smbguard.auth._errors import AuthDenied, AuthTimeout, AuthUnsupported
from smbguard.auth.collect import AuditOptions, audit_host, parse_snapshot_token
from smbguard.auth.credentials import Credentials
from smbguard.auth.session import RawShare
from smbguard.model import Target


class Script:
    """What each (identity, dialect) session does. Identity: "null", "guest" or "user"."""

    def __init__(self) -> None:
        self.login: dict[tuple[str, str], Exception | None] = {}
        self.shares: dict[str, list[RawShare] | Exception] = {}
        self.readable: dict[tuple[str, str], bool] = {}
        self.write: dict[tuple[str, str], tuple[bool, bool, str | None]] = {}
        self.share_sd: dict[str, bytes] = {}
        self.opened: list[tuple[str, str]] = []


def _who(creds: Credentials) -> str:
    if not creds.anonymous:
        return "user"
    return "guest" if creds.user else "null"


def fake_session_class(script: Script) -> type:
    class FakeSession:
        def __init__(self, address: str, port: int, creds: Credentials, dialect: str, timeout: float) -> None:
            self.who, self.dialect = _who(creds), dialect
            self.is_guest = self.who == "guest"

        def open(self) -> FakeSession:
            script.opened.append((self.who, self.dialect))
            err = script.login.get((self.who, self.dialect))
            if err is not None:
                raise err
            return self

        def close(self) -> None:
            pass

        def list_shares(self) -> list[RawShare]:
            result = script.shares.get(self.who, AuthDenied("NetShareEnum: STATUS_ACCESS_DENIED"))
            if isinstance(result, Exception):
                raise result
            return result

        def can_read(self, share: str) -> bool:
            if script.readable.get((self.who, share)):
                return True
            raise AuthDenied(f"tree connect {share}: STATUS_ACCESS_DENIED")

        def check_write(self, share: str) -> tuple[bool, bool, str | None]:
            return script.write.get((self.who, share), (False, False, None))

        def share_security(self, names: Any) -> dict[str, Any]:
            return {n: script.share_sd.get(n, b"") for n in names}

        def root_security(self, share: str) -> bytes:
            raise AuthUnsupported("root ACL: not scripted")

        def snapshots(self, share: str) -> list[str]:
            return ["@GMT-2026.11.27-10.00.00"]

        def lookup_sids(self, sids: Any) -> dict[str, str]:
            return {}

        def password_policy(self) -> Any:
            raise AuthDenied("SAMR password policy: STATUS_ACCESS_DENIED")

        def read_registry(self, values: Any) -> Any:
            raise AuthUnsupported("open \\winreg: STATUS_OBJECT_NAME_NOT_FOUND")

    return FakeSession


@pytest.fixture
def script(monkeypatch: pytest.MonkeyPatch) -> Script:
    s = Script()
    monkeypatch.setattr(collect, "SmbSession", fake_session_class(s))
    return s


SHARES = [RawShare("public", 0, "Public"), RawShare("private", 0, ""), RawShare("IPC$", 0x80000003, "IPC")]


def _run(creds: Credentials | None, **options: Any) -> Any:
    return asyncio.run(audit_host(Target("192.0.2.5"), creds, AuditOptions(**options)))


def test_listed_by_is_the_least_privileged_identity(script: Script) -> None:
    script.shares = {"user": SHARES, "guest": SHARES[:1]}
    script.readable = {("guest", "public"): True}
    facts = _run(Credentials.with_password("admin", "pw"))
    shares = {s.name: s for s in facts.shares}
    assert shares["public"].listed_by == "guest"
    assert shares["private"].listed_by == "user"
    assert facts.share_listing["user/smb2"] == "listed"
    assert facts.share_listing["null/smb2"].startswith("denied:")
    assert shares["public"].guest_read is True and shares["public"].anonymous_read is False
    assert shares["IPC$"].anonymous_read is None  # IPC$ is not a file share: not read-tested
    assert shares["public"].snapshots is not None and len(shares["public"].snapshots) == 1
    audit = facts.audit
    assert audit.authenticated and audit.password_policy is None
    assert {e.probe for e in audit.errors} >= {"samr", "winreg"}


def test_refused_identity_reads_false_not_unknown(script: Script) -> None:
    script.shares = {"user": SHARES}
    script.login = {
        ("null", "smb2"): AuthDenied("session setup as null session: STATUS_ACCESS_DENIED"),
        ("null", "smb1"): AuthUnsupported("negotiate (smb1): no SMB1"),
        ("guest", "smb2"): AuthDenied("session setup as guest: STATUS_LOGON_FAILURE"),
        ("guest", "smb1"): AuthUnsupported("negotiate (smb1): no SMB1"),
    }
    facts = _run(Credentials.with_password("admin", "pw"))
    public = next(s for s in facts.shares if s.name == "public")
    assert (public.anonymous_read, public.guest_read) == (False, False)
    assert (public.anonymous_write, public.guest_write) == (False, False)


def test_write_cleanup_failure_is_reported(script: Script) -> None:
    script.shares = {"null": SHARES}
    script.readable = {("null", "public"): True}
    script.write = {("null", "public"): (True, True, "smbguard-write-test-00ff00ff00ff00ff.tmp")}
    facts = _run(None, check_write=True)
    public = next(s for s in facts.shares if s.name == "public")
    assert public.anonymous_write is True
    assert public.write_cleanup_failed is True
    assert any("smbguard-write-test-00ff00ff00ff00ff.tmp" in n for n in public.notes)


def test_no_write_test_without_the_option(script: Script) -> None:
    script.shares = {"null": SHARES}
    script.readable = {("null", "public"): True}
    script.write = {("null", "public"): (True, False, None)}
    public = next(s for s in _run(None).shares if s.name == "public")
    assert public.anonymous_read is True and public.anonymous_write is None


def test_a_silent_dialect_is_not_retried(script: Script) -> None:
    script.login = {("user", "smb2"): AuthTimeout("negotiate (smb2): timed out")}
    for who in ("null", "guest"):
        script.login[(who, "smb1")] = AuthTimeout("negotiate (smb1): timed out")
    facts = _run(Credentials.with_password("admin", "pw"))
    assert ("null", "smb2") not in script.opened and ("guest", "smb2") not in script.opened
    assert ("guest", "smb1") not in script.opened  # null/smb1 timed out first
    assert facts.audit.authenticated is False
    assert all(v.startswith("error:") for v in facts.share_listing.values())


def test_snapshot_tokens() -> None:
    assert parse_snapshot_token("@GMT-2026.11.27-10.00.00").isoformat() == "2026-11-27T10:00:00+00:00"
    assert parse_snapshot_token("@GMT-2026.13.27-10.00.00") is None
    assert parse_snapshot_token("garbage") is None


def test_share_descriptor_without_dacl_is_not_everyone(script: Script) -> None:
    """A share SD with no DACL means the server default (C$: administrators only)."""
    script.shares = {"user": [RawShare("C$", 0x80000000, "Default share")]}
    no_dacl = bytes.fromhex("0100008000000000000000000000000000000000")
    everyone_full = bytes.fromhex(
        "010004800000000000000000000000001400000002001c000100000000001400ff011f00010100000000000100000000"
    )
    script.share_sd = {"C$": no_dacl}
    (share,) = _run(Credentials.with_password("admin", "pw"), anonymous=False).shares
    assert share.share_acl is None
    assert any("without a DACL" in n for n in share.notes)
    script.share_sd = {"C$": everyone_full}
    (share,) = _run(Credentials.with_password("admin", "pw"), anonymous=False).shares
    assert share.share_acl is not None and share.share_acl[0].sid == "S-1-1-0"
