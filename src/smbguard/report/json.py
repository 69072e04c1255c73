"""JSON and JSON Lines output: the machine contract (docs/json-output.md).

``{"scan": {...}, "hosts": [...]}`` for ``json``; one host object per line,
written as each host finishes, for ``jsonl``. Both are validated against
``smbguard/schema/scan.schema.json`` by the tests. Every host object has the
same keys whatever was learned: a fact nobody could establish is ``null``.
"""

from __future__ import annotations

import dataclasses
import json
import json.encoder
import operator
import shutil
import tempfile
from typing import IO, Any

from smbguard.model import HostResult, ScanInfo, ScanReport, jsonable

SCHEMA_VERSION = 1

_SMB1_EMPTY: dict[str, Any] = {
    "enabled": None,
    "dialect": None,
    "signing_enabled": None,
    "signing_required": None,
    "capabilities": [],
    "native_os": None,
    "native_lan_manager": None,
    "primary_domain": None,
    "server_name": None,
    "system_time": None,
    "reason": "not probed",
}


def _smb2_empty() -> dict[str, Any]:
    from smbguard.model import Smb2Facts

    out = jsonable(Smb2Facts(reason="not probed"))
    assert isinstance(out, dict)
    return out


def _ntlm(value: Any) -> dict[str, Any]:
    from smbguard.model import NtlmInfo

    info = value if isinstance(value, NtlmInfo) else NtlmInfo()
    out = jsonable(info)
    assert isinstance(out, dict)
    out["version"] = info.os_version
    out["build"] = info.os_build
    return out


# Fields that vary on a host the probes learned nothing about (closed, filtered).
_VARYING = ("target", "port_state", "connect_ms", "started", "finished", "errors")


def _bare_template() -> tuple[dict[str, Any], dict[str, Any]]:
    from smbguard.model import HostFacts

    blank = _blank()
    defaults = {
        f.name: getattr(blank, f.name) for f in dataclasses.fields(HostFacts) if f.name not in _VARYING
    }
    return defaults, _full_dict(HostResult(blank))


def _full_dict(result: HostResult) -> dict[str, Any]:
    facts = result.facts
    raw = jsonable(facts)
    assert isinstance(raw, dict)
    raw.pop("target", None)
    target = facts.target
    out: dict[str, Any] = {
        "address": target.address,
        "port": target.port,
        "hostname": target.hostname,
        "reachable": facts.reachable,
        "port_state": facts.port_state.value,
    }
    for key, value in raw.items():
        out[key] = value
    if out.get("smb1") is None:
        out["smb1"] = dict(_SMB1_EMPTY)
    if out.get("smb2") is None:
        out["smb2"] = _smb2_empty()
    out["ntlm"] = _ntlm(facts.ntlm)
    out["findings"] = [f.to_dict() for f in result.findings]
    out["checks"] = [
        {
            "id": r.check_id,
            "status": r.status.value,
            "confidence": r.confidence.value,
            "share": r.share,
            "reason": r.reason,
        }
        for r in result.results
    ]
    return out


_BARE: tuple[dict[str, Any], dict[str, Any]] | None = None
_BARE_CHUNKS: tuple[list[str], list[str]] | None = None
_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


_DEFAULTS_GETTER: Any = None
_DEFAULTS_VALUES: tuple[Any, ...] = ()


def _is_bare(result: HostResult) -> bool:
    global _BARE, _DEFAULTS_GETTER, _DEFAULTS_VALUES
    if _BARE is None:
        _BARE = _bare_template()
        _DEFAULTS_GETTER = operator.attrgetter(*_BARE[0])
        _DEFAULTS_VALUES = tuple(_BARE[0].values())
    if result.findings or result.results:
        return False
    # one C-level tuple comparison (identity first, then ==) instead of a loop
    return bool(_DEFAULTS_GETTER(result.facts) == _DEFAULTS_VALUES)


def _bare_chunks() -> tuple[list[str], list[str]]:
    """The compact JSON of a bare host cut around its varying values."""
    global _BARE_CHUNKS
    if _BARE_CHUNKS is None:
        if _BARE is None:
            _is_bare(HostResult(_blank()))
        assert _BARE is not None
        template = dict(_BARE[1])
        keys = [k for k in template if k in _BARE_KEYS]
        for i, k in enumerate(keys):
            template[k] = f"@@smbguard-{i}@@"
        text = _COMPACT.encode(template)
        chunks = []
        for i in range(len(keys)):
            head, text = text.split(f'"@@smbguard-{i}@@"', 1)
            chunks.append(head)
        chunks.append(text)
        _BARE_CHUNKS = (keys, chunks)
    return _BARE_CHUNKS


_BARE_KEYS = (
    "address",
    "port",
    "hostname",
    "reachable",
    "port_state",
    "connect_ms",
    "started",
    "finished",
    "errors",
)


