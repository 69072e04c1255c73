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

from smbguard.model import JsonScalar, Target, VulnProbeFacts
from smbguard.net.transport import Limits, Transport
from smbguard.probes import _smb1_ipc
from smbguard.probes._smb1_ipc import IpcSession
from smbguard.probes.base import ProbeOptions
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


async def check(transport: Transport, session: IpcSession) -> VulnProbeFacts:
    """The TRANSACTION2 SESSION_SETUP ping (Multiplex ID 0x41) on an anonymous session
    with IPC$ connected (from :func:`open_ipc` or, in ``collect``, on the SMB1
    fingerprint connection). Raises TransportError / DecodeError."""
    header = dataclasses.replace(session.header, mid=PING_MID)
    await transport.send(smb1.trans2_session_setup_request(header))
    return judge_ping_reply(smb1.decode_transaction_response(await transport.recv()))


async def run_on(transport: Transport, address: str) -> VulnProbeFacts:
    """The probe over an open transport (TCP or replay); never raises for network trouble."""
    return await _smb1_ipc.run_on(check, transport, address)


async def run(target: Target, opts: ProbeOptions) -> VulnProbeFacts:
    """Entry point for ``probes.host.VULN_PROBES`` (port 139 gets its NetBIOS session first)."""
    return await _smb1_ipc.run(check, target, opts)


async def probe(target: Target, limits: Limits | None = None) -> VulnProbeFacts:
    """Connect to ``target`` and run the probe (one connection, closed afterwards)."""
    return await _smb1_ipc.probe(check, target, limits)
