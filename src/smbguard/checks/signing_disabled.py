"""``smb-signing-disabled``: the server cannot sign at all (SecurityMode without the
signing-enabled bit). In practice only SMB1 servers do this: every SMB2/3 server
supports signing ([MS-SMB2] 3.3.5.4)."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.checks.signing_not_required import signing_result
from smbguard.model import CheckResult, HostFacts

ID = "smb-signing-disabled"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    return signing_result(ID, facts, facts.signing.enabled)


CHECK = Check(id=ID, run=run, needs=("signing",))
