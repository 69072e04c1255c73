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
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        for address, persona in self.personas.items():
            self._servers.append(await self._listen(address, self.port, persona))
            if self.netbios_port is not None and persona.smb1 is not None:
                self._servers.append(await self._listen(address, self.netbios_port, persona))

    async def _listen(self, address: str, port: int, persona: Persona) -> asyncio.Server:
        async def on_connect(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await self._serve(persona, address, reader, writer)

        return await asyncio.start_server(
            on_connect,
            host=address,
            port=port,
            reuse_address=True,
            backlog=256,
            limit=self.limits.max_request + 8,
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

    async def _serve(
        self, persona: Persona, address: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        limits = self.limits
        if self._active >= limits.max_connections:
            self.stats.refused_busy += 1
            writer.close()
            return
        self._active += 1
        self.stats.connections += 1
        self.stats.by_address[address] = self.stats.by_address.get(address, 0) + 1
        responder = Responder(persona, address)
        try:
            for _ in range(limits.max_messages):
                async with asyncio.timeout(limits.idle_timeout):
                    head = await reader.readexactly(4)
                ftype = head[0]
                if ftype == netbios.SESSION_MESSAGE:
                    length = int.from_bytes(head[1:4], "big")
                else:
                    length = int.from_bytes(head[2:4], "big") | ((head[1] & 1) << 16)
                if length > limits.max_request:
                    self.stats.dropped += 1
                    break
                async with asyncio.timeout(limits.read_timeout):
                    payload = await reader.readexactly(length) if length else b""
                if ftype == netbios.SESSION_REQUEST:
                    writer.write(netbios.encode_session_response(True))
                elif ftype == netbios.SESSION_KEEP_ALIVE:
                    continue
                elif ftype != netbios.SESSION_MESSAGE:
                    break
                else:
                    self.stats.messages += 1
                    replies = responder.handle(payload)
                    if replies is None:
                        break
                    for reply in replies:
                        writer.write(frame(reply))
                async with asyncio.timeout(limits.read_timeout):
                    await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, ConnectionError, OSError):
            pass  # the peer went away or stalled: nothing to answer
        except (DecodeError, ValueError) as exc:
            log.debug("lab %s: dropping connection: %s", address, exc)
        finally:
            self._active -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
