"""A blocking SMB session over impacket, for the audit. Call it from a worker
thread only (see :mod:`smbguard.auth.collect`).

Every method turns impacket's exceptions into :class:`~smbguard.errors.AuthError`
subclasses (:mod:`smbguard.auth._errors`) raised ``from None``: impacket's
exception text and traceback never travel further. Nothing here changes the
server: the only write is :meth:`SmbSession.check_write` (opt-in), which creates
an empty, uniquely named file and deletes it at once.
"""

from __future__ import annotations

import contextlib
import secrets
import struct
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from impacket import smb3structs
from impacket.dcerpc.v5 import lsad, lsat, rrp, samr, srvs, transport
from impacket.dcerpc.v5.dtypes import MAXIMUM_ALLOWED
from impacket.smb import SMB_DIALECT
from impacket.smbconnection import SMBConnection

from smbguard.auth._errors import AuthDenied, AuthUnsupported, error_code, to_auth_error
from smbguard.auth.credentials import Credentials, SecretKind
from smbguard.auth.policy import policy_from_samr
from smbguard.errors import AuthError
from smbguard.model import JsonScalar, PasswordPolicy

# Share types ([MS-SRVS] 2.2.2.4).
STYPE_NAMES = {0: "disk", 1: "printer", 2: "device", 3: "ipc"}
STYPE_SPECIAL = 0x80000000
STYPE_TEMPORARY = 0x40000000

SMB2_0_INFO_SECURITY = 0x03
OWNER_GROUP_DACL = 0x00000007  # OWNER_SECURITY_INFORMATION | GROUP_... | DACL_... ([MS-SMB2] 2.2.37)
MAX_SNAPSHOT_BYTES = 64 * 1024
STATUS_SOME_NOT_MAPPED = 0x00000107
STATUS_NONE_MAPPED = 0xC0000073


@dataclass(frozen=True, slots=True)
class RawShare:
    """One NetShareEnum level-1 entry ([MS-SRVS] 2.2.4.23)."""

    name: str
    type_code: int
    comment: str

    @property
    def type(self) -> str:
        base = STYPE_NAMES.get(self.type_code & 0x0FFFFFFF, f"type-{self.type_code & 0x0FFFFFFF}")
        return f"{base} special" if self.type_code & STYPE_SPECIAL else base


def share_type_name(type_code: int) -> str:
    return RawShare("", type_code, "").type


def _clean(text: Any) -> str:
    """An NDR string from impacket without its trailing NUL."""
    return str(text).rstrip("\x00")


