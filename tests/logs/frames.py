"""Shared oracle for the column-frame path (imported by tests, not collected itself).

* :func:`event_streams`: a hypothesis strategy of event lists that exercises every
  detector: few distinct values so groups, windows and thresholds are hit, times
  mostly increasing with ties, some out of order and some missing.
* :func:`assert_same_findings`: feeding a stream one event at a time and feeding it
  as frames (any split into frames) must end with identical findings and evidence.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
from hypothesis import strategies as st

from smbguard.logs.detectors import Detector, DetectorSet, Thresholds, default_detectors
from smbguard.logs.events import Event, EventKind, events_to_frame

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)
SMALL = Thresholds(
    brute_force_failures=3,
    brute_force_window=30.0,
    spray_accounts=3,
    spray_window=60.0,
    ransomware_files=4,
    ransomware_window=20.0,
    ransomware_extension_changes=2,
    ransomware_note_dirs=2,
    admin_allowlist=frozenset({"10.0.0.9", "backup"}),
)



def _opt(values: Sequence[str]) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(values)

_IDS = ("4624", "4625", "4776", "5140", "5145", "3000", "samba:auth", "pcap:session-setup",
        "vfs:pwrite", "zeek:smb_files:SMB::FILE_DELETE", "pcap:smbghost", "pcap:ms17-010")
_PATHS = ("a.txt", "a.txt.locked", "dir\\b.docx", "dir\\b.enc", "x/README_DECRYPT.txt",
          "y\\how_to_restore.html", "pipe\\svcctl", "\\atsvc", "winreg", "c.xlsx", "d.wncry", "",
          "e.Crypted", "f.CRYPT", "g.enc.docx")


@st.composite
def events(draw: st.DrawFn) -> Event:
    return Event(
        kind=draw(st.sampled_from(list(EventKind))),
        source=draw(st.sampled_from(("s1", "s2"))),
        event_id=draw(st.sampled_from(_IDS)),
        time=None,  # set by event_streams
        src_ip=draw(_opt(("10.0.0.1", "10.0.0.2", "10.0.0.9", "-", "127.0.0.1", "::1", ""))),
        workstation=draw(_opt(("WS1", "WS2", ""))),
        server=draw(_opt(("srv1", "srv2", ""))),
        user=draw(_opt(("alice", "Bob", "backup", "ANONYMOUS LOGON", "anonymous", ""))),
        domain=draw(_opt(("CORP", "corp", ""))),
        share=draw(_opt(("C$", "ADMIN$", "IPC$", "ipc$", "data", "d$", "PRINT$", ""))),
        path=draw(_opt(_PATHS)),
        new_path=draw(_opt(_PATHS)),
        status=draw(_opt(("0xc000006a", "0xc0000064", "NT_STATUS_WRONG_PASSWORD"))),
        logon_type=draw(st.none() | st.sampled_from((3, 10))),
        auth_package=draw(_opt(("NTLM", "Kerberos"))),
        lm_package=draw(_opt(("NTLM V1", "NTLM V2", "-"))),
        protocol=draw(_opt(("SMB1", "SMB2"))),
        detail=draw(_opt(("x", "%%4417", "old -> new", ""))),
    )


@st.composite
def event_streams(draw: st.DrawFn, max_size: int = 80) -> list[Event]:
    """Events with times: mostly non-decreasing (steps 0-15 s, so ties happen), sometimes
    going back, sometimes missing; or no time at all (Zeek logs with masked ``ts``), or
    none for one client address only (groups without any time beside timed ones)."""
    out: list[Event] = []
    now = T0
    untimed = draw(st.sampled_from(("some", "some", "all", "10.0.0.1")))
    for event in draw(st.lists(events(), max_size=max_size)):
        step = draw(st.sampled_from((0, 0, 1, 2, 5, 15, -7, None)))
        when: datetime | None
        if step is None or untimed == "all" or event.src_ip == untimed:
            when = None
        else:
            now = now + timedelta(seconds=step)
            when = now
        out.append(Event(**{**{n: getattr(event, n) for n in event.__slots__}, "time": when}))
    return out


def split_frames(events: Sequence[Event], cuts: Sequence[int]) -> list[pl.DataFrame]:
    """The stream as consecutive frames cut at the given positions."""
    bounds = sorted({0, len(events), *(c % (len(events) + 1) for c in cuts)})
    return [events_to_frame(events[a:b]) for a, b in itertools.pairwise(bounds)]


def findings_dicts(detectors: Sequence[Detector]) -> list[dict[str, object]]:
    out = []
    for detector in detectors:
        out.extend(f.to_dict() for f in detector.findings())
    return out


def assert_same_findings(
    stream: Sequence[Event],
    cuts: Sequence[int] = (),
    make: Callable[[], list[Detector]] = lambda: default_detectors(SMALL),
) -> None:
    """Row-by-row and frame-by-frame feeding end with the same findings (ids, keys,
    summaries, evidence: everything in ``to_dict()``)."""
    one = make()
    one_set = DetectorSet(one)
    for event in stream:
        one_set.feed(event)
    two = make()
    two_set = DetectorSet(two)
    for frame in split_frames(stream, cuts):
        two_set.feed_frame(frame)
    assert findings_dicts(two) == findings_dicts(one)


def frames_counting_lines(source: Any, rows: int) -> tuple[pl.DataFrame, int]:
    """``source.frames(rows)`` joined, and how many lines went through the per-line
    reference ``source.line`` on the way (a Zeek source; tests of which lines a fast
    reader hands back)."""
    calls = 0
    line = source.line

    def counting(raw: bytes) -> Event | None:
        nonlocal calls
        calls += 1
        result: Event | None = line(raw)
        return result

    source.line = counting
    return pl.concat(list(source.frames(rows))), calls
