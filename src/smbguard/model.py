"""Domain model: immutable facts about hosts, check results and findings.

Data flows one way: targets -> engine -> probes -> facts -> checks -> findings
-> store -> reports. Every probe returns one of the ``*Facts`` dataclasses
below; :class:`HostFacts` gathers them for one ``address:port``. A fact that a
probe could not decide is ``None`` with a reason in ``HostFacts.errors`` or in
the facts' own ``reason`` field, never a guess.

``to_dict`` methods give the JSON contract documented in ``docs/json-output.md``
and ``src/smbguard/schema/scan.schema.json``.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

JsonScalar = str | int | float | bool | None
JsonValue = JsonScalar | list["JsonValue"] | dict[str, "JsonValue"]


class Severity(enum.IntEnum):
    """Finding severity, ordered so that ``max()`` gives the worst."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @property
    def label(self) -> str:
        return self.name.lower()

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            raise ValueError(f"unknown severity {text!r}") from None


class Status(enum.StrEnum):
    """Outcome of one check on one host (or share).

    ``AFFECTED`` results become findings. ``UNKNOWN`` means the check could not
    decide (access denied, timeout, protocol not spoken): it is never reported
    as safe.
    """

    AFFECTED = "affected"
    NOT_AFFECTED = "not_affected"
    MITIGATED = "mitigated"
    UNKNOWN = "unknown"
    NOT_APPLICABLE = "not_applicable"


class Confidence(enum.StrEnum):
    """How sure a finding is: observed directly, inferred, or merely possible."""

    CONFIRMED = "confirmed"
    LIKELY = "likely"
    POSSIBLE = "possible"


class PortState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"
    FILTERED = "filtered"  # connect timed out
    ERROR = "error"  # unreachable network, etc.


@dataclass(frozen=True, slots=True)
class Target:
    """One endpoint to scan. ``address`` is a literal IP (v4 or v6, optional %scope)."""

    address: str
    port: int = 445
    hostname: str | None = None  # the name the user gave, when resolved from DNS

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, slots=True)
class ProbeError:
    """A probe failure, typed. ``kind`` is one of: timeout, refused, reset,
    closed, oversized, protocol, denied, unsupported, internal."""

    probe: str
    kind: str
    message: str

    def to_dict(self) -> dict[str, JsonValue]:
        return {"probe": self.probe, "kind": self.kind, "message": self.message}


@dataclass(frozen=True, slots=True)
class Smb1Facts:
    """Result of an SMB1 ``NT LM 0.12`` negotiate (and optional anonymous session setup).

    ``enabled`` is True when the server selected an SMB1 dialect, False when it
    refused every SMB1 dialect (or answered only with SMB2), None if undecidable.
    """

    enabled: bool | None
    dialect: str | None = None
    signing_enabled: bool | None = None
    signing_required: bool | None = None
    capabilities: tuple[str, ...] = ()
    native_os: str | None = None
    native_lan_manager: str | None = None
    primary_domain: str | None = None
    server_name: str | None = None
    system_time: datetime | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Smb2Facts:
    """SMB2/3 negotiate facts. ``dialects`` holds every dialect the server accepted,
    as "2.0.2", "2.1", "3.0", "3.0.2", "3.1.1". ``security_modes`` maps each accepted
    dialect to the raw SecurityMode field of its NEGOTIATE response."""

    dialects: tuple[str, ...] = ()
    decided: bool = False  # True when every dialect was asked and answered
    highest: str | None = None
    server_guid: str | None = None
    capabilities: tuple[str, ...] = ()
    security_modes: Mapping[str, int] = field(default_factory=dict)
    max_transact_size: int | None = None
    max_read_size: int | None = None
    max_write_size: int | None = None
    system_time: datetime | None = None
    server_start_time: datetime | None = None
    # SMB 3.1.1 negotiate contexts (names of the IntEnum members, e.g. "AES_128_GCM")
    preauth_integrity: tuple[str, ...] = ()
    encryption_ciphers: tuple[str, ...] = ()
    compression_algorithms: tuple[str, ...] = ()
    compression_flags: int | None = None
    signing_algorithms: tuple[str, ...] = ()
    rdma_transforms: tuple[str, ...] = ()
    transport_capabilities: int | None = None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class SigningFacts:
    """Signing derived from raw SecurityMode fields of SMB1 and SMB2.

    ``required`` is True only if every dialect the host speaks requires signing;
    ``enabled`` is True if any spoken dialect supports signing."""

    enabled: bool | None = None
    required: bool | None = None
    smb1_required: bool | None = None
    smb2_required: bool | None = None


