"""The emulator as a network server: 127.x binds without extra addresses, bounded reads."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys

from smbguard.lab import Lab, LabLimits, personas, sweep_layout
from smbguard.net.transport import Limits, open_tcp
from smbguard.proto import smb1
from tests.helpers.lab import checkout_env

PORT = 45447


async def _connect(addr: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection(addr, PORT), 2)


def test_many_loopback_addresses_without_ip_addr_add() -> None:
    """Binding 127.1.x.y needs no `ip addr add` on Linux: 200 hosts spread over a /20."""
    layout = sweep_layout("127.1.0.0/20", hosts=200)

    async def run() -> int:
        ok = 0
        async with Lab(layout, port=PORT).running():
            for addr in list(layout)[::20]:
                t = await open_tcp(addr, PORT, Limits(connect_timeout=2, read_timeout=2))
                await t.send(smb1.encode_negotiate_request((smb1.NT_LM_0_12, smb1.SMB_2_002)))
                assert await t.recv()
                await t.close()
                ok += 1
        return ok

    assert asyncio.run(run()) == 10


def test_oversized_length_and_stalls_close_the_connection() -> None:
    lab = Lab(
        {"127.0.30.121": personas.WIN7_SP1_UNPATCHED},
        port=PORT,
        limits=LabLimits(read_timeout=0.3, idle_timeout=0.5),
    )

    async def run() -> tuple[bytes, bytes, bytes]:
        async with lab.running():
            r, w = await _connect("127.0.30.121")
            w.write(b"\x00\xff\xff\xff")  # 16 MiB announced
            await w.drain()
            big = await asyncio.wait_for(r.read(), 2)
            w.close()
            r, w = await _connect("127.0.30.121")
            w.write(b"\x00\x00\x01\x00ab")  # announces 256 bytes, sends 2, stalls
            await w.drain()
            stall = await asyncio.wait_for(r.read(), 2)
            w.close()
            r, w = await _connect("127.0.30.121")  # connects and says nothing
            idle = await asyncio.wait_for(r.read(), 2)
            w.close()
            return big, stall, idle

    assert asyncio.run(run()) == (b"", b"", b"")
    assert lab.stats.dropped == 1


def test_refuses_non_loopback_layouts() -> None:
    import pytest

    from smbguard.lab.layouts import sweep_layout as sl

    with pytest.raises(ValueError):
        sl("10.0.0.0/24", 3)


def test_module_entry_point_runs_and_stops() -> None:
    env = checkout_env()  # run this checkout's code, whatever the installed package points at
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smbguard.lab",
            "--layout",
            "demo",
            "--base",
            "127.1.31.0",
            "--port",
            str(PORT),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(8)]
        assert lines[-1] == "READY"
        assert lines[0] == f"127.1.31.11:{PORT} win7-unpatched"
    finally:
        proc.terminate()
        assert proc.wait(10) == 0


def test_dripping_frame_and_message_cap() -> None:
    lab = Lab(
        {"127.0.30.122": personas.WIN7_SP1_UNPATCHED},
        port=PORT,
        limits=LabLimits(read_timeout=0.3, idle_timeout=2.0, max_messages=3),
    )
    echo = smb1.encode_message(smb1.Header(command=smb1.Command.ECHO), b"\x01\x00", b"ping")
    framed = len(echo).to_bytes(4, "big") + echo

    async def run() -> tuple[float, int]:
        async with lab.running():
            # One byte every 0.1 s: the frame's 0.3 s deadline is not extended by the drip.
            r, w = await _connect("127.0.30.122")
            loop = asyncio.get_running_loop()
            start = loop.time()
            with contextlib.suppress(ConnectionError):
                for byte in framed:
                    w.write(bytes([byte]))
                    await w.drain()
                    await asyncio.sleep(0.1)
            with contextlib.suppress(ConnectionError):
                await asyncio.wait_for(r.read(), 2)
            dripped = loop.time() - start
            w.close()
            # At most max_messages answers on one connection.
            r, w = await _connect("127.0.30.122")
            w.write(framed * 5)
            await w.drain()
            data = await asyncio.wait_for(r.read(), 2)
            w.close()
            return dripped, data.count(b"\xffSMB")

    dripped, answers = asyncio.run(run())
    assert dripped < 0.1 * len(framed)  # closed long before the frame completed
    assert answers == 3


def test_netbios_session_service_port() -> None:
    """With ``netbios_port`` the SMB1 personas also answer RFC 1002 SESSION REQUESTs."""
    from smbguard.proto import netbios

    lab = Lab({"127.0.30.123": personas.WIN7_SP1_UNPATCHED}, port=PORT, netbios_port=45453)

    async def run() -> tuple[bytes, bytes]:
        async with lab.running():
            r, w = await asyncio.wait_for(asyncio.open_connection("127.0.30.123", 45453), 2)
            w.write(netbios.encode_session_request("*SMBSERVER", "SMBGUARD"))
            negotiate = smb1.encode_negotiate_request((smb1.NT_LM_0_12,))
            w.write(len(negotiate).to_bytes(4, "big") + negotiate)
            await w.drain()
            answer = await asyncio.wait_for(r.readexactly(4), 2)
            head = await asyncio.wait_for(r.readexactly(4), 2)
            body = await asyncio.wait_for(r.readexactly(int.from_bytes(head[1:], "big")), 2)
            w.close()
            return answer, body

    answer, body = asyncio.run(run())
    assert netbios.decode_session_response(answer).positive
    assert smb1.decode_negotiate_response(body).accepted
