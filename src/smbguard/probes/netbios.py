"""Port 139: does the NetBIOS session service accept a SESSION REQUEST ([RFC 1002] 4.3.2)?

The called name is ``*SMBSERVER`` (accepted by Windows and Samba when the real
NetBIOS name is unknown); a NEGATIVE SESSION RESPONSE (e.g. 0x82 "called name not
present") still proves the service listens.
"""

from __future__ import annotations

from smbguard.model import Target
from smbguard.net.transport import open_tcp
from smbguard.probes.base import NETBIOS_PORT, ProbeOptions, netbios_session
from smbguard.proto import netbios


async def probe_netbios(target: Target, opts: ProbeOptions, port: int = NETBIOS_PORT) -> netbios.NbssResponse:
    """Connect to ``port`` (139) and send one SESSION REQUEST. Raises TransportError / DecodeError."""
    transport = await open_tcp(target.address, port, opts.limits)
    try:
        return await netbios_session(transport, opts.called_name)
    finally:
        await transport.close()
