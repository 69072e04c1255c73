"""EVTX and exported Windows event XML/JSON, on the real files in ../shared/data/evtx.

Expected counts were checked by hand against SOURCES.md (its per-file EventID
tallies) and against the raw record XML rendered by the evtx library.
"""

# ruff: noqa: E501  (recorded event XML is kept on one line)

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import evtx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.events import EventKind
from smbguard.logs.winevent import EventJsonSource, EventXmlSource, EvtxSource, event_from_xml, parse_time

DONPAPI = "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"


def _events(path: Path) -> tuple[EvtxSource, list]:  # type: ignore[type-arg]
    source = EvtxSource(str(path))
    return source, list(source.events())


def test_donpapi_counts_and_time_range(shared_data: Path) -> None:
    source, events = _events(shared_data / DONPAPI)
    assert source.stats.records == 750
    assert Counter(e.event_id for e in events) == {"5145": 348, "5140": 338, "4624": 15}
    assert source.stats.events == 701
    assert source.stats.skipped == 0
    assert source.stats.first_time == datetime(2021, 12, 12, 7, 15, 56, 716780, tzinfo=UTC)
    assert source.stats.last_time == datetime(2021, 12, 12, 7, 16, 5, 959750, tzinfo=UTC)
    logons = Counter((e.user, e.src_ip) for e in events if e.event_id == "4624")
    assert logons == {("admmig", "10.23.123.11"): 14, ("ANONYMOUS LOGON", "10.23.123.11"): 1}
    shares = Counter(e.share for e in events if e.event_id == "5140")
    assert set(shares) == {"C$", "IPC$", "ADMIN$"}
    # uninterpreted IDs are counted in one warning, not silently dropped
    assert any("4688" in w for w in source.stats.warnings)


def test_anonymous_count_matches_raw_xml(shared_data: Path) -> None:
    path = shared_data / "evtx/evtx-attack-samples/DE_RDP_Tunneling_4624.evtx"
    raw = sum(1 for r in evtx.PyEvtxParser(str(path)).records() if ">ANONYMOUS LOGON</Data>" in r["data"])
    _, events = _events(path)
    ours = [e for e in events if e.user == "ANONYMOUS LOGON"]
    assert raw == len(ours) == 3
    assert all(e.lm_package == "NTLM V1" and e.logon_type == 3 for e in ours)
    assert Counter(e.src_ip for e in ours) == {"10.0.2.17": 2, None: 1}


def test_5145_access_list_maps_to_write_and_delete(shared_data: Path) -> None:
    _, events = _events(shared_data / "evtx/evtx-attack-samples/LM_ScheduledTask_ATSVC_target_host.evtx")
    file_events = [e for e in events if e.event_id == "5145"]
    assert len(file_events) == 5
    kinds = Counter((e.kind, e.share, e.path) for e in file_events)
    assert kinds[(EventKind.FILE_DELETE, "ADMIN$", "Temp\\CYAlyNSS.tmp")] == 1  # %%1537 DELETE
    assert kinds[(EventKind.FILE_ACCESS, "IPC$", "atsvc")] == 1  # pipe write is not a file write
    failures = [e for e in events if e.kind is EventKind.LOGON_FAILURE]
    assert failures == []


def test_share_created_and_changed_fields(shared_data: Path) -> None:
    _, events = _events(shared_data / "evtx/evtx-to-mitre-attack/ID5143-File_share_permissions_changed.evtx")
    (changed,) = [e for e in events if e.kind is EventKind.SHARE_CHANGED]
    assert changed.share == "hidden-share$"
    assert changed.user == "admmig" and changed.domain == "OFFSEC"
    assert changed.server == "fs02.offsec.lan"
    assert changed.detail is not None and changed.detail.startswith("O:BAG:DUD:(A;;0x1200a9;;;WD) -> ")


def test_sysmon_only_file_gives_no_events(shared_data: Path) -> None:
    source, events = _events(
        shared_data / "evtx/evtx-attack-samples/CVE-2020-0796_SMBV3Ghost_LocalPrivEsc_Sysmon_3_1_10.evtx"
    )
    assert events == []
    assert source.stats.records == 4
    assert source.stats.skipped == 0


def test_truncated_evtx_keeps_complete_chunks(shared_data: Path, tmp_path: Path) -> None:
    data = (shared_data / DONPAPI).read_bytes()
    cut = tmp_path / "cut.evtx"
    cut.write_bytes(data[: 4096 + 65536 + 30000])  # header, chunk 1, part of chunk 2
    source, events = _events(cut)
    assert source.stats.records == 92  # every record of the first chunk
    assert len(events) > 0
    assert any("truncated" in w for w in source.stats.warnings)


def test_corrupt_chunk_is_skipped_and_rest_is_read(shared_data: Path, tmp_path: Path) -> None:
    data = bytearray((shared_data / DONPAPI).read_bytes())
    data[4096 + 65536 + 1000 : 4096 + 65536 + 3000] = b"\xff" * 2000  # damage chunk 2
    bad = tmp_path / "bad.evtx"
    bad.write_bytes(bytes(data))
    source, _ = _events(bad)
    assert source.stats.skipped == 1
    assert any("corrupt" in w for w in source.stats.warnings)
    assert 0 < source.stats.records < 750
    assert source.stats.records > 92  # chunks after the damaged one were read too


