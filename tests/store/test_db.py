"""SQLite scan history: migrations, round trip, no credentials, default path."""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest

from smbguard.errors import StoreError
from smbguard.model import ScanInfo, ScanReport
from smbguard.store import MIGRATIONS, Store, default_db_path, redact_arguments, save_scan
from smbguard.store import db as store_db
from tests.report.sample import fixed_report, sample_report


def test_fresh_database_is_migrated_to_latest(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        assert store.schema_version == len(MIGRATIONS)
        tables = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"scans", "hosts", "findings"} <= tables


def test_migrations_apply_in_order_and_only_once(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    extra = (*MIGRATIONS, "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    with Store(path) as store:
        scan_id = store.save_scan(sample_report())
        store.migrate(extra)
        assert store.schema_version == len(MIGRATIONS) + 1
        store.migrate(extra)  # idempotent: nothing left to apply
        assert store.scan(scan_id).host_count == 5


def test_failed_migration_rolls_back(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        broken = (*MIGRATIONS, "CREATE TABLE ok1 (a); CREATE TABLE scans (a)")
        with pytest.raises(StoreError, match=f"migration {len(MIGRATIONS) + 1}"):
            store.migrate(broken)
        assert store.schema_version == len(MIGRATIONS)
        names = {r[0] for r in store.conn.execute("SELECT name FROM sqlite_master")}
        assert "ok1" not in names


def test_newer_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 5}")
    conn.close()
    with pytest.raises(StoreError, match="newer"):
        Store(path)


def test_save_and_read_back(tmp_path: Path) -> None:
    report = sample_report()
    with Store(tmp_path / "h.sqlite3") as store:
        scan_id = store.save_scan(report)
        row = store.scan(scan_id)
        assert row.host_count == 5 and row.open_count == 4
        assert row.finding_count == sum(len(h.findings) for h in report.hosts) > 0
        assert row.targets == ("192.0.2.0/28",)
        stored = {(f.address, f.id) for f in store.findings(scan_id)}
        expected = {(f.address, f.id) for h in report.hosts for f in h.findings}
        assert stored == expected
        assert ("192.0.2.1", "smb1-enabled") in stored
        hosts = store.hosts(scan_id)
        assert [h.address for h in hosts] == [f"192.0.2.{i}" for i in range(1, 6)]
        assert hosts[0].name == "PC-ACCT01" and hosts[4].port_state == "closed"
        objs = list(store.host_objects(scan_id))
        assert len(objs) == 4 and objs[0]["address"] == "192.0.2.1"
        assert {f["id"] for f in objs[0]["findings"]} >= {"smb1-enabled", "null-session-allowed"}


def test_no_credentials_in_the_database(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    save_scan(sample_report(), path)
    raw = path.read_bytes() + (
        path.with_name(path.name + "-wal").read_bytes()
        if path.with_name(path.name + "-wal").exists()
        else b""
    )
    assert b"S3cret!" not in raw
    with Store(path) as store:
        assert store.scans()[0].arguments[-2:] == ("-p", "***")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["-u", "bob", "-p", "pw"], ["-u", "bob", "-p", "***"]),
        (["--password=pw", "x"], ["--password=***", "x"]),
        (["-H", "aad3b435b51404eeaad3b435b51404ee:31d6cfe0d16ae931b73c59d7e0c089c0"], ["-H", "***"]),
        (["-ppw"], ["-p***"]),
        (["--port", "445"], ["--port", "445"]),
    ],
)
def test_redact_arguments(argv: list[str], expected: list[str]) -> None:
    assert redact_arguments(argv) == expected


