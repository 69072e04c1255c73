"""``feed_frame`` of the windowed detectors (smbguard.logs.frame_windows) against ``feed``
row by row: same findings and the same internal state (windows included), for random
streams, streams built to hit thresholds, ties, times going back or missing, frames cut
inside windows, frames and rows mixed, and real Samba/EVTX samples."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs import frame_windows
from smbguard.logs.detect import open_source
from smbguard.logs.detectors import (
    FailedLogonDetector,
    RansomwareDetector,
    Tally,
    Thresholds,
    _Window,
)
from smbguard.logs.events import Event, EventKind, events_to_frame
from tests.logs.frames import SMALL, T0, assert_same_findings, event_streams, split_frames

Windowed = RansomwareDetector | FailedLogonDetector


@pytest.fixture(autouse=True, scope="module")
def _column_path_for_small_frames() -> Iterator[None]:
    """The tests' frames are small: make them take the window arithmetic, not the small-frame
    shortcuts (row by row, or every window replayed); tests of those set them back."""
    saved = frame_windows._MIN_ROWS, frame_windows._REPLAY_ROWS
    frame_windows._MIN_ROWS = frame_windows._REPLAY_ROWS = 0
    yield
    frame_windows._MIN_ROWS, frame_windows._REPLAY_ROWS = saved


# ------------------------------------------------------------------- state snapshots
def _tally(t: Tally) -> tuple[Any, ...]:
    return (
        t.count,
        t.first,
        t.last,
        sorted(t.sources),
        sorted(t.clients),
        sorted(t.servers),
        list(t.accounts.items()),
        list(t.items.items()),
    )


def _window(w: _Window | None) -> tuple[Any, ...] | None:
    # the counts dict is compared as a mapping: its insertion order is never read
    return None if w is None else (w.seconds, list(w.items), dict(sorted(w.counts.items())))


def snapshot(detector: Windowed) -> Any:
    """Everything a windowed detector holds (windows, peaks, flags, tallies), comparable."""
    if isinstance(detector, RansomwareDetector):
        return [
            (
                key,
                _tally(s.tally),
                _window(s.files),
                _window(s.ext_changes),
                sorted(s.note_dirs),
                s.peak_files,
                s.peak_ext_changes,
                list(s.new_extensions.items()),
                sorted(s.known_extensions),
                s.alerted,
            )
            for key, s in detector.groups.items()
        ]
    return [
        (
            key,
            _tally(s.tally),
            [(a, _window(w)) for a, w in s.per_account.items()],
            _window(s.accounts_window),
            s.brute,
            s.spray,
            s.peak_account_failures,
            s.peak_distinct_accounts,
            sorted(s.successes_after_failures),
        )
        for key, s in detector.sources.items()
    ]


def findings(detector: Windowed) -> list[dict[str, object]]:
    return [f.to_dict() for f in detector.findings()]


def check(
    stream: Sequence[Event],
    cuts: Sequence[int],
    make: Callable[[], Windowed],
    rows_after: Sequence[bool] = (),
) -> None:
    """Rows one by one vs the stream cut into frames; frame ``i`` is fed row by row
    instead when ``rows_after[i]`` (mixed feeding). Same state after every frame."""
    one, two = make(), make()
    start = 0
    for i, frame in enumerate(split_frames(stream, cuts)):
        part = stream[start : start + frame.height]
        start += frame.height
        for event in part:
            one.feed(event)
        if i < len(rows_after) and rows_after[i]:
            for event in part:
                two.feed(event)
        else:
            two.feed_frame(frame)  # type: ignore[union-attr]
        assert snapshot(two) == snapshot(one)
    assert findings(two) == findings(one)


# ---------------------------------------------------------------------- strategies
_FILES = (
    "a.txt",
    "b.docx",
    "dir\\c.xlsx",
    "dir/d.pdf",
    "x\\README_DECRYPT.txt",
    "y/how_to_restore.html",
    "e.locked",
    "f.wncry",
    "G.DOCX",
    "dir\\Ä.txt",
    "Ünïcode\\RÉADME.hta",
    "",
    "z.",
    "H.Crypted",  # known extensions that are prefixes of others, any case, or not last
    "dir/i.ENC",
    "j.crypt",
    "k.locked.txt",
    "l.lockedx",
    "m.x\\wnry",
    "n.WnCrY",
)
_FILE_KINDS = (EventKind.FILE_WRITE, EventKind.FILE_RENAME, EventKind.FILE_DELETE, EventKind.FILE_ACCESS)


@st.composite
def _times(draw: st.DrawFn, n: int, steps: Sequence[float | None]) -> list[datetime | None]:
    out: list[datetime | None] = []
    now = T0
    for _ in range(n):
        step = draw(st.sampled_from(steps))
        if step is None:
            out.append(None)
        else:
            now += timedelta(seconds=step)
            out.append(now)
    return out


_ORDERED = (0.0, 0.0, 1.0, 2.0, 3.0, 5.0, 0.5, 21.0, 40.0)  # no None, never back
_ANY = (*_ORDERED, -3.0, -30.0, None)


@st.composite
def file_streams(draw: st.DrawFn, steps: Sequence[float | None] = _ANY, max_size: int = 120) -> list[Event]:
    n = draw(st.integers(0, max_size))
    times = draw(_times(n, steps))
    out = []
    for when in times:
        out.append(
            Event(
                kind=draw(st.sampled_from(_FILE_KINDS)),
                source=draw(st.sampled_from(("s1", "s2"))),
                event_id="vfs",
                time=when,
                src_ip=draw(st.sampled_from((None, "", "10.0.0.1", "10.0.0.2"))),
                workstation=draw(st.sampled_from((None, "WS1"))),
                server=draw(st.sampled_from((None, "", "srv"))),
                user=draw(st.sampled_from((None, "alice", "Bob"))),
                domain=draw(st.sampled_from((None, "CORP"))),
                share=draw(st.sampled_from((None, "", "data", "IPC$", "ipc$"))),
                path=draw(st.sampled_from((None, *_FILES))),
                new_path=draw(st.sampled_from((None, *_FILES))),
            )
        )
    return out


_ACCOUNTS = ("alice", "Alice", "bob", "carol", "dave", "eve", "", None, "Émile", "İsa")


@st.composite
def logon_streams(draw: st.DrawFn, steps: Sequence[float | None] = _ANY, max_size: int = 120) -> list[Event]:
    n = draw(st.integers(0, max_size))
    times = draw(_times(n, steps))
    out = []
    for when in times:
        out.append(
            Event(
                kind=draw(
                    st.sampled_from((EventKind.LOGON_FAILURE,) * 3 + (EventKind.LOGON, EventKind.OTHER))
                ),
                source=draw(st.sampled_from(("s1", "s2"))),
                event_id="4625",
                time=when,
                src_ip=draw(st.sampled_from((None, "", "-", "127.0.0.1", "::1", "10.0.0.1", "10.0.0.2"))),
                workstation=draw(st.sampled_from((None, "", "WS1"))),
                server=draw(st.sampled_from((None, "", "dc"))),
                user=draw(st.sampled_from(_ACCOUNTS)),
                domain=draw(st.sampled_from((None, "", "CORP", "corp"))),
                status=draw(st.sampled_from((None, "", "0xc000006a", "0xc0000064"))),
                detail=draw(st.sampled_from((None, "", "bad password"))),
            )
        )
    return out


def _ransom(t: Thresholds = SMALL) -> Callable[[], Windowed]:
    return lambda: RansomwareDetector(t)


def _logons(t: Thresholds = SMALL) -> Callable[[], Windowed]:
    return lambda: FailedLogonDetector(t)


_CUTS = st.lists(st.integers(0, 130), max_size=5)
_MIXED = st.lists(st.booleans(), max_size=6)


# --------------------------------------------------------------------------- tests
@contextmanager
def _no_row_fallback() -> Iterator[None]:
    """No frame may go through ``feed`` row by row (whatever its times: groups whose times
    are out of order or mixed with missing ones get their windows replayed on columns)."""

    def refuse(detector: Windowed, frame: object) -> None:
        raise AssertionError("fell back to rows on ordered times")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_feed_rows", refuse)
        patch.setattr(frame_windows, "_failed_logon_rows", refuse)
        yield


@settings(max_examples=150, deadline=None)
@given(file_streams(), _CUTS, _MIXED)
def test_ransomware_frames_equal_rows(stream: list[Event], cuts: list[int], mixed: list[bool]) -> None:
    check(stream, cuts, _ransom(), mixed)


@settings(max_examples=80, deadline=None)
@given(file_streams(steps=_ORDERED), _CUTS)
def test_ransomware_ordered_times_take_the_column_path(stream: list[Event], cuts: list[int]) -> None:
    with _no_row_fallback():
        check(stream, cuts, _ransom())


@settings(max_examples=150, deadline=None)
@given(logon_streams(), _CUTS, _MIXED)
def test_failed_logons_frames_equal_rows(stream: list[Event], cuts: list[int], mixed: list[bool]) -> None:
    check(stream, cuts, _logons(), mixed)


@settings(max_examples=80, deadline=None)
@given(logon_streams(steps=_ORDERED), _CUTS)
def test_failed_logons_ordered_times_take_the_column_path(stream: list[Event], cuts: list[int]) -> None:
    with _no_row_fallback():
        check(stream, cuts, _logons())


@settings(max_examples=150, deadline=None)
@given(event_streams(), _CUTS)
def test_shared_strategy_streams(stream: list[Event], cuts: list[int]) -> None:
    assert_same_findings(stream, cuts, make=lambda: [RansomwareDetector(SMALL), FailedLogonDetector(SMALL)])
    with _no_row_fallback():
        check(stream, cuts, _ransom())
        check(stream, cuts, _logons())


@contextmanager
def _counting_replays() -> Iterator[list[int]]:
    """How many rows the out-of-order replays got (``[files, failures]``)."""
    seen = [0, 0]
    files, failures = frame_windows._replay_files, frame_windows._replay_failures

    def count_files(states: Any, rows: Any) -> None:
        seen[0] += rows.height
        files(states, rows)

    def count_failures(detector: Any, states: Any, rows: Any) -> None:
        seen[1] += rows.height
        failures(detector, states, rows)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_replay_files", count_files)
        patch.setattr(frame_windows, "_replay_failures", count_failures)
        yield seen


@settings(max_examples=120, deadline=None)
@given(file_streams(), logon_streams(), _CUTS, st.lists(st.integers(0, 119), max_size=4))
def test_times_going_back_take_the_column_path(
    files: list[Event], logons: list[Event], cuts: list[int], back: list[int]
) -> None:
    """Times going back (in a frame or between a window and the next frame), missing
    times, ties: the groups concerned get their windows replayed on the column values
    (never ``feed``), the others take the window arithmetic; same state after every frame.
    ``back`` moves some events an hour back, so whole windows expire or stay."""

    def moved(stream: list[Event]) -> list[Event]:
        out = list(stream)
        for i in back:
            if out and (e := out[i % len(out)]).time is not None:
                out[i % len(out)] = Event(
                    **{**{n: getattr(e, n) for n in e.__slots__}, "time": e.time - timedelta(hours=1)}
                )
        return out

    with _no_row_fallback():
        check(moved(files), cuts, _ransom())
        check(moved(logons), cuts, _logons())
        check(moved(files), cuts, _ransom(Thresholds()))
        check(moved(logons), cuts, _logons(Thresholds(brute_force_failures=2, spray_accounts=2)))


@settings(max_examples=80, deadline=None)
@given(file_streams(), logon_streams(), _CUTS, _MIXED, st.sampled_from((10**9, 15, 40)))
def test_frames_that_replay_every_window(
    files: list[Event], logons: list[Event], cuts: list[int], mixed: list[bool], replay: int
) -> None:
    """Frames under ``_REPLAY_ROWS`` rows (or failures): every window replayed with ``push``
    on the column values, the rest on columns; never ``feed``. With a middle threshold,
    frames of the same stream alternate between that and the window arithmetic (whose
    carried columns must then be dropped), and frames fed row by row come in between."""

    def refuse(*args: object) -> None:
        raise AssertionError("took the window arithmetic")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_REPLAY_ROWS", replay)
        if replay > 1000:
            patch.setattr(frame_windows, "_stats", refuse)
            patch.setattr(frame_windows, "_carried", refuse)
        with _no_row_fallback():
            check(files, cuts, _ransom(), mixed)
            check(logons, cuts, _logons(), mixed)
            check(files, cuts, _ransom(Thresholds()), mixed)
            check(logons, cuts, _logons(Thresholds(brute_force_failures=2, spray_accounts=2)), mixed)


def test_repeated_samples_replay_their_windows() -> None:
    """A file made of the same samples repeated (times go back at every repetition, as in
    the EVTX benchmark input): the replay is really taken, for files and failures, across
    frames, and the state is the row path's."""
    files = (_renames(30, 1.0) + _renames(12, 2.0, "10.0.0.2")) * 3
    failures = (_failures(25, 2.0, "10.0.0.5", 4) + _failures(8, 1.0, "10.0.0.6", 8)) * 3
    for cuts in ([], [40], [17, 50, 90], list(range(0, 130, 11))):
        with _no_row_fallback(), _counting_replays() as seen:
            check(files, cuts, _ransom())
            check(failures, cuts, _logons())
        assert seen[0] > 0 and seen[1] > 0


