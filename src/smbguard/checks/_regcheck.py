"""Reading ``AuditFacts.registry`` values for the hardening checks."""

from __future__ import annotations

from smbguard.checks._audit import as_int, reachable_audit, registry_reason, unknown
from smbguard.model import AuditFacts, CheckResult, HostFacts, JsonScalar


def registry_audit(facts: HostFacts, check_id: str) -> AuditFacts | tuple[CheckResult, ...]:
    """The audit facts, or the results a registry check returns instead: the port verdict
    when SMB is not reachable, UNKNOWN when there was no credentialed audit or the winreg
    pipe could not be used at all (RemoteRegistry stopped, access denied, Samba)."""
    audit = reachable_audit(facts, check_id, probe="__audit__")
    if isinstance(audit, tuple):
        return audit
    if not audit.registry:
        return (unknown(check_id, "remote registry not read: " + registry_reason(audit, "HKLM")),)
    return audit


def value(audit: AuditFacts, name: str) -> tuple[bool, JsonScalar]:
    """(was it read, its value). A read value of None means "not set" (default applies)."""
    if name not in audit.registry:
        return False, None
    return True, audit.registry[name]


def dword(audit: AuditFacts, name: str, default: int) -> int | None:
    """The DWORD value, ``default`` when not set, None when not read."""
    read, raw = value(audit, name)
    if not read:
        return None
    if raw is None:
        return default
    return as_int(raw)
