"""Detectors over real files (findings verified by reading the events) and over small
synthetic event streams for the behavioural thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from smbguard.logs.analyze import analyze
from smbguard.logs.detectors import (
    DETECTOR_IDS,
    AdminShareDetector,
    FailedLogonDetector,
    RansomwareDetector,
    Thresholds,
    default_detectors,
)
from smbguard.logs.events import Event, EventKind
from smbguard.model import Severity

EVTX = "evtx"
T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


def _by_id(findings: tuple) -> dict[str, list]:  # type: ignore[type-arg]
    out: dict[str, list] = {}  # type: ignore[type-arg]
    for f in findings:
        out.setdefault(f.id, []).append(f)
    return out


def test_scheduled_task_lateral_movement(shared_data: Path) -> None:
    result = analyze(
        [str(shared_data / EVTX / "evtx-attack-samples/LM_ScheduledTask_ATSVC_target_host.evtx")]
    )
    found = _by_id(result.findings)
    assert set(found) == {"admin-share-access", "anonymous-logon"}
    (admin,) = found["admin-share-access"]
    assert admin.key == "admin-share-access|10.0.2.17|Administrator|WIN-77LTAPHIQ1R.example.corp"
    assert admin.evidence["targets"] == {"ADMIN$": 7, "IPC$\\atsvc": 1}
    assert admin.evidence["count"] == 8
    assert admin.evidence["first_seen"] == "2019-03-19T00:02:04.241919+00:00"
    assert admin.evidence["last_seen"] == "2019-03-19T00:02:07.523676+00:00"
    assert admin.severity is Severity.MEDIUM
    (anon,) = found["anonymous-logon"]
    assert anon.evidence["count"] == 1 and anon.evidence["clients"] == ["10.0.2.17"]


def test_anonymous_ntlm_v1_is_not_reported_as_ntlmv1(shared_data: Path) -> None:
    files = [
        "evtx-attack-samples/DE_RDP_Tunneling_4624.evtx",
        "evtx-to-mitre-attack/ID4624-Anonymous_login_with_domain_specified_DonPapi.evtx",
        "evtx-attack-samples/Zerologon_VoidSec_CVE-2020-1472_4626_LT3_Anonym_follwedby_4742_DC_Anony_DC.evtx",
    ]
    result = analyze([str(shared_data / EVTX / f) for f in files])
    found = _by_id(result.findings)
    assert "ntlmv1-logon" not in found  # only ANONYMOUS LOGON events carry "NTLM V1" here
    anon = {f.key: f.evidence["count"] for f in found["anonymous-logon"]}
    assert anon == {
        "anonymous-logon|10.0.2.17|PC02.example.corp": 2,
        "anonymous-logon|unknown|PC02.example.corp": 1,
        "anonymous-logon|10.23.123.11|fs03vuln.offsec.lan": 1,
        "anonymous-logon|172.16.66.37|01566s-win16-ir.threebeesco.com": 2,
    }


def test_local_brute_force_threshold(shared_data: Path) -> None:
    path = str(shared_data / EVTX / "evtx-to-mitre-attack/ID_4776_4625-AccountRestore_local_bruteforce.evtx")
    assert analyze([path]).findings == ()  # 8 failures per account: under the default 10
    result = analyze([path], Thresholds(brute_force_failures=8, spray_accounts=2))
    found = _by_id(result.findings)
    (brute,) = found["smb-brute-force"]
    assert brute.key == "smb-brute-force|WIN"
    assert brute.evidence["count"] == 16
    assert brute.evidence["accounts"] == {"WIN\\Admin": 8, "WIN\\Administrator": 8}
    assert brute.evidence["statuses"] == {"0xc000006a": 16}
    assert brute.evidence["first_seen"] == "2023-09-25T20:39:50.822397+00:00"
    assert brute.evidence["last_seen"] == "2023-09-25T20:39:50.836430+00:00"
    assert brute.severity is Severity.HIGH
    assert [f.key for f in found["password-spraying"]] == ["password-spraying|WIN"]


def test_samba_auth_spraying(shared_data: Path) -> None:
    path = str(shared_data / "logs/samba/crowdsec-hub_smb-logs.log")
    result = analyze([path], Thresholds(spray_accounts=2))
    (spray,) = result.findings
    assert spray.id == "password-spraying" and spray.key == "password-spraying|172.17.0.1"
    assert spray.evidence["accounts"] == {"WORKGROUP\\root": 1, "WORKGROUP\\administrator": 1}
    assert spray.evidence["statuses"] == {"NT_STATUS_NO_SUCH_USER": 1, "NT_STATUS_WRONG_PASSWORD": 1}


def test_share_created_and_permissions_changed(shared_data: Path) -> None:
    files = [
        "evtx-to-mitre-attack/ID5142-_New_file_share_created.evtx",
        "evtx-to-mitre-attack/ID5143-File_share_permissions_changed.evtx",
    ]
    found = _by_id(analyze([str(shared_data / EVTX / f) for f in files]).findings)
    (created,) = found["share-created"]
    assert created.key == "share-created|fs02.offsec.lan|hidden-share$"
    assert created.evidence["accounts"] == {"OFFSEC\\admmig": 1}
    assert created.evidence["first_seen"] == "2020-07-11T17:16:20.913779+00:00"
    (changed,) = found["share-permissions-changed"]
    assert changed.key == "share-permissions-changed|fs02.offsec.lan|hidden-share$"
    # the C$ browsing in both files is admin-share access by admmig from 10.23.23.9
    assert [f.key for f in found["admin-share-access"]] == [
        "admin-share-access|10.23.23.9|admmig|fs02.offsec.lan"
    ]


def test_eternalsafety_notices(shared_data: Path) -> None:
    result = analyze(
        [str(shared_data / "logs/zeek-eternalsafety-notices/eternal-safety.wannacry__notice.log")]
    )
    assert {f.id for f in result.findings} == {"ms17-010-exploit-traffic"}
    assert len(result.findings) == 6  # one per attacker/target pair (cut -f1,3 | sort -u)
    assert all(f.severity is Severity.CRITICAL for f in result.findings)


def test_files_that_must_raise_nothing(shared_data: Path) -> None:
    quiet = [
        shared_data / EVTX / "evtx-attack-samples/CVE-2020-0796_SMBV3Ghost_LocalPrivEsc_Sysmon_3_1_10.evtx",
        shared_data / EVTX / "evtx-attack-samples/persist_valid_account_guest_rid_hijack.evtx",
        shared_data / EVTX / "evtx-attack-samples/CA_4624_4625_LogonType2_LogonProc_chrome.evtx",
        shared_data / "logs/samba/udmo-learn1_log.smbd",
        shared_data / "logs/zeek-maccdc2012-cyberspatiallabs",
        shared_data / "logs/zeek-btest-baselines/smb.smb3-multichannel__smb_files.log",
    ]
    result = analyze([str(p) for p in quiet])
    assert result.findings == ()
    assert all(s.type != "unknown" for s in result.sources if not s.path.endswith("README.md"))


def test_unknown_files_are_reported_not_dropped(shared_data: Path) -> None:
    result = analyze([str(shared_data / "logs/samba/timlok-otus-linux_smb.conf")])
    (source,) = result.sources
    assert source.type == "unknown" and source.skipped == 1 and source.warnings


def _ev(kind: EventKind, seconds: float, **fields: object) -> Event:
    return Event(kind=kind, source="t", event_id="t", time=T0 + timedelta(seconds=seconds), **fields)  # type: ignore[arg-type]


def test_brute_force_window_slides() -> None:
    detector = FailedLogonDetector(Thresholds(brute_force_failures=5, brute_force_window=60))
    # 4 failures, then a pause longer than the window, then 4 more: never 5 inside 60 s
    for i in range(4):
        assert detector.feed(_ev(EventKind.LOGON_FAILURE, i, src_ip="10.0.0.9", user="bob")) == []
    for i in range(4):
        assert detector.feed(_ev(EventKind.LOGON_FAILURE, 120 + i, src_ip="10.0.0.9", user="bob")) == []
    alerts = detector.feed(_ev(EventKind.LOGON_FAILURE, 124, src_ip="10.0.0.9", user="bob"))
    assert [a.id for a in alerts] == ["smb-brute-force"]
    assert detector.feed(_ev(EventKind.LOGON_FAILURE, 125, src_ip="10.0.0.9", user="bob")) == []  # once
    detector.feed(_ev(EventKind.LOGON, 126, src_ip="10.0.0.9", user="bob"))
    (final,) = detector.findings()
    assert final.evidence["count"] == 10
    assert final.evidence["accounts_later_successful"] == ["bob"]


def test_ransomware_mass_rename() -> None:
    detector = RansomwareDetector(Thresholds(ransomware_files=50, ransomware_window=60))
    alerts = []
    for i in range(60):
        alerts += detector.feed(
            _ev(
                EventKind.FILE_RENAME,
                i * 0.5,
                src_ip="10.0.0.7",
                server="fs",
                share="data",
                path=f"d{i % 4}\\f{i}.docx",
                new_path=f"d{i % 4}\\f{i}.docx.crab",
            )
        )
    assert len(alerts) == 1
    (finding,) = detector.findings()
    assert finding.id == "ransomware-like-activity"
    assert finding.key == "ransomware-like-activity|10.0.0.7|fs|data"
    assert "known ransomware extension .crab" in finding.evidence["reasons"]  # type: ignore[operator]
    assert finding.evidence["new_extensions"] == {"crab": 60}


def test_ransomware_not_triggered_by_slow_normal_edits() -> None:
    detector = RansomwareDetector(Thresholds(ransomware_files=50, ransomware_window=60))
    for i in range(200):  # one save every 10 s: 6 per window
        detector.feed(_ev(EventKind.FILE_WRITE, i * 10, src_ip="10.0.0.7", share="data", path=f"f{i}.txt"))
    assert detector.findings() == []


def test_ransom_notes_in_many_directories() -> None:
    detector = RansomwareDetector(Thresholds())
    for i in range(3):
        detector.feed(
            _ev(EventKind.FILE_WRITE, i, src_ip="10.0.0.8", share="s", path=f"dir{i}\\HOW_TO_DECRYPT.txt")
        )
    (finding,) = detector.findings()
    assert finding.evidence["ransom_note_directories"] == ["dir0", "dir1", "dir2"]


def test_admin_allowlist() -> None:
    allow = AdminShareDetector(Thresholds(admin_allowlist=frozenset({"10.0.0.1"})))
    event = _ev(EventKind.SHARE_CONNECT, 0, src_ip="10.0.0.1", share="ADMIN$", user="admin")
    assert allow.feed(event) == []
    other = _ev(EventKind.FILE_ACCESS, 0, src_ip="10.0.0.2", share="IPC$", path="svcctl", user="admin")
    assert [f.id for f in allow.feed(other)] == ["admin-share-access"]
    assert allow.feed(_ev(EventKind.FILE_ACCESS, 1, src_ip="10.0.0.2", share="IPC$", path="srvsvc")) == []


def test_every_detector_id_has_a_log_catalog_entry() -> None:
    from smbguard.catalog.loader import load_catalog

    catalog = load_catalog()
    assert sorted(DETECTOR_IDS) == sorted(catalog.ids(kind="log"))
    assert len(default_detectors()) == 9