class SmbSession:
    """One authenticated (or null/guest) SMB session to ``address:port``.

    ``dialect`` is ``"smb2"`` (the highest SMB2/3 dialect the server offers) or
    ``"smb1"`` (NT LM 0.12). ``timeout`` bounds every socket read.
    """

    def __init__(self, address: str, port: int, creds: Credentials, dialect: str, timeout: float) -> None:
        self.address = address
        self.port = port
        self.creds = creds
        self.dialect = dialect
        self.timeout = timeout
        self._conn: SMBConnection | None = None
        self.is_guest: bool | None = None

    # -- session -------------------------------------------------------------------------------
    def open(self) -> SmbSession:
        preferred = SMB_DIALECT if self.dialect == "smb1" else None
        try:
            conn = SMBConnection(
                self.address,
                self.address,
                sess_port=self.port,
                timeout=self.timeout,
                preferredDialect=preferred,
            )
        except Exception as exc:
            err = to_auth_error(f"negotiate ({self.dialect})", exc, self.creds)
            if self.dialect == "smb1" and type(err).__name__ == "AuthFailed" and "refused" not in str(err):
                # An SMB2-only server answers NT LM 0.12 with an SMB2 reply (or drops it),
                # which impacket cannot parse: the server does not speak SMB1.
                raise AuthUnsupported(
                    "negotiate (smb1): the server did not accept the NT LM 0.12 dialect"
                ) from None
            raise err from None
        if self.dialect == "smb2" and conn.getDialect() == SMB_DIALECT:
            with contextlib.suppress(Exception):
                conn.close()
            raise AuthUnsupported("negotiate (smb2): the server speaks only SMB1")
        self._conn = conn
        c = self.creds
        try:
            if c.kind is SecretKind.KERBEROS:
                conn.kerberosLogin(c.user, c.password(), c.domain, kdcHost=c.kdc_host, useCache=True)
            else:
                conn.login(c.user, c.password(), c.domain, "", c.nthash())
        except Exception as exc:
            self.close()
            raise to_auth_error(f"session setup as {self.identity}", exc, self.creds) from None
        with contextlib.suppress(Exception):
            self.is_guest = bool(conn.isGuestSession())
        return self

    @property
    def identity(self) -> str:
        if self.creds.kind is SecretKind.NONE:
            return "guest" if self.creds.user else "null session"
        return self.creds.account

    @property
    def conn(self) -> SMBConnection:
        if self._conn is None:
            raise AuthError("session is not open")
        return self._conn

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def __enter__(self) -> SmbSession:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _fail(self, operation: str, exc: BaseException) -> AuthError:
        return to_auth_error(operation, exc, self.creds)

    # -- DCE/RPC -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _rpc(self, pipe: str, uuid: bytes) -> Iterator[Any]:
        try:
            rpc = transport.SMBTransport(self.address, self.address, filename=pipe, smb_connection=self.conn)
            dce = rpc.get_dce_rpc()
            dce.connect()
            dce.bind(uuid)
        except Exception as exc:
            raise self._fail(f"open {pipe}", exc) from None
        try:
            yield dce
        finally:
            with contextlib.suppress(Exception):
                dce.disconnect()

    @contextlib.contextmanager
    def _tree(self, share: str) -> Iterator[int]:
        """Tree connect to ``share`` (a failure raises :class:`AuthError`); the tree is
        disconnected on the way out, whatever happened inside."""
        try:
            tid = self.conn.connectTree(share)
        except Exception as exc:
            raise self._fail(f"tree connect {share}", exc) from None
        try:
            yield tid
        finally:
            with contextlib.suppress(Exception):
                self.conn.disconnectTree(tid)

    def list_shares(self) -> list[RawShare]:
        """srvsvc NetrShareEnum level 1 ([MS-SRVS] 3.1.4.8), the call Windows shows
        as NetShareEnumAll."""
        with self._rpc(r"\srvsvc", srvs.MSRPC_UUID_SRVS) as dce:
            try:
                resp = srvs.hNetrShareEnum(dce, 1)
            except Exception as exc:
                raise self._fail("NetShareEnum", exc) from None
            return [
                RawShare(_clean(e["shi1_netname"]), int(e["shi1_type"]), _clean(e["shi1_remark"]))
                for e in resp["InfoStruct"]["ShareInfo"]["Level1"]["Buffer"]
            ]

    def share_security(self, names: Iterable[str]) -> dict[str, bytes | AuthError]:
        """Share-level security descriptors, srvsvc NetrShareGetInfo level 502
        ([MS-SRVS] 3.1.4.10, 2.2.4.26). An empty value means the server returned no
        descriptor."""
        out: dict[str, bytes | AuthError] = {}
        with self._rpc(r"\srvsvc", srvs.MSRPC_UUID_SRVS) as dce:
            for name in names:
                try:
                    info = srvs.hNetrShareGetInfo(dce, name + "\x00", 502)["InfoStruct"]["ShareInfo502"]
                    raw = info["shi502_security_descriptor"]
                    out[name] = b"".join(raw) if isinstance(raw, list) else bytes(raw or b"")
                except Exception as exc:
                    out[name] = self._fail(f"NetShareGetInfo 502 {name}", exc)
        return out

    def lookup_sids(self, sids: Iterable[str]) -> dict[str, str]:
        """LSA LsarLookupSids ([MS-LSAT] 3.1.4.11): SID -> ``DOMAIN\\name`` for the SIDs
        the server can map (others are left out)."""
        wanted = sorted(set(sids))
        if not wanted:
            return {}
        with self._rpc(r"\lsarpc", lsat.MSRPC_UUID_LSAT) as dce:
            try:
                policy = lsad.hLsarOpenPolicy2(dce, MAXIMUM_ALLOWED | lsat.POLICY_LOOKUP_NAMES)[
                    "PolicyHandle"
                ]
            except Exception as exc:
                raise self._fail("LsarOpenPolicy2", exc) from None
            try:
                resp = lsat.hLsarLookupSids(dce, policy, wanted, lsat.LSAP_LOOKUP_LEVEL.LsapLookupWksta)
            except Exception as exc:
                code = error_code(exc)
                packet = getattr(exc, "get_packet", lambda: None)()
                if code == STATUS_SOME_NOT_MAPPED and packet is not None:
                    resp = packet
                elif code == STATUS_NONE_MAPPED:
                    return {}
                else:
                    raise self._fail("LsarLookupSids", exc) from None
            domains = [_clean(d["Name"]) for d in resp["ReferencedDomains"]["Domains"]]
            out: dict[str, str] = {}
            for sid, entry in zip(wanted, resp["TranslatedNames"]["Names"], strict=False):
                name = _clean(entry["Name"])
                if not name or int(entry["Use"]) in (7, 8):  # SidTypeInvalid, SidTypeUnknown
                    continue
                index = int(entry["DomainIndex"])
                domain = domains[index] if 0 <= index < len(domains) else ""
                out[sid] = f"{domain}\\{name}" if domain else name
            return out

    def password_policy(self) -> PasswordPolicy:
        """SAMR SamrQueryInformationDomain2 DomainPasswordInformation and
        DomainLockoutInformation ([MS-SAMR] 3.1.5.5.1, 2.2.3.5, 2.2.3.15) of the
        server's account domain (the first domain that is not Builtin)."""
        with self._rpc(r"\samr", samr.MSRPC_UUID_SAMR) as dce:
            try:
                server = samr.hSamrConnect2(dce)["ServerHandle"]
                domains = [
                    _clean(d["Name"])
                    for d in samr.hSamrEnumerateDomainsInSamServer(dce, server)["Buffer"]["Buffer"]
                ]
                account = next((d for d in domains if d.lower() != "builtin"), None)
                if account is None:
                    raise AuthUnsupported("SAMR: the server lists no account domain")
                sid = samr.hSamrLookupDomainInSamServer(dce, server, account)["DomainId"]
                handle = samr.hSamrOpenDomain(
                    dce, server, samr.DOMAIN_READ_PASSWORD_PARAMETERS | samr.DOMAIN_READ_OTHER_PARAMETERS, sid
                )["DomainHandle"]
                pw = samr.hSamrQueryInformationDomain2(
                    dce, handle, samr.DOMAIN_INFORMATION_CLASS.DomainPasswordInformation
                )["Buffer"]["Password"]
                lock = samr.hSamrQueryInformationDomain2(
                    dce, handle, samr.DOMAIN_INFORMATION_CLASS.DomainLockoutInformation
                )["Buffer"]["Lockout"]
            except AuthError:
                raise
            except Exception as exc:
                raise self._fail("SAMR password policy", exc) from None
            return policy_from_samr(
                min_length=int(pw["MinPasswordLength"]),
                history_length=int(pw["PasswordHistoryLength"]),
                properties=int(pw["PasswordProperties"]),
                max_age=_old_large(pw["MaxPasswordAge"]),
                min_age=_old_large(pw["MinPasswordAge"]),
                lockout_threshold=int(lock["LockoutThreshold"]),
                lockout_duration=int(lock["LockoutDuration"]),
                lockout_window=int(lock["LockoutObservationWindow"]),
            )

    def read_registry(
        self, values: Mapping[str, tuple[str, str]]
    ) -> tuple[dict[str, JsonScalar], dict[str, str]]:
        """Read HKLM values over the winreg pipe ([MS-RRP] 3.1.5.15 BaseRegQueryValue).

        ``values`` maps a result name to (subkey under HKLM, value name). Returns
        (values read, reasons for those not read). A value that does not exist under
        a key that does is read as ``None`` (the Windows default applies)."""
        read: dict[str, JsonScalar] = {}
        missing: dict[str, str] = {}
        with self._rpc(r"\winreg", rrp.MSRPC_UUID_RRP) as dce:
            try:
                hklm = rrp.hOpenLocalMachine(dce, MAXIMUM_ALLOWED)["phKey"]
            except Exception as exc:
                raise self._fail("winreg OpenLocalMachine", exc) from None
            keys: dict[str, Any] = {}
            key_errors: dict[str, str] = {}
            for name, (subkey, value) in values.items():
                if subkey not in keys and subkey not in key_errors:
                    try:
                        keys[subkey] = rrp.hBaseRegOpenKey(dce, hklm, subkey, samDesired=rrp.KEY_READ)[
                            "phkResult"
                        ]
                    except Exception as exc:
                        key_errors[subkey] = str(self._fail(f"open HKLM\\{subkey}", exc))
                if subkey in key_errors:
                    missing[name] = key_errors[subkey]
                    continue
                try:
                    _type, data = rrp.hBaseRegQueryValue(dce, keys[subkey], value, 4096)
                except Exception as exc:
                    if error_code(exc) == 2:  # ERROR_FILE_NOT_FOUND: value not set
                        read[name] = None
                    else:
                        missing[name] = str(self._fail(f"read {value}", exc))
                    continue
                read[name] = _registry_scalar(data)
            for handle in keys.values():
                with contextlib.suppress(Exception):
                    rrp.hBaseRegCloseKey(dce, handle)
        return read, missing

    # -- shares --------------------------------------------------------------------------------
    def can_read(self, share: str) -> bool:
        """Tree connect to ``share`` and list its root. True when both succeed,
        False when the server refuses; other failures raise :class:`AuthError`."""
        with self._tree(share):
            try:
                self.conn.getSMBServer()  # keep the session alive check cheap
                self.conn.listPath(share, "*")
            except Exception as exc:
                raise self._fail(f"list {share}", exc) from None
        return True

    def check_write(self, share: str) -> tuple[bool, bool, str | None]:
        """Create a uniquely named empty file in the share's root and delete it at once.

        Returns (writable, cleanup_failed, file name left behind or None)."""
        name = f"smbguard-write-test-{secrets.token_hex(8)}.tmp"
        with self._tree(share) as tid:
            try:
                fid = self.conn.createFile(
                    tid,
                    name,
                    desiredAccess=smb3structs.FILE_WRITE_DATA | smb3structs.DELETE,
                    shareMode=0,
                    creationDisposition=smb3structs.FILE_CREATE,
                    creationOption=smb3structs.FILE_NON_DIRECTORY_FILE,
                )
            except Exception as exc:
                err = self._fail(f"create test file in {share}", exc)
                if isinstance(err, AuthDenied) or error_code(exc) in (0xC0000022, 0xC00000A2, 0xC0000043):
                    return False, False, None  # ACCESS_DENIED, MEDIA_WRITE_PROTECTED, SHARING_VIOLATION
                raise err from None
            with contextlib.suppress(Exception):
                self.conn.closeFile(tid, fid)
            try:
                self.conn.deleteFile(share, name)
            except Exception:
                return True, True, name
            return True, False, None

    def root_security(self, share: str) -> bytes:
        """The share root folder's security descriptor (SMB2 QUERY_INFO, InfoType
        SECURITY, [MS-SMB2] 2.2.37); SMB2 sessions only."""
        if self.dialect != "smb2":
            raise AuthUnsupported("root folder ACL: needs an SMB2/3 session")
        with self._tree(share) as tid:
            try:
                fid = self.conn.openFile(
                    tid,
                    "",
                    desiredAccess=smb3structs.READ_CONTROL | smb3structs.FILE_READ_ATTRIBUTES,
                    shareMode=smb3structs.FILE_SHARE_READ
                    | smb3structs.FILE_SHARE_WRITE
                    | smb3structs.FILE_SHARE_DELETE,
                    creationOption=smb3structs.FILE_DIRECTORY_FILE,
                    fileAttributes=None,
                )
                try:
                    blob = self.conn.getSMBServer().queryInfo(
                        tid,
                        fid,
                        infoType=SMB2_0_INFO_SECURITY,
                        fileInfoClass=0,
                        additionalInformation=OWNER_GROUP_DACL,
                    )
                finally:
                    with contextlib.suppress(Exception):
                        self.conn.closeFile(tid, fid)
                return bytes(blob)
            except Exception as exc:
                raise self._fail(f"root ACL of {share}", exc) from None

    def snapshots(self, share: str) -> list[str]:
        """FSCTL_SRV_ENUMERATE_SNAPSHOTS on the share root ([MS-SMB2] 2.2.31, 2.2.32.2):
        the ``@GMT-YYYY.MM.DD-HH.MM.SS`` tokens of the previous versions the server
        exposes. The answer is bounded to 64 KiB."""
        if self.dialect != "smb2":
            raise AuthUnsupported("snapshots: needs an SMB2/3 session")
        server = self.conn.getSMBServer()
        with self._tree(share) as tid:
            try:
                fid = self.conn.openFile(
                    tid,
                    "",
                    desiredAccess=smb3structs.FILE_READ_DATA
                    | smb3structs.FILE_READ_ATTRIBUTES
                    | smb3structs.SYNCHRONIZE,
                    shareMode=smb3structs.FILE_SHARE_READ | smb3structs.FILE_SHARE_WRITE,
                    creationOption=smb3structs.FILE_DIRECTORY_FILE | smb3structs.FILE_SYNCHRONOUS_IO_NONALERT,
                    fileAttributes=None,
                )
                try:
                    head = bytes(
                        server.ioctl(
                            tid,
                            fid,
                            smb3structs.FSCTL_SRV_ENUMERATE_SNAPSHOTS,
                            flags=smb3structs.SMB2_0_IOCTL_IS_FSCTL,
                            maxOutputResponse=16,
                        )
                    )
                    count, returned, size = _snapshot_header(head)
                    if count and size > returned:
                        want = min(size + 12, MAX_SNAPSHOT_BYTES)
                        head = bytes(
                            server.ioctl(
                                tid,
                                fid,
                                smb3structs.FSCTL_SRV_ENUMERATE_SNAPSHOTS,
                                flags=smb3structs.SMB2_0_IOCTL_IS_FSCTL,
                                maxOutputResponse=want,
                            )
                        )
                finally:
                    with contextlib.suppress(Exception):
                        self.conn.closeFile(tid, fid)
            except Exception as exc:
                raise self._fail(f"snapshots of {share}", exc) from None
        return parse_snapshot_array(head)