def _untimed(stream: list[Event], client: str = "10.0.0.2") -> list[Event]:
    """The stream with every event of source address ``client`` without a time (so the
    groups of that client have no time at all, the others keep theirs)."""
    return [
        Event(**{**{n: getattr(e, n) for n in e.__slots__}, "time": None}) if e.src_ip == client else e
        for e in stream
    ]


@settings(max_examples=50, deadline=None)
@given(file_streams(steps=_ORDERED), logon_streams(steps=_ORDERED), _CUTS, st.booleans())
def test_groups_without_times_take_the_column_path(
    files: list[Event], logons: list[Event], cuts: list[int], everything: bool
) -> None:
    """Groups whose events all lack a time (Zeek logs with masked ts), alone or beside
    groups with ordered times in the same frames: no row fallback, same state."""
    if everything:
        files = [Event(**{**{n: getattr(e, n) for n in e.__slots__}, "time": None}) for e in files]
        logons = [Event(**{**{n: getattr(e, n) for n in e.__slots__}, "time": None}) for e in logons]
    with _no_row_fallback():
        check(_untimed(files), cuts, _ransom())
        check(_untimed(logons), cuts, _logons())
        check(_untimed(files), cuts, _ransom(Thresholds()))


@settings(max_examples=30, deadline=None)
@given(file_streams(steps=(None,)), logon_streams(steps=(None,)), _CUTS)
def test_untimed_windows_ignore_the_cap(files: list[Event], logons: list[Event], cuts: list[int]) -> None:
    """``push`` without a time never drops (the 100,000-item cap included): with the cap
    made tiny, untimed groups still take the column path and keep every item."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_WINDOW_CAP", 2)
        with _no_row_fallback():
            check(files, cuts, _ransom())
            check(logons, cuts, _logons())


@settings(max_examples=60, deadline=None)
@given(file_streams(steps=_ORDERED), logon_streams(steps=_ORDERED), _CUTS, st.lists(st.integers(0, 120)))
def test_times_and_missing_times_mixed_in_a_group(
    files: list[Event], logons: list[Event], cuts: list[int], holes: list[int]
) -> None:
    """An untimed client whose group later (or earlier) gets timed events, and timed
    groups with a few missing times: such groups get their windows replayed, exactly."""
    def punch(stream: list[Event]) -> list[Event]:
        out = _untimed(stream)
        for hole in holes:
            if out:
                e = out[hole % len(out)]
                out[hole % len(out)] = Event(
                    **{**{n: getattr(e, n) for n in e.__slots__}, "time": None if e.time else T0}
                )
        return out

    with _no_row_fallback():
        check(punch(files), cuts, _ransom())
        check(punch(logons), cuts, _logons())


@settings(max_examples=100, deadline=None)
@given(file_streams(steps=_ORDERED), logon_streams(steps=_ORDERED), _CUTS)
def test_default_thresholds(files: list[Event], logons: list[Event], cuts: list[int]) -> None:
    check(files, cuts, _ransom(Thresholds()))
    check(logons, cuts, _logons(Thresholds()))


def _renames(n: int, step: float, client: str = "10.0.0.1") -> list[Event]:
    return [
        Event(
            kind=EventKind.FILE_RENAME,
            source="s",
            event_id="vfs:renameat",
            time=T0 + timedelta(seconds=i * step),
            src_ip=client,
            server="fs",
            share="data",
            path=f"d{i % 7}\\f{i}.docx",
            new_path=f"d{i % 7}\\f{i}.docx.x{i % 3}",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize("step", [0.0, 0.25, 1.0, 4.0, 5.0, 6.0, 20.0, 21.0])
def test_thresholds_exactly_at_the_window_edge(step: float) -> None:
    """Ties and events exactly W apart (the window is closed at both ends)."""
    t = Thresholds(ransomware_files=5, ransomware_window=20.0, ransomware_extension_changes=5)
    stream = _renames(40, step) + _renames(30, step, "10.0.0.2")
    stream.sort(key=lambda e: (e.time, e.src_ip))
    for cuts in ([], [1], [5, 6, 7], [13, 39, 41], list(range(0, 70, 3))):
        check(stream, cuts, _ransom(t))


@pytest.mark.parametrize("kind", [EventKind.FILE_WRITE, EventKind.FILE_RENAME, EventKind.FILE_DELETE])
def test_known_extensions_one_name_per_group(kind: EventKind) -> None:
    """Each name alone in its group (one share each), written, renamed to or deleted: a
    known ransomware extension counts only as the name's last extension, in any case."""
    names = ("k.locked.txt", "l.lockedx", "H.Crypted", "j.crypt", "dir/i.ENC", "m.x\\wnry", "n.WnCrY",
             "o.enc.", "p.docx", "q\\.locky", "r.lock", "s.crypte", "t.LockBit", "u")
    stream = [
        Event(
            kind=kind,
            source="s",
            event_id="vfs",
            time=T0 + timedelta(seconds=i),
            src_ip="10.0.0.1",
            share=f"share{i}",
            path="old.docx" if kind is EventKind.FILE_RENAME else name,
            new_path=name if kind is EventKind.FILE_RENAME else None,
        )
        for i, name in enumerate(names)
    ]
    check(stream, [], _ransom())
    check(stream, [3, 9], _ransom(Thresholds()))
    known = {key: sorted(s.known_extensions) for key, s in _fed(stream).groups.items()}
    if kind is not EventKind.FILE_DELETE:  # the reference finds these (so the test can fail)
        assert sum(1 for v in known.values() if v) == 6


