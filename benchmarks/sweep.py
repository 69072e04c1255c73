"""Addresses per second on a sweep of closed loopback addresses: smbguard vs nmap.

    python benchmarks/sweep.py                      # 127.0.64.0/20 (4,096 addresses), port 445
    python benchmarks/sweep.py --cidr 127.64.0.0/16 --repeat 3

Whole process against whole process, in one run, same addresses, alternating
order: ``smbguard scan CIDR --format json -o FILE --no-store`` and
``nmap -sT -Pn -n -p445 CIDR -oX FILE``. Both write every host. Also reported:
the engine alone in this process (no interpreter start-up, no output), and a
plain ``asyncio.open_connection`` loop (the naive baseline). Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

# Run smbguard from this checkout (python -m, PYTHONPATH=src), whatever is installed.
SRC_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}


def _loopback_only(cidr: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(cidr)  # strict: 127.0.64.0/16 is a typo, not 127.0.0.0/16
    except ValueError as exc:
        raise SystemExit(f"bad --cidr {cidr}: {exc}") from None
    if not isinstance(net, ipaddress.IPv4Network) or not net.subnet_of(ipaddress.ip_network("127.0.0.0/8")):
        raise SystemExit(f"refusing to sweep {cidr}: loopback (127.0.0.0/8) only")
    return net


def listeners_in(net: ipaddress.IPv4Network, port: int) -> list[str]:
    """Addresses in ``net`` with a TCP listener on ``port`` (from /proc/net/tcp): the
    sweep must find nothing open, and must not touch other people's test servers."""
    found = []
    with open("/proc/net/tcp") as fh:
        next(fh)
        for line in fh:
            fields = line.split()
            local, state = fields[1], fields[3]
            if state != "0A":  # LISTEN
                continue
            hexip, hexport = local.split(":")
            if int(hexport, 16) != port:
                continue
            ip = ipaddress.IPv4Address(bytes(reversed(bytes.fromhex(hexip))))
            if ip == ipaddress.IPv4Address("0.0.0.0") or ip in net:
                found.append(str(ip))
    return found


def run_smbguard(cidr: str, port: int, out: Path) -> tuple[float, dict[str, int]]:
    cmd = [sys.executable, "-m", "smbguard"]
    start = time.perf_counter()
    proc = subprocess.run(
        [
            *cmd,
            "scan",
            cidr,
            "--port",
            str(port),
            "--format",
            "json",
            "-o",
            str(out),
            "--progress",
            "off",
            "--no-store",
        ],
        capture_output=True,
        text=True,
        env=SRC_ENV,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"smbguard failed: {proc.stderr}")
    states: dict[str, int] = {}
    for h in json.loads(out.read_text())["hosts"]:
        states[h["port_state"]] = states.get(h["port_state"], 0) + 1
    return elapsed, states


def run_nmap(cidr: str, port: int, out: Path) -> tuple[float, dict[str, int]]:
    start = time.perf_counter()
    proc = subprocess.run(
        ["nmap", "-sT", "-Pn", "-n", f"-p{port}", cidr, "-oX", str(out)], capture_output=True, text=True
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"nmap failed: {proc.stderr}")
    states: dict[str, int] = {}
    for p in ET.parse(out).getroot().iter("port"):
        state = p.find("state")
        key = state.get("state", "?") if state is not None else "?"
        states[key] = states.get(key, 0) + 1
    # nmap folds uninteresting hosts into <extraports> when there are many
    for extra in ET.parse(out).getroot().iter("extraports"):
        states[extra.get("state", "?")] = states.get(extra.get("state", "?"), 0) + int(extra.get("count", 0))
    return elapsed, states


def engine_in_process(net: ipaddress.IPv4Network, port: int) -> float:
    from smbguard.engine import Engine, EngineOptions
    from smbguard.model import HostFacts, PortState, Target
    from smbguard.targets import parse

    async def never(target: Target) -> HostFacts:  # no port is open in the swept range
        return HostFacts(target=target, port_state=PortState.ERROR)

    ts = parse([str(net)], default_port=port)

    async def go() -> int:
        engine = Engine(never, EngineOptions(concurrency=256, preconnect=True))
        return len([r async for r in engine.scan(ts, total=ts.count())])

    start = time.perf_counter()
    n = asyncio.run(go())
    assert n == net.num_addresses
    return time.perf_counter() - start


def naive_asyncio(net: ipaddress.IPv4Network, port: int) -> float:
    async def go() -> None:
        sem = asyncio.Semaphore(256)

        async def one(addr: str) -> None:
            async with sem:
                try:
                    _r, w = await asyncio.wait_for(asyncio.open_connection(addr, port), 3)
                    w.close()
                except OSError:
                    pass

        await asyncio.gather(*(one(str(a)) for a in net))

    start = time.perf_counter()
    asyncio.run(go())
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cidr", default="127.0.64.0/20")
    ap.add_argument("--port", type=int, default=445)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    net = _loopback_only(args.cidr)
    busy = listeners_in(net, args.port)
    if busy:
        raise SystemExit(f"refusing to sweep {net}: port {args.port} is open at {', '.join(busy)}")
    n = net.num_addresses
    tmp = Path(tempfile.mkdtemp(prefix="smbguard-sweep-"))
    rows: dict[str, list[float]] = {"smbguard": [], "nmap": [], "engine": [], "asyncio": []}
    agree = True
    for i in range(args.repeat):
        order = ["smbguard", "nmap"] if i % 2 == 0 else ["nmap", "smbguard"]
        for tool in order:
            if tool == "smbguard":
                t, states = run_smbguard(str(net), args.port, tmp / "s.json")
            else:
                t, states = run_nmap(str(net), args.port, tmp / "n.xml")
            rows[tool].append(t)
            if states.get("closed", 0) != n:
                agree = False
                print(f"  {tool}: states {states} (expected {n} closed)", file=sys.stderr)
        rows["engine"].append(engine_in_process(net, args.port))
        rows["asyncio"].append(naive_asyncio(net, args.port))
    print(f"sweep of {n} closed loopback addresses ({net}, port {args.port}), median of {args.repeat} runs")
    print(f"{'what':<46} {'seconds':>8} {'addr/s':>9}")
    labels = {
        "smbguard": "smbguard scan (whole process, JSON out)",
        "nmap": "nmap -sT -Pn -n (whole process, XML out)",
        "engine": "smbguard engine in-process (epoll sweep)",
        "asyncio": "plain asyncio.open_connection, 256 at once",
    }
    for key, label in labels.items():
        med = statistics.median(rows[key])
        print(f"{label:<46} {med:>8.3f} {n / med:>9,.0f}")
    ratio = statistics.median(rows["nmap"]) / statistics.median(rows["smbguard"])
    print(f"smbguard vs nmap (whole process): {ratio:.2f}x; both saw {n} closed: {'yes' if agree else 'NO'}")
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
