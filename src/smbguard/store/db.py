"""Scan history in SQLite (stdlib ``sqlite3``), with schema migrations from day one.

The schema version lives in ``PRAGMA user_version``; ``MIGRATIONS`` is an ordered
list of SQL scripts and opening a database applies the missing ones in one
transaction each. Never edit a released migration: append a new one.

What is stored: one row per scan (start/finish, arguments with secrets redacted,
the target specifications), one row per host (address, port, port state, name,
OS, and its facts as compact JSON), one
row per finding, and each distinct evidence object of a scan once (migration 2).
Credentials are never stored: arguments go through
:func:`redact_arguments` and facts only ever hold account *names*.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import os
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from smbguard.errors import StoreError
from smbguard.model import HostResult, PortState, ScanReport, Severity
from smbguard.redact import redact_arguments

#: Ordered migrations; index + 1 is the ``user_version`` after applying it.
MIGRATIONS: tuple[str, ...] = (
    # 1: scans, hosts, findings
    """
    CREATE TABLE scans (
        id            INTEGER PRIMARY KEY,
        started       TEXT NOT NULL,
        finished      TEXT,
        version       TEXT NOT NULL,
        arguments     TEXT NOT NULL,            -- JSON list, secrets redacted
        targets       TEXT NOT NULL,            -- JSON list of target specs as given
        targets_key   TEXT NOT NULL,            -- canonical form, to find scans of the same targets
        interrupted   INTEGER NOT NULL,
        host_count    INTEGER NOT NULL,
        open_count    INTEGER NOT NULL,
        finding_count INTEGER NOT NULL
    );
    CREATE INDEX scans_targets ON scans (targets_key, id);
    CREATE TABLE hosts (
        scan_id    INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
        seq        INTEGER NOT NULL,            -- order within the scan
        address    TEXT NOT NULL,
        port       INTEGER NOT NULL,
        port_state TEXT NOT NULL,
        name       TEXT,
        os         TEXT,
        data       TEXT,                        -- host JSON object, NULL for closed or filtered hosts
        PRIMARY KEY (scan_id, seq)
    ) WITHOUT ROWID;
    CREATE TABLE findings (
        scan_id    INTEGER NOT NULL,
        seq        INTEGER NOT NULL,            -- hosts.seq
        finding_id TEXT NOT NULL,
        severity   INTEGER NOT NULL,            -- smbguard.model.Severity value
        confidence TEXT NOT NULL,
        share      TEXT,
        evidence   TEXT NOT NULL,               -- JSON object
        FOREIGN KEY (scan_id, seq) REFERENCES hosts (scan_id, seq) ON DELETE CASCADE
    );
    CREATE INDEX findings_scan ON findings (scan_id, seq);
    """,
    # 2: each distinct evidence object stored once per scan (most hosts of a network
    # show the same evidence); findings.evidence stays for rows written before and is
    # '' when evidence_n refers to this table
    """
    CREATE TABLE evidence (
        scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
        n       INTEGER NOT NULL,
        json    TEXT NOT NULL,                -- JSON object
        PRIMARY KEY (scan_id, n)
    ) WITHOUT ROWID;
    ALTER TABLE findings ADD COLUMN evidence_n INTEGER;
    """,
)

#: Distinct evidence texts remembered per scan before further ones are stored inline.
_EVIDENCE_DISTINCT_MAX = 50_000


def default_db_path(environ: Mapping[str, str] | None = None) -> Path:
    """``$XDG_DATA_HOME/smbguard/history.sqlite3``, else ``~/.local/share/smbguard/history.sqlite3``."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_DATA_HOME") or ""
    root = (
        Path(base)
        if base and Path(base).is_absolute()
        else Path(env.get("HOME") or Path.home()) / ".local/share"
    )
    return root / "smbguard" / "history.sqlite3"


