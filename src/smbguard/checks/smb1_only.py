"""``smb1-only``: the server speaks SMB1 and no SMB2/3 dialect at all.

Such a host cannot simply switch SMB1 off (nothing would be left to talk): it
needs an upgrade or replacement. AFFECTED needs SMB1 enabled *and* a decided
SMB2 probe that found no dialect; a host that speaks any SMB2/3 dialect is
NOT_AFFECTED whatever its SMB1 state.
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import errors_of, not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "smb1-only"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    smb1, smb2 = facts.smb1, facts.smb2
    if smb2 is not None and smb2.dialects:
        return result(ID, Status.NOT_AFFECTED, evidence={"smb2.dialects": list(smb2.dialects)})
    if smb1 is None or smb1.enabled is None:
        return unknown(ID, (smb1.reason if smb1 else None) or errors_of(facts, "smb1")
                       or "SMB1 support was not decided")
    if smb1.enabled is False:
        if smb2 is not None and smb2.decided:
            return result(ID, Status.NOT_APPLICABLE, evidence={"smb1.enabled": False, "smb2.dialects": []},
                          reason="the host spoke neither SMB1 nor SMB2/3")
        return result(ID, Status.NOT_AFFECTED, evidence={"smb1.enabled": False})
    if smb2 is None or not smb2.decided:
        return unknown(ID, (smb2.reason if smb2 else None) or errors_of(facts, "smb2")
                       or "SMB2/3 dialects were not decided", {"smb1.enabled": True})
    evidence: dict[str, JsonValue] = {"smb1.enabled": True, "smb1.dialect": smb1.dialect, "smb2.dialects": []}
    if smb1.native_os:
        evidence["smb1.native_os"] = smb1.native_os
    return result(ID, Status.AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("smb1", "smb2"))
