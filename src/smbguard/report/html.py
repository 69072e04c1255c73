"""HTML: one self-contained file (inline CSS, JS and SVG; no network fetch at all).

Contents: summary (hosts scanned, findings by severity as an SVG bar chart, top
findings), optional "since the previous scan" section, a sortable and filterable
host table, and one section per finding with affected hosts, evidence and every
remediation part. Both languages are embedded; a button switches between them.

Safety: every server-supplied string goes through :func:`esc` (HTML escaping,
control characters and bidi overrides shown as ``\\xNN``/``\\uNNNN`` text). A
Content-Security-Policy meta tag allows no network source at all and only the
one inline script whose SHA-256 it names, so even a missed escape could neither
run an injected script nor exfiltrate anything.
"""

from __future__ import annotations

import base64
import hashlib
import html
import ipaddress
import json
from collections.abc import Mapping
from importlib import resources
from typing import TYPE_CHECKING

from smbguard.catalog.loader import LANGS, Catalog, Entry, load_catalog, normalize_lang
from smbguard.model import Confidence, HostResult, ScanReport, Severity
from smbguard.report.i18n import LABELS, confidence_label, part_label, severity_label
from smbguard.report.summary import FindingGroup, Summary, host_name, host_os, signing_key, summarize, worst

if TYPE_CHECKING:
    from smbguard.store.diff import ScanDiff

_BIDI_AND_INVISIBLE = frozenset(
    "\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff"
)
_SEV_COLORS = {4: "#7b1fa2", 3: "#c62828", 2: "#ef6c00", 1: "#f9a825", 0: "#546e7a"}


_VISIBLE = {c: f"\\x{c:02x}" for c in [*range(0x20), *range(0x7F, 0xA0)]} | {
    ord(c): f"\\u{ord(c):04x}" for c in _BIDI_AND_INVISIBLE
}


def esc(value: object) -> str:
    """Escape a (possibly hostile) value for HTML text or a quoted attribute.

    Control characters become visible ``\\xNN``; bidi overrides and zero-width
    characters become ``\\uNNNN`` so a name cannot reorder or hide text."""
    if value is None:
        return ""
    return html.escape(str(value).translate(_VISIBLE), quote=True)


def _template(name: str) -> str:
    return resources.files("smbguard.report").joinpath("templates", name).read_text(encoding="utf-8")


def _bi(en: str, zh: str) -> str:
    """Already-escaped text in both languages; CSS shows the current one."""
    return f'<span class="l-en">{en}</span><span class="l-zh" lang="zh-TW">{zh}</span>'


def _L(key: str, **fmt: object) -> str:
    en, zh = LABELS["en"][key], LABELS["zh-TW"][key]
    if fmt:
        en, zh = en.format(**fmt), zh.format(**fmt)
    return _bi(html.escape(en), html.escape(zh))


def _sev(severity: Severity | None) -> str:
    if severity is None:
        return ""
    en, zh = severity_label(severity, "en"), severity_label(severity, "zh-TW")
    return f'<span class="sev sev-{int(severity)}">{_bi(en, zh)}</span>'


def _entry_text(entry: Entry | None, field: str, fallback: str) -> str:
    if entry is None:
        return esc(fallback)
    return _bi(esc(getattr(entry.text("en"), field)), esc(getattr(entry.text("zh-TW"), field)))


def _yes_no(value: bool | None) -> str:
    return _L("unknown" if value is None else ("yes" if value else "no"))


def _addr_key(address: str, port: int) -> str:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        return f"{ip.version}{int(ip):040d}{port:05d}"
    except ValueError:
        return f"9{address}"