def _fed(stream: list[Event]) -> RansomwareDetector:
    detector = RansomwareDetector(SMALL)
    detector.feed_frame(events_to_frame(stream))
    return detector


def test_out_of_order_and_missing_times_in_one_group_only() -> None:
    stream = _renames(30, 1.0)
    late = _renames(10, 1.0, "10.0.0.9")
    late[3] = Event(**{**{n: getattr(late[3], n) for n in late[3].__slots__}, "time": None})
    late[6] = Event(**{**{n: getattr(late[6], n) for n in late[6].__slots__}, "time": T0})
    for cuts in ([], [10], [20, 35]):
        check(stream + late + _renames(5, 2.0), cuts, _ransom())


def _failures(n: int, step: float, source: str, accounts: int) -> list[Event]:
    return [
        Event(
            kind=EventKind.LOGON_FAILURE,
            source="s",
            event_id="4625",
            time=T0 + timedelta(seconds=i * step),
            src_ip=source,
            user=f"user{i % accounts}",
            domain="CORP",
            status="0xc000006a",
        )
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("step", "accounts"), [(0.0, 1), (1.0, 1), (10.0, 2), (15.0, 5), (30.0, 3), (61.0, 4)]
)
def test_brute_force_and_spraying_thresholds(step: float, accounts: int) -> None:
    success = Event(
        kind=EventKind.LOGON,
        source="s",
        event_id="4624",
        time=T0,
        src_ip="10.0.0.5",
        user="user1",
        domain="CORP",
    )
    stream = _failures(25, step, "10.0.0.5", accounts)
    stream.insert(12, success)
    stream.insert(0, success)
    for cuts in ([], [1], [7, 8], [3, 13, 20], list(range(0, 27, 2))):
        check(stream, cuts, _logons())


