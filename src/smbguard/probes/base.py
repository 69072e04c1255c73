"""Shared probe plumbing: options, connecting (with the port-139 NetBIOS session),
one-request-one-reply SMB1/SMB2 channels, and exception -> ProbeError mapping.

Every await here is bounded: the transport enforces connect/read timeouts and a
maximum frame size; the channels read at most a few interim replies per request.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass, field

from smbguard.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    DecodeError,
    FrameTooLarge,
    ReadTimeout,
    TransportError,
)
from smbguard.model import ProbeError
from smbguard.net.transport import Limits, TcpTransport, Transport, open_tcp
from smbguard.proto import netbios, smb1, smb2
from smbguard.proto.ntstatus import NTStatus

NETBIOS_PORT = 139
#: Calling name sent in the port-139 SESSION REQUEST.
CALLING_NAME = "SMBGUARD"
#: Interim (STATUS_PENDING) replies skipped per request before giving up.
MAX_INTERIM = 4
CREDITS_REQUESTED = 64


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    """What :func:`smbguard.probes.host.collect` does.

    ``null_sessions`` False skips every logon attempt (anonymous and guest);
    the NTLM CHALLENGE exchange, which logs nobody on, still runs.
    ``ms17_010`` / ``doublepulsar`` are opt-in hooks for the read-only
    vulnerability probes (``probes/ms17_010.py``, ``probes/doublepulsar.py``),
    which run on the SMB1 fingerprint connection when enabled (their own
    connection only as the fallback documented in ``probes.host``).
    ``netbios_139`` additionally sends a NetBIOS SESSION REQUEST to port 139.
    ``retries`` repeats the host's first TCP connect after a timeout or transient error
    (a refusal is final); ``called_name`` is the NetBIOS name asked for on port 139."""

    limits: Limits = field(default_factory=Limits)
    null_sessions: bool = True
    retries: int = 0
    ms17_010: bool = False
    doublepulsar: bool = False
    netbios_139: bool = False
    called_name: str = netbios.WILDCARD_SERVER_NAME

    def __post_init__(self) -> None:
        if self.retries < 0:
            raise ValueError("retries must be >= 0")


class ProbeFailure(Exception):
    """A probe could not decide; carries the :class:`ProbeError` to report."""

    def __init__(self, error: ProbeError) -> None:
        super().__init__(error.message)
        self.error = error


def error_kind(exc: BaseException) -> str:
    """ProbeError.kind for an exception raised by transports and decoders."""
    if isinstance(exc, ConnectTimeout | ReadTimeout | TimeoutError):
        return "timeout"
    if isinstance(exc, ConnectRefused):
        return "refused"
    if isinstance(exc, FrameTooLarge):
        return "oversized"
    if isinstance(exc, ConnectionClosed):
        return "reset" if "reset" in str(exc).lower() else "closed"
    if isinstance(exc, DecodeError):
        return "protocol"
    if isinstance(exc, TransportError):
        return "protocol"
    return "internal"


def probe_error(probe: str, exc: BaseException) -> ProbeError:
    if isinstance(exc, ProbeFailure):
        return exc.error
    return ProbeError(probe=probe, kind=error_kind(exc), message=str(exc) or exc.__class__.__name__)


async def connect(address: str, port: int, opts: ProbeOptions) -> TcpTransport:
    """TCP connect; on port 139 also open the NetBIOS session ([RFC 1002] 4.3.2).

    A negative session response raises :class:`ProbeFailure` (kind ``denied``)."""
    transport = await open_tcp(address, port, opts.limits)
    if port == NETBIOS_PORT:
        try:
            answer = await netbios_session(transport, opts.called_name)
        except DecodeError as exc:
            await transport.close()
            raise ProbeFailure(
                ProbeError("netbios", "protocol", f"bad NetBIOS session answer: {exc}")
            ) from exc
        except BaseException:
            await transport.close()
            raise
        if not answer.positive:
            await transport.close()
            raise ProbeFailure(
                ProbeError("netbios", "denied", f"NetBIOS session refused: {answer.error_name}")
            )
    return transport


async def netbios_session(transport: TcpTransport, called: str) -> netbios.NbssResponse:
    """Send a SESSION REQUEST and decode the answer."""
    await transport.send_raw(netbios.encode_session_request(called, CALLING_NAME))
    ftype, payload = await transport.recv_frame()
    header = bytes([ftype, 0]) + len(payload).to_bytes(2, "big")
    return netbios.decode_session_response(header + payload)


def random_user_name(length: int = 12) -> str:
    """A user name no real directory holds (lower-case letters, ``sg`` prefix)."""
    return "sg" + "".join(secrets.choice(string.ascii_lowercase) for _ in range(length - 2))


class Smb2Channel:
    """Sequential SMB2 requests on one connection with message ids and credits."""

    def __init__(self, transport: Transport, first_message_id: int = 0) -> None:
        self.transport = transport
        self._next_id = first_message_id

    def header(self, session_id: int = 0, tree_id: int = 0) -> smb2.Header:
        message_id = self._next_id
        self._next_id += 1
        return smb2.Header(
            message_id=message_id, session_id=session_id, tree_id=tree_id, credits=CREDITS_REQUESTED
        )

    async def exchange(self, message: bytes) -> tuple[smb2.Header, bytes]:
        """Send one request, return (header, whole reply) of its final response.

        Replies must be SMB2 responses for the same MessageId; interim
        STATUS_PENDING replies are skipped (at most :data:`MAX_INTERIM`)."""
        request = smb2.decode_header(message)
        await self.transport.send(message)
        for _ in range(MAX_INTERIM + 1):
            reply = await self.transport.recv()
            header = smb2.decode_header(reply)
            if not header.is_response:
                raise DecodeError("SMB2 reply without SERVER_TO_REDIR")
            if header.message_id != request.message_id:
                raise DecodeError(
                    f"SMB2 reply for MessageId {header.message_id}, expected {request.message_id}"
                )
            if header.status == NTStatus.PENDING and header.is_async:
                continue
            return header, reply
        raise DecodeError("too many interim SMB2 replies")


class Smb1Channel:
    """Sequential SMB1 requests on one connection (MID counter, UID/TID kept by callers)."""

    def __init__(self, transport: Transport) -> None:
        self.transport = transport
        self._next_mid = 1

    def header(
        self,
        command: int,
        uid: int = 0,
        tid: int = 0,
        flags2: int = smb1.CLIENT_FLAGS2,
        mid: int | None = None,
    ) -> smb1.Header:
        if mid is None:
            mid = self._next_mid
            self._next_mid += 1
        return smb1.Header(command=command, uid=uid, tid=tid, flags2=flags2, mid=mid)

    async def exchange(self, message: bytes) -> bytes:
        """Send one request; the reply must be SMB1 (an SMB2 reply raises DecodeError)."""
        await self.transport.send(message)
        reply = await self.transport.recv()
        if smb2.is_smb2(reply):
            raise DecodeError("SMB2 reply to an SMB1 request")
        header = smb1.decode_header(reply)
        if not header.is_reply:
            raise DecodeError("SMB1 message without the REPLY flag")
        return reply
