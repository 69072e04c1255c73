"""``smb1-audit-disabled``: SMB1 is (or may be) enabled on the server but SMB1 access
auditing (LanmanServer\\Parameters AuditSmb1Access = 1, event 3000 in
Microsoft-Windows-SMBServer/Audit) is off, so nobody can tell which clients still
need SMB1 before switching it off. Not applicable when SMB1 is known to be off."""

from __future__ import annotations

from smbguard.checks._audit import LANMAN, registry_reason
from smbguard.checks._regcheck import dword, registry_audit
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "smb1-audit-disabled"
AUDIT = LANMAN + "AuditSmb1Access"
SMB1 = LANMAN + "SMB1"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = registry_audit(facts, ID)
    if isinstance(audit, tuple):
        return audit
    smb1_reg = dword(audit, SMB1, 1)
    smb1_seen = facts.smb1.enabled if facts.smb1 is not None else None
    evidence: dict[str, JsonValue] = {"smb1.enabled": smb1_seen, SMB1: audit.registry.get(SMB1)}
    if smb1_seen is False or (smb1_seen is None and smb1_reg == 0):
        return result(ID, Status.NOT_APPLICABLE, evidence=evidence, reason="SMB1 is disabled on the server")
    value = dword(audit, AUDIT, 0)
    if value is None:
        return unknown(ID, registry_reason(audit, AUDIT))
    evidence[AUDIT] = audit.registry[AUDIT]
    return result(ID, Status.NOT_AFFECTED if value == 1 else Status.AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("smb1", "audit.registry"))
