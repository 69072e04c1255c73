"""``smb-encryption-unavailable``: the host speaks SMB3 but offers no SMB encryption.

Encryption is available when an SMB 3.1.1 NEGOTIATE response carries an
ENCRYPTION_CAPABILITIES context with a cipher ([MS-SMB2] 2.2.4.1.2), or when a
3.0/3.0.2 response sets SMB2_GLOBAL_CAP_ENCRYPTION ([MS-SMB2] 2.2.4). Hosts
without any SMB3 dialect are NOT_APPLICABLE (``smb3-not-supported`` covers them).
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import errors_of, not_reachable, result, unknown
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

ID = "smb-encryption-unavailable"


def _has_cap_encryption(capabilities: tuple[str, ...]) -> bool:
    return any(c.upper().endswith("ENCRYPTION") for c in capabilities)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    smb2 = facts.smb2
    if smb2 is None:
        return unknown(ID, errors_of(facts, "smb2") or "SMB2/3 was not probed")
    dialects = smb2.dialects
    evidence: dict[str, JsonValue] = {
        "smb2.dialects": list(dialects),
        "smb2.encryption_ciphers": list(smb2.encryption_ciphers),
        "smb2.capabilities": list(smb2.capabilities),
    }
    if smb2.encryption_ciphers:
        return result(ID, Status.NOT_AFFECTED, evidence=evidence)
    if _has_cap_encryption(smb2.capabilities) and any(d in ("3.0", "3.0.2") for d in dialects):
        return result(ID, Status.NOT_AFFECTED, evidence=evidence)
    smb3 = [d for d in dialects if d in ("3.0", "3.0.2", "3.1.1")]
    if not smb3:
        if smb2.decided:
            return result(ID, Status.NOT_APPLICABLE, evidence=evidence,
                          reason="the host speaks no SMB3 dialect")
        return unknown(ID, smb2.reason or "SMB2/3 dialects were not decided", evidence)
    # 3.1.1 without ciphers: the probe offers every cipher, so the server chose none.
    # 3.0/3.0.2 without the capability bit: the server does not encrypt.
    confidence = Confidence.CONFIRMED if smb2.decided else Confidence.LIKELY
    return result(ID, Status.AFFECTED, confidence=confidence, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("smb2",))
