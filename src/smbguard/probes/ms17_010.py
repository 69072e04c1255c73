"""Read-only MS17-010 probe ([MS-CIFS] 2.2.4.33, 2.2.5.2).

After an anonymous SMB1 logon and a tree connect to IPC$, send a TRANSACTION
PeekNamedPipe on FID 0 — a handle that cannot exist. The unpatched srv.sys
answers STATUS_INSUFF_SERVER_RESOURCES (0xC0000205); the MS17-010 update makes
it answer STATUS_ACCESS_DENIED or STATUS_INVALID_HANDLE. This is the check
Microsoft-independent scanners (nmap smb-vuln-ms17-010, Metasploit's
auxiliary scanner) use; it sends no exploit data and cannot crash a host.

Outcomes: "vulnerable", "patched", "unknown" (anything else, IPC$ refused,
anonymous logon refused, timeouts) and "not_run" (the host does not speak SMB1).
"""

from __future__ import annotations

from smbguard.model import JsonScalar, Target, VulnProbeFacts
from smbguard.net.transport import Limits, Transport
from smbguard.probes import _smb1_ipc
from smbguard.probes._smb1_ipc import IpcSession
from smbguard.probes.base import ProbeOptions
from smbguard.proto import smb1
from smbguard.proto.ntstatus import NTStatus, status_name

NAME = "ms17_010"
STATUS_INSUFF_SERVER_RESOURCES = 0xC0000205
PATCHED_STATUSES = frozenset({NTStatus.ACCESS_DENIED, NTStatus.INVALID_HANDLE})


def judge_peek_status(status: int) -> VulnProbeFacts:
    """Map the PeekNamedPipe(FID 0) answer to a probe outcome."""
    evidence: dict[str, JsonScalar] = {"status": status_name(status), "status_code": f"0x{status:08X}"}
    if status == STATUS_INSUFF_SERVER_RESOURCES:
        return VulnProbeFacts("vulnerable", evidence)
    if status in PATCHED_STATUSES:
        return VulnProbeFacts("patched", evidence)
    return VulnProbeFacts(
        "unknown", evidence, f"unexpected answer {status_name(status)} to PeekNamedPipe(FID 0)"
    )


async def check(transport: Transport, session: IpcSession) -> VulnProbeFacts:
    """The PeekNamedPipe(FID 0) request on an anonymous session with IPC$ connected
    (from :func:`open_ipc` or, in ``collect``, on the SMB1 fingerprint connection).
    Raises TransportError / DecodeError."""
    await transport.send(smb1.peek_named_pipe_request(session.header))
    reply = smb1.decode_transaction_response(await transport.recv())
    return judge_peek_status(reply.status)


async def run_on(transport: Transport, address: str) -> VulnProbeFacts:
    """The probe over an open transport (TCP or replay); never raises for network trouble."""
    return await _smb1_ipc.run_on(check, transport, address)


async def run(target: Target, opts: ProbeOptions) -> VulnProbeFacts:
    """Entry point for ``probes.host.VULN_PROBES`` (port 139 gets its NetBIOS session first)."""
    return await _smb1_ipc.run(check, target, opts)


async def probe(target: Target, limits: Limits | None = None) -> VulnProbeFacts:
    """Connect to ``target`` and run the probe (one connection, closed afterwards)."""
    return await _smb1_ipc.probe(check, target, limits)
