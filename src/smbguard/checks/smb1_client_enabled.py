"""``smb1-client-enabled``: the SMB1 client driver (mrxsmb10) is installed and not
disabled (HKLM\\SYSTEM\\CurrentControlSet\\Services\\mrxsmb10 Start != 4), so this
host can still be talked into SMB1 connections to other servers (and NTLM relays
over them). The key missing altogether means the driver is not installed (Windows
10 1709+ / Server 2019+ default): not affected."""

from __future__ import annotations

from smbguard.checks._audit import MRXSMB10_START, registry_reason
from smbguard.checks._regcheck import dword, registry_audit
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "smb1-client-enabled"
DISABLED = 4  # SERVICE_DISABLED


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = registry_audit(facts, ID)
    if isinstance(audit, tuple):
        return audit
    start = dword(audit, MRXSMB10_START, DISABLED)
    if start is None:
        reason = registry_reason(audit, MRXSMB10_START)
        # The service key itself is absent while other keys were read: driver not installed.
        if "open HKLM" in reason and "ERROR_FILE_NOT_FOUND" in reason and _windows_keys_read(facts):
            return result(ID, Status.NOT_AFFECTED, evidence={MRXSMB10_START: None, "installed": False})
        return unknown(ID, reason)
    evidence: dict[str, JsonValue] = {MRXSMB10_START: start, "installed": True}
    return result(ID, Status.NOT_AFFECTED if start == DISABLED else Status.AFFECTED, evidence=evidence)


def _windows_keys_read(facts: HostFacts) -> bool:
    """True when values under the Windows-only LanmanServer or Lsa keys were read, so a
    missing mrxsmb10 key is a fact about the driver rather than about the server."""
    assert facts.audit is not None
    return any("\\LanmanServer\\" in k or "\\Control\\Lsa\\" in k for k in facts.audit.registry)


CHECK = Check(id=ID, run=run, needs=("audit.registry",))
