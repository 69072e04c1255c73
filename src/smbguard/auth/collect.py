"""Async entry points of the audit: anonymous/guest share enumeration and the
credentialed audit of one host, returning :class:`~smbguard.model.HostFacts` parts.

impacket is blocking, so each host's work runs in a worker thread (a pool of 32,
``loop.run_in_executor``) under :func:`asyncio.wait_for`; every socket read
inside has its own timeout, and on an overall timeout the host's open sessions
are closed from the event loop so the worker stops promptly.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import secrets
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TypeVar

from smbguard.auth._errors import AuthDenied, AuthTimeout, AuthUnsupported, kind_of
from smbguard.auth.credentials import Credentials
from smbguard.auth.registry import REGISTRY_VALUES
from smbguard.auth.sd import SecurityDescriptor, parse_security_descriptor, to_ace_facts
from smbguard.auth.session import RawShare, SmbSession
from smbguard.errors import AuthError, DecodeError
from smbguard.model import (
    AuditFacts,
    HostFacts,
    JsonScalar,
    PasswordPolicy,
    PortState,
    ProbeError,
    ShareFacts,
    Target,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DIALECTS = ("smb2", "smb1")
_SKIP_READ_TYPES = ("ipc", "printer", "device")


@dataclass(frozen=True, slots=True)
class AuditOptions:
    """How to audit. ``timeout`` bounds each network read; ``host_timeout`` the whole host."""

    timeout: float = 10.0
    host_timeout: float = 180.0
    check_write: bool = False
    snapshot_max_age_days: float = 7.0
    anonymous: bool = True  # also test null and guest access
    registry: bool = True
    dialects: tuple[str, ...] = DIALECTS


@dataclass
class _Tracker:
    """Open sessions of one host, so a timed-out host can be cut off from outside."""

    sessions: list[SmbSession] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    cancelled: bool = False

    def open(self, session: SmbSession) -> SmbSession:
        with self.lock:
            if self.cancelled:
                raise AuthError("host timed out")
            self.sessions.append(session)
        return session.open()

    def close_all(self) -> None:
        with self.lock:
            self.cancelled = True
            sessions, self.sessions = self.sessions, []
        for s in sessions:
            s.close()


def parse_snapshot_token(token: str) -> datetime | None:
    """``@GMT-2026.11.27-10.00.00`` -> aware UTC datetime (None when malformed)."""
    try:
        return datetime.strptime(token, "@GMT-%Y.%m.%d-%H.%M.%S").replace(tzinfo=UTC)
    except ValueError:
        return None


def _err(probe: str, exc: AuthError) -> ProbeError:
    return ProbeError(probe=probe, kind=kind_of(exc), message=str(exc))


def _outcome(exc: AuthError) -> str:
    if isinstance(exc, AuthDenied):
        return f"denied: {exc}"
    if isinstance(exc, AuthUnsupported):
        return f"unsupported: {exc}"
    return f"error: {exc}"


_LISTED_BY_RANK = {"null": 0, "guest": 1, "user": 2}


def _share_facts(raw: RawShare, listed_by: str) -> ShareFacts:
    return ShareFacts(name=raw.name, type=raw.type, comment=raw.comment or None, listed_by=listed_by)


class _HostAudit:
    """The blocking work for one host; runs in one worker thread."""

    def __init__(self, target: Target, creds: Credentials | None, options: AuditOptions) -> None:
        self.target = target
        self.creds = creds
        self.options = options
        self.tracker = _Tracker()
        self.listing: dict[str, str] = {}
        self.shares: dict[str, ShareFacts] = {}
        self.errors: list[ProbeError] = []
        self.port_state = PortState.OPEN
        self.silent: set[str] = set()  # dialects whose NEGOTIATE timed out

    def _session(self, creds: Credentials, dialect: str) -> SmbSession:
        if dialect in self.silent:
            raise AuthTimeout(f"negotiate ({dialect}): timed out earlier on this host, not retried")
        try:
            return self.tracker.open(
                SmbSession(self.target.address, self.target.port, creds, dialect, self.options.timeout)
            )
        except AuthTimeout as exc:
            if str(exc).startswith("negotiate"):
                self.silent.add(dialect)  # a server that does not answer NEGOTIATE once will not later
            raise

    def _note(self, name: str, text: str) -> None:
        share = self.shares[name]
        self.shares[name] = replace(share, notes=(*share.notes, text))

    def _add_listing(self, raws: list[RawShare], who: str) -> None:
        for raw in raws:
            known = self.shares.get(raw.name)
            if known is None:
                self.shares[raw.name] = _share_facts(raw, who)
            elif _LISTED_BY_RANK[who] < _LISTED_BY_RANK.get(known.listed_by or "user", 2):
                # listed_by names the least privileged identity that saw the share.
                self.shares[raw.name] = replace(known, listed_by=who)

    # -- anonymous / guest -------------------------------------------------------------------
    def anonymous(self) -> None:
        identities = {
            "null": Credentials.null(),
            "guest": Credentials.guest(f"smbguard-{secrets.token_hex(4)}"),
        }
        readers: dict[str, list[SmbSession]] = {}
        for who, creds in identities.items():
            for dialect in self.options.dialects:
                key = f"{who}/{dialect}"
                try:
                    session = self._session(creds, dialect)
                except AuthError as exc:
                    self.listing[key] = _outcome(exc)
                    if "connection refused" in str(exc):
                        self.port_state = PortState.CLOSED
                        return
                    continue
                if who == "guest" and session.is_guest is False:
                    self.listing[key] = "error: the made-up user name was accepted as a real account"
                    session.close()
                    continue
                readers.setdefault(who, []).append(session)
                try:
                    self._add_listing(session.list_shares(), who)
                    self.listing[key] = "listed"
                except AuthError as exc:
                    self.listing[key] = _outcome(exc)
        try:
            for name in list(self.shares):
                if (self.shares[name].type or "").split()[0] in _SKIP_READ_TYPES:
                    continue
                for who in identities:
                    self._access(name, who, readers.get(who, []))
        finally:
            for sessions in readers.values():
                for session in sessions:
                    session.close()

    def _access(self, name: str, who: str, sessions: list[SmbSession]) -> None:
        """Read (and with --check-write, write) ``name`` as ``who`` over each dialect's
        session: True if any dialect allows it, False if every one refuses."""
        if not sessions:
            outcomes = [v for k, v in self.listing.items() if k.startswith(who + "/")]
            refused = any(v.startswith("denied") for v in outcomes) and all(
                v.startswith(("denied", "unsupported")) for v in outcomes
            )
            self._note(name, f"{who}: no session ({self._why_no_session(who)})")
            if refused:  # the server refused this identity outright: no access at all
                if who == "null":
                    self.shares[name] = replace(
                        self.shares[name], anonymous_read=False, anonymous_write=False
                    )
                else:
                    self.shares[name] = replace(self.shares[name], guest_read=False, guest_write=False)
            return
        reads = [self._try_read(s, name, who) for s in sessions]
        readable: bool | None = True if True in reads else (False if all(r is False for r in reads) else None)
        write: bool | None = False if readable is False else None
        if readable and self.options.check_write:
            session = sessions[reads.index(True)]
            write = self._try_write(session, name, who)
        share = self.shares[name]
        if who == "null":
            share = replace(share, anonymous_read=readable, anonymous_write=write)
        else:
            share = replace(share, guest_read=readable, guest_write=write)
        self.shares[name] = share

    def _why_no_session(self, who: str) -> str:
        outcomes = [f"{k}: {v}" for k, v in self.listing.items() if k.startswith(who + "/")]
        return "; ".join(outcomes) or "not tried"

    def _try_read(self, session: SmbSession, name: str, who: str) -> bool | None:
        try:
            return session.can_read(name)
        except AuthDenied as exc:
            self._note(name, f"{who} read ({session.dialect}): {exc}")
            return False
        except AuthError as exc:
            self._note(name, f"{who} read ({session.dialect}): {exc}")
            return None

    def _try_write(self, session: SmbSession, name: str, who: str) -> bool | None:
        try:
            writable, cleanup_failed, left = session.check_write(name)
        except AuthError as exc:
            self._note(name, f"{who} write: {exc}")
            return None
        if cleanup_failed:
            self.shares[name] = replace(self.shares[name], write_cleanup_failed=True)
            self._note(name, f"{who} write: could not delete the test file {left}; remove it by hand")
        return writable

    # -- credentialed --------------------------------------------------------------------------
    def credentialed(self) -> AuditFacts:
        assert self.creds is not None
        creds = self.creds
        session: SmbSession | None = None
        for dialect in self.options.dialects:
            try:
                session = self._session(creds, dialect)
                break
            except AuthUnsupported as exc:
                self.listing[f"user/{dialect}"] = _outcome(exc)
                continue
            except AuthError as exc:
                self.listing[f"user/{dialect}"] = _outcome(exc)
                if "connection refused" in str(exc):
                    self.port_state = PortState.CLOSED
                return AuditFacts(authenticated=False, account=creds.account, errors=(_err("session", exc),))
        if session is None:
            return AuditFacts(authenticated=False, account=creds.account, errors=tuple(self.errors))
        errors: list[ProbeError] = []
        try:
            if session.is_guest:
                # Logged in, but as guest: the account was not accepted. Say so.
                errors.append(ProbeError("session", "denied", f"{creds.account} was mapped to guest"))
                return AuditFacts(authenticated=False, account=creds.account, errors=tuple(errors))
            try:
                self._add_listing(session.list_shares(), "user")
                self.listing[f"user/{session.dialect}"] = "listed"
            except AuthError as exc:
                self.listing[f"user/{session.dialect}"] = _outcome(exc)
                errors.append(_err("shares", exc))
            self._share_permissions(session, errors)
            self._snapshots(session)
            policy = self._policy(session, errors)
            registry, build, ubr, product = self._registry(session, errors)
            return AuditFacts(
                authenticated=True,
                account=creds.account,
                password_policy=policy,
                registry=registry,
                current_build=build,
                ubr=ubr,
                product_name=product,
                errors=tuple(errors),
                snapshot_max_age_days=self.options.snapshot_max_age_days,
            )
        finally:
            session.close()

    def _share_permissions(self, session: SmbSession, errors: list[ProbeError]) -> None:
        names = [n for n, s in self.shares.items() if (s.type or "disk").split()[0] not in _SKIP_READ_TYPES]
        if not names:
            return
        try:
            share_sds = session.share_security(names)
        except AuthError as exc:
            errors.append(_err("share-acl", exc))
            share_sds = {n: exc for n in names}
        parsed: dict[str, dict[str, SecurityDescriptor]] = {}
        sids: set[str] = set()
        for name in names:
            raw = share_sds.get(name)
            entry: dict[str, SecurityDescriptor] = {}
            if isinstance(raw, AuthError):
                self._note(name, f"share ACL: {raw}")
            elif not raw:
                self._note(
                    name,
                    (
                        "share ACL: the server returned no share-level security descriptor "
                        "(Windows returns it to administrators and server operators only)"
                    ),
                )
            else:
                try:
                    share_sd = parse_security_descriptor(raw)
                except DecodeError as exc:
                    self._note(name, f"share ACL: malformed descriptor ({exc})")
                else:
                    if share_sd.dacl is None:
                        # A share descriptor without a DACL means "the server's default"
                        # ([MS-SRVS] 2.2.4.26), which differs by share (C$: administrators
                        # only); unlike a folder's NULL DACL it does not mean "everyone".
                        self._note(
                            name, "share ACL: descriptor without a DACL (the server's default applies)"
                        )
                    else:
                        entry["share"] = share_sd
            try:
                entry["root"] = parse_security_descriptor(session.root_security(name))
            except (AuthError, DecodeError) as exc:
                self._note(name, f"root ACL: {exc}")
            for sd in entry.values():
                sids.update(a.sid for a in sd.dacl or ())
            parsed[name] = entry
        try:
            names_by_sid = session.lookup_sids(sids)
        except AuthError as exc:
            errors.append(_err("lsa", exc))
            names_by_sid = {}
        for name, entry in parsed.items():
            at_share, at_root = entry.get("share"), entry.get("root")
            self.shares[name] = replace(
                self.shares[name],
                share_acl=to_ace_facts(at_share, names_by_sid) if at_share is not None else None,
                root_acl=to_ace_facts(at_root, names_by_sid) if at_root is not None else None,
            )

    def _snapshots(self, session: SmbSession) -> None:
        for name, share in list(self.shares.items()):
            if (share.type or "disk").split()[0] not in ("disk",) or "special" in (share.type or ""):
                continue
            try:
                tokens = session.snapshots(name)
            except AuthUnsupported as exc:
                # STATUS_INVALID_DEVICE_REQUEST: the share offers no previous versions at all.
                if "INVALID_DEVICE_REQUEST" in str(exc) or "NOT_SUPPORTED" in str(exc):
                    self.shares[name] = replace(self.shares[name], snapshots=())
                    self._note(name, f"snapshots: none offered ({exc})")
                else:
                    self._note(name, f"snapshots: {exc}")
                continue
            except (AuthError, DecodeError) as exc:
                self._note(name, f"snapshots: {exc}")
                continue
            times = [t for t in (parse_snapshot_token(x) for x in tokens) if t is not None]
            self.shares[name] = replace(self.shares[name], snapshots=tuple(sorted(times, reverse=True)))

    def _policy(self, session: SmbSession, errors: list[ProbeError]) -> PasswordPolicy | None:
        try:
            return session.password_policy()
        except AuthError as exc:
            errors.append(_err("samr", exc))
            return None

    def _registry(
        self, session: SmbSession, errors: list[ProbeError]
    ) -> tuple[dict[str, JsonScalar], int | None, int | None, str | None]:
        if not self.options.registry:
            errors.append(ProbeError("winreg", "unsupported", "winreg: not read (--no-registry)"))
            return {}, None, None, None
        try:
            values, missing = session.read_registry(REGISTRY_VALUES)
        except AuthError as exc:
            errors.append(ProbeError("winreg", kind_of(exc), f"winreg: {exc}"))
            return {}, None, None, None
        for name, reason in missing.items():
            kind = "denied" if "DENIED" in reason else "unsupported"
            errors.append(ProbeError("winreg", kind, f"{name}: {reason}"))
        return (values, *patch_level(values))


_CV = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\"


def patch_level(values: Mapping[str, JsonScalar]) -> tuple[int | None, int | None, str | None]:
    """(CurrentBuild, UBR, ProductName) from the registry values read. CurrentBuild is a
    REG_SZ ("18363"), UBR a REG_DWORD (the update build revision: 18363.720 has
    KB4551762, the SMBGhost fix); CurrentBuildNumber is the fallback of old releases."""
    build = _int(values.get(_CV + "CurrentBuild"))
    if build is None:
        build = _int(values.get(_CV + "CurrentBuildNumber"))
    ubr = _int(values.get(_CV + "UBR"))
    product = values.get(_CV + "ProductName")
    return build, ubr, product.strip() if isinstance(product, str) and product.strip() else None


def _int(value: JsonScalar) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None


# impacket blocks; hosts are audited in their own threads. The default executor has
# min(32, cores + 4) workers (6 on a 2-core machine), too few for many slow hosts.
_EXECUTOR = concurrent.futures.ThreadPoolExecutor(max_workers=32, thread_name_prefix="smbguard-auth")


async def _run_bounded(work: Callable[[], T], tracker: _Tracker, timeout: float) -> T:
    loop = asyncio.get_running_loop()
    try:
        return await asyncio.wait_for(loop.run_in_executor(_EXECUTOR, work), timeout)
    except TimeoutError:
        tracker.close_all()
        raise


async def audit_host(
    target: Target, creds: Credentials | None, options: AuditOptions = AuditOptions()
) -> HostFacts:
    """Audit one host: anonymous/guest share access (unless ``options.anonymous`` is
    False) and, with ``creds``, the credentialed audit. Never raises for host-level
    failures: they are in ``HostFacts.errors`` / ``AuditFacts.errors``."""
    started = datetime.now(UTC)
    job = _HostAudit(target, creds, options)
    audit: AuditFacts | None = None

    def work() -> AuditFacts | None:
        result = job.credentialed() if creds is not None else None
        if options.anonymous and job.port_state is PortState.OPEN:
            job.anonymous()
        return result

    host_errors: list[ProbeError] = []
    try:
        audit = await _run_bounded(work, job.tracker, options.host_timeout)
    except TimeoutError:
        host_errors.append(
            ProbeError("audit", "timeout", f"audit did not finish in {options.host_timeout:g} s")
        )
    except AuthError as exc:
        host_errors.append(_err("audit", exc))
    if creds is not None and audit is None:
        audit = AuditFacts(authenticated=False, account=creds.account, errors=tuple(host_errors))
    tried_shares = bool(job.listing)
    return HostFacts(
        target=target,
        port_state=job.port_state,
        shares=tuple(job.shares.values()) if tried_shares else None,
        share_listing=dict(job.listing),
        audit=audit,
        started=started,
        finished=datetime.now(UTC),
        errors=tuple(job.errors + host_errors),
    )


async def enumerate_shares(target: Target, options: AuditOptions = AuditOptions()) -> HostFacts:
    """Anonymous/guest share enumeration only (``smbguard scan --shares``)."""
    return await audit_host(target, None, replace(options, anonymous=True))


def merge_share_facts(base: HostFacts, extra: HostFacts) -> HostFacts:
    """``base`` (from the scanner) with the share and audit facts of ``extra``."""
    return replace(
        base,
        shares=extra.shares,
        share_listing=extra.share_listing,
        audit=extra.audit if extra.audit is not None else base.audit,
        errors=base.errors + extra.errors,
    )
