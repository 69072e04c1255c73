"""``smb1-enabled``: the server accepted an SMB1 (``NT LM 0.12``) negotiate.

Reads :class:`~smbguard.model.Smb1Facts` only: ``enabled`` True -> AFFECTED,
False -> NOT_AFFECTED, missing or None -> UNKNOWN with the probe's reason.
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import errors_of, not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "smb1-enabled"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    smb1 = facts.smb1
    if smb1 is None or smb1.enabled is None:
        reason = (smb1.reason if smb1 else None) or errors_of(facts, "smb1")
        reason = reason or "SMB1 negotiate was not decided"
        return unknown(ID, reason)
    if not smb1.enabled:
        return result(ID, Status.NOT_AFFECTED, evidence={"smb1.enabled": False})
    evidence: dict[str, JsonValue] = {"smb1.enabled": True, "smb1.dialect": smb1.dialect}
    if smb1.native_os:
        evidence["smb1.native_os"] = smb1.native_os
    if smb1.native_lan_manager:
        evidence["smb1.native_lan_manager"] = smb1.native_lan_manager
    return result(ID, Status.AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("smb1",))
