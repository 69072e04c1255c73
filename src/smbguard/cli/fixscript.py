"""``smbguard fix-script``: write remediation scripts for hosts of a stored or saved scan.

    smbguard fix-script --host 192.0.2.1 --format powershell -o fix.ps1
    smbguard fix-script --host NAS01 --format smb.conf --input scan.json
    smbguard fix-script --all --format auto -o fixes/          # one file per affected host

Hosts come from ``--input`` (a ``scan --format json`` or ``jsonl`` file) or from the
history (``--db PATH``, latest scan, or ``--scan ID``). ``--host`` matches an
address or a computer name (case-insensitive). The scripts are only written,
never executed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from smbguard.errors import StoreError
from smbguard.report.remediation import FixHost, from_host_object, scripts_for
from smbguard.store import Store, add_store_arguments, db_path_from_args

SUFFIX = {"powershell": ".ps1", "smb.conf": ".smb.conf"}


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "fix-script",
        help="write per-host PowerShell / smb.conf remediation (never executed)",
        description="Write an idempotent PowerShell script (-WhatIf, -Rollback) or an smb.conf snippet "
        "per host from a stored or saved scan. smbguard never runs them.",
    )
    sel = parser.add_mutually_exclusive_group(required=True)
    sel.add_argument(
        "--host", action="append", default=[], metavar="HOST", help="address or name (repeatable)"
    )
    sel.add_argument("--all", action="store_true", help="every host that has findings")
    parser.add_argument(
        "--format",
        choices=("powershell", "smb.conf", "auto"),
        default="auto",
        help="auto: smb.conf for hosts that look like Samba, PowerShell otherwise (default)",
    )
    src = parser.add_argument_group("source (default: the latest scan in the history)")
    src.add_argument("--input", metavar="FILE", help="a scan saved with --format json or jsonl")
    add_store_arguments(src, no_store=False)
    src.add_argument("--scan", type=int, metavar="ID", help="scan id in the history (see smbguard history)")
    parser.add_argument("-o", "--output", metavar="PATH", help="file (one host) or directory (several hosts)")
    parser.set_defaults(func=run)


def load_hosts(args: argparse.Namespace) -> list[dict[str, Any]]:
    if args.input:
        text = Path(args.input).read_text(encoding="utf-8-sig")
        try:
            doc = json.loads(text)
        except json.JSONDecodeError:
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        if isinstance(doc, dict) and isinstance(doc.get("hosts"), list):
            return list(doc["hosts"])
        raise ValueError(f"{args.input}: not an smbguard scan (no 'hosts' list)")
    with Store(db_path_from_args(args)) as store:
        scan_id = args.scan
        if scan_id is None:
            latest = store.scans(limit=1)
            if not latest:
                raise StoreError("the scan history is empty: run smbguard scan first, or give --input")
            scan_id = latest[0].id
        store.scan(scan_id)
        return list(store.host_objects(scan_id))


def select(objs: list[dict[str, Any]], wanted: list[str], every: bool) -> list[FixHost]:
    hosts = [from_host_object(o) for o in objs]
    if every:
        return [h for h in hosts if h.findings]
    picked: list[FixHost] = []
    for w in wanted:
        match = [h for h in hosts if h.address == w or (h.name or "").lower() == w.lower()]
        if not match:
            raise LookupError(f"host {w!r} is not in this scan")
        picked += [h for h in match if h not in picked]
    return picked


def run(args: argparse.Namespace) -> int:
    try:
        hosts = select(load_hosts(args), args.host, args.all)
    except (OSError, ValueError, LookupError, StoreError) as exc:
        print(f"smbguard fix-script: {exc}", file=sys.stderr)
        return 1 if isinstance(exc, StoreError | OSError) else 2
    if not hosts:
        print("smbguard fix-script: no host with findings in this scan", file=sys.stderr)
        return 0
    scripts = scripts_for(hosts, args.format)
    if len(scripts) == 1 and (args.output is None or not Path(args.output).is_dir()):
        (text,) = scripts.values()
        if args.output:
            Path(args.output).write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text)
        return 0
    if not args.output:
        print("smbguard fix-script: several hosts: give -o DIRECTORY", file=sys.stderr)
        return 2
    out_dir = Path(args.output)
    out_dir.mkdir(parents=True, exist_ok=True)
    for host, text in scripts.items():
        kind = ("smb.conf" if host.samba else "powershell") if args.format == "auto" else args.format
        stem = f"{host.address.replace(':', '_').replace('%', '_')}-{host.port}"
        path = out_dir / (stem + SUFFIX[kind])
        path.write_text(text, encoding="utf-8")
        print(path)
    return 0
