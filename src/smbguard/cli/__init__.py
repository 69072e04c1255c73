"""Command line entry point. Each sub-command lives in its own module and is
registered explicitly in ``COMMANDS``; a module exposes ``register(subparsers)``
which adds its parser and sets ``func`` (``(argparse.Namespace) -> int``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from smbguard import __version__
from smbguard.cli import audit, demo, diff, fixscript, history, logs, pcap, scan

COMMANDS = (scan, demo, audit, history, diff, fixscript, logs, pcap)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="smbguard",
        description="Find, fix and watch SMB security exposures (SMB1, signing, SMBGhost, MS17-010, shares).",
    )
    parser.add_argument("--version", action="version", version=f"smbguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