def test_guards_send_the_frame_row_by_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """With the guards' limits made tiny the frame path must fall back and still agree."""
    monkeypatch.setattr(frame_windows, "_GROUPS_GUARD", 1)
    monkeypatch.setattr(frame_windows, "_ACCOUNTS_GUARD", 1)
    monkeypatch.setattr(frame_windows, "_WINDOW_CAP", 3)
    stream = _renames(20, 1.0) + _renames(20, 1.0, "10.0.0.2")
    check(stream, [5, 25], _ransom())
    check(_failures(20, 1.0, "10.0.0.5", 4), [5, 9], _logons())


@settings(max_examples=60, deadline=None)
@given(file_streams(steps=_ORDERED), logon_streams(steps=_ORDERED), _CUTS)
def test_rank_keys_when_offsets_would_not_fit(
    files: list[Event], logons: list[Event], cuts: list[int]
) -> None:
    """Composite keys from time ranks (used when group * time span could overflow)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_SPAN_LIMIT", 0)
        check(files, cuts, _ransom())
        check(logons, cuts, _logons())


@settings(max_examples=60, deadline=None)
@given(file_streams(), logon_streams(), _CUTS)
def test_small_frames_go_row_by_row_between_column_frames(
    files: list[Event], logons: list[Event], cuts: list[int]
) -> None:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_MIN_ROWS", 15)
        check(files, cuts, _ransom())
        check(logons, cuts, _logons())


@settings(max_examples=40, deadline=None)
@given(logon_streams(), _CUTS, _MIXED)
def test_failed_logon_row_path_without_events_for_logons(
    stream: list[Event], cuts: list[int], mixed: list[bool]
) -> None:
    """Frames under the column path's threshold: failures through ``feed``, successful
    logons through ``_logon`` on the column values (no Event built). Same state after
    every frame, also between frames fed with ``feed``, and no frame takes the column path."""

    def refuse(*args: object) -> None:
        raise AssertionError("took the column path")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_MIN_ROWS", 10**9)
        patch.setattr(frame_windows, "_stats", refuse)
        check(stream, cuts, _logons(), mixed)
        check(stream, cuts, _logons(Thresholds()), mixed)


def test_many_groups_near_the_clear_guard() -> None:
    """The real 100,000-groups guard of RansomwareDetector: the frame that could cross it
    goes row by row and ends in the same state."""
    many = [
        Event(
            kind=EventKind.FILE_WRITE,
            source="s",
            event_id="w",
            time=T0,
            src_ip=f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
            server="fs",
            share="data",
            path="a.txt",
        )
        for i in range(100_003)
    ]
    one, two = RansomwareDetector(SMALL), RansomwareDetector(SMALL)
    for event in many:
        one.feed(event)
    two.feed_frame(events_to_frame(many[:99_990]))
    two.feed_frame(events_to_frame(many[99_990:]))
    assert len(two.groups) == len(one.groups)
    assert snapshot(two)[-5:] == snapshot(one)[-5:]
    assert list(two.groups) == list(one.groups)


# ------------------------------------------------------------------------ real data
def _events(path: Path, **kwargs: Any) -> list[Event]:
    source = open_source(str(path))
    return list(source.events())


@pytest.mark.parametrize(
    "relative",
    [
        "logs/samba/timlok-otus-linux_full_audit_journal_excerpt.log",
        "logs/samba/journeymidnight-samba-4.7.1_log.smbd",
        "logs/samba/crowdsec-hub_smb-logs.log",
    ],
)
def test_real_samba_logs(shared_data: Path, relative: str) -> None:
    stream = _events(shared_data / relative)
    for cuts in ([], [len(stream) // 3, len(stream) // 2], list(range(0, len(stream), 97))):
        check(stream, cuts, _ransom())
        check(stream, cuts, _logons())
        check(stream, cuts, _ransom(Thresholds()))
        check(stream, cuts, _logons(Thresholds()))


def test_real_evtx_samples(shared_data: Path) -> None:
    files = sorted((shared_data / "evtx").rglob("*.evtx"))
    stream: list[Event] = []
    for path in files:
        try:
            stream.extend(_events(path))
        except Exception:  # noqa: BLE001 - a sample the reader rejects is not this test's subject
            continue
    relevant = [
        e
        for e in stream
        if e.kind in (EventKind.LOGON, EventKind.LOGON_FAILURE) or e.kind in RansomwareDetector.kinds
    ]
    assert relevant, "the EVTX samples should hold logons"
    for cuts in ([], list(range(0, len(stream), 501))):
        check(stream, cuts, _logons())
        check(stream, cuts, _ransom())
        check(stream, cuts, _logons(Thresholds(brute_force_failures=2, spray_accounts=2)))


def test_state_after_a_frame_continues_in_rows() -> None:
    """The window left behind by a frame is what rows continue from (no hidden state)."""
    stream = _renames(50, 0.5)
    one, two = RansomwareDetector(SMALL), RansomwareDetector(SMALL)
    for event in stream:
        one.feed(event)
    two.feed_frame(events_to_frame(stream[:30]))
    for event in stream[30:]:
        two.feed(event)
    assert snapshot(two) == snapshot(one)
    state = next(iter(two.groups.values()))
    assert state.files is not None and 0 < len(state.files) < 50
    assert state.files.items[-1][0] == datetime(2024, 1, 1, 12, 0, 24, 500000, tzinfo=UTC)


# ------------------------------------------------- frames without any time (masked ts)
@contextmanager
def _untimed_path_only() -> Iterator[list[int]]:
    """Ransomware frames must take the untimed append path: the window arithmetic, the
    replays and ``feed`` are refused. Yields ``[frames that took it]``."""
    taken = [0]
    untimed = frame_windows._untimed_frame

    def counting(*args: Any) -> bool:
        done = untimed(*args)
        taken[0] += done
        return done

    def refuse(*args: object) -> None:
        raise AssertionError("an untimed frame left the append path")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(frame_windows, "_untimed_frame", counting)
        for name in ("_carried", "_stats", "_replay_files", "_feed_rows"):
            patch.setattr(frame_windows, name, refuse)
        yield taken


def _no_time(stream: Sequence[Event]) -> list[Event]:
    return [Event(**{**{n: getattr(e, n) for n in e.__slots__}, "time": None}) for e in stream]


@st.composite
def _many_clients(draw: st.DrawFn) -> list[Event]:
    """Untimed file events of up to 40 clients, few distinct paths (duplicates) or many."""
    n = draw(st.integers(1, 150))
    paths = draw(st.sampled_from((_FILES[:4], _FILES, tuple(f"p{i}.doc" for i in range(60)))))
    return [
        Event(
            kind=draw(st.sampled_from(_FILE_KINDS)),
            source="s",
            event_id="zeek",
            time=None,
            src_ip=f"10.0.0.{draw(st.integers(1, 40))}",
            share=draw(st.sampled_from(("data", "", None))),
            path=draw(st.sampled_from((None, *paths))),
            new_path=draw(st.sampled_from((None, *paths))),
        )
        for _ in range(n)
    ]


@settings(max_examples=120, deadline=None)
@given(st.one_of(file_streams(steps=(None,)), _many_clients()), _CUTS)
def test_untimed_frames_append_to_their_windows(stream: list[Event], cuts: list[int]) -> None:
    """Frames without any time, whose windows hold none either: appended to the windows
    without reading them; the state after every frame (windows built by the comparison)
    is the row path's, small and default thresholds, frames of one row included."""
    with _untimed_path_only() as taken:
        check(stream, cuts, _ransom())
        check(stream, cuts, _ransom(Thresholds()))
        check(stream, list(range(len(stream))), _ransom())  # frames of one row
    assert taken[0] >= 2 or not [e for e in stream if e.kind in RansomwareDetector.kinds]


