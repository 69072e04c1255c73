"""``smbguard diff [OLD] [NEW]``: what changed between two stored scans.

Without arguments: the latest scan against the previous scan of the same targets.
With one: that scan against the previous scan of the same targets. JSON output is
``{"old_scan", "new_scan", "fixed": [...], "new": [...], "still_open": [...],
"hosts_appeared": [...], "hosts_disappeared": [...]}``; finding items carry
``address``, ``port``, ``id``, ``severity``, ``share``.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smbguard.catalog import default_lang, load_catalog
from smbguard.errors import StoreError
from smbguard.store import Store, add_store_arguments, db_path_from_args, default_pair, diff_scans
from smbguard.store.diff import ScanDiff

_LABELS = {
    "en": {
        "fixed": "Fixed",
        "new": "New",
        "still_open": "Still open",
        "appeared": "Hosts appeared",
        "disappeared": "Hosts disappeared (not reachable any more: their findings are not counted as fixed)",
        "none": "(none)",
        "title": "Scan {old} -> scan {new}",
    },
    "zh-TW": {
        "fixed": "已修正",
        "new": "新發現",
        "still_open": "仍未修正",
        "appeared": "新出現的主機",
        "disappeared": "消失的主機（已無法連線，其弱點不算已修正）",
        "none": "（無）",
        "title": "掃描 {old} -> 掃描 {new}",
    },
}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "diff",
        help="compare two stored scans (default: the last two of the same targets)",
        description="Show fixed, new and still-open findings and hosts that appeared or disappeared.",
    )
    parser.add_argument(
        "old", nargs="?", type=int, metavar="OLD", help="older scan id (see smbguard history)"
    )
    parser.add_argument("new", nargs="?", type=int, metavar="NEW", help="newer scan id")
    add_store_arguments(parser, no_store=False)
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--lang", choices=("en", "zh-TW"), default=None, help="default: from the locale")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        with Store(db_path_from_args(args)) as store:
            old, new = default_pair(store, args.old, args.new)
            result = diff_scans(store, old, new)
    except StoreError as exc:
        print(f"smbguard diff: {exc}", file=sys.stderr)
        return 1
    if args.format == "json":
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        print(render_text(result, args.lang or default_lang()), end="")
    return 0


def render_text(d: ScanDiff, lang: str) -> str:
    labels = _LABELS[lang]
    catalog = load_catalog()

    def title(fid: str) -> str:
        entry = catalog.get(fid)
        return entry.title(lang) if entry else fid

    out = [labels["title"].format(old=d.old_scan, new=d.new_scan)]
    for key in ("fixed", "new", "still_open"):
        items = getattr(d, key)
        out.append(f"\n{labels[key]}: {len(items)}")
        if not items:
            out.append(f"  {labels['none']}")
        for i in items:
            share = f" [{i['share']}]" if i["share"] else ""
            out.append(
                f"  {i['address']}:{i['port']}{share}  {i['severity']:<8}  {i['id']}  {title(i['id'])}"
            )
    for key, items in (("appeared", d.hosts_appeared), ("disappeared", d.hosts_disappeared)):
        out.append(f"\n{labels[key]}: {len(items)}")
        for h in items:
            out.append(f"  {h['address']}:{h['port']}  {h['name'] or ''}  {', '.join(h['findings'])}")
    return "\n".join(out) + "\n"
