"""Scan history: SQLite store with migrations (``db``) and scan comparison (``diff``).

``save_scan(report) -> scan_id`` is what ``smbguard scan`` calls after each scan;
``add_store_arguments`` adds ``--db`` / ``--no-store`` to a parser.
"""

from __future__ import annotations

import argparse

from smbguard.redact import redact_arguments
from smbguard.store.db import MIGRATIONS, ScanRow, Store, default_db_path, save_scan
from smbguard.store.diff import ScanDiff, default_pair, diff_scans

__all__ = [
    "MIGRATIONS",
    "ScanDiff",
    "ScanRow",
    "Store",
    "add_store_arguments",
    "db_path_from_args",
    "default_db_path",
    "default_pair",
    "diff_scans",
    "redact_arguments",
    "save_scan",
]


def add_store_arguments(parser: argparse.ArgumentParser | argparse._ArgumentGroup, *, no_store: bool) -> None:
    """``--db PATH`` (and ``--no-store`` for commands that write, like scan)."""
    parser.add_argument(
        "--db",
        metavar="PATH",
        default=None,
        help=f"scan history database (default: {default_db_path()})",
    )
    if no_store:
        parser.add_argument("--no-store", action="store_true", help="do not record this scan in the history")


def db_path_from_args(args: argparse.Namespace) -> str:
    return str(args.db) if getattr(args, "db", None) else str(default_db_path())
