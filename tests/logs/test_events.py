"""Event frames: the column form of events that ``logs analyze`` feeds to detectors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.events import (
    EVENT_COLUMNS,
    Event,
    EventKind,
    events_to_frame,
    frame_schema,
    frame_to_events,
)
from tests.logs.frames import T0, assert_same_findings, event_streams


def rows_reference(frame: pl.DataFrame) -> Iterator[Event]:
    """The former ``frame_to_events``: one row at a time through polars' ``iter_rows``
    (kept here as the reference the column conversion is compared with)."""
    kinds = {kind.value: kind for kind in EventKind}
    names = frame.columns
    for row in frame.iter_rows():
        values = dict(zip(names, row, strict=True))
        values["kind"] = kinds[values["kind"]]
        when = values.get("time")
        if when is not None:
            values["time"] = when.replace(tzinfo=UTC)
        yield Event(**values)


def test_frame_columns_are_the_event_fields_in_order() -> None:
    assert tuple(Event.__dataclass_fields__) == EVENT_COLUMNS
    assert list(events_to_frame([]).schema) == list(EVENT_COLUMNS)
    assert dict(events_to_frame([]).schema) == frame_schema()


@settings(max_examples=150, deadline=None)
@given(event_streams())
def test_round_trip_keeps_every_field_and_the_order(stream: list[Event]) -> None:
    back = frame_to_events(events_to_frame(stream))
    assert back == stream
    assert [e.time.tzinfo for e in back if e.time] == [e.time.tzinfo for e in stream if e.time]


_EDGE_TIMES = st.sampled_from(
    (
        None,
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(1, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1970, 1, 1, 0, 0, 0, 1, tzinfo=UTC),
        datetime(2024, 2, 29, 23, 59, 59, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC),
    )
)


def _with_times(stream: list[Event], times: list[datetime | None], at: int) -> list[Event]:
    out = list(stream)
    for i, when in enumerate(times):
        if out:
            j = (at + i) % len(out)
            out[j] = Event(**{**{n: getattr(out[j], n) for n in out[j].__slots__}, "time": when})
    return out


@settings(max_examples=150, deadline=None)
@given(event_streams(), st.lists(_EDGE_TIMES, max_size=8), st.integers(0, 80))
def test_frame_to_events_is_the_row_reference(
    stream: list[Event], times: list[datetime | None], at: int
) -> None:
    """The column conversion gives the row reference's events, field types and zones
    included (times before the epoch, at the ends of datetime's range, repeated)."""
    stream = _with_times(stream, times, at)
    frame = events_to_frame(stream)
    fast = frame_to_events(frame)
    assert fast == list(rows_reference(frame)) == stream
    assert [type(e.time) for e in fast] == [type(e.time) for e in stream]
    assert all(e.time is None or e.time.tzinfo is UTC for e in fast)
    assert [type(e.kind) for e in fast] == [EventKind] * len(stream)


@settings(max_examples=60, deadline=None)
@given(event_streams(max_size=20), st.lists(_EDGE_TIMES, max_size=4), st.integers(0, 20), st.data())
def test_other_layouts_are_the_row_reference(
    stream: list[Event], times: list[datetime | None], at: int, data: st.DataObject
) -> None:
    """Frames that are not the event layout: columns reordered or some missing (their
    fields then take the defaults), time in ms or ns, naive or in another zone (read as
    UTC wall times, as the reference does)."""
    stream = _with_times(stream, times[:1] if not stream else times, at)
    frame = events_to_frame(stream)
    optional = [c for c in EVENT_COLUMNS if c not in ("kind", "source", "event_id")]
    dropped = data.draw(st.lists(st.sampled_from(optional), unique=True, max_size=4))
    order = data.draw(st.permutations(frame.columns))
    moved = frame.select([c for c in order if c not in dropped])
    assert frame_to_events(moved) == list(rows_reference(moved))
    if "time" in dropped:
        return
    year = pl.col("time").dt.year()
    safe = frame.filter(pl.col("time").is_null() | ((year > 1900) & (year < 2200)))  # ns range, zone rules
    for time in (
        pl.col("time").dt.cast_time_unit("ms"),
        pl.col("time").dt.cast_time_unit("ns"),
        pl.col("time").dt.replace_time_zone(None),
        pl.col("time").dt.convert_time_zone("Europe/Paris"),
    ):
        other = safe.with_columns(time)
        assert frame_to_events(other) == list(rows_reference(other))


def test_empty_frames() -> None:
    assert frame_to_events(events_to_frame([])) == []
    assert frame_to_events(events_to_frame([]).select("kind", "source", "event_id")) == []
    one = Event(kind=EventKind.LOGON, source="s", event_id="4624", time=T0)
    assert frame_to_events(events_to_frame([one]).select("event_id", "kind", "source", "time")) == [one]


@settings(max_examples=200, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 100), max_size=4))
def test_frames_and_events_give_the_same_findings(stream: list[Event], cuts: list[int]) -> None:
    assert_same_findings(stream, cuts)
