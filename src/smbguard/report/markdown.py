"""Markdown for tickets and wikis: summary, host table, one section per finding.

Every server-supplied string is escaped (Markdown punctuation backslash-escaped,
``<``/``>``/``&`` as entities, control characters shown as ``\\xNN``, bidi
controls removed) so a host named ``<script>`` or ``| x |`` cannot break a table
or inject HTML into a wiki that renders Markdown.
"""

from __future__ import annotations

import json
import re

from smbguard.catalog.loader import Catalog, load_catalog
from smbguard.model import ScanReport
from smbguard.report.i18n import confidence_label, label, part_label, severity_label
from smbguard.report.summary import host_name, host_os, signing_key, summarize, worst, yes_no

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")
_BIDI = dict.fromkeys(map(ord, "\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"))


def md_escape(value: object) -> str:
    """Escape a server-supplied value for Markdown text and table cells."""
    if value is None:
        return ""
    text = str(value).translate(_BIDI)
    text = "".join(ch if ch >= " " and ch != "\x7f" else f"\\x{ord(ch):02x}" for ch in text)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    """A fenced block that cannot be closed early by the text itself."""
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}\n{text}\n{fence}"


class MarkdownReporter:
    """``--format md``."""

    def __init__(self, catalog: Catalog | None = None) -> None:
        self.catalog = catalog

    def render(self, report: ScanReport, lang: str = "en") -> str:
        catalog = self.catalog or load_catalog()
        s = summarize(report, catalog)

        def L(key: str) -> str:
            return label(key, lang)

        info = report.info
        out = [f"# {L('report_title')}", ""]
        out.append(f"- {L('scan_started')}: {info.started.isoformat()}")
        if info.finished:
            out.append(f"- {L('scan_finished')}: {info.finished.isoformat()}")
        if info.targets:
            out.append(f"- {L('targets')}: {md_escape(' '.join(info.targets))}")
        if info.interrupted:
            out += ["", f"> **{L('interrupted')}**"]
        out += ["", f"## {L('summary')}", ""]
        out += [
            f"| {L('hosts_scanned')} | {L('hosts_reachable')} | {L('hosts_affected')} "
            f"| {L('findings_total')} |",
            "|---:|---:|---:|---:|",
            f"| {s.hosts} | {s.reachable} | {s.affected_hosts} | {s.findings} |",
            "",
        ]
        out += [f"| {L('severity')} | {L('findings_total')} |", "|---|---:|"]
        out += [f"| {severity_label(sev, lang)} | {n} |" for sev, n in s.by_severity.items()]
        out.append("")
        if s.groups:
            out += [f"### {L('top_findings')}", ""]
            for g in s.groups[:10]:
                title = g.entry.title(lang) if g.entry else g.id
                out.append(
                    f"- **{severity_label(g.severity, lang)}** [{title}](#{g.id}): "
                    f"{g.host_count} {L('hosts_label')}"
                )
            out.append("")
        else:
            out += [L("no_findings"), ""]

        out += [f"## {L('host_table')}", ""]
        out += [
            f"| {L('address')} | {L('name')} | {L('os')} | {L('smb1')} | {L('dialects')} | {L('signing')} "
            f"| {L('null_guest')} | {L('worst')} | {L('findings')} |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for h in report.hosts:
            f = h.facts
            if not f.reachable:
                continue
            smb1 = L(yes_no(f.smb1.enabled if f.smb1 else None))
            dialects = ", ".join(f.smb2.dialects) if f.smb2 else ""
            ng = f"{L(yes_no(f.sessions.null))} / {L(yes_no(f.sessions.guest))}"
            w = worst(h)
            sev = severity_label(w, lang) if w is not None else ""
            out.append(
                f"| {md_escape(str(f.target))} | {md_escape(host_name(f))} | {md_escape(host_os(f))} "
                f"| {smb1} | {dialects} | {L(signing_key(f))} | {ng} | {sev} "
                f"| {', '.join(sorted({x.id for x in h.findings}))} |"
            )
        out.append("")

        for g in s.groups:
            texts = g.entry.text(lang) if g.entry else None
            out += [f'<a id="{g.id}"></a>', "", f"## {texts.title if texts else g.id} (`{g.id}`)", ""]
            meta = [f"**{L('severity')}**: {severity_label(g.severity, lang)}"]
            if g.entry and g.entry.cvss_vector:
                meta.append(f"**{L('cvss')}**: {g.entry.cvss_score} `{g.entry.cvss_vector}`")
            if g.entry and g.entry.cve:
                meta.append(f"**{L('cve')}**: {', '.join(g.entry.cve)}")
            if g.entry and g.entry.kb:
                meta.append(f"**{L('kb')}**: {', '.join(g.entry.kb)}")
            out += [" · ".join(meta), ""]
            if texts:
                out += [
                    f"**{L('description')}**: {texts.description}",
                    "",
                    f"**{L('impact')}**: {texts.impact}",
                    "",
                ]
            out += [
                f"### {L('affected_hosts')} ({g.host_count})",
                "",
                f"| {L('address')} | {L('name')} | {L('share')} | {L('confidence')} | {L('evidence')} |",
                "|---|---|---|---|---|",
            ]
            for a in g.affected:
                ev = json.dumps(dict(a.finding.evidence), ensure_ascii=False, sort_keys=True, default=str)
                out.append(
                    f"| {md_escape(str(a.host.facts.target))} | {md_escape(host_name(a.host.facts))} "
                    f"| {md_escape(a.finding.share)} | {confidence_label(a.finding.confidence, lang)} "
                    f"| {md_escape(ev)} |"
                )
            out.append("")
            if texts:
                out += [f"### {L('remediation')}", ""]
                for part, text in texts.remediation.parts():
                    out += [f"**{part_label(part, lang)}**", "", _code(text), ""]
                out += [f"**{L('references')}**", ""] + [f"- <{u}>" for u in g.entry.references] + [""]  # type: ignore[union-attr]
        return "\n".join(out).rstrip("\n") + "\n"
