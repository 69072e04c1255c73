"""``netbios-session-exposed``: TCP 139 accepted a NetBIOS session request (RFC 1002 4.3.2).

Independent of the state of port 445: the NetBIOS probe answers on its own.
A scan run against port 139 that spoke SMB also proves the exposure.
"""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import errors_of, result, unknown
from smbguard.model import CheckResult, HostFacts, PortState, Status

ID = "netbios-session-exposed"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    if facts.netbios_session is True:
        return result(ID, Status.AFFECTED, evidence={"netbios_session": True, "port": 139})
    spoke_smb = (facts.smb1 is not None and facts.smb1.enabled is True) or (
        facts.smb2 is not None and bool(facts.smb2.dialects)
    )
    if facts.target.port == 139 and facts.port_state is PortState.OPEN and spoke_smb:
        return result(ID, Status.AFFECTED, evidence={"port": 139, "port_state": "open", "spoke_smb": True})
    if facts.netbios_session is False:
        return result(ID, Status.NOT_AFFECTED, evidence={"netbios_session": False})
    return unknown(ID, errors_of(facts, "netbios") or "port 139 was not probed")


CHECK = Check(id=ID, run=run, needs=("netbios_session",))
