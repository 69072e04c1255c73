"""``smbguard demo``: an emulated office network on loopback, scanned by the real scanner.

    smbguard demo                 # start the lab, scan it, print the results, write demo-report.html
    smbguard demo --serve         # only run the lab (try nmap / smbclient against it); Ctrl-C stops

No root, no Windows, no configuration: the seven hosts of
:func:`smbguard.lab.layouts.demo_layout` listen on 127.0.30.11-17 (Linux sends
all of 127.0.0.0/8 to the loopback interface, so no address has to be added)
on port 445 when run as root and 10445 otherwise. The scan is the same code as
``smbguard scan`` (engine, probes including the read-only MS17-010 and
DoublePulsar probes, checks, reporters). Nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import importlib.util
import signal
import sys
from typing import TYPE_CHECKING, Any

from smbguard.model import HostFacts, HostResult, ScanReport, Status, Target

if TYPE_CHECKING:  # the lab is imported only when the demo runs
    from smbguard.lab import Lab
    from smbguard.lab.personas import Persona

DEMO_BASE = "127.0.30.0"

VULN_IDS = (
    "ms17-010",
    "doublepulsar",
    "cve-2020-0796",
    "cve-2020-1206",
    "os-end-of-support",
    "samba-outdated",
)


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "demo",
        help="scan an emulated office network on loopback (no root, no Windows needed)",
        description="Start seven emulated SMB hosts (Windows 7 without MS17-010, Server 2008 R2, "
        "Windows 10 1909 with and without SMB compression, a hardened Server 2019, an old Samba NAS, "
        "a DoublePulsar-infected PC) on 127.0.30.11-17 and scan them with the real scanner.",
    )
    parser.add_argument(
        "--serve", action="store_true", help="only run the lab until Ctrl-C (for nmap/smbclient)"
    )
    parser.add_argument("--port", type=int, default=None, help="SMB port (default 445 as root, else 10445)")
    parser.add_argument("--base", default=DEMO_BASE, help="loopback /24 to use (default 127.0.30.0)")
    parser.add_argument("--lang", choices=("en", "zh-TW"), default="en", help="report language")
    parser.add_argument(
        "--html",
        default="demo-report.html",
        metavar="FILE",
        help="HTML report path, when the HTML reporter is installed (default demo-report.html; '' = none)",
    )
    parser.add_argument("--json", metavar="FILE", help="also write the JSON report to FILE")
    parser.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    from smbguard.lab import Lab
    from smbguard.lab.__main__ import default_port
    from smbguard.lab.layouts import demo_layout

    port = args.port if args.port is not None else default_port()
    try:
        layout = demo_layout(args.base)
    except ValueError as exc:
        print(f"smbguard demo: {exc}", file=sys.stderr)
        return 2
    lab = Lab(layout, port=port)
    if args.serve:
        try:
            asyncio.run(_serve(lab))
        except OSError as exc:
            print(f"smbguard demo: cannot listen on port {port}: {exc.strerror or exc}", file=sys.stderr)
            return 1
        return 0
    if importlib.util.find_spec("smbguard.probes.host") is None:
        print("smbguard demo: the scanner probes (smbguard.probes.host) are not installed", file=sys.stderr)
        return 1
    try:
        report = asyncio.run(scan_lab(lab))
    except OSError as exc:
        print(f"smbguard demo: cannot listen on port {port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    _print(report, layout, args.lang)
    _write_reports(report, args)
    return 0


async def _serve(lab: Lab) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with lab.running():
        print(f"smbguard lab: {len(lab.personas)} emulated hosts on port {lab.port} (Ctrl-C stops)")
        for address, persona in lab.personas.items():
            print(f"  {address:<14} {persona.key:<22} {persona.title}")
        first = next(iter(lab.personas))
        port_opt = "" if lab.port == 445 else f" -p {lab.port}"
        nmap_port = lab.port
        print("\nTry:")
        print(f"  smbguard scan {first.rsplit('.', 1)[0]}.11-17 --port {lab.port}")
        print(f"  nmap -Pn -n -p{nmap_port} --script smb-protocols,smb-vuln-ms17-010 {first}")
        print(f"  smbclient -N -L //{first}{port_opt} --option='client min protocol=NT1'")
        await stop.wait()


async def scan_lab(lab: Lab, *, timeout: float = 3.0) -> ScanReport:
    """Run the lab and scan every host in it with the real scanner (engine, probes, checks)."""
    from smbguard.cli.scan import make_evaluator, run_scan
    from smbguard.engine import EngineOptions
    from smbguard.net.transport import Limits
    from smbguard.probes.base import ProbeOptions
    from smbguard.targets import parse

    host = importlib.import_module("smbguard.probes.host")
    opts = ProbeOptions(
        limits=Limits(connect_timeout=timeout, read_timeout=timeout), ms17_010=True, doublepulsar=True
    )

    async def collect(target: Target) -> HostFacts:
        facts = await host.collect(target, opts)
        assert isinstance(facts, HostFacts)
        return facts

    targets = parse(list(lab.personas), default_port=lab.port)
    async with lab.running():
        return await run_scan(
            targets,
            EngineOptions(concurrency=32, timeout=timeout, preconnect=False),
            collect,
            evaluate=make_evaluator(argparse.Namespace()),
            arguments=("demo",),
            install_signal_handler=False,
        )


def _title(finding_id: str, lang: str) -> str:
    try:
        from smbguard.catalog import load_catalog

        return load_catalog().entry(finding_id).text(lang).title
    except Exception:  # noqa: BLE001 - a missing catalog entry only loses the title
        return finding_id


def _print(report: ScanReport, layout: dict[str, Persona], lang: str) -> None:
    from smbguard.report import get_reporter

    print(get_reporter("table").render(report, lang))
    print(_TEXT[lang]["header"])
    hosts = sorted(report.hosts, key=lambda h: tuple(int(p) for p in h.facts.target.address.split(".")))
    for host in hosts:
        persona = layout.get(host.facts.target.address)
        print(f"\n  {host.facts.target.address}  {persona.title if persona else ''}")
        for line in vuln_lines(host, lang):
            print(f"    {line}")
    findings = sum(len(h.findings) for h in report.hosts)
    print("\n" + _TEXT[lang]["summary"].format(hosts=len(report.hosts), findings=findings))


_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "header": "Vulnerability checks (MS17-010, DoublePulsar, SMBGhost, SMBleed, end of support, Samba):",
        "summary": "{hosts} hosts, {findings} findings.",
        "affected": "AFFECTED",
        "not_affected": "ok",
        "mitigated": "MITIGATED",
        "unknown": "unknown",
    },
    "zh-TW": {
        "header": "弱點檢查（MS17-010、DoublePulsar、SMBGhost、SMBleed、停止支援、Samba 版本）：",
        "summary": "共 {hosts} 台主機，{findings} 項發現。",
        "affected": "受影響",
        "not_affected": "正常",
        "mitigated": "已緩解",
        "unknown": "無法判定",
    },
}


def _pad(text: str, width: int) -> str:
    """Left-justify to ``width`` terminal columns (CJK characters take two)."""
    import unicodedata

    cols = sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)
    return text + " " * max(0, width - cols)


def vuln_lines(host: HostResult, lang: str = "en") -> list[str]:
    """One line per vulnerability-check result of a host: status, confidence, title or reason."""
    lines = []
    severity = {f.id: f.severity.label for f in host.findings}
    for result in host.results:
        if result.check_id not in VULN_IDS or result.status is Status.NOT_APPLICABLE:
            continue
        label = _pad(_TEXT[lang].get(result.status.value, result.status.value), 9)
        extra = ""
        if result.check_id in severity:
            extra = f" [{severity[result.check_id]}, {result.confidence.value}]"
        detail = _title(result.check_id, lang) if result.status is Status.AFFECTED else (result.reason or "")
        lines.append(f"{label} {result.check_id:<18}{extra} {detail}".rstrip())
    return lines


def _write_reports(report: ScanReport, args: argparse.Namespace) -> None:
    from smbguard.report import REPORTERS, get_reporter

    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            fh.write(get_reporter("json").render(report, args.lang))
        print(f"JSON report: {args.json}")
    if args.html and "html" in REPORTERS:
        rendered: str | bytes = get_reporter("html").render(report, args.lang)
        data = rendered if isinstance(rendered, bytes) else rendered.encode("utf-8")
        with open(args.html, "wb") as fh:
            fh.write(data)
        print(f"HTML report: {args.html}")
    elif args.html:
        print("(HTML report not written: the HTML reporter is not installed in this build)")
