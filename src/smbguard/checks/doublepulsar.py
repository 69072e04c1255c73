"""``doublepulsar``: the DoublePulsar kernel implant answers its SMB "ping".

Judges :attr:`HostFacts.doublepulsar`, collected by
:mod:`smbguard.probes.doublepulsar` (a TRANSACTION2 SESSION_SETUP request; an
implanted srv.sys answers with Multiplex ID 0x51, an intact one with 0x41).
The implant hooks the SMB1 dispatcher and lives in memory only.
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, probe_undecided, smb1_probe_not_run
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

ID = "doublepulsar"


def run(facts: HostFacts) -> Iterable[CheckResult]:
    closed = not_reachable(ID, facts)
    if closed is not None:
        return closed
    probe = facts.doublepulsar
    if probe is None or probe.state == "not_run":
        return smb1_probe_not_run(
            ID,
            facts,
            probe,
            smb1_off_confidence=Confidence.LIKELY,
            smb1_off_reason="SMB1 is not enabled: the SMB implant cannot answer",
            missing="the DoublePulsar probe did not run",
        )
    evidence: dict[str, JsonValue] = {"probe_state": probe.state, **probe.evidence}
    if probe.state == "infected":
        return [CheckResult(ID, Status.AFFECTED, Confidence.CONFIRMED, evidence)]
    if probe.state == "clean":
        return [
            CheckResult(ID, Status.NOT_AFFECTED, Confidence.CONFIRMED, evidence, reason="no implant answered")
        ]
    return probe_undecided(ID, probe, evidence)


CHECK = Check(id=ID, run=run, needs=("smb1", "doublepulsar"))
