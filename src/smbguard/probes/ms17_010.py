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

from smbguard.errors import DecodeError, TransportError
from smbguard.model import JsonScalar, Target, VulnProbeFacts
from smbguard.net.transport import Limits, Transport, open_tcp
from smbguard.probes._smb1_ipc import IpcSession, Smb1Refused, StepFailed, logoff, open_ipc
from smbguard.probes.base import ProbeFailure, ProbeOptions, connect
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


async def _run(transport: Transport, address: str) -> VulnProbeFacts:
    """The probe over an open transport (TCP or replay)."""
    try:
        session = await open_ipc(transport, address)
    except Smb1Refused as exc:
        return VulnProbeFacts("not_run", {"smb1_enabled": False}, str(exc))
    except StepFailed as exc:
        return VulnProbeFacts(
            "unknown", {"stage": exc.stage, "status": status_name(exc.status)}, f"{exc}: the check needs it"
        )
    facts = await check(transport, session)
    await logoff(transport, session)
    return facts


async def check(transport: Transport, session: IpcSession) -> VulnProbeFacts:
    """The PeekNamedPipe(FID 0) request on an anonymous session with IPC$ connected
    (from :func:`open_ipc` or, in ``collect``, on the SMB1 fingerprint connection).
    Raises TransportError / DecodeError."""
    await transport.send(smb1.peek_named_pipe_request(session.header))
    reply = smb1.decode_transaction_response(await transport.recv())
    return judge_peek_status(reply.status)


async def run_on(transport: Transport, address: str) -> VulnProbeFacts:
    """The probe over an open transport (TCP or replay). Network and protocol trouble
    gives state "unknown" with the reason; it never raises for them."""
    try:
        return await _run(transport, address)
    except TransportError as exc:
        return VulnProbeFacts("unknown", {}, f"{type(exc).__name__}: {exc}")
    except DecodeError as exc:
        return VulnProbeFacts("unknown", {}, f"malformed answer: {exc}")


async def run(target: Target, opts: ProbeOptions) -> VulnProbeFacts:
    """Entry point for ``probes.host.VULN_PROBES`` (port 139 gets its NetBIOS session first)."""
    try:
        transport = await connect(target.address, target.port, opts)
    except ProbeFailure as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, exc.error.message)
    except TransportError as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, f"{type(exc).__name__}: {exc}")
    try:
        return await run_on(transport, target.address)
    finally:
        await transport.close()


async def probe(target: Target, limits: Limits | None = None) -> VulnProbeFacts:
    """Connect to ``target`` and run the probe (one connection, closed afterwards)."""
    try:
        transport = await open_tcp(target.address, target.port, limits or Limits())
    except TransportError as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, f"{type(exc).__name__}: {exc}")
    try:
        return await run_on(transport, target.address)
    finally:
        await transport.close()