def targets_key(targets: Iterable[str]) -> str:
    """Canonical form of a target list: the same set of specs in any order gives the same key."""
    return json.dumps(sorted({t.strip() for t in targets if t.strip()}))


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One stored scan, as ``smbguard history`` lists it."""

    id: int
    started: str
    finished: str | None
    version: str
    arguments: tuple[str, ...]
    targets: tuple[str, ...]
    interrupted: bool
    host_count: int
    open_count: int
    finding_count: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "started": self.started,
            "finished": self.finished,
            "version": self.version,
            "arguments": list(self.arguments),
            "targets": list(self.targets),
            "interrupted": self.interrupted,
            "hosts": self.host_count,
            "open": self.open_count,
            "findings": self.finding_count,
        }


@dataclass(frozen=True, slots=True)
class StoredFinding:
    address: str
    port: int
    id: str
    severity: Severity
    confidence: str
    share: str | None
    evidence: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class StoredHost:
    address: str
    port: int
    port_state: str
    name: str | None
    os: str | None

    @property
    def reachable(self) -> bool:
        return self.port_state == PortState.OPEN.value


def _host_name(result: HostResult) -> str | None:
    facts = result.facts
    if facts.ntlm is not None:
        name = facts.ntlm.dns_computer or facts.ntlm.netbios_computer
        if name:
            return name
    if facts.smb1 is not None and facts.smb1.server_name:
        return facts.smb1.server_name
    return facts.target.hostname


_FIELDS: dict[type, tuple[str, ...]] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})


def compact(value: Any) -> Any:
    """JSON form of facts without ``None`` and empty containers (smaller and ~5x faster
    than the general converter: storing must keep up with 100,000-host scans)."""
    t = type(value)
    if t in _SCALARS:
        return value
    if t is tuple or t is list:
        if all(type(v) is str for v in value):
            return list(value)
        return [compact(v) for v in value]
    fields = _FIELDS.get(t)
    if fields is None:
        if isinstance(value, enum.Enum):
            return value.value
        if isinstance(value, Mapping):
            return {str(k): compact(v) for k, v in value.items()}
        if isinstance(value, datetime):
            return value.isoformat()
        if not dataclasses.is_dataclass(value):
            return value.hex() if isinstance(value, bytes) else str(value)
        fields = _FIELDS[t] = tuple(f.name for f in dataclasses.fields(value))
    out: dict[str, Any] = {}
    for name in fields:
        v = getattr(value, name)
        if v is None or v == () or v == {}:
            continue
        out[name] = v if type(v) in _SCALARS else compact(v)
    return out


def facts_json(result: HostResult) -> dict[str, Any]:
    """What is stored per host: compact facts (the target is in its own columns)."""
    data = compact(result.facts)
    assert isinstance(data, dict)
    data.pop("target", None)
    return data


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return compact(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _dumps(value: Any) -> str:
    return _ENCODER.encode(value)


class Store:
    """An open history database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        try:
            if str(path) != ":memory:":
                self.path.parent.mkdir(parents=True, exist_ok=True)
            self.conn = sqlite3.connect(str(path), isolation_level=None)
            self.conn.execute("PRAGMA foreign_keys = ON")
            self.conn.execute("PRAGMA journal_mode = WAL")
            self.conn.execute("PRAGMA synchronous = NORMAL")
            self.migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(f"cannot open scan history {path}: {exc}") from exc

    # -- schema -----------------------------------------------------------------

    @property
    def schema_version(self) -> int:
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def migrate(self, migrations: Sequence[str] = MIGRATIONS) -> None:
        """Apply the migrations this database has not seen yet, each in its own transaction."""
        current = self.schema_version
        if current > len(migrations):
            raise StoreError(
                f"{self.path} has schema version {current}, newer than this smbguard "
                f"({len(migrations)}): upgrade smbguard"
            )
        for number, script in enumerate(migrations[current:], start=current + 1):
            try:
                self.conn.execute("BEGIN IMMEDIATE")
                for statement in _statements(script):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number}")
                self.conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self.conn.execute("ROLLBACK")
                raise StoreError(f"migration {number} failed: {exc}") from exc

    # -- writing ----------------------------------------------------------------

    def save_scan(self, report: ScanReport) -> int:
        """Store a finished (or interrupted) scan; returns its id. One transaction."""
        info = report.info
        hosts = report.hosts
        open_count = sum(1 for h in hosts if h.facts.reachable)
        finding_count = sum(len(h.findings) for h in hosts)
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            cur = self.conn.execute(
                "INSERT INTO scans (started, finished, version, arguments, targets, targets_key, "
                "interrupted, host_count, open_count, finding_count) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    info.started.isoformat(),
                    info.finished.isoformat() if info.finished else None,
                    info.version,
                    _dumps(redact_arguments(info.arguments)),
                    _dumps(list(info.targets)),
                    targets_key(info.targets),
                    int(info.interrupted),
                    len(hosts),
                    open_count,
                    finding_count,
                ),
            )
            scan_id = cur.lastrowid
            assert scan_id is not None
            self.conn.executemany(
                "INSERT INTO hosts (scan_id, seq, address, port, port_state, name, os, data) "
                "VALUES (?,?,?,?,?,?,?,?)",
                (
                    (
                        scan_id,
                        seq,
                        h.facts.target.address,
                        h.facts.target.port,
                        h.facts.port_state.value,
                        _host_name(h),
                        h.facts.os,
                        _dumps(facts_json(h)) if h.facts.reachable or h.findings else None,
                    )
                    for seq, h in enumerate(hosts)
                ),
            )
            distinct: dict[str, int] = {}

            def finding_rows() -> Iterator[tuple[Any, ...]]:
                for seq, h in enumerate(hosts):
                    for f in h.findings:
                        text = _dumps(f.evidence)
                        n = distinct.get(text)
                        if n is None and len(distinct) < _EVIDENCE_DISTINCT_MAX:
                            n = distinct[text] = len(distinct)
                        inline = text if n is None else ""
                        yield (scan_id, seq, f.id, int(f.severity), f.confidence.value, f.share, inline, n)

            self.conn.executemany(
                "INSERT INTO findings (scan_id, seq, finding_id, severity, confidence, share, evidence, "
                "evidence_n) VALUES (?,?,?,?,?,?,?,?)",
                finding_rows(),
            )
            self.conn.executemany(
                "INSERT INTO evidence (scan_id, n, json) VALUES (?,?,?)",
                ((scan_id, n, text) for text, n in distinct.items()),
            )
            self.conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise StoreError(f"cannot store the scan in {self.path}: {exc}") from exc
        return int(scan_id)

    # -- reading ----------------------------------------------------------------

    def scans(self, limit: int | None = None) -> list[ScanRow]:
        """Stored scans, newest first."""
        sql = "SELECT * FROM scans ORDER BY id DESC"
        params: tuple[int, ...] = ()
        if limit is not None:
            sql += " LIMIT ?"
            params = (limit,)
        return [_scan_row(r) for r in self.conn.execute(sql, params)]

    def scan(self, scan_id: int) -> ScanRow:
        row = self.conn.execute("SELECT * FROM scans WHERE id = ?", (scan_id,)).fetchone()
        if row is None:
            raise StoreError(f"no scan {scan_id} in {self.path}")
        return _scan_row(row)

    def previous_same_targets(self, scan_id: int) -> ScanRow | None:
        """The most recent scan before ``scan_id`` of the same targets, if any."""
        row = self.conn.execute(
            "SELECT * FROM scans WHERE targets_key = (SELECT targets_key FROM scans WHERE id = ?) "
            "AND id < ? ORDER BY id DESC LIMIT 1",
            (scan_id, scan_id),
        ).fetchone()
        return None if row is None else _scan_row(row)

    def hosts(self, scan_id: int) -> list[StoredHost]:
        return [
            StoredHost(address=r[0], port=r[1], port_state=r[2], name=r[3], os=r[4])
            for r in self.conn.execute(
                "SELECT address, port, port_state, name, os FROM hosts WHERE scan_id = ? ORDER BY seq",
                (scan_id,),
            )
        ]

    def host_objects(self, scan_id: int) -> Iterator[dict[str, Any]]:
        """Every host that had data (reachable or with findings) as a JSON object shaped like
        ``smbguard scan --format json`` hosts: address, port, reachable, port_state, the
        stored facts (``None`` values omitted) and ``findings``."""
        findings: dict[int, list[dict[str, Any]]] = {}
        texts = self._evidence_texts(scan_id)
        for seq, fid, sev, conf, share, inline, n in self.conn.execute(
            "SELECT seq, finding_id, severity, confidence, share, evidence, evidence_n "
            "FROM findings WHERE scan_id = ?",
            (scan_id,),
        ):
            evidence = inline if n is None else texts[n]
            findings.setdefault(seq, []).append(
                {
                    "id": fid,
                    "severity": Severity(sev).label,
                    "status": "affected",
                    "confidence": conf,
                    "share": share,
                    "evidence": json.loads(evidence),
                }
            )
        for seq, address, port, state, data in self.conn.execute(
            "SELECT seq, address, port, port_state, data FROM hosts "
            "WHERE scan_id = ? AND data IS NOT NULL ORDER BY seq",
            (scan_id,),
        ):
            obj: dict[str, Any] = {
                "address": address,
                "port": port,
                "reachable": state == "open",
                "port_state": state,
            }
            obj.update(json.loads(data))
            obj["findings"] = sorted(
                findings.get(seq, []), key=lambda f: (-Severity.parse(f["severity"]), f["id"])
            )
            yield obj

    def _evidence_texts(self, scan_id: int) -> dict[int, str]:
        """The scan's distinct evidence JSON texts by number (empty for scans stored
        before migration 2, whose findings hold their evidence inline)."""
        return dict(self.conn.execute("SELECT n, json FROM evidence WHERE scan_id = ?", (scan_id,)))

    def findings(self, scan_id: int) -> list[StoredFinding]:
        texts = self._evidence_texts(scan_id)
        return [
            StoredFinding(
                address=r[0],
                port=r[1],
                id=r[2],
                severity=Severity(r[3]),
                confidence=r[4],
                share=r[5],
                evidence=json.loads(r[6] if r[7] is None else texts[r[7]]),
            )
            for r in self.conn.execute(
                "SELECT h.address, h.port, f.finding_id, f.severity, f.confidence, f.share, "
                "f.evidence, f.evidence_n "
                "FROM findings f JOIN hosts h ON h.scan_id = f.scan_id AND h.seq = f.seq "
                "WHERE f.scan_id = ? ORDER BY f.seq, f.severity DESC, f.finding_id",
                (scan_id,),
            )
        ]

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _statements(script: str) -> list[str]:
    """Split a migration script on ``;`` (our scripts hold no string literals with ``;``)."""
    return [s.strip() for s in script.split(";") if s.strip()]


def _scan_row(r: sqlite3.Row | tuple[Any, ...]) -> ScanRow:
    return ScanRow(
        id=r[0],
        started=r[1],
        finished=r[2],
        version=r[3],
        arguments=tuple(json.loads(r[4])),
        targets=tuple(json.loads(r[5])),
        interrupted=bool(r[7]),
        host_count=r[8],
        open_count=r[9],
        finding_count=r[10],
    )


def save_scan(report: ScanReport, path: Path | str | None = None) -> int:
    """Open the history (default per-user path), store ``report``, return the new scan id."""
    with Store(default_db_path() if path is None else path) as store:
        return store.save_scan(report)