def _old_large(value: Any) -> int:
    """An OLD_LARGE_INTEGER ([MS-SAMR] 2.2.2.2) as a signed 64-bit integer."""
    low = int(value["LowPart"]) & 0xFFFFFFFF
    high = int(value["HighPart"])
    return (high << 32) | low


def _registry_scalar(data: Any) -> JsonScalar:
    if isinstance(data, bool | int | float) or data is None:
        return data
    if isinstance(data, bytes):
        return data.hex()
    text = str(data)
    # REG_MULTI_SZ: NUL-separated, double NUL at the end; keep one item per line.
    return "\n".join(part for part in text.split("\x00") if part)


def _snapshot_header(buf: bytes) -> tuple[int, int, int]:
    from smbguard.errors import DecodeError

    if len(buf) < 12:
        raise DecodeError("SRV_SNAPSHOT_ARRAY shorter than 12 bytes")
    count, returned, size = struct.unpack_from("<III", buf)
    return count, returned, size


def parse_snapshot_array(buf: bytes) -> list[str]:
    """Decode SRV_SNAPSHOT_ARRAY ([MS-SMB2] 2.2.32.2): NumberOfSnapShots,
    NumberOfSnapShotsReturned, SnapShotArraySize, then UTF-16LE NUL-terminated
    ``@GMT-...`` tokens. Raises :class:`~smbguard.errors.DecodeError` on garbage."""
    from smbguard.errors import DecodeError

    _count, returned, size = _snapshot_header(buf)
    body = buf[12 : 12 + size]
    if returned and len(body) < size:
        raise DecodeError("SRV_SNAPSHOT_ARRAY body truncated")
    if len(body) % 2:
        body = body[:-1]
    try:
        text = body.decode("utf-16-le")
    except UnicodeDecodeError:
        raise DecodeError("snapshot names are not UTF-16LE") from None
    return [t for t in text.split("\x00") if t][: returned or None] if returned else []
