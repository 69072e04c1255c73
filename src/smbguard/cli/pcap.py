"""`smbguard pcap`: passive analysis of a packet capture.

    smbguard pcap capture.pcapng --format html -o traffic.html

Servers seen in the capture get host facts (dialect, SecurityMode signing,
negotiate contexts, NTLM build, native OS, guest/null sessions, MS17-010 and
DoublePulsar answers) and the scanner's checks run on them; clients and traffic
get the log detections (SMB1 clients, exploit traffic, brute force...).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from smbguard.cli.logs import _add_thresholds, thresholds_from


def register(sub: Any) -> None:
    parser = sub.add_parser("pcap", help="analyze a packet capture (pcap/pcapng) passively")
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--format", choices=("json", "table", "html"), default="table")
    parser.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    parser.add_argument("--lang", choices=("en", "zh-TW"), default="en", help="language of titles")
    _add_thresholds(parser)
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from smbguard.logs.pcapreport import analyze_pcap, render_html, render_table

    try:
        with open(args.file, "rb"):
            pass
    except OSError as exc:
        print(f"smbguard pcap: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    report = analyze_pcap(args.file, thresholds_from(args))
    if args.format == "json":
        text = json.dumps(report.to_dict(), ensure_ascii=False, indent=2) + "\n"
    elif args.format == "html":
        text = render_html(report, args.lang)
    else:
        text = render_table(report, args.lang)
    if args.output:
        with open(args.output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    if report.stats.records == 0 and report.stats.warnings:
        for message in report.stats.warnings:
            print(f"smbguard pcap: {message}", file=sys.stderr)
        return 2
    return 0
