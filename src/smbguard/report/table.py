"""Terminal table: one line per host.

Columns: address, name, OS/build, SMB1, SMB2/3 dialects, signing, null/guest
sessions. Server-supplied strings are stripped of control characters (a hostile
server must not be able to drive the terminal) and shortened. Hosts whose port
did not accept are listed after the open ones and summarised in a footer.
"""

from __future__ import annotations

import ipaddress
import unicodedata
from collections.abc import Sequence

from smbguard.model import HostFacts, HostResult, PortState, ScanReport

HEADERS = ("ADDRESS", "NAME", "OS / BUILD", "SMB1", "DIALECTS", "SIGNING", "NULL/GUEST", "FINDINGS")
_MAX_CELL = 40


def clean(text: str | None, limit: int = _MAX_CELL) -> str:
    """Printable, single-line, bounded text (control and format characters dropped)."""
    if not text:
        return ""
    out = "".join(ch if unicodedata.category(ch)[0] not in "CZ" or ch == " " else "?" for ch in text).strip()
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _yn(value: bool | None, yes: str = "yes", no: str = "no") -> str:
    return "?" if value is None else (yes if value else no)


def _address(facts: HostFacts) -> str:
    t = facts.target
    host = f"[{t.address}]" if ":" in t.address else t.address
    return host if t.port == 445 else f"{host}:{t.port}"


def _name(facts: HostFacts) -> str:
    n = facts.ntlm
    for candidate in (
        n.netbios_computer if n else None,
        facts.smb1.server_name if facts.smb1 else None,
        n.dns_computer if n else None,
        facts.target.hostname,
    ):
        if candidate:
            domain = (n.netbios_domain if n else None) or (facts.smb1.primary_domain if facts.smb1 else None)
            if domain and domain.upper() != candidate.upper():
                return clean(f"{domain}\\{candidate}", 32)
            return clean(candidate, 32)
    return ""


def _os(facts: HostFacts) -> str:
    parts: list[str] = []
    if facts.os:
        parts.append(facts.os)
    n = facts.ntlm
    if n and n.os_version and (not facts.os or n.os_version not in facts.os):
        parts.append(f"({n.os_version})")
    if not parts and facts.smb1 and facts.smb1.native_os:
        parts.append(facts.smb1.native_os)
    return clean(" ".join(parts))


def _dialects(facts: HostFacts) -> str:
    if facts.smb2 is None:
        return "?"
    if not facts.smb2.dialects:
        return "none" if facts.smb2.decided else "?"
    text = " ".join(facts.smb2.dialects)
    return text if facts.smb2.decided else text + " ?"


def _signing(facts: HostFacts) -> str:
    s = facts.signing
    if s.required:
        return "required"
    if s.required is False:
        return "enabled" if s.enabled else ("disabled" if s.enabled is False else "not required")
    return "?"


def _sessions(facts: HostFacts) -> str:
    s = facts.sessions
    if s.skipped:
        return "skipped"
    return f"{_yn(s.null)}/{_yn(s.guest)}"


def _findings(result: HostResult) -> str:
    if not result.findings:
        return "-" if result.results or not result.facts.reachable else ""
    worst = max(f.severity for f in result.findings)
    return f"{len(result.findings)} ({worst.label})"


def _row(result: HostResult) -> tuple[str, ...]:
    f = result.facts
    if f.port_state is not PortState.OPEN:
        err = clean(f.errors[0].message, 30) if f.errors else ""
        return (_address(f), "", f.port_state.value + (f": {err}" if err else ""), "", "", "", "", "")
    if f.errors and f.smb1 is None and f.smb2 is None:
        return (_address(f), _name(f), "error: " + clean(f.errors[0].message, 40), "", "", "", "", "")
    smb1 = "?" if f.smb1 is None else _yn(f.smb1.enabled)
    return (_address(f), _name(f), _os(f), smb1, _dialects(f), _signing(f), _sessions(f), _findings(result))


def _sort_key(result: HostResult) -> tuple[int, int, int, int]:
    t = result.facts.target
    try:
        ip = ipaddress.ip_address(t.address.split("%", 1)[0])
        return (0 if result.facts.reachable else 1, ip.version, int(ip), t.port)
    except ValueError:
        return (0 if result.facts.reachable else 1, 9, 0, t.port)


def format_table(rows: Sequence[tuple[str, ...]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows]
    return "\n".join(lines) + "\n"


class TableReporter:
    """Human-readable summary, one line per host, open hosts first."""

    def render(self, report: ScanReport, lang: str = "en") -> str:
        hosts = sorted(report.hosts, key=_sort_key)
        counts: dict[str, int] = {}
        for h in hosts:
            counts[h.facts.port_state.value] = counts.get(h.facts.port_state.value, 0) + 1
        out = ""
        if hosts:
            out = format_table([HEADERS, *(_row(h) for h in hosts)])
        summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
        note = " (interrupted)" if report.info.interrupted else ""
        elapsed = ""
        if report.info.finished:
            elapsed = f" in {(report.info.finished - report.info.started).total_seconds():.2f}s"
        out += f"\n{len(hosts)} hosts scanned{elapsed}{note}: {summary or 'none'}\n"
        return out
