"""Shared first steps of the read-only SMB1 vulnerability probes: NEGOTIATE
``NT LM 0.12`` (no extended security), an anonymous SESSION_SETUP_ANDX (empty
account and passwords, [MS-CIFS] 3.2.4.2.4) and TREE_CONNECT_ANDX to ``IPC$``.

:func:`open_ipc_after_fingerprint` does the same on the SMB1 fingerprint connection
of ``probes.host.collect`` (already negotiated): with extended security it completes
the fingerprint's half-open NTLMSSP session with an anonymous AUTHENTICATE
([MS-NLMP] 3.2.5.1.2, as nmap's smb-vuln-ms17-010 does), without it the same
empty-password SESSION_SETUP_ANDX as :func:`open_ipc`; then TREE_CONNECT to IPC$.

Every step is a normal client request; nothing is malformed or oversized. A
step that fails ends the probe with a reason (the caller reports "unknown" or
"not_run", never "safe").
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from smbguard.errors import ConnectionClosed, DecodeError, TransportError
from smbguard.model import Target, VulnProbeFacts
from smbguard.net.transport import Limits, Transport, open_tcp
from smbguard.probes.base import ProbeFailure, ProbeOptions, Smb1Channel, connect
from smbguard.proto import ntlmssp, smb1, spnego
from smbguard.proto.ntstatus import status_name

CLIENT_PID = 0xFEFF


class Smb1Refused(Exception):
    """The server does not speak SMB1 (no dialect accepted, or it dropped the connection)."""


class StepFailed(Exception):
    """A step was answered with an error status."""

    def __init__(self, stage: str, status: int) -> None:
        super().__init__(f"{stage} answered {status_name(status)}")
        self.stage = stage
        self.status = status


@dataclass(frozen=True, slots=True)
class IpcSession:
    """An anonymous SMB1 session with IPC$ connected: the header to build requests on."""

    header: smb1.Header
    native_os: str | None
    native_lan_man: str | None


async def _exchange(transport: Transport, message: bytes) -> bytes:
    await transport.send(message)
    return await transport.recv()


async def open_ipc(transport: Transport, address: str) -> IpcSession:
    """Negotiate, log on anonymously and connect IPC$. Raises :class:`Smb1Refused`,
    :class:`StepFailed`, DecodeError or TransportError."""
    base = smb1.Header(command=smb1.Command.NEGOTIATE, pid=CLIENT_PID, mid=1)
    try:
        reply = await _exchange(transport, smb1.encode_negotiate_request((smb1.NT_LM_0_12,), base))
    except ConnectionClosed as exc:
        raise Smb1Refused("the server closed the connection on an SMB1 NEGOTIATE") from exc
    if not smb1.is_smb1(reply):
        raise Smb1Refused("the server answered an SMB1 NEGOTIATE with SMB2")
    negotiate = smb1.decode_negotiate_response(reply)
    if not negotiate.accepted:
        raise Smb1Refused("the server accepted no SMB1 dialect")

    hdr = dataclasses.replace(base, command=smb1.Command.SESSION_SETUP_ANDX, mid=2)
    reply = await _exchange(transport, smb1.encode_session_setup_request(smb1.SessionSetupRequest(), hdr))
    setup = smb1.decode_session_setup_response(reply)
    if setup.status != 0:
        raise StepFailed("anonymous session setup", setup.status)

    hdr = dataclasses.replace(hdr, command=smb1.Command.TREE_CONNECT_ANDX, uid=setup.uid, mid=3)
    path = f"\\\\{address}\\IPC$"
    reply = await _exchange(transport, smb1.encode_tree_connect_request(smb1.TreeConnectRequest(path), hdr))
    tree = smb1.decode_tree_connect_response(reply)
    if tree.status != 0:
        raise StepFailed("tree connect to IPC$", tree.status)
    return IpcSession(
        header=dataclasses.replace(hdr, tid=tree.tid, mid=4),
        native_os=setup.native_os,
        native_lan_man=setup.native_lan_man,
    )


async def open_ipc_after_fingerprint(
    channel: Smb1Channel, extended: bool, pending_uid: int | None, address: str
) -> IpcSession:
    """Anonymous logon + IPC$ on an SMB1 connection that is already negotiated.

    ``extended``: the NEGOTIATE chose extended security, and ``pending_uid`` is the
    half-open session of the fingerprint's NTLM CHALLENGE step (required then).
    Raises :class:`StepFailed` (stage "anonymous session setup" or "tree connect to
    IPC$"), DecodeError or TransportError."""
    if extended:
        if pending_uid is None:
            raise ValueError("extended security needs the fingerprint's half-open session")
        token = spnego.wrap_ntlmssp_authenticate(ntlmssp.encode_anonymous_authenticate())
        request = smb1.SessionSetupRequest(
            extended=True, security_blob=token, native_os="Unix", native_lan_man="smbguard"
        )
        hdr = channel.header(
            smb1.Command.SESSION_SETUP_ANDX,
            uid=pending_uid,
            flags2=smb1.CLIENT_FLAGS2 | smb1.Flags2.EXTENDED_SECURITY,
        )
    else:
        request = smb1.SessionSetupRequest()
        hdr = channel.header(smb1.Command.SESSION_SETUP_ANDX)
    setup = smb1.decode_session_setup_response(
        await channel.exchange(smb1.encode_session_setup_request(request, hdr))
    )
    if setup.status != 0:
        raise StepFailed("anonymous session setup", setup.status)
    uid = setup.uid if setup.uid else hdr.uid
    hdr = channel.header(smb1.Command.TREE_CONNECT_ANDX, uid=uid)
    path = f"\\\\{address}\\IPC$"
    tree = smb1.decode_tree_connect_response(
        await channel.exchange(smb1.encode_tree_connect_request(smb1.TreeConnectRequest(path), hdr))
    )
    if tree.status != 0:
        raise StepFailed("tree connect to IPC$", tree.status)
    return IpcSession(
        header=channel.header(smb1.Command.TRANSACTION, uid=uid, tid=tree.tid),
        native_os=setup.native_os,
        native_lan_man=setup.native_lan_man,
    )


async def logoff(transport: Transport, session: IpcSession) -> None:
    """Best-effort LOGOFF_ANDX (the connection is closed right after anyway)."""
    try:
        await _exchange(transport, smb1.encode_logoff_request(dataclasses.replace(session.header, mid=0x7F)))
    except (ConnectionClosed, DecodeError):
        return


__all__ = ["IpcSession", "Smb1Refused", "StepFailed", "logoff", "open_ipc", "open_ipc_after_fingerprint"]


#: The probe-specific request on an anonymous session with IPC$ connected
#: (``ms17_010.check``, ``doublepulsar.check``). Raises TransportError / DecodeError.
CheckFn = Callable[[Transport, IpcSession], Awaitable[VulnProbeFacts]]


async def run_on(check: CheckFn, transport: Transport, address: str) -> VulnProbeFacts:
    """``check`` over an open transport (TCP or replay): NEGOTIATE, anonymous logon,
    IPC$, the check, LOGOFF. Network and protocol trouble gives state "unknown" with
    the reason; it never raises for them."""
    try:
        try:
            session = await open_ipc(transport, address)
        except Smb1Refused as exc:
            return VulnProbeFacts("not_run", {"smb1_enabled": False}, str(exc))
        except StepFailed as exc:
            evidence = {"stage": exc.stage, "status": status_name(exc.status)}
            return VulnProbeFacts("unknown", evidence, f"{exc}: the check needs it")
        facts = await check(transport, session)
        await logoff(transport, session)
        return facts
    except TransportError as exc:
        return VulnProbeFacts("unknown", {}, f"{type(exc).__name__}: {exc}")
    except DecodeError as exc:
        return VulnProbeFacts("unknown", {}, f"malformed answer: {exc}")


async def run(check: CheckFn, target: Target, opts: ProbeOptions) -> VulnProbeFacts:
    """One connection for ``check`` (port 139 gets its NetBIOS session first)."""
    try:
        transport = await connect(target.address, target.port, opts)
    except ProbeFailure as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, exc.error.message)
    except TransportError as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, f"{type(exc).__name__}: {exc}")
    try:
        return await run_on(check, transport, target.address)
    finally:
        await transport.close()


async def probe(check: CheckFn, target: Target, limits: Limits | None = None) -> VulnProbeFacts:
    """Connect to ``target`` directly and run ``check`` (one connection, closed afterwards)."""
    try:
        transport = await open_tcp(target.address, target.port, limits or Limits())
    except TransportError as exc:
        return VulnProbeFacts("unknown", {"stage": "connect"}, f"{type(exc).__name__}: {exc}")
    try:
        return await run_on(check, transport, target.address)
    finally:
        await transport.close()
