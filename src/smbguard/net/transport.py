"""Transports carry whole SMB messages framed by the NetBIOS session service.

``Transport`` is a one-exchange-at-a-time interface: ``send(message)`` frames and
writes one SMB message, ``recv()`` returns the payload of the next session
message (keep-alives skipped). Every await has a timeout and every read is
bounded, so a hostile peer can neither hang nor exhaust a scan.

``TcpTransport`` is the asyncio implementation; ``ReplayTransport`` plays back
recorded server messages so probes can be tested with no network.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

from smbguard.errors import (
    ConnectionClosed,
    ConnectRefused,
    ConnectTimeout,
    FrameTooLarge,
    ReadTimeout,
    TransportError,
)

# [RFC 1002] 4.3.1: session message type 0x00, 0x85 keep-alive.
NBSS_SESSION_MESSAGE = 0x00
NBSS_KEEPALIVE = 0x85
# Largest SMB message a probe ever needs; servers may announce far larger
# (a hostile one announces 4 GiB): refuse rather than buffer.
DEFAULT_MAX_FRAME = 1 << 20


@dataclass(frozen=True, slots=True)
class Limits:
    """Per-connection bounds."""

    connect_timeout: float = 3.0
    read_timeout: float = 3.0
    max_frame: int = DEFAULT_MAX_FRAME


class Transport(Protocol):
    """One SMB connection."""

    async def send(self, message: bytes) -> None: ...

    async def recv(self) -> bytes: ...

    async def close(self) -> None: ...


def frame(message: bytes) -> bytes:
    """Prefix one SMB message with its direct-TCP / NBSS session header ([MS-SMB2] 2.1)."""
    if len(message) > 0xFFFFFF:
        raise ValueError("SMB message too long for an NBSS frame")
    return struct.pack(">I", len(message)) + message


class TcpTransport:
    """asyncio TCP transport with bounded, timed reads.

    Use :func:`open_tcp` to connect. Errors are the project's
    :class:`~smbguard.errors.TransportError` subclasses.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, limits: Limits) -> None:
        self._reader = reader
        self._writer = writer
        self._limits = limits

    async def send(self, message: bytes) -> None:
        try:
            self._writer.write(frame(message))
            await asyncio.wait_for(self._writer.drain(), self._limits.read_timeout)
        except TimeoutError as exc:
            raise ReadTimeout("timed out sending") from exc
        except OSError as exc:
            raise ConnectionClosed(f"send failed: {exc.strerror or exc.__class__.__name__}") from exc

    async def send_raw(self, data: bytes) -> None:
        """Write bytes as they are (NetBIOS session request on port 139)."""
        try:
            self._writer.write(data)
            await asyncio.wait_for(self._writer.drain(), self._limits.read_timeout)
        except TimeoutError as exc:
            raise ReadTimeout("timed out sending") from exc
        except OSError as exc:
            raise ConnectionClosed(f"send failed: {exc.strerror or exc.__class__.__name__}") from exc

    async def recv_frame(self) -> tuple[int, bytes]:
        """Next NBSS frame as (type, payload), bounded by ``max_frame`` and ``read_timeout``.

        The whole frame must arrive within one ``read_timeout`` (a peer that drips
        one byte a second does not extend the deadline)."""
        try:
            async with asyncio.timeout(self._limits.read_timeout):
                header = await self._reader.readexactly(4)
                ftype = header[0]
                if ftype == NBSS_SESSION_MESSAGE:
                    # Direct TCP ([MS-SMB2] 2.1): 24-bit length after a zero byte.
                    length = int.from_bytes(header[1:4], "big")
                else:
                    # [RFC 1002] 4.3.1: flags bit 0 extends the 16-bit length.
                    length = int.from_bytes(header[2:4], "big") | ((header[1] & 0x01) << 16)
                if length > self._limits.max_frame:
                    raise FrameTooLarge(
                        f"peer announced a {length}-byte frame (limit {self._limits.max_frame})"
                    )
                payload = await self._reader.readexactly(length) if length else b""
                return ftype, payload
        except TimeoutError as exc:
            raise ReadTimeout(f"no complete frame within {self._limits.read_timeout:g}s") from exc
        except asyncio.IncompleteReadError as exc:
            raise ConnectionClosed(f"peer closed after {len(exc.partial)} of {exc.expected} bytes") from exc
        except OSError as exc:
            raise ConnectionClosed(f"read failed: {exc.strerror or exc.__class__.__name__}") from exc

    async def recv(self) -> bytes:
        """Payload of the next session message, skipping keep-alives."""
        for _ in range(16):
            ftype, payload = await self.recv_frame()
            if ftype == NBSS_SESSION_MESSAGE:
                return payload
            if ftype != NBSS_KEEPALIVE:
                raise TransportError(f"unexpected NBSS frame type 0x{ftype:02x}")
        raise TransportError("too many keep-alive frames")

    async def close(self) -> None:
        self._writer.close()
        try:
            await asyncio.wait_for(self._writer.wait_closed(), 1.0)
        except (TimeoutError, OSError):
            return

    async def __aenter__(self) -> TcpTransport:
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def open_tcp(address: str, port: int, limits: Limits) -> TcpTransport:
    """Connect to ``address:port`` (a literal IP). Raises ConnectTimeout / ConnectRefused /
    TransportError."""
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(address, port, limit=min(limits.max_frame + 8, 1 << 24)),
            limits.connect_timeout,
        )
    except TimeoutError as exc:
        raise ConnectTimeout(f"no answer within {limits.connect_timeout:g}s") from exc
    except ConnectionRefusedError as exc:
        raise ConnectRefused("connection refused") from exc
    except OSError as exc:
        raise TransportError(f"connect failed: {exc.strerror or exc.__class__.__name__}") from exc
    sock = writer.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # not fatal: only latency changes
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return TcpTransport(reader, writer, limits)


class ReplayTransport:
    """Plays back recorded server messages in order; records what the client sent."""

    def __init__(self, responses: Iterable[bytes]) -> None:
        self._responses = list(responses)
        self.sent: list[bytes] = []

    async def send(self, message: bytes) -> None:
        self.sent.append(message)

    async def recv(self) -> bytes:
        if not self._responses:
            raise ConnectionClosed("replay exhausted")
        return self._responses.pop(0)

    async def close(self) -> None:
        return None


def replay(responses: Sequence[bytes]) -> ReplayTransport:
    return ReplayTransport(responses)
