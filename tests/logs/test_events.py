"""Event frames: the column form of events that ``logs analyze`` feeds to detectors."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs.events import EVENT_COLUMNS, Event, events_to_frame, frame_schema, frame_to_events
from tests.logs.frames import assert_same_findings, event_streams


def test_frame_columns_are_the_event_fields_in_order() -> None:
    assert tuple(Event.__dataclass_fields__) == EVENT_COLUMNS
    assert list(events_to_frame([]).schema) == list(EVENT_COLUMNS)
    assert dict(events_to_frame([]).schema) == frame_schema()


@settings(max_examples=150, deadline=None)
@given(event_streams())
def test_round_trip_keeps_every_field_and_the_order(stream: list[Event]) -> None:
    back = list(frame_to_events(events_to_frame(stream)))
    assert back == stream
    assert [e.time.tzinfo for e in back if e.time] == [e.time.tzinfo for e in stream if e.time]


@settings(max_examples=200, deadline=None)
@given(event_streams(), st.lists(st.integers(0, 100), max_size=4))
def test_frames_and_events_give_the_same_findings(stream: list[Event], cuts: list[int]) -> None:
    assert_same_findings(stream, cuts)
