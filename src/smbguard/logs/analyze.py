"""``logs analyze``: run every source through every detector and collect the result."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

from smbguard.logs.detect import expand_paths, open_source
from smbguard.logs.detectors import Detector, DetectorSet, Thresholds, default_detectors
from smbguard.logs.events import Event, FrameSource, LogSource, SourceStats
from smbguard.logs.findings import LogFinding
from smbguard.model import JsonValue

if TYPE_CHECKING:
    import polars as pl


@dataclass(frozen=True, slots=True)
class Analysis:
    findings: tuple[LogFinding, ...]
    sources: tuple[SourceStats, ...]

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "findings": [f.to_dict() for f in self.findings],
            "sources": [s.to_dict() for s in self.sources],
        }


def _guarded(source: LogSource) -> Iterator[Event]:
    """A source that fails mid-file (I/O error, decompression error) keeps what it read."""
    try:
        yield from source.events()
    except (OSError, EOFError, ValueError) as exc:
        source.stats.skipped += 1
        source.stats.warn(f"reading stopped early: {type(exc).__name__}: {str(exc)[:120]}")


def _guarded_frames(source: FrameSource) -> Iterator[pl.DataFrame]:
    """:func:`_guarded` for a source read as frames."""
    try:
        yield from source.frames()
    except (OSError, EOFError, ValueError) as exc:
        source.stats.skipped += 1
        source.stats.warn(f"reading stopped early: {type(exc).__name__}: {str(exc)[:120]}")


def analyze(
    paths: Iterable[str],
    thresholds: Thresholds | None = None,
    detectors: list[Detector] | None = None,
) -> Analysis:
    """Read every file (directories recursively) and return findings plus per-source statistics."""
    dispatcher = DetectorSet(detectors if detectors is not None else default_detectors(thresholds))
    feed = dispatcher.feed
    stats: list[SourceStats] = []
    for path in expand_paths(paths):
        source = open_source(path)
        stats.append(source.stats)
        if hasattr(source, "frames"):  # column batches: detectors work on whole columns
            for frame in _guarded_frames(cast(FrameSource, source)):
                dispatcher.feed_frame(frame)
        else:
            for event in _guarded(source):
                feed(event)
    return Analysis(findings=tuple(dispatcher.findings()), sources=tuple(stats))
