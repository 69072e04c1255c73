"""``smbguard history``: list the scans stored in the history database.

smbguard history [--db PATH] [--limit N] [--format table|json]
"""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from typing import Any

from smbguard.catalog import default_lang
from smbguard.errors import StoreError
from smbguard.store import Store, add_store_arguments, db_path_from_args


def register(sub: Any) -> None:
    parser = sub.add_parser("history", help="list stored scans", description="List the scans in the history.")
    add_store_arguments(parser, no_store=False)
    parser.add_argument("--limit", type=int, default=20, help="newest N scans (default 20, 0 = all)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--lang", choices=("en", "zh-TW"), default=None, help="default: from the locale")
    parser.set_defaults(func=run)


_HEADER = {
    "en": ("ID", "STARTED (UTC)", "HOSTS", "OPEN", "FINDINGS", "TARGETS"),
    "zh-TW": ("編號", "開始時間 (UTC)", "主機", "可連線", "弱點", "掃描目標"),
}
_TEXT = {
    "en": {"empty": "no scans stored yet (run: smbguard scan TARGETS)", "interrupted": " (interrupted)"},
    "zh-TW": {"empty": "尚未儲存任何掃描（請先執行：smbguard scan TARGETS）", "interrupted": "（中斷）"},
}


def run(args: argparse.Namespace) -> int:
    try:
        with Store(db_path_from_args(args)) as store:
            rows = store.scans(limit=args.limit or None)
    except StoreError as exc:
        print(f"smbguard history: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps({"scans": [r.to_dict() for r in rows]}, indent=2, ensure_ascii=False))
        return 0
    lang = args.lang or default_lang()
    text = _TEXT[lang]
    if not rows:
        print(text["empty"])
        return 0
    header = _HEADER[lang]
    lines = [header] + [
        (
            str(r.id),
            r.started[:19].replace("T", " ") + (text["interrupted"] if r.interrupted else ""),
            str(r.host_count),
            str(r.open_count),
            str(r.finding_count),
            _targets(r.targets),
        )
        for r in rows
    ]
    widths = [max(_width(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        cells = [cell + " " * (w - _width(cell)) for cell, w in zip(line, widths, strict=False)]
        print("  ".join(cells) + "  " + line[-1])
    return 0


def _width(text: str) -> int:
    """Terminal columns: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _targets(targets: tuple[str, ...], limit: int = 60) -> str:
    text = " ".join(targets)
    return text if len(text) <= limit else text[: limit - 3] + "..."