def _blank() -> Any:
    from smbguard.model import HostFacts, PortState, Target

    return HostFacts(target=Target("0.0.0.0"), port_state=PortState.CLOSED)


def host_json(result: HostResult) -> str:
    """Compact JSON of one host (same text as encoding :func:`host_to_dict`)."""
    if not _is_bare(result):
        return _COMPACT.encode(host_to_dict(result))
    keys, chunks = _bare_chunks()
    values = _bare_values(result)
    parts = [chunks[0]]
    for i, k in enumerate(keys):
        parts.append(_errors_json(result.facts.errors) if k == "errors" else _encode_scalar(values[k]))
        parts.append(chunks[i + 1])
    return "".join(parts)


def _errors_json(errors: tuple[Any, ...]) -> str:
    """The errors list of a sweep repeats (every refused port says the same): cache it."""
    text = _ERRORS_JSON.get(errors)
    if text is None:
        text = _COMPACT.encode([e.to_dict() for e in errors])
        if len(_ERRORS_JSON) < 1024:
            _ERRORS_JSON[errors] = text
    return text


_encode_str: Any = json.encoder.encode_basestring
_ERRORS_JSON: dict[tuple[Any, ...], str] = {}


def _encode_scalar(value: Any) -> str:
    """json.dumps for the few value types of a bare host, minus the encoder set-up."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if type(value) is str:
        return str(_encode_str(value))
    if type(value) is int:
        return int.__repr__(value)
    return _COMPACT.encode(value)


def _bare_values(result: HostResult) -> dict[str, Any]:
    facts = result.facts
    t = facts.target
    return {
        "address": t.address,
        "port": t.port,
        "hostname": t.hostname,
        "reachable": facts.reachable,
        "port_state": facts.port_state.value,
        "connect_ms": facts.connect_ms,
        "started": facts.started.isoformat() if facts.started else None,
        "finished": facts.finished.isoformat() if facts.finished else None,
        "errors": [e.to_dict() for e in facts.errors],
    }


def host_to_dict(result: HostResult) -> dict[str, Any]:
    """The JSON object of one host (see docs/json-output.md).

    A host nothing was learned about (most of a sweep) is filled from a template
    instead of walking every dataclass: same keys, same values, much faster."""
    if not _is_bare(result):
        return _full_dict(result)
    assert _BARE is not None
    out = dict(_BARE[1])
    out.update(_bare_values(result))
    return out


def scan_to_dict(info: ScanInfo, hosts: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "started": info.started.isoformat(),
        "finished": info.finished.isoformat() if info.finished else None,
        "arguments": list(info.arguments),
        "version": info.version,
        "targets": list(info.targets),
        "interrupted": info.interrupted,
    }
    if hosts is not None:
        out["host_count"] = hosts
    return out


def report_to_dict(report: ScanReport) -> dict[str, Any]:
    return {
        "scan": scan_to_dict(report.info, len(report.hosts)),
        "hosts": [host_to_dict(h) for h in report.hosts],
    }


class JsonReporter:
    """The whole report as one JSON document."""

    def render(self, report: ScanReport, lang: str = "en") -> str:
        # One host per line: readable, diffable, and fast (the C encoder does
        # not run when indent is set).
        scan = json.dumps(scan_to_dict(report.info, len(report.hosts)), ensure_ascii=False)
        hosts = ",\n".join("    " + host_json(h) for h in report.hosts)
        body = f"[\n{hosts}\n  ]" if hosts else "[]"
        return f'{{\n  "scan": {scan},\n  "hosts": {body}\n}}\n'


class JsonStreamWriter:
    """Writes the same document as :class:`JsonReporter` without holding the hosts:
    each host is spooled to a temporary file as it finishes; :meth:`finish` writes
    the ``scan`` header (known only at the end) and copies the hosts after it."""

    def __init__(self) -> None:
        self._spool = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - closed in finish
        self.count = 0

    def host(self, host: HostResult) -> None:
        self._spool.write(("    " if self.count == 0 else ",\n    ") + host_json(host))
        self.count += 1

    def finish(self, info: ScanInfo, out: IO[str]) -> None:
        scan = json.dumps(scan_to_dict(info, self.count), ensure_ascii=False)
        out.write(f'{{\n  "scan": {scan},\n  "hosts": ')
        if self.count:
            out.write("[\n")
            self._spool.seek(0)
            shutil.copyfileobj(self._spool, out)
            out.write("\n  ]")
        else:
            out.write("[]")
        out.write("\n}\n")
        self._spool.close()


class JsonLinesReporter:
    """One host object per line, as hosts finish; nothing else."""

    def render_host(self, host: HostResult, lang: str = "en") -> str:
        return host_json(host) + "\n"

    def render(self, report: ScanReport, lang: str = "en") -> str:
        return ""
