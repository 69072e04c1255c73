"""Scan comparison: fixed / new / still open, hosts appeared / disappeared."""

from __future__ import annotations

from pathlib import Path

import pytest

from smbguard.errors import StoreError
from smbguard.store import Store, default_pair, diff_scans
from tests.report.sample import fixed_report, sample_report


def test_diff_of_sample_network(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        old = store.save_scan(sample_report())
        new = store.save_scan(fixed_report())
        d = diff_scans(store, old, new).to_dict()
    fixed = {(i["address"], i["id"]) for i in d["fixed"]}
    # PC-ACCT01 (192.0.2.1) had SMB1 removed and port 139 closed.
    assert ("192.0.2.1", "smb1-enabled") in fixed
    assert ("192.0.2.1", "netbios-session-exposed") in fixed
    # NAS01 (192.0.2.2) is now filtered: its findings are not "fixed", the host disappeared.
    assert not any(a == "192.0.2.2" for a, _ in fixed)
    assert [h["address"] for h in d["hosts_disappeared"]] == ["192.0.2.2"]
    assert "guest-access-allowed" in d["hosts_disappeared"][0]["findings"]
    # 192.0.2.5 was closed and is now an unpatched Windows 7.
    assert [h["address"] for h in d["hosts_appeared"]] == ["192.0.2.5"]
    new_items = {(i["address"], i["id"]) for i in d["new"]}
    assert ("192.0.2.5", "smb1-enabled") in new_items
    still = {(i["address"], i["id"]) for i in d["still_open"]}
    assert ("192.0.2.4", "smb1-enabled") in still and ("192.0.2.1", "null-session-allowed") in still
    assert not (fixed & still) and not (new_items & still)
    for item in d["fixed"] + d["new"] + d["still_open"]:
        assert {"address", "port", "id", "severity"} <= set(item)


def test_default_pair(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        with pytest.raises(StoreError, match="empty"):
            default_pair(store)
        a = store.save_scan(sample_report())
        with pytest.raises(StoreError, match="no earlier scan"):
            default_pair(store)
        b = store.save_scan(fixed_report())
        assert default_pair(store) == (a, b)
        assert default_pair(store, b) == (a, b)
        assert default_pair(store, a, b) == (a, b)


def test_identical_scans_have_no_changes(tmp_path: Path) -> None:
    with Store(tmp_path / "h.sqlite3") as store:
        a = store.save_scan(sample_report())
        b = store.save_scan(sample_report(minutes=5))
        d = diff_scans(store, a, b)
    assert d.fixed == d.new == d.hosts_appeared == d.hosts_disappeared == ()
    assert len(d.still_open) == store_count(tmp_path)


def store_count(tmp_path: Path) -> int:
    with Store(tmp_path / "h.sqlite3") as store:
        return store.scan(1).finding_count


def test_diff_against_an_unsaved_report(tmp_path: Path) -> None:
    from smbguard.store.diff import diff_report, diff_with_previous

    path = tmp_path / "h.sqlite3"
    assert diff_with_previous(sample_report(), path) is None
    assert not path.exists()  # never created just to look
    with Store(path) as store:
        old = store.save_scan(sample_report())
        stored_new = store.save_scan(fixed_report())
        expected = diff_scans(store, old, stored_new).to_dict()
        live = diff_report(store, old, fixed_report()).to_dict()
    for key in ("fixed", "new", "still_open"):
        assert live[key] == expected[key]
    assert [h["address"] for h in live["hosts_appeared"]] == ["192.0.2.5"]
    d = diff_with_previous(fixed_report(), path)
    assert d is not None and d.old_scan == stored_new and d.new_scan == 0
