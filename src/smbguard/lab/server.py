"""The asyncio side of the emulator: listeners on loopback addresses, bounded
connections, NBSS framing. Protocol logic lives in :mod:`smbguard.lab.responder`.

Linux routes the whole 127.0.0.0/8 to the loopback interface, so a listener can
bind 127.x.y.z without ``ip addr add`` and without root (ports >= 1024 need no
privilege; port 445 does). The server is also a target for the scanner's
hostile-input tests, so every read is bounded: requests larger than
``max_request`` or slower than ``read_timeout`` close the connection, each
connection answers at most ``max_messages`` messages, and at most
``max_connections`` are served at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field

from smbguard.errors import DecodeError
from smbguard.lab.personas import Persona
from smbguard.lab.responder import Responder
from smbguard.net.transport import frame
from smbguard.proto import netbios

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class LabLimits:
    max_request: int = 65536
    read_timeout: float = 10.0
    idle_timeout: float = 30.0
    max_messages: int = 256
    max_connections: int = 4096


@dataclass(slots=True)
class LabStats:
    connections: int = 0
    refused_busy: int = 0
    messages: int = 0
    dropped: int = 0
    by_address: dict[str, int] = field(default_factory=dict)


class Lab:
    """Emulated hosts on loopback: ``Lab({"127.0.30.1": persona, ...})``.

    >>> async with Lab(personas).running():   # doctest: +SKIP
    ...     ...  # scan 127.0.30.1:445

    ``port`` is the SMB port of every host (445 needs root; use a high port
    otherwise). ``netbios_port``, when given, also serves the NetBIOS session
    service (RFC 1002 SESSION REQUEST first) for personas with SMB1.
    """

    def __init__(
        self,
        personas_by_address: Mapping[str, Persona],
        port: int = 445,
        netbios_port: int | None = None,
        limits: LabLimits | None = None,
    ) -> None:
        self.personas = dict(personas_by_address)
        self.port = port
        self.netbios_port = netbios_port
        self.limits = limits or LabLimits()
        self.stats = LabStats()
        self._servers: list[asyncio.Server] = []
        self._active = 0

    async def start(self) -> None:
        for address, persona in self.personas.items():
            self._servers.append(await self._listen(address, self.port, persona))
            if self.netbios_port is not None and persona.smb1 is not None:
                self._servers.append(await self._listen(address, self.netbios_port, persona))

    async def _listen(self, address: str, port: int, persona: Persona) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(
            lambda: _SmbProtocol(self, persona, address),
            host=address,
            port=port,
            reuse_address=True,
            backlog=256,
        )

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2.0)
        self._servers.clear()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[Lab]:
        await self.start()
        try:
            yield self
        finally:
            await self.stop()


class _SmbProtocol(asyncio.Protocol):
    """One connection: NBSS frames in, the responder's replies out.

    Bounded without a task per connection: a frame larger than ``max_request``
    closes the connection at once; a frame that does not complete within
    ``read_timeout`` of its first byte (a dripping client) or a connection idle
    for ``idle_timeout`` is closed by a timer; after ``max_messages`` the
    connection is closed; reading pauses while the peer does not read replies."""

    def __init__(self, lab: Lab, persona: Persona, address: str) -> None:
        self._lab = lab
        self._persona = persona
        self._address = address
        self._buf = bytearray()
        self._messages = 0
        self._responder: Responder | None = None
        self._transport: asyncio.Transport | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._counted = False

    # -------------------------------------------------------------- connection

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        lab = self._lab
        if lab._active >= lab.limits.max_connections:
            lab.stats.refused_busy += 1
            transport.abort()
            return
        lab._active += 1
        self._counted = True
        lab.stats.connections += 1
        lab.stats.by_address[self._address] = lab.stats.by_address.get(self._address, 0) + 1
        self._transport = transport
        self._responder = Responder(self._persona, self._address)
        transport.set_write_buffer_limits(high=256 * 1024)
        self._arm(self._lab.limits.idle_timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._counted:
            self._lab._active -= 1
            self._counted = False
        self._transport = None

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def _arm(self, seconds: float) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_running_loop().call_later(seconds, self._expire)

    def _expire(self) -> None:
        self._timer = None
        self._close()

    def _close(self, graceful: bool = False) -> None:
        """Abort (hostile or stalled peer) or close after flushing the replies written so far."""
        if self._transport is not None:
            if graceful:
                self._transport.close()
            else:
                self._transport.abort()
            self._transport = None

    # -------------------------------------------------------------- data

    def data_received(self, data: bytes) -> None:
        if self._transport is None or self._responder is None:
            return
        had_partial = bool(self._buf)
        self._buf += data
        limits = self._lab.limits
        buf = self._buf
        while len(buf) >= 4:
            ftype = buf[0]
            if ftype == netbios.SESSION_MESSAGE:
                length = int.from_bytes(buf[1:4], "big")
            else:
                length = int.from_bytes(buf[2:4], "big") | ((buf[1] & 1) << 16)
            if length > limits.max_request:
                self._lab.stats.dropped += 1
                self._close()
                return
            if len(buf) < 4 + length:
                break
            payload = bytes(buf[4 : 4 + length])
            del buf[: 4 + length]
            if not self._frame(ftype, payload):
                self._close(graceful=True)
                return
            had_partial = False
        if self._transport is None:
            return
        if buf:
            if not had_partial:  # a new frame started: its deadline runs from now, drips do not extend it
                self._arm(limits.read_timeout)
        else:
            self._arm(limits.idle_timeout)

    def _frame(self, ftype: int, payload: bytes) -> bool:
        """Handle one NBSS frame; False closes the connection."""
        assert self._transport is not None and self._responder is not None
        if ftype == netbios.SESSION_REQUEST:
            self._transport.write(netbios.encode_session_response(True))
            return True
        if ftype == netbios.SESSION_KEEP_ALIVE:
            return True
        if ftype != netbios.SESSION_MESSAGE:
            return False
        self._messages += 1
        if self._messages > self._lab.limits.max_messages:
            return False
        self._lab.stats.messages += 1
        try:
            replies = self._responder.handle(payload)
        except (DecodeError, ValueError) as exc:
            log.debug("lab %s: dropping connection: %s", self._address, exc)
            return False
        if replies is None:
            return False
        self._transport.write(b"".join(frame(reply) for reply in replies))
        return True
