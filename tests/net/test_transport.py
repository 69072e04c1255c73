"""TcpTransport against tiny loopback servers: framing, bounds and timeouts."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Awaitable, Callable

import pytest

from smbguard.errors import ConnectionClosed, ConnectRefused, FrameTooLarge, ReadTimeout
from smbguard.net.transport import Limits, ReplayTransport, frame, open_tcp

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _serve(handler: Handler) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, port


def test_frame_prefixes_24_bit_length() -> None:
    assert frame(b"abc") == b"\x00\x00\x00\x03abc"
    with pytest.raises(ValueError):
        frame(b"x" * 0x1000000)


def test_echo_and_keepalive_skipped() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        header = await reader.readexactly(4)
        body = await reader.readexactly(struct.unpack(">I", header)[0])
        writer.write(b"\x85\x00\x00\x00")  # NBSS keep-alive first
        writer.write(frame(body[::-1]))
        await writer.drain()
        writer.close()

    async def main() -> bytes:
        server, port = await _serve(handler)
        async with server:
            t = await open_tcp("127.0.0.1", port, Limits(read_timeout=2))
            await t.send(b"\xfeSMB-hello")
            data = await t.recv()
            await t.close()
            return data

    assert asyncio.run(main()) == b"olleh-BMS\xfe"


def test_oversized_frame_rejected_without_reading_it() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\xff\xff\xff")  # announces 16 MiB, sends nothing
        await writer.drain()
        await asyncio.sleep(2)
        writer.close()

    async def main() -> None:
        server, port = await _serve(handler)
        async with server:
            t = await open_tcp("127.0.0.1", port, Limits(read_timeout=1, max_frame=65536))
            with pytest.raises(FrameTooLarge):
                await t.recv()
            await t.close()

    asyncio.run(main())


def test_dripping_peer_hits_the_whole_frame_deadline() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x00\x00\x20")
        for _ in range(20):
            writer.write(b"x")
            await writer.drain()
            await asyncio.sleep(0.1)
        writer.close()

    async def main() -> float:
        server, port = await _serve(handler)
        async with server:
            t = await open_tcp("127.0.0.1", port, Limits(read_timeout=0.5))
            loop = asyncio.get_running_loop()
            start = loop.time()
            with pytest.raises(ReadTimeout):
                await t.recv()
            await t.close()
            return loop.time() - start

    assert asyncio.run(main()) < 1.5


def test_peer_closing_mid_frame_is_connection_closed() -> None:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"\x00\x00\x00\x10abc")
        await writer.drain()
        writer.close()

    async def main() -> None:
        server, port = await _serve(handler)
        async with server:
            t = await open_tcp("127.0.0.1", port, Limits(read_timeout=2))
            with pytest.raises(ConnectionClosed):
                await t.recv()
            await t.close()

    asyncio.run(main())


def test_refused_port() -> None:
    async def main() -> None:
        server, port = await _serve(lambda r, w: asyncio.sleep(0))
        server.close()
        await server.wait_closed()
        with pytest.raises(ConnectRefused):
            await open_tcp("127.0.0.1", port, Limits(connect_timeout=1))

    asyncio.run(main())


def test_replay_transport_plays_back_and_records() -> None:
    async def main() -> None:
        t = ReplayTransport([b"one", b"two"])
        await t.send(b"req")
        assert await t.recv() == b"one"
        assert await t.recv() == b"two"
        with pytest.raises(ConnectionClosed):
            await t.recv()
        assert t.sent == [b"req"]

    asyncio.run(main())
