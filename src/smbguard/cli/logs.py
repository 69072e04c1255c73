"""`smbguard logs`: analyze SMB-related logs, or watch them as they grow.

smbguard logs analyze Security.evtx /var/log/samba/ zeek/ --format json -o alerts.json
smbguard logs watch /var/log/samba/ --jsonl
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from smbguard.logs.detectors import Thresholds


def _add_thresholds(parser: argparse.ArgumentParser) -> None:
    d = Thresholds()
    g = parser.add_argument_group("detection thresholds")
    g.add_argument(
        "--brute-force-failures",
        type=int,
        default=d.brute_force_failures,
        metavar="N",
        help=f"failed logons of one source for one account = brute force (default {d.brute_force_failures})",
    )
    g.add_argument(
        "--brute-force-window",
        type=float,
        default=d.brute_force_window,
        metavar="SECONDS",
        help=f"window for --brute-force-failures (default {d.brute_force_window:g})",
    )
    g.add_argument(
        "--spray-accounts",
        type=int,
        default=d.spray_accounts,
        metavar="N",
        help=f"distinct failing accounts from one source = password spraying (default {d.spray_accounts})",
    )
    g.add_argument(
        "--spray-window",
        type=float,
        default=d.spray_window,
        metavar="SECONDS",
        help=f"window for --spray-accounts (default {d.spray_window:g})",
    )
    g.add_argument(
        "--ransomware-files",
        type=int,
        default=d.ransomware_files,
        metavar="N",
        help=f"distinct files changed by one client on one share (default {d.ransomware_files})",
    )
    g.add_argument(
        "--ransomware-window",
        type=float,
        default=d.ransomware_window,
        metavar="SECONDS",
        help=f"window for the ransomware thresholds (default {d.ransomware_window:g})",
    )
    g.add_argument(
        "--ransomware-extension-changes",
        type=int,
        default=d.ransomware_extension_changes,
        metavar="N",
        help=f"renames changing the file extension (default {d.ransomware_extension_changes})",
    )
    g.add_argument(
        "--admin-allow",
        action="append",
        default=[],
        metavar="CLIENT_OR_ACCOUNT",
        help="client address/name or account allowed to use admin shares (repeatable)",
    )


def thresholds_from(args: argparse.Namespace) -> Thresholds:
    return Thresholds(
        brute_force_failures=max(1, args.brute_force_failures),
        brute_force_window=max(0.0, args.brute_force_window),
        spray_accounts=max(2, args.spray_accounts),
        spray_window=max(0.0, args.spray_window),
        ransomware_files=max(1, args.ransomware_files),
        ransomware_window=max(0.0, args.ransomware_window),
        ransomware_extension_changes=max(1, args.ransomware_extension_changes),
        admin_allowlist=frozenset(args.admin_allow),
    )


def register(sub: Any) -> None:
    parser = sub.add_parser("logs", help="analyze or watch SMB-related logs (EVTX, Samba, Zeek, pcap)")
    actions = parser.add_subparsers(dest="logs_action", metavar="ACTION")
    actions.required = True

    analyze = actions.add_parser("analyze", help="analyze log files and directories once")
    analyze.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    analyze.add_argument("--format", choices=("json", "jsonl", "table", "md"), default="table")
    analyze.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    analyze.add_argument("--lang", choices=("en", "zh-TW"), default="en", help="language of titles")
    _add_thresholds(analyze)
    analyze.set_defaults(func=_analyze)

    watch = actions.add_parser("watch", help="follow log files as they grow and print alerts")
    watch.add_argument("paths", nargs="+", metavar="FILE_OR_DIR")
    watch.add_argument("--jsonl", action="store_true", help="print alerts as JSON lines")
    watch.add_argument(
        "--state",
        metavar="FILE",
        default=None,
        help="state file remembering offsets and alerts (default ~/.cache/smbguard/watch-state.json)",
    )
    watch.add_argument(
        "--interval", type=float, default=1.0, metavar="SECONDS", help="poll interval (default 1)"
    )
    watch.add_argument(
        "--once", action="store_true", help="read what is new, print alerts, save state and exit"
    )
    watch.add_argument(
        "--from-start",
        action="store_true",
        help="read files never seen before from the beginning (default: from their current end)",
    )
    _add_thresholds(watch)
    watch.set_defaults(func=_watch)


def _write(text: str, output: str | None) -> None:
    if output:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)


def _analyze(args: argparse.Namespace) -> int:
    from smbguard.logs import render
    from smbguard.logs.analyze import analyze

    result = analyze(args.paths, thresholds_from(args))
    if args.format == "json":
        text = render.to_json(result.to_dict())
    elif args.format == "jsonl":
        text = "".join(render.finding_line(f) + "\n" for f in result.findings)
    elif args.format == "md":
        text = render.markdown(result.findings, result.sources, args.lang)
    else:
        text = render.table(result.findings, result.sources, args.lang)
    _write(text, args.output)
    if args.format == "jsonl" or args.output:
        for s in result.sources:
            if s.warnings or s.skipped:
                print(
                    f"{s.path}: {s.type}, {s.events} events, {s.skipped} skipped, "
                    f"{sum(s.warnings.values())} warnings",
                    file=sys.stderr,
                )
    return 0


def _watch(args: argparse.Namespace) -> int:
    from smbguard.logs.watch import Watcher, default_state_path

    watcher = Watcher(
        args.paths,
        state_path=args.state or default_state_path(),
        thresholds=thresholds_from(args),
        from_start=args.from_start,
    )
    return watcher.run(jsonl=args.jsonl, interval=args.interval, once=args.once)