@dataclass(frozen=True, slots=True)
class NtlmInfo:
    """Fields of an NTLMSSP CHALLENGE ([MS-NLMP] 2.2.1.2, 2.2.2.1, 2.2.2.10)."""

    netbios_computer: str | None = None
    netbios_domain: str | None = None
    dns_computer: str | None = None
    dns_domain: str | None = None
    dns_tree: str | None = None
    os_major: int | None = None
    os_minor: int | None = None
    os_build: int | None = None
    ntlm_revision: int | None = None
    timestamp: datetime | None = None
    product: str | None = None  # e.g. "Windows 10 1909 / Server 1909", "Samba"

    @property
    def os_version(self) -> str | None:
        if self.os_major is None or self.os_minor is None:
            return None
        build = f".{self.os_build}" if self.os_build is not None else ""
        return f"{self.os_major}.{self.os_minor}{build}"


@dataclass(frozen=True, slots=True)
class SessionFacts:
    """Anonymous access. ``null``: empty user and password accepted (not as guest).
    ``guest``: a random user name accepted and mapped to guest."""

    null: bool | None = None
    guest: bool | None = None
    null_reason: str | None = None
    guest_reason: str | None = None
    skipped: bool = False  # --no-null-session


@dataclass(frozen=True, slots=True)
class VulnProbeFacts:
    """Outcome of a read-only vulnerability probe (MS17-010, DoublePulsar).

    ``state``: "vulnerable" | "patched" | "infected" | "clean" | "unknown" | "not_run".
    ``evidence`` holds what was observed (NTSTATUS name, multiplex id ...)."""

    state: str
    evidence: Mapping[str, JsonScalar] = field(default_factory=dict)
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ShareFacts:
    """One share as seen anonymously, as guest or with credentials.

    Booleans are None when not tested or undecidable (reason in ``notes``)."""

    name: str
    type: str | None = None  # "disk", "ipc", "printer", "device", with "special" suffix for $
    comment: str | None = None
    listed_by: str | None = None  # "null", "guest", "user"
    anonymous_read: bool | None = None
    guest_read: bool | None = None
    anonymous_write: bool | None = None
    guest_write: bool | None = None
    write_cleanup_failed: bool = False
    # credentialed
    share_acl: tuple[AceFacts, ...] | None = None
    root_acl: tuple[AceFacts, ...] | None = None
    snapshots: tuple[datetime, ...] | None = None
    notes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AceFacts:
    """One access control entry, SID resolved to a name where possible."""

    sid: str
    name: str | None
    ace_type: str  # "allow" | "deny"
    access_mask: int
    rights: tuple[str, ...] = ()  # "read", "write", "full"


@dataclass(frozen=True, slots=True)
class PasswordPolicy:
    """Domain/local password and lockout policy (SAMR, [MS-SAMR] 2.2.3.x)."""

    min_length: int | None = None
    complexity: bool | None = None
    history_length: int | None = None
    max_age_days: float | None = None  # None = never expires
    min_age_days: float | None = None
    lockout_threshold: int | None = None  # 0 = never locks out
    lockout_duration_minutes: float | None = None
    lockout_window_minutes: float | None = None


