"""Command line entry point. Each sub-command lives in its own module and is
registered explicitly in ``COMMANDS``; a module exposes ``register(subparsers)``
which adds its parser and sets ``func`` (``(argparse.Namespace) -> int``)."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from types import ModuleType

from smbguard import __version__

#: Sub-command name -> module in ``smbguard.cli``. A module is imported only when
#: its command runs (or for the top-level --help): start-up stays fast even when
#: another command pulls in heavy libraries (impacket).
COMMAND_MODULES = {
    "scan": "scan",
    "demo": "demo",
    "audit": "audit",
    "history": "history",
    "diff": "diff",
    "fix-script": "fixscript",
    "logs": "logs",
    "pcap": "pcap",
}


def _modules(names: Sequence[str]) -> tuple[ModuleType, ...]:
    return tuple(importlib.import_module(f"smbguard.cli.{COMMAND_MODULES[n]}") for n in names)


def __getattr__(name: str) -> object:
    if name == "COMMANDS":  # every command module, imported on first use
        return _modules(list(COMMAND_MODULES))
    raise AttributeError(name)


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The argument parser; with ``only``, just that sub-command is registered."""
    parser = argparse.ArgumentParser(
        prog="smbguard",
        description="Find, fix and watch SMB security exposures (SMB1, signing, SMBGhost, MS17-010, shares).",
    )
    parser.add_argument("--version", action="version", version=f"smbguard {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _modules([only] if only in COMMAND_MODULES else list(COMMAND_MODULES)):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = next((a for a in argv if not a.startswith("-")), None)
    parser = build_parser(only=command)
    args, extra = parser.parse_known_args(argv)
    # A command that sets ``intermixed_positionals`` (the name of its nargs="*"
    # positional) accepts positionals after options too, like nmap:
    # `smbguard scan 10.0.0.1 --port 139 10.0.0.2`.
    dest = getattr(args, "intermixed_positionals", None)
    if extra and dest and not any(e.startswith("-") for e in extra):
        getattr(args, dest).extend(extra)
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.argv = argv
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
