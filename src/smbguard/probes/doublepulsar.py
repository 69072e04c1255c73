"""Read-only DoublePulsar probe (the implant's "ping").

After an anonymous SMB1 logon and a tree connect to IPC$, send a TRANSACTION2
SESSION_SETUP (subcommand 0x000E, [MS-CIFS] 2.2.6.16) with Multiplex ID 0x41.
Every Windows host answers STATUS_NOT_IMPLEMENTED; an implanted srv.sys
answers with Multiplex ID 0x51 (request + 0x10) and its XOR key in the
signature field. Nothing is uploaded and no implant command is sent.

Outcomes: "infected", "clean", "unknown", "not_run" (no SMB1).
"""

from __future__ import annotations

import dataclasses

from smbguard.errors import DecodeError, TransportError
from smbguard.model import JsonScalar, Target, VulnProbeFacts
from smbguard.net.transport import Limits, Transport, open_tcp
from smbguard.probes._smb1_ipc import IpcSession, Smb1Refused, StepFailed, logoff, open_ipc
from smbguard.probes.base import ProbeFailure, ProbeOptions, connect
from smbguard.proto import smb1
from smbguard.proto.ntstatus import status_name

NAME = "doublepulsar"
PING_MID = 0x41
IMPLANT_MID = 0x51


def judge_ping_reply(reply: smb1.TransactionResponse) -> VulnProbeFacts:
    mid = reply.header.mid
    evidence: dict[str, JsonScalar] = {"multiplex_id": f"0x{mid:02X}", "status": status_name(reply.status)}
    if mid == IMPLANT_MID:
        evidence["implant_key"] = reply.header.signature[:4].hex()
        return VulnProbeFacts("infected", evidence)
    if mid == PING_MID:
        return VulnProbeFacts("clean", evidence)
    return VulnProbeFacts("unknown", evidence, f"unexpected Multiplex ID 0x{mid:02X} in the reply")


async def _run(transport: Transport, address: str) -> VulnProbeFacts:
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
    """The TRANSACTION2 SESSION_SETUP ping (Multiplex ID 0x41) on an anonymous session
    with IPC$ connected (from :func:`open_ipc` or, in ``collect``, on the SMB1
    fingerprint connection). Raises TransportError / DecodeError."""
    header = dataclasses.replace(session.header, mid=PING_MID)
    await transport.send(smb1.trans2_session_setup_request(header))
    return judge_ping_reply(smb1.decode_transaction_response(await transport.recv()))


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
