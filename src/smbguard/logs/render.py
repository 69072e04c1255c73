"""Text renderings of log findings: json, jsonl, table (terminal) and Markdown."""

from __future__ import annotations

import json
from collections.abc import Sequence

from smbguard.logs.events import SourceStats
from smbguard.logs.findings import LogFinding, title_of
from smbguard.model import JsonValue

FORMATS = ("json", "jsonl", "table", "md")


def _clean(text: str, limit: int = 200) -> str:
    """One printable line (log content is untrusted: no control characters reach the terminal)."""
    out = "".join(ch if ch.isprintable() else "?" for ch in text.replace("\n", " "))
    return out if len(out) <= limit else out[: limit - 1] + "…"


def to_json(document: dict[str, JsonValue]) -> str:
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def finding_line(finding: LogFinding) -> str:
    return json.dumps(finding.to_dict(), ensure_ascii=False, separators=(",", ":"))


def table(findings: Sequence[LogFinding], sources: Sequence[SourceStats], lang: str = "en") -> str:
    lines: list[str] = []
    if not findings:
        lines.append("No findings." if lang == "en" else "沒有發現。")
    width = max((len(f.id) for f in findings), default=10)
    for f in findings:
        lines.append(f"{f.severity.label.upper():8} {f.id:{width}}  {_clean(title_of(f.id, lang), 60)}")
        lines.append(f"{'':8} {'':{width}}  {_clean(f.summary, 300)}")
    if sources:
        lines.append("")
        lines.append(f"{'TYPE':16} {'EVENTS':>8} {'RECORDS':>9} {'SKIPPED':>8}  PATH")
        for s in sources:
            lines.append(f"{s.type:16} {s.events:8d} {s.records:9d} {s.skipped:8d}  {_clean(s.path, 120)}")
            for message, count in sorted(s.warnings.items()):
                lines.append(f"{'':16} warning ({count}x): {_clean(message, 150)}")
    return "\n".join(lines) + "\n"


def _md(text: str) -> str:
    return _clean(text, 500).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def markdown(findings: Sequence[LogFinding], sources: Sequence[SourceStats], lang: str = "en") -> str:
    lines = ["# smbguard: log analysis" if lang == "en" else "# smbguard：記錄檔分析", ""]
    if not findings:
        lines += ["No findings." if lang == "en" else "沒有發現。", ""]
    for f in findings:
        lines.append(f"## {f.severity.label.upper()} `{f.id}`: {_md(title_of(f.id, lang))}")
        lines.append("")
        lines.append(_md(f.summary))
        lines.append("")
        for key, value in f.evidence.items():
            if value in (None, [], {}):
                continue
            rendered = json.dumps(value, ensure_ascii=False) if not isinstance(value, str) else value
            lines.append(f"- **{key}**: {_md(rendered)}")
        lines.append("")
    if sources:
        lines += [
            "## Sources",
            "",
            "| type | events | records | skipped | path | warnings |",
            "|---|---:|---:|---:|---|---|",
        ]
        for s in sources:
            warn = "; ".join(f"{m} ({c}x)" for m, c in sorted(s.warnings.items()))
            lines.append(
                f"| {s.type} | {s.events} | {s.records} | {s.skipped} | {_md(s.path)} | {_md(warn)} |"
            )
        lines.append("")
    return "\n".join(lines)
