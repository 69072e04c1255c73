"""Hostile SMB servers on loopback: a scan of them ends within its timeouts, gives
every host an error, does not crash and keeps memory bounded.

Servers (127.0.0.1, ports 4540-4549, this suite's range), each in a thread:

* ``silent``   accepts and never sends a byte;
* ``garbage``  answers every read with random bytes;
* ``huge``     announces a 16 MiB direct-TCP frame (0x00FFFFFF), then nothing;
* ``huge4g``   sends 0xFFFFFFFF (read as a 4 GiB length by a naive client);
* ``drip``     sends a plausible NBSS header, then one byte per second;
* ``slam``     accepts and closes at once (reset).
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# Run the CLI from this checkout, whatever `pip install -e` points at.
SRC_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

HOST = "127.0.0.1"
PORTS = {"silent": 4540, "garbage": 4541, "huge": 4542, "huge4g": 4543, "drip": 4544, "slam": 4545}
TIMEOUT = 1.0

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while await reader.read(4096):
        pass


async def _garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    rng = random.Random(1234)
    n = 0
    while await reader.read(4096):
        junk = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
        # alternate complete frames of junk (reach the decoders) and raw junk
        writer.write(len(junk).to_bytes(4, "big") + junk if n % 2 == 0 else junk)
        n += 1
        await writer.drain()


def _announce(header: bytes) -> Handler:
    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(4096):
            writer.write(header + b"\xfeSMB")
            await writer.drain()

    return handler


async def _drip(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    if not await reader.read(4096):
        return
    # a 200-byte frame that arrives one byte per second
    payload = b"\x00\x00\x00\xc8" + b"\xfeSMB" + b"\x00" * 196
    for b in payload:
        writer.write(bytes([b]))
        await writer.drain()
        await asyncio.sleep(1.0)


async def _slam(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    sock = writer.get_extra_info("socket")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    writer.close()


HANDLERS: dict[str, Handler] = {
    "silent": _silent,
    "garbage": _garbage,
    "huge": _announce(b"\x00\xff\xff\xff"),
    "huge4g": _announce(b"\xff\xff\xff\xff"),
    "drip": _drip,
    "slam": _slam,
}


class HostileServers:
    """All hostile servers on one event loop in a daemon thread."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.servers: list[asyncio.Server] = []

    def start(self) -> None:
        self.thread.start()

        async def serve() -> None:
            for name, port in PORTS.items():
                handler = HANDLERS[name]

                async def guarded(
                    r: asyncio.StreamReader, w: asyncio.StreamWriter, h: Handler = handler
                ) -> None:
                    try:
                        await h(r, w)
                    except (ConnectionError, OSError, asyncio.CancelledError):
                        pass  # the scanner hung up, or the servers are shutting down
                    finally:
                        w.close()

                self.servers.append(await asyncio.start_server(guarded, HOST, port, reuse_address=True))

        asyncio.run_coroutine_threadsafe(serve(), self.loop).result(10)

    def stop(self) -> None:
        async def close() -> None:
            for s in self.servers:
                s.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(close(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture(scope="module")
def hostile() -> Iterator[HostileServers]:
    servers = HostileServers()
    servers.start()
    yield servers
    servers.stop()


def _targets() -> list[str]:
    return [f"{HOST}:{port}" for port in PORTS.values()]


def _real_collector_available() -> None:
    import importlib.util

    if importlib.util.find_spec("smbguard.probes.host") is None:
        pytest.fail("smbguard.probes.host (the real collector) is missing")


def test_cli_scan_of_hostile_servers_finishes_with_an_error_per_host(
    hostile: HostileServers, tmp_path: Path
) -> None:
    _real_collector_available()
    out = tmp_path / "hostile.json"
    budget = TIMEOUT * 6 + 2  # the engine's per-host bound at this timeout
    start = time.monotonic()
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smbguard",
            "scan",
            "--no-store",
            *_targets(),
            "--timeout",
            str(TIMEOUT),
            "--format",
            "json",
            "-o",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=SRC_ENV,
    )
    elapsed = time.monotonic() - start
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    assert elapsed < budget + 5, f"scan took {elapsed:.1f}s"
    doc = json.loads(out.read_text())
    by_port = {h["port"]: h for h in doc["hosts"]}
    assert set(by_port) == set(PORTS.values())
    for name, port in PORTS.items():
        host = by_port[port]
        assert host["errors"], f"{name}: no error reported"
        for err in host["errors"]:
            assert err["kind"] != "internal", f"{name}: internal error {err}"
        # nothing hostile is presented as a fact
        assert host["smb2"]["dialects"] == [], name
        assert host["smb1"]["enabled"] is not True, name
        assert host["signing"]["required"] is None, name
    kinds = {name: {e["kind"] for e in by_port[port]["errors"]} for name, port in PORTS.items()}
    assert "oversized" in kinds["huge"], kinds
    assert "timeout" in kinds["silent"], kinds
    assert "timeout" in kinds["drip"], kinds


def test_in_process_scan_memory_stays_bounded(hostile: HostileServers) -> None:
    _real_collector_available()
    from smbguard.cli import build_parser
    from smbguard.cli.scan import default_collector, run_scan
    from smbguard.engine import EngineOptions
    from smbguard.targets import parse

    args = build_parser().parse_args(["scan", *_targets(), "--timeout", str(TIMEOUT)])
    collector = default_collector(args)
    # each hostile server three times over
    target_set = parse(_targets() * 3)
    options = EngineOptions(timeout=TIMEOUT, concurrency=64)

    async def scan() -> int:
        report = await run_scan(target_set, options, collector, install_signal_handler=False)
        return len(report.hosts)

    asyncio.run(scan())  # warm up imports and caches
    gc.collect()
    tracemalloc.start()
    try:
        n = asyncio.run(scan())
        _current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n == len(PORTS) * 3
    # a buffered 16 MiB frame alone would blow this
    assert peak < 8 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_rss_does_not_grow_across_repeated_hostile_scans(hostile: HostileServers) -> None:
    _real_collector_available()
    code = f"""
import asyncio, resource
from smbguard.cli import build_parser
from smbguard.cli.scan import default_collector, run_scan
from smbguard.engine import EngineOptions
from smbguard.targets import parse
targets = {_targets()!r}
collector = default_collector(build_parser().parse_args(["scan", *targets, "--timeout", "{TIMEOUT}"]))
async def once():
    opts = EngineOptions(timeout={TIMEOUT})
    await run_scan(parse(targets * 2), opts, collector, install_signal_handler=False)
def rss():
    return int(open("/proc/self/statm").read().split()[1]) * 4096
asyncio.run(once())
before = rss()
for _ in range(3):
    asyncio.run(once())
print(rss() - before)
"""
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=SRC_ENV
    )
    assert proc.returncode == 0, proc.stderr
    growth = int(proc.stdout.strip().splitlines()[-1])
    assert growth < 16 * 1024 * 1024, f"RSS grew {growth / 1e6:.1f} MB over 3 scans"