def _chart(summary: Summary) -> str:
    """Horizontal bar chart of findings by severity, as inline SVG."""
    items = list(summary.by_severity.items())
    top = max((n for _, n in items), default=0) or 1
    row_h, label_w, bar_w = 26, 90, 360
    parts = [
        f'<svg class="chart" role="img" width="{label_w + bar_w + 60}" height="{row_h * len(items) + 8}" '
        f'viewBox="0 0 {label_w + bar_w + 60} {row_h * len(items) + 8}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (sev, n) in enumerate(items):
        y = 4 + i * row_h
        w = round(bar_w * n / top)
        en, zh = severity_label(sev, "en"), severity_label(sev, "zh-TW")
        parts.append(
            f'<text x="0" y="{y + 17}"><tspan class="l-en">{en}</tspan>'
            f'<tspan class="l-zh">{zh}</tspan></text>'
            f'<rect x="{label_w}" y="{y + 3}" width="{w}" height="{row_h - 8}" '
            f'fill="{_SEV_COLORS[int(sev)]}" rx="3"/>'
            f'<text x="{label_w + w + 6}" y="{y + 17}">{n}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


class HtmlReporter:
    """``--format html``. ``diff``: optional comparison with the previous scan to include."""

    def __init__(self, catalog: Catalog | None = None, diff: ScanDiff | None = None) -> None:
        self.catalog = catalog
        self.diff = diff

    def render(self, report: ScanReport, lang: str = "en") -> str:
        lang = normalize_lang(lang)
        catalog = self.catalog or load_catalog()
        summary = summarize(report, catalog)
        body = "\n".join(
            [
                self._header(report),
                "<main>",
                self._summary(summary, report),
                self._diff(catalog),
                self._hosts(report, catalog),
                self._findings(summary),
                "</main>",
            ]
        )
        script = _template("report.js")
        digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
        csp = (
            "default-src 'none'; img-src data:; style-src 'unsafe-inline'; "
            f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
        )
        page = _template("report.html").replace("{{lang}}", lang)
        for key, value in (
            ("{{csp}}", csp),
            ("{{version}}", esc(report.info.version)),
            ("{{title}}", html.escape(LABELS[lang]["report_title"])),
            ("{{style}}", _template("report.css")),
            ("{{script}}", script),
            ("{{body}}", body),  # last: server-supplied text must never be searched for placeholders
        ):
            page = page.replace(key, value, 1)
        return page

    # -- sections -----------------------------------------------------------------

    def _header(self, report: ScanReport) -> str:
        info = report.info
        meta = [f"{_L('scan_started')}: {esc(info.started.isoformat())}"]
        if info.finished:
            meta.append(f"{_L('scan_finished')}: {esc(info.finished.isoformat())}")
        if info.targets:
            meta.append(f"{_L('targets')}: {esc(' '.join(info.targets))}")
        toggle = _bi(html.escape(LABELS["en"]["language"]), html.escape(LABELS["zh-TW"]["language"]))
        out = (
            f"<header><h1>{_L('report_title')}</h1>"
            f'<button id="lang-toggle" type="button">{toggle}</button>'
            f'<div class="meta">{" · ".join(meta)}</div></header>'
        )
        if info.interrupted:
            out += f'<p class="warn">{_L("interrupted")}</p>'
        return out

    def _summary(self, s: Summary, report: ScanReport) -> str:
        cards = "".join(
            f'<div class="card"><div class="n">{n}</div>{_L(key)}</div>'
            for key, n in (
                ("hosts_scanned", s.hosts),
                ("hosts_reachable", s.reachable),
                ("hosts_affected", s.affected_hosts),
                ("findings_total", s.findings),
            )
        )
        top = "".join(
            f'<li>{_sev(g.severity)} <a href="#f-{esc(g.id)}">{_entry_text(g.entry, "title", g.id)}</a>: '
            f"{g.host_count} {_L('hosts_label')}</li>"
            for g in s.groups[:10]
        )
        top_html = f'<ul class="top">{top}</ul>' if top else f"<p>{_L('no_findings')}</p>"
        return (
            f'<section id="summary"><h2>{_L("summary")}</h2><div class="cards">{cards}</div>'
            f"<h3>{_L('by_severity')}</h3>{_chart(s)}<h3>{_L('top_findings')}</h3>{top_html}</section>"
        )

    def _diff(self, catalog: Catalog) -> str:
        d = self.diff
        if d is None:
            return ""
        items = []
        for label, per_finding in (("hosts_fixed", d.fixed_counts()), ("hosts_new", d.new_counts())):
            for fid, n in per_finding.items():
                entry = catalog.get(fid)
                en_t = esc(entry.title("en") if entry else fid)
                zh_t = esc(entry.title("zh-TW") if entry else fid)
                en = html.escape(LABELS["en"][label]).format(n=n, title=en_t)
                zh = html.escape(LABELS["zh-TW"][label]).format(n=n, title=zh_t)
                items.append(f"<li>{_bi(en, zh)}</li>")
        counts = (
            f"<p>{len(d.fixed)} {_L('fixed')} · {len(d.new)} {_L('new')} · "
            f"{len(d.still_open)} {_L('still_open')}</p>"
        )
        newer = f"#{d.new_scan}" if d.new_scan else "*"
        return (
            f'<section id="diff" class="diff"><h2>{_L("since_last")} '
            f'<span class="muted">(#{d.old_scan} → {newer})</span></h2>{counts}'
            f"<ul>{''.join(items)}</ul></section>"
        )

    def _hosts(self, report: ScanReport, catalog: Catalog) -> str:
        head = "".join(
            f'<th data-sort="{kind}">{_L(key)}</th>'
            for key, kind in (
                ("address", "text"),
                ("name", "text"),
                ("os", "text"),
                ("smb1", "text"),
                ("dialects", "text"),
                ("signing", "text"),
                ("null_guest", "text"),
                ("worst", "num"),
                ("findings", "num"),
            )
        )
        rows = [self._host_row(h, catalog) for h in report.hosts if h.facts.reachable or h.findings]
        options = (
            f'<option value="-1">{html.escape(LABELS["en"]["all_severities"])} / '
            + html.escape(LABELS["zh-TW"]["all_severities"])
            + "</option>"
        )
        for sev in sorted(Severity, reverse=True):
            both = f"{severity_label(sev, 'en')} / {severity_label(sev, 'zh-TW')}"
            options += f'<option value="{int(sev)}">≥ {both}</option>'
        return (
            f'<section id="hosts"><h2>{_L("host_table")}</h2><div class="controls">'
            f'<input id="host-filter" type="search" autocomplete="off" '
            f'data-ph-en="{html.escape(LABELS["en"]["filter_placeholder"])}" '
            f'data-ph-zh="{html.escape(LABELS["zh-TW"]["filter_placeholder"])}" '
            f'placeholder="{html.escape(LABELS["en"]["filter_placeholder"])}">'
            f'<select id="sev-filter">{options}</select>'
            f'<span><span id="shown-count">{len(rows)}</span> / {len(rows)} {_L("rows_shown")}</span></div>'
            f'<table id="host-table"><thead><tr>{head}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></section>"
        )

    def _host_row(self, h: HostResult, catalog: Catalog) -> str:
        f = h.facts
        name, os_ = host_name(f), host_os(f)
        w = worst(h)
        ids = sorted({x.id for x in h.findings})
        titles = []
        for fid in ids:
            entry = catalog.get(fid)
            titles += [entry.title(lng) for lng in LANGS] if entry else []
        search = " ".join([str(f.target), name or "", os_ or "", *ids, *titles]).lower()
        links = ", ".join(f'<a href="#f-{esc(i)}">{esc(i)}</a>' for i in ids)
        dialects = ", ".join(f.smb2.dialects) if f.smb2 else ""
        state = "" if f.reachable else f" ({_L('unreachable')})"
        return (
            f'<tr data-sev="{int(w) if w is not None else -1}" data-search="{esc(search)}">'
            f'<td data-v="{_addr_key(f.target.address, f.target.port)}">{esc(str(f.target))}{state}</td>'
            f"<td>{esc(name)}</td><td>{esc(os_)}</td>"
            f"<td>{_yes_no(f.smb1.enabled if f.smb1 else None)}</td><td>{esc(dialects)}</td>"
            f"<td>{_L(signing_key(f))}</td>"
            f"<td>{_yes_no(f.sessions.null)} / {_yes_no(f.sessions.guest)}</td>"
            f'<td data-v="{int(w) if w is not None else -1}">{_sev(w)}</td>'
            f'<td data-v="{len(h.findings)}">{links}</td></tr>'
        )

    def _findings(self, s: Summary) -> str:
        if not s.groups:
            return ""
        return (
            f'<section id="findings"><h2>{_L("findings")}</h2>'
            + "".join(self._group(g) for g in s.groups)
            + "</section>"
        )

    def _group(self, g: FindingGroup) -> str:
        e = g.entry
        meta = [_sev(g.severity), f"<code>{esc(g.id)}</code>"]
        if e is not None and e.cvss_vector:
            meta.append(f"{_L('cvss')} {e.cvss_score} <code>{esc(e.cvss_vector)}</code>")
        if e is not None and e.cve:
            meta.append(f"{_L('cve')}: {esc(', '.join(e.cve))}")
        if e is not None and e.kb:
            meta.append(f"{_L('kb')}: {esc(', '.join(e.kb))}")
        rows = "".join(
            f"<tr><td>{esc(str(a.host.facts.target))}</td><td>{esc(host_name(a.host.facts))}</td>"
            f"<td>{esc(a.finding.share)}</td>"
            f"<td>{_confidence(a.finding.confidence)}</td>"
            f'<td class="ev">{esc(_evidence(a.finding.evidence))}</td></tr>'
            for a in g.affected
        )
        out = [
            f'<section class="finding" id="f-{esc(g.id)}"><h2>{_entry_text(e, "title", g.id)}</h2>',
            f"<p>{' · '.join(meta)}</p>",
        ]
        if e is not None:
            out.append(f"<p><strong>{_L('description')}</strong>: {_entry_text(e, 'description', '')}</p>")
            out.append(f"<p><strong>{_L('impact')}</strong>: {_entry_text(e, 'impact', '')}</p>")
        out.append(
            f"<h3>{_L('affected_hosts')} ({g.host_count})</h3><table><thead><tr><th>{_L('address')}</th>"
            f"<th>{_L('name')}</th><th>{_L('share')}</th><th>{_L('confidence')}</th><th>{_L('evidence')}</th>"
            f"</tr></thead><tbody>{rows}</tbody></table>"
        )
        if e is not None:
            out.append(f"<h3>{_L('remediation')}</h3>")
            en_parts, zh_parts = e.text("en").remediation.parts(), e.text("zh-TW").remediation.parts()
            for (part, en_text), (_, zh_text) in zip(en_parts, zh_parts, strict=True):
                title = _bi(esc(part_label(part, "en")), esc(part_label(part, "zh-TW")))
                opened = " open" if part in ("powershell", "samba") else ""
                out.append(
                    f"<details{opened}><summary>{title}</summary>"
                    f'<button type="button" class="copy">{_L("copy")}</button>'
                    f'<pre class="l-en">{esc_block(en_text)}</pre>'
                    f'<pre class="l-zh" lang="zh-TW">{esc_block(zh_text)}</pre>'
                    "</details>"
                )
            refs = "".join(
                f'<li><a href="{esc(u)}" rel="noreferrer noopener" target="_blank">{esc(u)}</a></li>'
                for u in e.references
            )
            out.append(f"<h3>{_L('references')}</h3><ul>{refs}</ul>")
        out.append("</section>")
        return "".join(out)


def _confidence(confidence: Confidence) -> str:
    return _bi(confidence_label(confidence, "en"), confidence_label(confidence, "zh-TW"))


def _evidence(evidence: Mapping[str, object]) -> str:
    return json.dumps(dict(evidence), ensure_ascii=False, sort_keys=True, default=str)


def esc_block(text: str) -> str:
    """Escape catalog text for a <pre> block (newlines kept)."""
    return "\n".join(esc(line) for line in text.split("\n"))