@dataclass(frozen=True, slots=True)
class AuditFacts:
    """Facts only visible with credentials (issue: credentialed audit)."""

    authenticated: bool = False
    account: str | None = None  # user name only; never the secret
    password_policy: PasswordPolicy | None = None
    registry: Mapping[str, JsonScalar] = field(default_factory=dict)  # "HKLM\\...\\Value" -> data
    current_build: int | None = None
    ubr: int | None = None
    product_name: str | None = None
    errors: tuple[ProbeError, ...] = ()
    # the snapshot age limit the audit ran with (``--snapshot-max-age``), read by snapshots-stale
    snapshot_max_age_days: float = 7.0


@dataclass(frozen=True, slots=True)
class HostFacts:
    """Everything smbguard learned about one ``address:port``."""

    target: Target
    port_state: PortState
    connect_ms: float | None = None
    netbios_session: bool | None = None  # port 139 answered a NetBIOS session request
    smb1: Smb1Facts | None = None
    smb2: Smb2Facts | None = None
    signing: SigningFacts = SigningFacts()
    ntlm: NtlmInfo | None = None
    os: str | None = None  # best human-readable OS string
    sessions: SessionFacts = SessionFacts()
    ms17_010: VulnProbeFacts | None = None
    doublepulsar: VulnProbeFacts | None = None
    shares: tuple[ShareFacts, ...] | None = None
    # how share enumeration went per identity and dialect, e.g. {"null/smb2": "listed",
    # "guest/smb1": "denied: STATUS_ACCESS_DENIED", "user/smb2": "listed"}; empty when not tried
    share_listing: Mapping[str, str] = field(default_factory=dict)
    audit: AuditFacts | None = None
    started: datetime | None = None
    finished: datetime | None = None
    errors: tuple[ProbeError, ...] = ()

    @property
    def reachable(self) -> bool:
        return self.port_state is PortState.OPEN


@dataclass(frozen=True, slots=True)
class CheckResult:
    """What a check concluded about one host (and optionally one share)."""

    check_id: str
    status: Status
    confidence: Confidence = Confidence.CONFIRMED
    evidence: Mapping[str, JsonValue] = field(default_factory=dict)
    share: str | None = None
    reason: str | None = None  # why UNKNOWN / NOT_APPLICABLE / MITIGATED


@dataclass(frozen=True, slots=True)
class Finding:
    """An AFFECTED check result joined with its catalog severity, for one host."""

    id: str
    severity: Severity
    address: str
    port: int
    status: Status
    confidence: Confidence
    evidence: Mapping[str, JsonValue] = field(default_factory=dict)
    share: str | None = None

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "severity": self.severity.label,
            "status": self.status.value,
            "confidence": self.confidence.value,
            "address": self.address,
            "port": self.port,
            "share": self.share,
            "evidence": _jsonable(dict(self.evidence)),
        }


@dataclass(frozen=True, slots=True)
class HostResult:
    """Facts about one host plus what the checks made of them."""

    facts: HostFacts
    results: tuple[CheckResult, ...] = ()
    findings: tuple[Finding, ...] = ()


@dataclass(frozen=True, slots=True)
class ScanInfo:
    started: datetime
    finished: datetime | None
    arguments: tuple[str, ...]
    version: str
    targets: tuple[str, ...] = ()  # the target specifications as given
    interrupted: bool = False


@dataclass(frozen=True, slots=True)
class ScanReport:
    info: ScanInfo
    hosts: tuple[HostResult, ...]


def _jsonable(value: Any) -> JsonValue:
    """Convert dataclasses, enums, datetimes, mappings and tuples to JSON values."""
    if isinstance(value, enum.Enum):
        return _jsonable(value.value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if isinstance(value, bytes):
        return value.hex()
    return str(value)


def jsonable(value: Any) -> JsonValue:
    """Public wrapper of the JSON conversion used by every reporter."""
    return _jsonable(value)