@settings(max_examples=80, deadline=None)
@given(st.one_of(file_streams(steps=(None,)), _many_clients()), _CUTS)
def test_untimed_windows_stay_deferred_across_frames(stream: list[Event], cuts: list[int]) -> None:
    """Nothing reads the windows between frames: each is appended to while still deferred
    (a chain of appended blocks, built once at the end)."""
    one, two = RansomwareDetector(SMALL), RansomwareDetector(SMALL)
    for event in stream:
        one.feed(event)
    with _untimed_path_only():
        for frame in split_frames(stream, [*cuts, *range(0, len(stream), 7)]):
            two.feed_frame(frame)
    assert snapshot(two) == snapshot(one)
    assert findings(two) == findings(one)


@settings(max_examples=100, deadline=None)
@given(file_streams(steps=_ANY), file_streams(steps=(None,)), _CUTS, _MIXED, st.integers(0, 2))
def test_untimed_frames_between_timed_frames_and_rows(
    timed: list[Event], untimed: list[Event], cuts: list[int], mixed: list[bool], order: int
) -> None:
    """Untimed frames before, after or between frames with times (out of order, missing)
    and frames fed row by row: a window that may hold a time leaves the append path (the
    general path then reads the appended windows), a window pushed to by ``feed`` too."""
    parts = [untimed, timed, _no_time(timed)]
    stream = [e for i in (order, (order + 1) % 3, (order + 2) % 3) for e in parts[i]]
    check(stream, cuts, _ransom(), mixed)
    check(stream, cuts, _ransom(Thresholds()), mixed)


