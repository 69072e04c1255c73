"""``ms17-010``: EternalBlue and the other SMB1 flaws fixed by MS17-010 (WannaCry).

Judges :attr:`HostFacts.ms17_010`, collected by :mod:`smbguard.probes.ms17_010`
(a TRANSACTION PeekNamedPipe on FID 0 over an anonymous IPC$ session: the
unpatched srv.sys answers STATUS_INSUFF_SERVER_RESOURCES, the patched one
STATUS_ACCESS_DENIED or STATUS_INVALID_HANDLE). The flaws are in SMB1, so a
host that does not speak SMB1 cannot be reached through them.
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks._host import is_samba
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, probe_undecided, smb1_probe_not_run
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

ID = "ms17-010"


def run(facts: HostFacts) -> Iterable[CheckResult]:
    closed = not_reachable(ID, facts)
    if closed is not None:
        return closed
    probe = facts.ms17_010
    if probe is None or probe.state == "not_run":
        return smb1_probe_not_run(
            ID,
            facts,
            probe,
            smb1_off_confidence=Confidence.CONFIRMED,
            smb1_off_reason="SMB1 is not enabled: the MS17-010 flaws cannot be reached",
            missing="the MS17-010 probe did not run",
        )
    evidence: dict[str, JsonValue] = {"probe_state": probe.state, **probe.evidence}
    if probe.state == "vulnerable":
        return [CheckResult(ID, Status.AFFECTED, Confidence.CONFIRMED, evidence)]
    if probe.state == "patched":
        answer = evidence.get("status", "an error")
        reason = (
            f"Samba answered {answer}: MS17-010 is a Windows flaw"
            if is_samba(facts)
            else f"answered {answer} like a server with the MS17-010 update"
        )
        return [CheckResult(ID, Status.NOT_AFFECTED, Confidence.CONFIRMED, evidence, reason=reason)]
    return probe_undecided(ID, probe, evidence)


CHECK = Check(id=ID, run=run, needs=("smb1", "ms17_010"))
