"""Samba sources on the real logs in ../shared/data/logs/samba (checked by reading the files)."""

# ruff: noqa: E501  (recorded log lines are kept on one line)

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.events import EventKind
from smbguard.logs.samba import SambaSource

SAMBA = "logs/samba"


def _read(path: Path, year: int | None = 2019) -> tuple[SambaSource, list]:  # type: ignore[type-arg]
    source = SambaSource(str(path), year=year)
    return source, list(source.events())


def test_auth_audit_lines(shared_data: Path) -> None:
    source, events = _read(shared_data / SAMBA / "crowdsec-hub_smb-logs.log")
    assert source.stats.records == 2 and source.stats.skipped == 0
    assert [
        (e.kind, e.user, e.domain, e.src_ip, e.status, e.auth_package, e.workstation) for e in events
    ] == [
        (
            EventKind.LOGON_FAILURE,
            "root",
            "WORKGROUP",
            "172.17.0.1",
            "NT_STATUS_NO_SUCH_USER",
            "NTLMv2",
            "MANTIS",
        ),
        (
            EventKind.LOGON_FAILURE,
            "administrator",
            "WORKGROUP",
            "172.17.0.1",
            "NT_STATUS_WRONG_PASSWORD",
            "NTLMv2",
            "MANTIS",
        ),
    ]
    assert events[0].time == datetime(2021, 10, 14, 15, 24, 12, 23984, tzinfo=UTC)
    assert events[1].time == datetime(2021, 10, 14, 15, 24, 16, 248504, tzinfo=UTC)
    assert not source.stats.warnings  # "UTC" is an understood zone


def test_full_audit_journal(shared_data: Path) -> None:
    source, events = _read(shared_data / SAMBA / "timlok-otus-linux_full_audit_journal_excerpt.log")
    assert source.stats.records == 9
    assert [(e.kind, e.share, e.path) for e in events] == [
        (EventKind.SHARE_CONNECT, "guest", None),
        (EventKind.SHARE_CONNECT, "IPC$", None),
        (EventKind.FILE_ACCESS, "IPC$", "/share/samba/guest"),  # last connect of this user/ip was IPC$
    ]
    assert {(e.user, e.src_ip) for e in events} == {("nobody", "192.168.11.151")}
    assert events[0].time == datetime(2019, 9, 23, 19, 52, 21, tzinfo=UTC)
    assert events[2].time == datetime(2019, 9, 23, 19, 52, 30, tzinfo=UTC)


def test_log_smbd_level10(shared_data: Path) -> None:
    source, events = _read(shared_data / SAMBA / "journeymidnight-samba-4.7.1_log.smbd")
    assert source.stats.records == 4277
    assert [(e.kind, e.user, e.src_ip, e.share) for e in events] == [
        (EventKind.LOGON, "fsuser", "10.70.242.210", None),
        (EventKind.SHARE_CONNECT, "fsuser", "10.70.242.210", "IPC$"),
    ]
    # "CST" is ambiguous: the time is read as UTC and a warning says so
    assert events[0].time == datetime(2018, 7, 4, 1, 15, 23, 130806, tzinfo=UTC)
    assert any("UTC" in w for w in source.stats.warnings)


def test_production_log_smbd_raises_nothing(shared_data: Path) -> None:
    source, events = _read(shared_data / SAMBA / "udmo-learn1_log.smbd")
    assert source.stats.records == 734
    assert events == []
    assert source.stats.skipped == 0


def test_denied_connection_syslog_lines(shared_data: Path) -> None:
    _, events = _read(shared_data / SAMBA / "wazuh_ruleset-testing_samba.ini")
    assert [(e.kind, e.src_ip) for e in events] == [(EventKind.CONNECTION_DENIED, "192.168.3.23")] * 2


def test_full_audit_write_rename_delete_and_prefix_with_share(tmp_path: Path) -> None:
    log = tmp_path / "audit.log"
    log.write_text(
        "Mar  1 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|docs/a.txt\n"
        "Mar  1 10:00:01 fs smbd_audit[1]: alice|10.0.0.5|data|renameat|ok|docs/a.txt|docs/a.txt.locked\n"
        "Mar  1 10:00:02 fs smbd_audit[1]: alice|10.0.0.5|data|unlinkat|ok|docs/b.txt\n"
        "Mar  1 10:00:03 fs smbd_audit[1]: alice|10.0.0.5|data|unlinkat|fail (Permission denied)|docs/c.txt\n"
        "Mar  1 10:00:04 fs smbd_audit[1]: this|is|not|an|audit|line\n"
    )
    source, events = _read(log, year=2024)
    assert [(e.kind, e.share, e.path, e.new_path) for e in events] == [
        (EventKind.FILE_WRITE, "data", "docs/a.txt", None),
        (EventKind.FILE_RENAME, "data", "docs/a.txt", "docs/a.txt.locked"),
        (EventKind.FILE_DELETE, "data", "docs/b.txt", None),
    ]
    assert events[0].time == datetime(2024, 3, 1, 10, 0, 0, tzinfo=UTC)
    assert source.stats.records == 5