def test_scans_listed_newest_first_and_previous_same_targets(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        a = store.save_scan(sample_report())
        other = ScanInfo(
            started=sample_report().info.started,
            finished=None,
            arguments=(),
            version="0.1.0",
            targets=("10.9.9.9", "10.9.9.8"),
        )
        b = store.save_scan(ScanReport(info=other, hosts=()))
        c = store.save_scan(fixed_report())
        assert [s.id for s in store.scans()] == [c, b, a]
        previous = store.previous_same_targets(c)
        assert previous is not None and previous.id == a
        assert store.previous_same_targets(b) is None
        # the same targets in another order are the same target list
        d = store.save_scan(ScanReport(info=replace(other, targets=("10.9.9.8", "10.9.9.9")), hosts=()))
        previous = store.previous_same_targets(d)
        assert previous is not None and previous.id == b
        assert store.scan(b).finished is None and store.scan(b).host_count == 0
        with pytest.raises(StoreError, match="no scan 999"):
            store.scan(999)


def test_default_path_follows_xdg() -> None:
    assert default_db_path({"XDG_DATA_HOME": "/data/x", "HOME": "/home/u"}) == Path(
        "/data/x/smbguard/history.sqlite3"
    )
    assert default_db_path({"HOME": "/home/u"}) == Path("/home/u/.local/share/smbguard/history.sqlite3")
    assert default_db_path({"XDG_DATA_HOME": "relative", "HOME": "/home/u"}) == Path(
        "/home/u/.local/share/smbguard/history.sqlite3"
    )


def test_unwritable_path_is_a_store_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StoreError, match="cannot open"):
        Store(blocker / "sub" / "h.sqlite3")


def _finding_view(store: Store, scan_id: int) -> list[tuple[str, str, str, dict[str, object]]]:
    return [(f.address, f.id, f.confidence, dict(f.evidence)) for f in store.findings(scan_id)]


def test_version_1_database_stays_readable_after_migration(tmp_path: Path) -> None:
    """A database written before migration 2 (evidence inline in findings) reads back the same."""
    path = tmp_path / "h.sqlite3"
    report = sample_report()
    with Store(tmp_path / "ref.sqlite3") as ref:
        expected = _finding_view(ref, ref.save_scan(report))
        expected_objs = list(ref.host_objects(1))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.executescript(MIGRATIONS[0] + "; PRAGMA user_version = 1;")
    conn.execute(
        "INSERT INTO scans VALUES (1, ?, NULL, '0.1.0', '[]', '[]', '[]', 0, ?, ?, ?)",
        (report.info.started.isoformat(), len(report.hosts), 0, 0),
    )
    for seq, h in enumerate(report.hosts):
        conn.execute(
            "INSERT INTO hosts VALUES (1, ?, ?, ?, ?, NULL, ?, ?)",
            (
                seq,
                h.facts.target.address,
                h.facts.target.port,
                h.facts.port_state.value,
                h.facts.os,
                store_db._dumps(store_db.facts_json(h)) if h.facts.reachable or h.findings else None,
            ),
        )
        for f in h.findings:
            conn.execute(
                "INSERT INTO findings VALUES (1, ?, ?, ?, ?, ?, ?)",
                (seq, f.id, int(f.severity), f.confidence.value, f.share, store_db._dumps(f.evidence)),
            )
    conn.close()
    with Store(path) as store:
        assert store.schema_version == len(MIGRATIONS)
        assert _finding_view(store, 1) == expected
        objs = list(store.host_objects(1))
        assert [o["findings"] for o in objs] == [o["findings"] for o in expected_objs]
        # a scan written after the migration reads back the same way next to the old one
        new_id = store.save_scan(report)
        assert _finding_view(store, new_id) == expected
        assert store.conn.execute("SELECT count(*) FROM evidence WHERE scan_id = 1").fetchone()[0] == 0


def test_repeated_evidence_is_stored_once_and_overflow_inline(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = sample_report()
    doubled = ScanReport(info=report.info, hosts=report.hosts + report.hosts)
    with Store(tmp_path / "h.sqlite3") as store:
        with Store(tmp_path / "ref.sqlite3") as ref:
            expected = _finding_view(ref, ref.save_scan(doubled))
        scan_id = store.save_scan(doubled)
        distinct = {store_db._dumps(f.evidence) for h in report.hosts for f in h.findings}
        rows = store.conn.execute("SELECT count(*) FROM evidence WHERE scan_id = ?", (scan_id,)).fetchone()
        assert rows[0] == len(distinct) < sum(len(h.findings) for h in doubled.hosts)
        assert _finding_view(store, scan_id) == expected
        monkeypatch.setattr(store_db, "_EVIDENCE_DISTINCT_MAX", 1)
        capped = store.save_scan(doubled)
        rows = store.conn.execute("SELECT count(*) FROM evidence WHERE scan_id = ?", (capped,)).fetchone()
        assert rows[0] == 1
        inline = store.conn.execute(
            "SELECT count(*) FROM findings WHERE scan_id = ? AND evidence_n IS NULL", (capped,)
        ).fetchone()
        assert inline[0] > 0
        assert _finding_view(store, capped) == expected
