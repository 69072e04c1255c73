"""``smb3-not-supported``: the host speaks SMB but no SMB 3.x dialect (3.0, 3.0.2, 3.1.1).

Without SMB3 there is no encryption, no secure dialect negotiation and no
pre-authentication integrity. Any 3.x dialect seen -> NOT_AFFECTED; a decided
SMB2 probe with no 3.x dialect (or SMB1 only) -> AFFECTED; otherwise UNKNOWN.
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import errors_of, not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, Status

ID = "smb3-not-supported"
SMB3_DIALECTS = ("3.0", "3.0.2", "3.1.1")


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    smb2 = facts.smb2
    if smb2 is not None:
        smb3 = [d for d in smb2.dialects if d in SMB3_DIALECTS]
        if smb3:
            return result(ID, Status.NOT_AFFECTED, evidence={"smb2.dialects": list(smb2.dialects)})
    if smb2 is None or not smb2.decided:
        return unknown(ID, (smb2.reason if smb2 else None) or errors_of(facts, "smb2")
                       or "SMB2/3 dialects were not decided")
    smb1_enabled = facts.smb1.enabled if facts.smb1 is not None else None
    if not smb2.dialects and smb1_enabled is not True:
        if smb1_enabled is None:
            return unknown(ID, "no SMB2/3 dialect and SMB1 support undecided", {"smb2.dialects": []})
        return result(ID, Status.NOT_APPLICABLE, evidence={"smb2.dialects": [], "smb1.enabled": False},
                      reason="the host spoke neither SMB1 nor SMB2/3")
    return result(
        ID,
        Status.AFFECTED,
        evidence={
            "smb2.dialects": list(smb2.dialects),
            "smb2.highest": smb2.highest,
            "smb1.enabled": smb1_enabled,
        },
    )


CHECK = Check(id=ID, run=run, needs=("smb2", "smb1"))