def test_json_auth_audit_line(tmp_path: Path) -> None:
    log = tmp_path / "auth.json"
    log.write_text(
        '{"timestamp": "2024-05-01T10:00:00.123456+0000", "type": "Authentication", "Authentication": '
        '{"status": "NT_STATUS_WRONG_PASSWORD", "remoteAddress": "ipv4:10.1.2.3:50000", "clientAccount": "bob", '
        '"clientDomain": "CORP", "passwordType": "NTLMv1", "serviceDescription": "SMB2", "workstation": "PC1"}}\n'
    )
    _, events = _read(log)
    (event,) = events
    assert (event.kind, event.user, event.src_ip, event.lm_package) == (
        EventKind.LOGON_FAILURE,
        "bob",
        "10.1.2.3",
        "NTLM V1",
    )
    assert event.time == datetime(2024, 5, 1, 10, 0, 0, 123456, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.binary(max_size=200), max_size=20))
def test_fuzz_lines_never_crash(lines: list[bytes]) -> None:
    source = SambaSource("fuzz", year=2020)
    prefixes = [
        b"",
        b"Auth: [",
        b"x|1.2.3.4|renameat|ok|",
        b"[2020/01/01 00:00:00.1,  1] ",
        b"\tconnect to service ",
    ]
    fed = [prefixes[i % len(prefixes)] + line + b"\n" for i, line in enumerate(lines)]
    events = list(source.events_from_lines(fed))
    assert source.stats.records == len(fed)
    assert source.stats.events == len(events)


_STAMP_PARTS = st.sampled_from(
    [
        "Thu",
        "thu",
        "THU",
        "Fri",
        "Xyz",
        ",",
        " ",
        "  ",
        "14",
        "4",
        "31",
        "30",
        "29",
        "00",
        "Oct",
        "Feb",
        "oct",
        "2021",
        "2020",
        "0999",
        "15",
        "23",
        "24",
        ":",
        "00",
        "59",
        "60",
        "61",
        ".",
        "023984",
        "0",
        "1234567",
        "\u0661",
        "UTC",
        "GMT",
        "CEST",
        "Z",
        "x",
    ]
)


@settings(max_examples=3000, deadline=None)
@given(
    st.one_of(
        st.lists(_STAMP_PARTS, max_size=16).map("".join),
        st.tuples(
            st.sampled_from(["Thu", "Mon", "sun", "Xyz"]),
            st.sampled_from(["14", "4", "29", "30", "31", "00", " 4"]),
            st.sampled_from(["Oct", "Feb", "feb", "Foo"]),
            st.sampled_from(["2021", "2020", "1900", "0001"]),
            st.sampled_from(
                ["15:24:12", "23:59:59", "24:00:00", "15:60:00", "15:24:60", "15:24:61", "1:2:3"]
            ),
            st.sampled_from([".023984", ".5", ".1234567", "", ".", ".x", ".\u0661", "..5", ".5.5"]),
            st.sampled_from([" UTC", " GMT", " CEST", "", "  UTC"]),
        ).map(lambda t: f"{t[0]}, {t[1]} {t[2]} {t[3]} {t[4]}{t[5]}{t[6]}"),
    )
)
def test_auth_time_is_the_reference(text: str) -> None:
    """The cached per-second parse gives exactly the strptime of the whole stamp."""
    from smbguard.logs.samba import _auth_time, _auth_time_reference

    assert _auth_time(text) == _auth_time_reference(text)
    assert _auth_time(text) == _auth_time_reference(text)  # and from the cache


def test_auth_time_parses_each_second_once() -> None:
    from smbguard.logs.samba import _auth_second, _auth_time

    _auth_second.cache_clear()
    got = [_auth_time(f"Thu, 14 Oct 2021 15:24:12.{us:06d} UTC") for us in (1, 500000, 999999)]
    assert got == [(datetime(2021, 10, 14, 15, 24, 12, us, tzinfo=UTC), True) for us in (1, 500000, 999999)]
    assert _auth_second.cache_info().misses == 1 and _auth_second.cache_info().hits == 2