def test_untimed_chain_of_many_frames() -> None:
    """A window appended to in 1,100 frames (deeper than Python's recursion limit) builds."""
    stream = _no_time(_renames(1100, 0.0))
    one, two = RansomwareDetector(SMALL), RansomwareDetector(SMALL)
    for event in stream:
        one.feed(event)
    with _untimed_path_only() as taken:
        for event in stream:
            two.feed_frame(events_to_frame([event]))
    assert taken[0] == 1100
    assert snapshot(two) == snapshot(one)


def test_untimed_window_pushed_by_feed_leaves_the_append_path() -> None:
    """An untimed frame, then rows through ``feed`` (new distinct items), then an untimed
    frame: the window is no longer the one the append path sealed, so its held items are
    read again (a stale seal would count 3 distinct files instead of 5)."""

    def write(path: str) -> Event:
        return Event(
            kind=EventKind.FILE_WRITE, source="s", event_id="zeek", time=None, src_ip="10.0.0.1", path=path
        )

    first, rows, last = [write("a"), write("b")], [write("c"), write("d")], [write("e")]
    one, two = RansomwareDetector(SMALL), RansomwareDetector(SMALL)
    for event in first + rows + last:
        one.feed(event)
    two.feed_frame(events_to_frame(first))
    for event in rows:
        two.feed(event)
    two.feed_frame(events_to_frame(last))
    assert snapshot(two) == snapshot(one)
    assert next(iter(two.groups.values())).peak_files == 5
