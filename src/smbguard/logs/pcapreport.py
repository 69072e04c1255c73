"""``smbguard pcap``: passive host facts + scanner checks + traffic detections for one capture."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from typing import Any

from smbguard.logs.capture import CaptureAnalyzer
from smbguard.logs.detectors import DetectorSet, Thresholds, default_detectors
from smbguard.logs.events import SourceStats
from smbguard.logs.findings import LogFinding, title_of
from smbguard.model import HostResult, JsonValue


@dataclass(frozen=True, slots=True)
class PcapReport:
    path: str
    hosts: tuple[HostResult, ...]
    traffic: dict[tuple[str, int], dict[str, JsonValue]]
    clients: tuple[dict[str, JsonValue], ...]
    findings: tuple[LogFinding, ...]
    stats: SourceStats
    smb_messages: int
    smb_bytes: int

    def to_dict(self) -> dict[str, Any]:
        from smbguard.report.json import host_to_dict

        hosts = []
        for result in self.hosts:
            entry = host_to_dict(result)
            entry["observed"] = self.traffic.get((result.facts.target.address, result.facts.target.port), {})
            entry["source"] = "capture"
            hosts.append(entry)
        return {
            "file": self.path,
            "hosts": hosts,
            "clients": list(self.clients),
            "findings": [f.to_dict() for f in self.findings],
            "sources": [self.stats.to_dict()],
            "smb_messages": self.smb_messages,
            "smb_bytes": self.smb_bytes,
        }


def analyze_pcap(path: str, thresholds: Thresholds | None = None, run_checks: bool = True) -> PcapReport:
    """Read the capture once: events go through the log detectors, server facts through the checks."""
    analyzer = CaptureAnalyzer(path)
    dispatcher = DetectorSet(default_detectors(thresholds))
    for event in analyzer.events():
        dispatcher.feed(event)
    findings = dispatcher.findings()
    facts = analyzer.hosts()
    if run_checks:
        from smbguard.checks.evaluate import evaluate_many

        hosts = tuple(evaluate_many(facts))
    else:
        hosts = tuple(HostResult(facts=f) for f in facts)
    traffic = {
        (h.facts.target.address, h.facts.target.port): analyzer.traffic(
            h.facts.target.address, h.facts.target.port
        )
        for h in hosts
    }
    clients = tuple(c.to_dict() for _, c in sorted(analyzer.clients.items()))
    return PcapReport(
        path=path,
        hosts=hosts,
        traffic=traffic,
        clients=clients,
        findings=tuple(findings),
        stats=analyzer.stats,
        smb_messages=analyzer.smb_messages,
        smb_bytes=analyzer.smb_bytes,
    )


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _signing(result: HostResult) -> str:
    s = result.facts.signing
    if s.required is None:
        return "unknown"
    return "required" if s.required else ("enabled, not required" if s.enabled else "disabled")


def render_table(report: PcapReport, lang: str = "en") -> str:
    lines = [f"{'SERVER':22} {'SMB1':6} {'SMB2/3':14} {'SIGNING':22} {'NTLM':12} {'FINDINGS'}"]
    for result in report.hosts:
        f = result.facts
        smb1 = "yes" if f.smb1 and f.smb1.enabled else ("no" if f.smb1 else "?")
        smb2 = ",".join(f.smb2.dialects) if f.smb2 else "?"
        ntlm = f.ntlm.os_version if f.ntlm and f.ntlm.os_version else "?"
        ids = ",".join(x.id for x in result.findings) or "-"
        lines.append(
            f"{f.target.address + ':' + str(f.target.port):22} {smb1:6} {smb2:14} {_signing(result):22} "
            f"{ntlm:12} {ids}"
        )
    lines.append("")
    if report.findings:
        for finding in report.findings:
            summary = "".join(ch if ch.isprintable() else "?" for ch in finding.summary)
            lines.append(f"{finding.severity.label.upper():8} {finding.id}: {title_of(finding.id, lang)}")
            lines.append(f"{'':8} {summary[:300]}")
    else:
        lines.append("No traffic-level findings." if lang == "en" else "沒有流量層級的發現。")
    st = report.stats
    lines.append("")
    lines.append(
        f"{st.records} packets, {report.smb_messages} SMB messages ({report.smb_bytes} bytes), "
        f"{st.skipped} skipped"
    )
    for message, count in sorted(st.warnings.items()):
        lines.append(f"warning ({count}x): {message}")
    return "\n".join(lines) + "\n"


def render_html(report: PcapReport, lang: str = "en") -> str:
    """Self-contained HTML page; every value from the capture is escaped."""
    rows = []
    for result in report.hosts:
        f = result.facts
        findings = (
            "<br>".join(
                f"<span class='sev-{_e(x.severity.label)}'>{_e(x.severity.label)}</span> {_e(x.id)}: "
                f"{_e(title_of(x.id, lang))}"
                for x in result.findings
            )
            or "-"
        )
        rows.append(
            "<tr>"
            f"<td>{_e(f.target.address)}:{_e(f.target.port)}</td>"
            f"<td>{_e(f.os or '?')}</td>"
            f"<td>{_e('yes' if f.smb1 and f.smb1.enabled else ('no' if f.smb1 else '?'))}</td>"
            f"<td>{_e(', '.join(f.smb2.dialects) if f.smb2 else '?')}</td>"
            f"<td>{_e(_signing(result))}</td>"
            f"<td>{_e(f.ntlm.os_version if f.ntlm and f.ntlm.os_version else '?')}</td>"
            f"<td>{findings}</td></tr>"
        )
    items = []
    for finding in report.findings:
        evidence = json.dumps(finding.to_dict()["evidence"], ensure_ascii=False, indent=1)
        items.append(
            f"<li><b class='sev-{_e(finding.severity.label)}'>{_e(finding.severity.label.upper())}</b> "
            f"<code>{_e(finding.id)}</code> {_e(title_of(finding.id, lang))}<br>{_e(finding.summary)}"
            f"<details><summary>evidence</summary><pre>{_e(evidence)}</pre></details></li>"
        )
    st = report.stats
    return f"""<!DOCTYPE html>
<html lang="{_e(lang)}"><head><meta charset="utf-8">
<title>smbguard pcap: {_e(report.path)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:4px 8px;vertical-align:top}}.sev-critical,.sev-high{{color:#b00}}
.sev-medium{{color:#b60}}.sev-low,.sev-info{{color:#555}}</style></head><body>
<h1>smbguard pcap</h1><p>{_e(report.path)}: {st.records} packets, {report.smb_messages} SMB messages,
{st.skipped} skipped</p>
<h2>Servers observed</h2>
<table><tr><th>server</th><th>OS</th><th>SMB1</th><th>SMB2/3</th><th>signing</th><th>NTLM</th>
<th>findings</th></tr>
{"".join(rows)}</table>
<h2>Traffic findings</h2><ul>{"".join(items) or "<li>none</li>"}</ul>
</body></html>
"""
