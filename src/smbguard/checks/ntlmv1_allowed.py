"""``ntlmv1-allowed``: LmCompatibilityLevel (HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa)
is below 5, so the host still accepts LM/NTLMv1 responses for the accounts it
authenticates itself (local accounts; a domain controller: every domain account).
Not set means the default, 3 ("Send NTLMv2 response only"), which still accepts
NTLMv1. Level 5 = "Send NTLMv2 response only. Refuse LM & NTLM"."""

from __future__ import annotations

from smbguard.checks._audit import LSA, registry_reason
from smbguard.checks._regcheck import dword, registry_audit
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, Status

ID = "ntlmv1-allowed"
NAME = LSA + "LmCompatibilityLevel"
DEFAULT = 3  # Windows Vista / Server 2008 and later


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = registry_audit(facts, ID)
    if isinstance(audit, tuple):
        return audit
    level = dword(audit, NAME, DEFAULT)
    if level is None:
        return unknown(ID, registry_reason(audit, NAME))
    evidence = {NAME: audit.registry[NAME], "effective_level": level}
    return result(ID, Status.AFFECTED if level < 5 else Status.NOT_AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("audit.registry",))