def test_not_an_evtx_file(tmp_path: Path) -> None:
    junk = tmp_path / "junk.evtx"
    junk.write_bytes(b"ElfFile\x00" + b"\x00" * 100)
    source, events = _events(junk)
    assert events == []
    assert source.stats.warnings


@pytest.mark.parametrize(
    "name",
    [
        "evtx/evtx-attack-samples/LM_ScheduledTask_ATSVC_target_host.evtx",
        "evtx/evtx-to-mitre-attack/ID5142-5143-Mimispool_print_share_created_and_modified.evtx",
    ],
)
def test_exported_xml_and_json_equal_evtx(shared_data: Path, tmp_path: Path, name: str) -> None:
    path = shared_data / name
    xml_file = tmp_path / "export.xml"
    xml_file.write_text(
        "<Events>"
        + "".join(r["data"].split("?>", 1)[1] for r in evtx.PyEvtxParser(str(path)).records())
        + "</Events>"
    )
    json_file = tmp_path / "export.jsonl"
    json_file.write_text(
        "\n".join(json.dumps(json.loads(r["data"])) for r in evtx.PyEvtxParser(str(path)).records_json())
        + "\nnot json\n"
    )
    _, from_evtx = _events(path)
    xml_source = EventXmlSource(str(xml_file))
    json_source = EventJsonSource(str(json_file))
    from_xml = list(xml_source.events())
    from_json = list(json_source.events())
    assert from_xml == [e.__class__(**{**_fields(e), "source": str(xml_file)}) for e in from_evtx]
    assert len(from_json) == len(from_evtx)
    assert [(e.event_id, e.user, e.share, e.time) for e in from_json] == [
        (e.event_id, e.user, e.share, e.time) for e in from_evtx
    ]
    assert json_source.stats.skipped == 1  # the "not json" line


def _fields(event: object) -> dict[str, object]:
    return {name: getattr(event, name) for name in event.__slots__}  # type: ignore[attr-defined]


def test_smbserver_audit_3000_and_551_from_xml() -> None:
    xml_3000 = (
        '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
        '<Provider Name="Microsoft-Windows-SMBServer"/><EventID>3000</EventID>'
        '<TimeCreated SystemTime="2020-01-20 07:45:27.2812378"/><Channel>Microsoft-Windows-SMBServer/Audit</Channel>'
        '<Computer>FS1.corp</Computer></System><EventData><Data Name="ClientName">10.11.12.13</Data></EventData></Event>'
    )
    eid, event = event_from_xml(xml_3000, "x")
    assert eid == "3000" and event is not None
    assert (
        event.kind is EventKind.SMB1_ACCESS and event.src_ip == "10.11.12.13" and event.server == "FS1.corp"
    )
    assert event.time == datetime(2020, 1, 20, 7, 45, 27, 281237, tzinfo=UTC)
    xml_551 = (
        "<Event><System><EventID>551</EventID><Channel>Microsoft-Windows-SMBServer/Security</Channel>"
        "<Computer>FS1</Computer></System><UserData><EventData><SessionGUID>{x}</SessionGUID>"
        "<UserName>bob</UserName><ClientName>10.0.0.9</ClientName><Status>0xC000006D</Status></EventData></UserData></Event>"
    )
    _, failure = event_from_xml(xml_551, "x")
    assert failure is not None and failure.kind is EventKind.LOGON_FAILURE
    assert (failure.user, failure.src_ip, failure.status) == ("bob", "10.0.0.9", "0xC000006D")


def test_parse_time_variants() -> None:
    assert parse_time("2021-12-12T07:15:28.352504Z") == datetime(2021, 12, 12, 7, 15, 28, 352504, tzinfo=UTC)
    assert parse_time("garbage") is None
    assert parse_time(None) is None


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=400), st.sampled_from(["4624", "4625", "5145", "5140", "5143", "3000", "551", "31017"])
)
def test_fuzz_event_xml(body: str, event_id: str) -> None:
    xml = f"<Event><System><EventID>{event_id}</EventID>{body}</System><EventData>{body}</EventData></Event>"
    eid, event = event_from_xml(xml, "fuzz")
    assert eid == event_id
    assert event is None or event.event_id == event_id


@settings(max_examples=200, deadline=None)
@given(st.lists(st.text(max_size=120), max_size=10))
def test_fuzz_event_json_lines(tmp_path_factory: pytest.TempPathFactory, lines: list[str]) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "events.jsonl"
    path.write_text(
        "\n".join(['{"Event": {"System": {"EventID": 4625}, "EventData": {"LogonType": "x"}}}', *lines])
    )
    source = EventJsonSource(str(path))
    events = list(source.events())
    assert source.stats.events == len(events) >= 1
