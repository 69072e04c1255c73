"""Compare two stored scans: fixed, new and still-open findings; hosts that came and went.

A finding is identified by ``(address, port, id, share)``. A finding of the old
scan is *fixed* only when its host was reachable again in the new scan and the
finding is gone; if the host is no longer reachable (or not scanned) nothing can
be said about the finding, and the host is listed in ``hosts_disappeared`` with
the findings it had (never counted as fixed).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from smbguard.errors import StoreError
from smbguard.model import ScanReport
from smbguard.store.db import Store, StoredFinding, StoredHost, default_db_path, targets_key

_Key = tuple[str, int, str, str | None]


def _key(f: StoredFinding) -> _Key:
    return (f.address, f.port, f.id, f.share)


def _item(f: StoredFinding) -> dict[str, Any]:
    return {"address": f.address, "port": f.port, "id": f.id, "severity": f.severity.label, "share": f.share}


@dataclass(frozen=True, slots=True)
class ScanDiff:
    old_scan: int
    new_scan: int
    fixed: tuple[dict[str, Any], ...]
    new: tuple[dict[str, Any], ...]
    still_open: tuple[dict[str, Any], ...]
    hosts_appeared: tuple[dict[str, Any], ...]
    hosts_disappeared: tuple[dict[str, Any], ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "old_scan": self.old_scan,
            "new_scan": self.new_scan,
            "fixed": list(self.fixed),
            "new": list(self.new),
            "still_open": list(self.still_open),
            "hosts_appeared": list(self.hosts_appeared),
            "hosts_disappeared": list(self.hosts_disappeared),
        }

    def fixed_counts(self) -> dict[str, int]:
        """Finding id -> number of hosts where it was fixed (for "12 hosts fixed SMB1")."""
        return dict(Counter(i["id"] for i in self.fixed).most_common())

    def new_counts(self) -> dict[str, int]:
        return dict(Counter(i["id"] for i in self.new).most_common())


def diff_scans(store: Store, old_id: int, new_id: int) -> ScanDiff:
    """Diff two stored scans (ids must exist)."""
    store.scan(old_id)
    store.scan(new_id)
    return _diff(
        old_id,
        store.hosts(old_id),
        store.findings(old_id),
        new_id,
        store.hosts(new_id),
        store.findings(new_id),
    )


def diff_report(store: Store, old_id: int, report: ScanReport) -> ScanDiff:
    """Diff a stored scan against a report that is not stored (yet); ``new_scan`` is 0."""
    store.scan(old_id)
    hosts = [
        StoredHost(h.facts.target.address, h.facts.target.port, h.facts.port_state.value, None, h.facts.os)
        for h in report.hosts
    ]
    findings = [
        StoredFinding(f.address, f.port, f.id, f.severity, f.confidence.value, f.share, f.evidence)
        for h in report.hosts
        for f in h.findings
    ]
    return _diff(old_id, store.hosts(old_id), store.findings(old_id), 0, hosts, findings)


def diff_with_previous(report: ScanReport, db: str | Path | None = None) -> ScanDiff | None:
    """The diff between ``report`` and the latest stored scan of the same targets, or None when
    there is no history (the database is never created here) or no earlier scan of those targets."""
    path = Path(db) if db else default_db_path()
    if not path.exists():
        return None
    try:
        with Store(path) as store:
            row = store.conn.execute(
                "SELECT id FROM scans WHERE targets_key = ? ORDER BY id DESC LIMIT 1",
                (targets_key(report.info.targets),),
            ).fetchone()
            return None if row is None else diff_report(store, int(row[0]), report)
    except StoreError:
        return None


def _diff(
    old_id: int,
    old_host_rows: list[StoredHost],
    old_findings: list[StoredFinding],
    new_id: int,
    new_host_rows: list[StoredHost],
    new_findings: list[StoredFinding],
) -> ScanDiff:
    old_hosts = {(h.address, h.port): h for h in old_host_rows}
    new_hosts = {(h.address, h.port): h for h in new_host_rows}
    old_up = {k for k, h in old_hosts.items() if h.reachable}
    new_up = {k for k, h in new_hosts.items() if h.reachable}
    old_f = {_key(f): f for f in old_findings}
    new_f = {_key(f): f for f in new_findings}

    fixed, still, new = [], [], []
    for key, f in old_f.items():
        if key in new_f:
            still.append(_item(new_f[key]))
        elif (f.address, f.port) in new_up:
            fixed.append(_item(f))
    for key, f in new_f.items():
        if key not in old_f:
            new.append(_item(f))

    def host_item(key: tuple[str, int], findings: dict[_Key, StoredFinding]) -> dict[str, Any]:
        host = new_hosts.get(key) or old_hosts[key]
        ids = sorted({f.id for k, f in findings.items() if (k[0], k[1]) == key})
        return {"address": key[0], "port": key[1], "name": host.name, "os": host.os, "findings": ids}

    appeared = [host_item(k, new_f) for k in sorted(new_up - old_up)]
    gone = [host_item(k, old_f) for k in sorted(old_up - new_up)]
    order = _sort_key
    return ScanDiff(
        old_scan=old_id,
        new_scan=new_id,
        fixed=tuple(sorted(fixed, key=order)),
        new=tuple(sorted(new, key=order)),
        still_open=tuple(sorted(still, key=order)),
        hosts_appeared=tuple(appeared),
        hosts_disappeared=tuple(gone),
    )


def _sort_key(item: dict[str, Any]) -> tuple[str, int, str, str]:
    return (item["address"], item["port"], item["id"], item["share"] or "")


def default_pair(store: Store, old: int | None = None, new: int | None = None) -> tuple[int, int]:
    """Resolve ``smbguard diff [OLD] [NEW]``: missing NEW is the latest scan, missing OLD the
    previous scan of the same targets. Raises :class:`StoreError` when there is no such pair."""
    if new is None:
        if old is not None:
            new, old = old, None
        else:
            latest = store.scans(limit=1)
            if not latest:
                raise StoreError("the scan history is empty: run smbguard scan first")
            new = latest[0].id
    if old is None:
        prev = store.previous_same_targets(new)
        if prev is None:
            raise StoreError(f"no earlier scan of the same targets as scan {new}: give OLD explicitly")
        old = prev.id
    return old, new
