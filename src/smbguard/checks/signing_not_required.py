"""``smb-signing-not-required``: at least one dialect the host speaks accepts unsigned sessions.

Reads :class:`~smbguard.model.SigningFacts`, which the probes derive from the raw
SecurityMode fields of the SMB1 and SMB2 NEGOTIATE responses ([MS-SMB] 2.2.4.5.2.1,
[MS-SMB2] 2.2.4). ``required`` False -> AFFECTED (NTLM relay possible).
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "smb-signing-not-required"


def signing_evidence(facts: HostFacts) -> dict[str, JsonValue]:
    """Observed signing values (shared with ``smb-signing-disabled``)."""
    s = facts.signing
    evidence: dict[str, JsonValue] = {
        "signing.enabled": s.enabled,
        "signing.required": s.required,
        "signing.smb1_required": s.smb1_required,
        "signing.smb2_required": s.smb2_required,
    }
    if facts.smb1 is not None and facts.smb1.enabled:
        evidence["smb1.signing_enabled"] = facts.smb1.signing_enabled
        evidence["smb1.signing_required"] = facts.smb1.signing_required
    if facts.smb2 is not None and facts.smb2.security_modes:
        evidence["smb2.security_modes"] = {d: f"0x{m:02x}" for d, m in facts.smb2.security_modes.items()}
    return evidence


def signing_result(check_id: str, facts: HostFacts, present: bool | None) -> tuple[CheckResult, ...]:
    """The verdict on one signing property (shared with ``smb-signing-disabled``):
    NOT_AFFECTED when the host has it, AFFECTED when not, UNKNOWN when no negotiate said."""
    if present is None:
        return unknown(check_id, "no SMB negotiate revealed the security mode", signing_evidence(facts))
    status = Status.NOT_AFFECTED if present else Status.AFFECTED
    return result(check_id, status, evidence=signing_evidence(facts))


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    return signing_result(ID, facts, facts.signing.required)


CHECK = Check(id=ID, run=run, needs=("signing", "smb1", "smb2"))
