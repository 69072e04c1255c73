"""Column-frame path of the group-by detectors: :func:`apply_tallies` against
:meth:`Tally.add` row by row, every ``_Simple`` detector's ``feed_frame`` against its
``feed`` (hypothesis, frames cut anywhere), and ``analyze()`` of the real samples with
and without frames."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs import detectors as det
from smbguard.logs.analyze import analyze
from smbguard.logs.detectors import (
    AdminShareDetector,
    AnonymousLogonDetector,
    Detector,
    ExploitDetector,
    NtlmV1Detector,
    ShareChangeDetector,
    Smb1ClientDetector,
    Tally,
    Thresholds,
    apply_tallies,
    default_detectors,
)
from smbguard.logs.events import Event, EventKind, events_to_frame
from smbguard.logs.findings import LogFinding
from tests.conftest import SHARED_DATA
from tests.logs.frames import SMALL, assert_same_findings, event_streams

T0 = datetime(2024, 1, 1, 12, 0, tzinfo=UTC)


# ------------------------------------------------------------------------ apply_tallies
def _same_tallies(got: dict[str, Tally], want: dict[str, Tally]) -> None:
    """Equal state, including insertion order of groups and counters (ties in most_common)."""
    assert list(got) == list(want)
    for name, tally in want.items():
        other = got[name]
        assert other == tally, name
        assert list(other.accounts.items()) == list(tally.accounts.items())
        assert list(other.items.items()) == list(tally.items.items())
        assert other.evidence("items") == tally.evidence("items")
        for when in (other.first, other.last):
            assert when is None or when.tzinfo is UTC


def _run_both(
    stream: list[Event], keys: list[str], items: list[str | None], cuts: list[int], with_items: bool = True
) -> None:
    want: dict[str, Tally] = {}
    want_new: list[str] = []
    for event, key, item in zip(stream, keys, items, strict=True):
        if key not in want:
            want[key] = Tally()
            want_new.append(key)
        want[key].add(event, item if with_items else None)
    got: dict[str, Tally] = {}
    got_new: list[str] = []
    for a, b in _cut(len(stream), cuts):
        part = events_to_frame(stream[a:b]).with_columns(
            pl.Series("__k", keys[a:b], dtype=pl.Utf8), pl.Series("__i", items[a:b], dtype=pl.Utf8)
        )
        got_new += apply_tallies(got, part, "__k", "__i" if with_items else None)
    assert got_new == want_new
    _same_tallies(got, want)


def _cut(n: int, cuts: list[int]) -> list[tuple[int, int]]:
    bounds = sorted({0, n, *(c % (n + 1) for c in cuts)})
    return list(itertools.pairwise(bounds))


@contextmanager
def _limits(sources: int, clients: int, servers: int, counted: int) -> Iterator[None]:
    """Small bounds so hypothesis reaches them (Tally.add and apply_tallies read the same constants)."""
    saved = (det._MAX_SOURCES, det._MAX_CLIENTS, det._MAX_SERVERS, det._MAX_COUNTED)
    det._MAX_SOURCES, det._MAX_CLIENTS, det._MAX_SERVERS, det._MAX_COUNTED = (
        sources,
        clients,
        servers,
        counted,
    )
    try:
        yield
    finally:
        det._MAX_SOURCES, det._MAX_CLIENTS, det._MAX_SERVERS, det._MAX_COUNTED = saved


@contextmanager
def _few_rows(limit: int) -> Iterator[None]:
    """Force the Python (few distinct rows) or the polars path of the frame code."""
    saved = det._FEW_ROWS
    det._FEW_ROWS = limit
    try:
        yield
    finally:
        det._FEW_ROWS = saved


#: 0: always polars; 2: mixed by frame; huge: always Python on the distinct rows
_FEW = st.sampled_from((0, 2, 10**9))


def _with_repeats(data: st.DataObject, stream: list[Event]) -> list[Event]:
    """Insert copies of earlier events (other times) so that distinct rows carry counts > 1."""
    out = list(stream)
    for position, source, seconds in data.draw(
        st.lists(
            st.tuples(st.integers(0, 200), st.integers(0, 200), st.none() | st.integers(-5, 40)), max_size=40
        )
    ):
        if out:
            copy = out[source % len(out)]
            when = None if seconds is None else T0 + timedelta(seconds=seconds)
            out.insert(position % (len(out) + 1), replace(copy, time=when))
    return out


def _o(values: tuple[str, ...]) -> st.SearchStrategy[str | None]:
    return st.none() | st.sampled_from(values)


_NAMES = (*tuple(f"v{i}" for i in range(9)), "", "V1", "é")


@st.composite
def _rows(draw: st.DrawFn) -> tuple[list[Event], list[str], list[str | None]]:
    n = draw(st.integers(0, 60))
    stream: list[Event] = []
    keys: list[str] = []
    items: list[str | None] = []
    now = T0
    for _ in range(n):
        step = draw(st.sampled_from((0, 0, 1, 3, -2, None)))
        when = None
        if step is not None:
            now += timedelta(seconds=step)
            when = now
        stream.append(
            Event(
                kind=EventKind.LOGON,
                source=draw(st.sampled_from(_NAMES[:6])),
                event_id="4624",
                time=when,
                src_ip=draw(_o(_NAMES)),
                workstation=draw(_o(_NAMES)),
                server=draw(_o(_NAMES)),
                user=draw(_o(_NAMES)),
                domain=draw(_o(("", "D", "d"))),
            )
        )
        keys.append(draw(st.sampled_from(("a", "b", "c|d", ""))))
        items.append(draw(_o(_NAMES)))
    return stream, keys, items


@settings(max_examples=100, deadline=None)
@given(
    _rows(),
    st.lists(st.integers(0, 60), max_size=4),
    st.sampled_from(((50, 200, 200, 500), (2, 3, 2, 3), (1, 1, 1, 1), (3, 2, 4, 2))),
    st.booleans(),
    _FEW,
    st.lists(st.tuples(st.integers(0, 100), st.integers(0, 100)), max_size=30),
)
def test_apply_tallies_is_tally_add_row_by_row(
    rows: tuple[list[Event], list[str], list[str | None]],
    cuts: list[int],
    limits: tuple[int, int, int, int],
    with_items: bool,
    few: int,
    repeats: list[tuple[int, int]],
) -> None:
    stream, keys, items = rows
    for position, source in repeats:  # the same row again (same key and item): counts > 1
        if stream:
            i, at = source % len(stream), position % (len(stream) + 1)
            stream.insert(at, stream[i])
            keys.insert(at, keys[i])
            items.insert(at, items[i])
    with _limits(*limits), _few_rows(few):
        _run_both(stream, keys, items, cuts, with_items)


def test_apply_tallies_real_bounds_many_distinct_values() -> None:
    """> 500 distinct accounts and items, > 200 clients and servers, > 50 sources, many ties,
    values recurring after the counters filled up, at the real bounds, frames of uneven size."""
    rnd = random.Random(6)
    stream: list[Event] = []
    keys: list[str] = []
    items: list[str | None] = []
    for _ in range(30_000):
        stream.append(
            Event(
                kind=EventKind.LOGON,
                source=f"s{rnd.randrange(70)}",
                event_id="4624",
                time=None if rnd.random() < 0.1 else T0 + timedelta(seconds=rnd.randrange(-50, 500)),
                src_ip=rnd.choice([None, "", f"10.0.0.{rnd.randrange(400)}"]),
                workstation=rnd.choice([None, "", "WS"]),
                server=rnd.choice([None, "", f"srv{rnd.randrange(300)}"]),
                user=rnd.choice([None, "", f"u{rnd.randrange(1500)}", "admin"]),
                domain=rnd.choice([None, "", "D"]),
            )
        )
        keys.append(rnd.choice(["a", "b", "c"]))
        items.append(rnd.choice([None, "", f"i{rnd.randrange(1200)}", "x", "y"]))
    _run_both(stream, keys, items, [1, 700, 2500, 9000, 9001, 20_000])
    _run_both(stream, keys, items, [])
    with _few_rows(10**9):
        _run_both(stream, keys, items, [20, 9000])
    want: dict[str, Tally] = {}
    for event, key, item in zip(stream, keys, items, strict=True):
        want.setdefault(key, Tally()).add(event, item)
    for tally in want.values():  # the bounds really were reached
        assert len(tally.accounts) == len(tally.items) == 500
        assert len(tally.clients) == len(tally.servers) == 200 and len(tally.sources) == 50


def test_apply_tallies_empty_frame_changes_nothing() -> None:
    tallies: dict[str, Tally] = {}
    frame = events_to_frame([]).with_columns(pl.lit(None, dtype=pl.Utf8).alias("__k"))
    assert apply_tallies(tallies, frame, "__k", None) == []
    assert tallies == {}


# ------------------------------------------------------------------- detectors' feed_frame
def _simple(thresholds: Thresholds = SMALL) -> list[Detector]:
    return [
        Smb1ClientDetector(),
        AnonymousLogonDetector(),
        NtlmV1Detector(),
        AdminShareDetector(thresholds),
        ShareChangeDetector(),
        ExploitDetector("ms17-010-exploit-traffic", "ms17-010"),
        ExploitDetector("smbghost-exploit-traffic", "smbghost"),
    ]


def test_every_group_by_detector_has_feed_frame() -> None:
    assert all(callable(getattr(d, "feed_frame", None)) for d in _simple())


@settings(max_examples=120, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 100), max_size=4), _FEW)
def test_feed_frame_is_feed_row_by_row(stream: list[Event], cuts: list[int], few: int) -> None:
    with _few_rows(few):
        assert_same_findings(stream, cuts, make=_simple)
        assert_same_findings(stream, cuts, make=lambda: _simple(Thresholds()))


_TRICKY_SHARES = ("C$", "c$", "ADMIN$", "admin$", "IPC$", "ipc$", "ıpc$", "ſ$", "\u212a$", "c$\n", "ADMİN$")
_TRICKY_SHARES += ("admın$", "AB$", "$", "", "data", "1$")
_TRICKY_USERS = (
    "alice",
    "Bob",
    "ANONYMOUS LOGON",
    "Anonymous Logon",
    "anonymous",
    "",
    "backup",
    "BACKUP",
    "İx",
)
_TRICKY_PATHS = (
    "svcctl",
    "\\svcctl",
    "\\\\pipe\\SvcCtl",
    "PIPE\\atsvc",
    "pipe\\\\winreg",
    "srvsvc",
    "",
    "a\\b.txt",
)
_TRICKY_PATHS += ("\\\\\\EVENTLOG", "pipe\\itaskschedulerservice", "ſvcctl")
_KINDS = (
    EventKind.SMB1_ACCESS,
    EventKind.LOGON,
    EventKind.LOGON_FAILURE,
    EventKind.INSECURE_GUEST,
    EventKind.SHARE_CONNECT,
    EventKind.FILE_ACCESS,
    EventKind.FILE_WRITE,
    EventKind.FILE_DELETE,
    EventKind.FILE_RENAME,
    EventKind.RPC_CALL,
    EventKind.SHARE_CREATED,
    EventKind.SHARE_CHANGED,
    EventKind.EXPLOIT,
    EventKind.OTHER,
)
_EVENT_IDS = ("4624", "4625", "pcap:session-setup", "samba:auth", "samba:auth:x", "Samba:auth", "", "5140")
_EVENT_IDS += ("pcap:smbghost", "zeek:notice:SMBGHOST", "pcap:ms17-010", "3000", "5142")
# allowlist entries compared after Python's str.lower(): "i̇x" is "İx".lower(), "kk" matches "Kk"/"\u212ak"
TRICKY = Thresholds(admin_allowlist=frozenset({"10.0.0.9", "BACKUP", "corp\\alice", "i\u0307x", "kk", "ws2"}))


@st.composite
def _tricky_events(draw: st.DrawFn, kinds: tuple[EventKind, ...], ids: tuple[str, ...]) -> Event:
    return Event(
        kind=draw(st.sampled_from(kinds)),
        source=draw(st.sampled_from(("s1", "s2", ""))),
        event_id=draw(st.sampled_from(ids)),
        time=draw(st.none() | st.integers(-5, 30).map(lambda s: T0 + timedelta(seconds=s))),
        src_ip=draw(_o(("10.0.0.1", "10.0.0.9", "", "Kk", "\u212ak"))),
        workstation=draw(_o(("WS1", "WS2", "", "ws2"))),
        server=draw(_o(("srv1", "", "SRV1"))),
        user=draw(_o(_TRICKY_USERS)),
        domain=draw(_o(("CORP", "corp", ""))),
        share=draw(_o(_TRICKY_SHARES)),
        path=draw(_o(_TRICKY_PATHS)),
        status=draw(_o(("0xc000006a", ""))),
        logon_type=draw(st.none() | st.sampled_from((3, 0, -1))),
        auth_package=draw(_o(("NTLM", "", "Kerberos"))),
        lm_package=draw(_o(("NTLM V1", "ntlm v1", "NTLM V2", "-", ""))),
        protocol=draw(_o(("SMB1", "", "SMB2"))),
        detail=draw(_o(("x", "", "old -> new", "MS17-010 probe"))),
    )


_OTHER = (EventKind.OTHER, EventKind.LOGON)  # kinds a detector must ignore (LOGON: most of them)
#: detector -> (the event kinds and event ids it reacts to, mixed with a few it must ignore)
_PROFILES: dict[str, tuple[Callable[[], list[Detector]], tuple[EventKind, ...], tuple[str, ...]]] = {
    "smb1": (lambda: [Smb1ClientDetector()], (EventKind.SMB1_ACCESS, *_OTHER), ("3000", "", "pcap:smb1")),
    "anonymous": (
        lambda: [AnonymousLogonDetector()],
        (EventKind.LOGON, EventKind.INSECURE_GUEST, EventKind.LOGON_FAILURE, EventKind.OTHER),
        ("4624", "pcap:session-setup", "samba:auth", "samba:auth:x", "Samba:auth", "4625", ""),
    ),
    "ntlmv1": (
        lambda: [NtlmV1Detector()],
        (EventKind.LOGON, EventKind.LOGON_FAILURE, EventKind.OTHER),
        ("4624", "4625", "samba:auth"),
    ),
    "admin": (
        lambda: [AdminShareDetector(TRICKY)],
        (
            EventKind.SHARE_CONNECT,
            EventKind.FILE_ACCESS,
            EventKind.FILE_WRITE,
            EventKind.FILE_DELETE,
            EventKind.FILE_RENAME,
            EventKind.RPC_CALL,
            *_OTHER,
        ),
        ("5140", "5145", "zeek:dce_rpc"),
    ),
    "admin-no-allowlist": (
        lambda: [AdminShareDetector(Thresholds())],
        (EventKind.SHARE_CONNECT, EventKind.FILE_ACCESS, EventKind.RPC_CALL, EventKind.FILE_RENAME),
        ("5140", "5145"),
    ),
    "shares": (
        lambda: [ShareChangeDetector()],
        (EventKind.SHARE_CREATED, EventKind.SHARE_CHANGED, *_OTHER),
        ("5142", "5143", ""),
    ),
    "exploit": (
        lambda: [
            ExploitDetector("ms17-010-exploit-traffic", "ms17-010"),
            ExploitDetector("smbghost-exploit-traffic", "smbghost"),
        ],
        (EventKind.EXPLOIT, *_OTHER),
        ("pcap:smbghost", "zeek:notice:SMBGHOST", "pcap:ms17-010", "smbghost", ""),
    ),
    "all": (lambda: _simple(TRICKY), _KINDS, _EVENT_IDS),
}


@pytest.mark.parametrize("profile", sorted(_PROFILES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_feed_frame_is_feed_on_edge_values(profile: str, data: st.DataObject) -> None:
    """Per detector, events of its kinds with edge values: empty strings (falsy in Python),
    Unicode case quirks (dotless i, long s, Kelvin sign, trailing newline before ``$`` in
    the admin-share regex), pipe spellings, allowlist hits, missing logon types."""
    make, kinds, ids = _PROFILES[profile]
    stream = data.draw(st.lists(_tricky_events(kinds, ids), min_size=20, max_size=60))
    stream = _with_repeats(data, stream)
    cuts = data.draw(st.lists(st.integers(0, 100), max_size=3))
    for few in (0, data.draw(st.sampled_from((2, 10**9)))):  # always the polars path, and another
        with _few_rows(few):
            assert_same_findings(stream, cuts, make=make)


# ---------------------------------------------------------------------------- real files
class _RowByRow:
    """A detector seen without its ``feed_frame``: DetectorSet feeds it row by row."""

    def __init__(self, detector: Detector) -> None:
        self.detector = detector
        self.kinds = detector.kinds

    def feed(self, event: Event) -> list[LogFinding]:
        return self.detector.feed(event)

    def findings(self) -> list[LogFinding]:
        return self.detector.findings()


def _real_files() -> list[Path]:
    if not SHARED_DATA.is_dir():
        return []
    return sorted(p for d in ("evtx", "logs") for p in (SHARED_DATA / d).rglob("*") if p.is_file())


@pytest.mark.parametrize(
    ("thresholds", "few"),
    [(Thresholds(), det._FEW_ROWS), (Thresholds(), 0), (SMALL, 0)],
    ids=["default", "polars", "small-polars"],
)
def test_real_files_same_findings_with_and_without_frames(
    shared_data: Path, thresholds: Thresholds, few: int
) -> None:
    files = _real_files()
    assert len(files) > 50
    raised: set[str] = set()
    for path in files:
        with _few_rows(few):
            frames = analyze([str(path)], thresholds)
        rows = analyze([str(path)], detectors=[_RowByRow(d) for d in default_detectors(thresholds)])
        assert frames.to_dict() == rows.to_dict(), path
        raised.update(f.id for f in frames.findings)
    # the samples do exercise the group-by detectors
    assert {"admin-share-access", "anonymous-logon", "share-created", "ms17-010-exploit-traffic"} <= raised


def test_real_files_all_at_once(shared_data: Path) -> None:
    """Groups spanning files (and frames) end up the same too."""
    paths = [str(shared_data / "evtx"), str(shared_data / "logs")]
    with _few_rows(0):
        frames = analyze(paths)
    rows = analyze(paths, detectors=[_RowByRow(d) for d in default_detectors()])
    assert frames.to_dict() == rows.to_dict()
    assert len(frames.findings) > 10
