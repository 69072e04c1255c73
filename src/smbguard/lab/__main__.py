"""``python -m smbguard.lab --layout demo|sweep [--port N]``: run the emulator until
interrupted (SIGINT/SIGTERM). Prints one ``address persona`` line per host, then
``READY`` on its own line, so scripts can wait for it."""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
from collections.abc import Sequence

from smbguard.lab.layouts import DEMO_BASE, demo_layout, sweep_layout
from smbguard.lab.server import Lab


def default_port() -> int:
    """445 as root, 10445 otherwise (binding below 1024 needs privilege)."""
    return 445 if hasattr(os, "geteuid") and os.geteuid() == 0 else 10445


async def _run(lab: Lab) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with lab.running():
        for address, persona in lab.personas.items():
            print(f"{address}:{lab.port} {persona.key}", flush=True)
        print("READY", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m smbguard.lab", description=__doc__)
    parser.add_argument("--layout", choices=("demo", "sweep"), default="demo")
    parser.add_argument("--base", default=DEMO_BASE, help="demo: the /24 whose .11-.17 are used")
    parser.add_argument("--network", default="127.1.0.0/20", help="sweep: loopback network")
    parser.add_argument("--hosts", type=int, default=300, help="sweep: emulated hosts")
    parser.add_argument("--port", type=int, default=None, help="SMB port (default 445 as root, else 10445)")
    args = parser.parse_args(argv)
    try:
        layout = demo_layout(args.base) if args.layout == "demo" else sweep_layout(args.network, args.hosts)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    port = args.port if args.port is not None else default_port()
    try:
        asyncio.run(_run(Lab(layout, port=port)))
    except OSError as exc:
        print(f"error: cannot listen: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
