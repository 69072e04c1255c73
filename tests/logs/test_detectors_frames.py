"""Column-frame path of the group-by detectors: :func:`apply_tallies` against
:meth:`Tally.add` row by row, every ``_Simple`` detector's ``feed_frame`` against its
``feed`` (hypothesis, frames cut anywhere), and ``analyze()`` of the real samples with
and without frames."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs import detectors as det
from smbguard.logs.detectors import Tally, apply_tallies
from smbguard.logs.events import Event, EventKind, events_to_frame

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


@settings(max_examples=150, deadline=None)
@given(
    _rows(),
    st.lists(st.integers(0, 60), max_size=4),
    st.sampled_from(((50, 200, 200, 500), (2, 3, 2, 3), (1, 1, 1, 1), (3, 2, 4, 2))),
    st.booleans(),
)
def test_apply_tallies_is_tally_add_row_by_row(
    rows: tuple[list[Event], list[str], list[str | None]],
    cuts: list[int],
    limits: tuple[int, int, int, int],
    with_items: bool,
) -> None:
    stream, keys, items = rows
    with _limits(*limits):
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
