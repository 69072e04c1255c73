"""`smbguard pcap`: placeholder, replaced by the issue that implements it."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(sub: Any) -> None:
    parser = sub.add_parser("pcap", help="(not implemented yet)")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    print("smbguard pcap: not implemented yet", file=sys.stderr)
    return 2
