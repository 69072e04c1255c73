"""Column (polars) ``feed_frame`` for the two windowed detectors.

:class:`~smbguard.logs.detectors.RansomwareDetector` and
:class:`~smbguard.logs.detectors.FailedLogonDetector` keep sliding windows
(:class:`~smbguard.logs.detectors._Window`) per group. Their per-event ``feed`` stays
the readable reference; the functions here leave a detector in exactly the state
feeding the frame's rows one by one would, and the differential tests in
``tests/logs/test_frame_windows.py`` check that.

How the windows are computed without a Python step per event. ``_Window.push`` appends
and then drops items from the left while the oldest time is before ``when - W``. When a
group's times (the items already in its window, then the frame's rows) are all present
and never go backwards, the window after each push is exactly "the group's items with
time in ``[when - W, when]``", so:

* items in the window (a count): two binary searches per row over the group's sorted
  times (``t <= when`` minus ``t < when - W``), all groups at once on one composite
  ``group * M + rank(time)`` column;
* distinct items: each occurrence of an item keeps it in the window for
  ``[t, t + W]``; merging the overlapping intervals of an item gives runs ``[a, b]``,
  and the distinct count at ``when`` is the number of runs with ``a <= when <= b``
  (two more binary searches);
* peaks are the maxima over the frame's rows (rows with equal times all count at the
  last of them, which is where the per-row peak is largest, so this is exact);
* the window left behind is the tail of the group's items with ``t >= last - W``:
  the old deque loses its expired head and gains the frame's tail, in order.

A group without any time (its window's items and its rows in the frame) is exact too:
``push(None, item)`` appends and never drops (the cap is only applied after a push with
a time), so counts are running counts, distinct counts running distinct counts, and the
window left behind is everything. Peaks of distinct counts are often known without the
per-row computation (see :func:`_distinct_peaks`).

Groups where that picture does not hold (times and missing times mixed, time going
backwards, a window that already holds an unordered time, the 100,000-item cap or the
10,000 accounts guard within reach) get their windows *replayed*: each of their rows is
pushed with the real ``_Window.push`` on the column values, the peaks and flags updated
as ``feed`` does (:func:`_replay_files`, :func:`_replay_failures`); what ``feed`` does
besides the windows (tallies, extensions, notes, alerts, later successful logons) stays
on columns for every group. Groups are independent, so mixing the two is exact. Frames
with fewer than ``_REPLAY_ROWS`` rows replay every window (the arithmetic's fixed cost is
larger there), frames with fewer than ``_MIN_ROWS`` go through ``feed``. When a
detector-wide guard (the 100,000 groups of the ransomware detector) or a time too close
to ``datetime.min`` could be reached in this frame, the whole frame goes row by row.

Strings: polars lowercases and matches regular expressions like Python for ASCII; rows
with non-ASCII paths or accounts get those derived values from Python (per distinct value).
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import repeat
from typing import TYPE_CHECKING, Any

from smbguard.logs.detectors import (
    _MAX_ACCOUNT_WINDOWS,
    _NOTE,
    _NOTE_SUFFIXES,
    _RANSOM_EXT,
    FailedLogonDetector,
    RansomwareDetector,
    _account_of,
    _ClientShare,
    _Contents,
    _DeferredWindow,
    _dir,
    _ext,
    _source_of,
    _SourceState,
    _truthy,
    _Window,
    apply_tallies,
)
from smbguard.logs.events import EVENT_COLUMNS, EventKind, frame_to_events

if TYPE_CHECKING:
    import polars as pl

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)
_SMALL = 32  # below this many items a Counter costs more than counting one by one
#: Frames with fewer rows (of the detector's kinds) go row by row: the column path costs a
#: few milliseconds per frame whatever its size, ``feed`` a few microseconds per row.
_MIN_ROWS = 2_000
#: Frames with fewer rows (of the detector's kinds, or failures; the rows its windows
#: carry as columns from the previous frame included) replay every window with
#: ``_Window.push`` on the column values (everything else stays on columns): the window
#: arithmetic's fixed cost, dozens of polars queries per frame (~25 ms), is larger than
#: ~1-5 us per replayed row (most where every row has its own time) below this.
_REPLAY_ROWS = 5_000
_SPAN_LIMIT = 2**62  # composite (group, time) keys as group * span + offset below this, else ranks
_WINDOW_CAP = 100_000  # _Window.push drops beyond this many items
_GROUPS_GUARD = 100_000  # RansomwareDetector clears its groups beyond this many
_ACCOUNTS_GUARD = _MAX_ACCOUNT_WINDOWS  # FailedLogonDetector clears per-account windows beyond this


# ------------------------------------------------------------------------- helpers
def _feed_rows(detector: RansomwareDetector | FailedLogonDetector, frame: pl.DataFrame) -> None:
    """The reference path: every row through ``feed``, in order."""
    feed = detector.feed
    for event in frame_to_events(frame.select(EVENT_COLUMNS)):
        feed(event)


def _times_fit(frame: pl.DataFrame, seconds: float) -> bool:
    """False when ``when - W`` (computed by ``_Window.push``) could leave Python's datetime range."""
    low = frame.get_column("__t").min()
    if low is None:
        return True
    margin = timedelta(seconds=max(seconds, 0.0)) + timedelta(days=1)
    return isinstance(low, int) and low >= (datetime.min.replace(tzinfo=UTC) + margin - EPOCH) // US


def _datetimes(values: list[int | None], clock: dict[int | None, datetime | None]) -> list[datetime | None]:
    """Microseconds since the epoch -> aware datetimes (None stays None), each distinct
    value built once per ``clock`` (a frame's cache shared by its windows)."""
    clock.setdefault(None, None)
    missing: list[int] = [v for v in set(values).difference(clock) if v is not None]
    if missing:  # EPOCH + timedelta(0, 0, us), without a Python-level loop
        clock.update(
            zip(missing, map(EPOCH.__add__, map(timedelta, repeat(0), repeat(0), missing)), strict=True)
        )
    return list(map(clock.__getitem__, values))


def _python_lower(frame: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """``out`` = ``column`` lowercased as Python's ``str.lower`` does (polars for ASCII values,
    Python for the distinct non-ASCII ones); nulls stay null."""
    import polars as pl

    col = pl.col(column)
    series = frame.get_column(column)
    odd = series.filter(series.str.len_bytes() != series.str.len_chars())
    if odd.len() == 0:
        return frame.with_columns(col.str.to_lowercase().alias(out))
    values = odd.unique().to_list()
    lowered = pl.DataFrame(
        {"__v": values, out: [v.lower() for v in values]}, schema={"__v": pl.Utf8, out: pl.Utf8}
    )
    joined = frame.join(lowered, left_on=column, right_on="__v", how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(pl.col(out), col.str.to_lowercase()).alias(out))


class _Block:
    """The rows (t, item) the windows of one family hold after a frame, each window's rows
    contiguous; windows read their slice back as Python objects only when first used."""

    __slots__ = ("clock", "rows")

    def __init__(self, rows: pl.DataFrame) -> None:
        self.rows = rows
        self.clock: dict[int | None, datetime | None] = {}


class _Pending:
    """A deferred window's contents: rows ``start`` to ``start + n`` of a block. Once built,
    ``last`` is the deque's last tuple (see :class:`_Carry`)."""

    __slots__ = ("block", "last", "n", "start")

    def __init__(self, block: _Block, start: int, n: int) -> None:
        self.block, self.start, self.n = block, start, n
        self.last: object = None

    def __call__(self) -> tuple[deque[tuple[datetime | None, str]], dict[str, int]]:
        part = self.block.rows.slice(self.start, self.n)
        times = _datetimes(part.get_column("t").to_list(), self.block.clock)
        items: list[str] = part.get_column("item").to_list()
        window: deque[tuple[datetime | None, str]] = deque(zip(times, items, strict=True))
        counts: dict[str, int] = {}
        if self.n > _SMALL:
            counts.update(Counter(items))
        else:
            get = counts.get
            for item in items:
                counts[item] = get(item, 0) + 1
        self.last = window[-1] if window else None
        return window, counts


class _Carry:
    """The items of the windows this module left behind, as columns (name, t, item), so the
    next frame reads them from here instead of converting the deques back to columns.

    A window's cached rows are used only while its seal still matches: the same window
    object, still deferred to the same :class:`_Pending`, or built from it and untouched
    since (the same number of items and the very same last tuple: any ``push`` appends a
    new tuple). Otherwise the deque itself is read. It is a cache: dropping it never
    changes a result (:func:`_forget` first builds the windows it deferred).

    ``block``/``deferred``: the windows :func:`_leave_windows` deferred in the latest frame.
    Windows still deferred to an older frame's block are built then, so at most one frame's
    block per family stays alive (memory stays flat)."""

    __slots__ = ("block", "deferred", "rows", "seals")

    def __init__(self) -> None:
        import polars as pl

        self.rows = pl.DataFrame(schema={"name": pl.Utf8, "t": pl.Int64, "item": pl.Utf8})
        self.seals: dict[str, tuple[_Window, _Pending]] = {}
        self.block: _Block | None = None
        self.deferred: list[tuple[_Window, _Pending]] = []

    def defer(self, block: _Block, deferred: list[tuple[_Window, _Pending]]) -> None:
        """Windows deferred to ``block`` now; those still deferred to the previous block
        are built (the previous block is then free)."""
        self.materialise()
        self.block, self.deferred = block, deferred

    def materialise(self) -> None:
        for window, pending in self.deferred:
            if window._pending is pending and isinstance(window, _DeferredWindow):
                window._materialise()
        self.deferred = []

    def sealed(self, name: str, window: _Window) -> bool:
        seal = self.seals.get(name)
        if seal is None or seal[0] is not window:
            return False
        pending = seal[1]
        if window._pending is pending:
            return True
        if window._pending is not None:
            return False
        items = window.items
        return len(items) == pending.n and bool(items) and items[-1] is pending.last

    def update(
        self, names: list[str], touched: list[int], good: list[_Window | None], final: pl.DataFrame
    ) -> None:
        """After a frame: the touched groups' windows now hold ``final`` (gid, t, item) rows;
        ``good[gid]`` is the window to seal (None: group went row by row, forget it)."""
        import polars as pl

        gone = [names[g] for g in touched]
        for name in gone:
            self.seals.pop(name, None)
        index = pl.DataFrame({"gid": touched, "name": gone}, schema={"gid": pl.Int64, "name": pl.Utf8})
        fresh = final.join(index, on="gid", how="inner", maintain_order="left").select("name", "t", "item")
        self.rows = pl.concat([self.rows.filter(~pl.col("name").is_in(gone)), fresh], rechunk=True)
        block, self.block = self.block, None
        if block is None:
            return
        for gid in touched:
            window = good[gid]
            if window is None:
                continue
            pending = window._pending
            if isinstance(pending, _Pending) and pending.block is block:
                self.seals[names[gid]] = (window, pending)


def _carry(detector: RansomwareDetector | FailedLogonDetector, family: str) -> _Carry:
    store: dict[str, _Carry] = detector.__dict__.setdefault("_frame_windows_carry", {})
    carry = store.get(family)
    if carry is None:
        carry = store[family] = _Carry()
    return carry


def _replays(detector: RansomwareDetector | FailedLogonDetector, rows: int) -> bool:
    """Whether a frame of ``rows`` rows replays every window (see ``_REPLAY_ROWS``): the
    windows carried as columns would first be built as deques, so they count too."""
    store: dict[str, _Carry] = detector.__dict__.get("_frame_windows_carry", {})
    return rows + sum(carry.rows.height for carry in store.values()) < _REPLAY_ROWS


def _forget(detector: RansomwareDetector | FailedLogonDetector) -> None:
    store: dict[str, _Carry] = detector.__dict__.pop("_frame_windows_carry", {})
    for carry in store.values():
        carry.materialise()


def _carried(
    windows: list[_Window | None], gids: list[int], names: list[str], carry: _Carry
) -> tuple[pl.DataFrame, set[int]]:
    """The items already in these windows as rows (gid, t, item, new=False; t null for a
    missing time); gids whose window holds items with and without a time are returned
    apart (their groups go row by row)."""
    import polars as pl

    out_gid: list[int] = []
    out_t: list[int | None] = []
    out_item: list[str] = []
    bad: set[int] = set()
    sealed_gid: list[int] = []
    sealed_name: list[str] = []
    for gid in gids:
        window = windows[gid]
        if window is None:
            continue
        if carry.sealed(names[gid], window):
            sealed_gid.append(gid)
            sealed_name.append(names[gid])
            continue
        items_now = window.items
        if not items_now:
            continue
        times, items = zip(*items_now, strict=True)
        distinct = set(times)
        if None in distinct and len(distinct) > 1:  # times and missing times mixed
            bad.add(gid)
            continue
        micros = {when: None if when is None else (when - EPOCH) // US for when in distinct}
        out_t.extend(map(micros.__getitem__, times))
        out_item.extend(items)
        out_gid.extend([gid] * len(times))
    frame = pl.DataFrame(
        {"gid": out_gid, "t": out_t, "item": out_item},
        schema={"gid": pl.Int64, "t": pl.Int64, "item": pl.Utf8},
    )
    if sealed_gid:
        index = pl.DataFrame(
            {"name": sealed_name, "gid": sealed_gid}, schema={"name": pl.Utf8, "gid": pl.Int64}
        )
        cached = carry.rows.join(index, on="name", how="inner", maintain_order="left")
        frame = pl.concat([cached.select("gid", "t", "item"), frame])
    return frame.with_columns(pl.lit(False).alias("new")), bad


def _sequence(carried: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """Carried window items, then the frame's rows, per gid in order."""
    import polars as pl

    fresh = fresh.select(
        pl.col("gid").cast(pl.Int64), pl.col("t").cast(pl.Int64), pl.col("item"), pl.lit(True).alias("new")
    )
    return pl.concat([carried, fresh]).sort("gid", maintain_order=True)


def _unordered(seq: pl.DataFrame) -> set[int]:
    """Gids whose sequence mixes times and missing times, goes back in time or could reach
    the window cap. (A sequence without any time is fine: ``push`` then never drops, cap
    included, so the window is simply everything pushed.)"""
    import polars as pl

    t = pl.col("t")
    untimed = t.is_null().all()
    bad = seq.group_by("gid").agg(
        (
            (t.is_null().any() & ~untimed) | (t.diff() < 0).any() | ((pl.len() > _WINDOW_CAP) & ~untimed)
        ).alias("bad")
    )
    return set(bad.filter(pl.col("bad")).get_column("gid").to_list())


def _stats(seq: pl.DataFrame, w: int, distinct: bool, count: bool = True) -> pl.DataFrame:
    """Add ``cnt`` (items of the group with time in ``[t - w, t]``; unless not ``count``) and,
    with ``distinct``, ``dist`` (distinct items among them) to every row of a clean
    sequence (see module doc). A group without any time keeps everything it was pushed:
    ``cnt`` is then its running count, ``dist`` its running number of distinct items. The
    rows come back grouped by gid, each group's rows in order (groups may be reordered)."""
    import polars as pl

    untimed = seq.get_column("t").null_count()
    if untimed:
        names = [*seq.columns, *(["cnt"] if count else []), *(["dist"] if distinct else [])]
        item = pl.col("item")
        no_time = seq.filter(pl.col("t").is_null()).with_columns(
            (pl.int_range(pl.len()).over("gid") + 1).cast(pl.Int64).alias("cnt"),
            item.is_first_distinct().over("gid").cast(pl.Int64).cum_sum().over("gid").alias("dist"),
        )
        if untimed == seq.height:
            return no_time.select(names)
        timed = _stats(seq.filter(pl.col("t").is_not_null()), w, distinct, count)
        return pl.concat([timed.select(names), no_time.select(names)])
    n = seq.height
    if n == 0:
        return seq.with_columns(pl.lit(0, pl.Int64).alias("cnt"), pl.lit(0, pl.Int64).alias("dist"))
    t = seq.get_column("t")
    gid = seq.get_column("gid")
    # composite (group, time) keys, sorted like the sequence: group * span + offset when
    # that fits in 62 bits, else group * m + dense rank of the time
    low, high, groups = t.min(), t.max(), gid.max()
    assert isinstance(low, int) and isinstance(high, int) and isinstance(groups, int)
    span = high - low + 2 * w + 2
    if (groups + 1) * span < _SPAN_LIMIT:
        base = gid * span
        at = base + (t - (low - w - 1))
        since = base + (t - w - (low - w - 1))
        until = base + (t + w - (low - w - 1))
    else:
        ranks = pl.concat([t, t - w, t + w]).rank("dense").cast(pl.Int64)
        m = int(ranks.max() or 0) + 1  # type: ignore[arg-type]
        base = gid * m
        at = base + ranks.slice(0, n)
        since = base + ranks.slice(n, n)
        until = base + ranks.slice(2 * n, n)
    out = seq
    if count:
        cnt = at.search_sorted(at, side="right").cast(pl.Int64) - at.search_sorted(since, side="left").cast(
            pl.Int64
        )
        out = seq.with_columns(cnt.alias("cnt"))
    if not distinct:
        return out
    # neighbours of each row among the same item's rows of its group: sort by (group, item)
    # (stable, so each item's rows stay in time order) and compare with the rows around
    iid = seq.get_column("item").cast(pl.Categorical).to_physical().cast(pl.Int64)
    by_item = pl.DataFrame({"g": seq.get_column("gid"), "i": iid, "t": t, "n": pl.int_range(n, eager=True)})
    by_item = by_item.sort("g", "i", maintain_order=True)
    g, i, tt = pl.col("g"), pl.col("i"), pl.col("t")
    same_prev = (g == g.shift(1)) & (i == i.shift(1))
    same_next = (g == g.shift(-1)) & (i == i.shift(-1))
    flags = by_item.select(
        "n",
        (~same_prev.fill_null(False) | (tt.shift(1) < tt - w)).fill_null(True).alias("s"),
        (~same_next.fill_null(False) | (tt < tt.shift(-1) - w)).fill_null(True).alias("e"),
    )
    order = flags.get_column("n")
    starts = at.gather(order).filter(flags.get_column("s")).sort()
    ends = until.gather(order).filter(flags.get_column("e")).sort()
    opened = starts.search_sorted(at, side="right").cast(pl.Int64) - starts.search_sorted(
        base, side="left"
    ).cast(pl.Int64)
    closed = ends.search_sorted(at, side="left").cast(pl.Int64) - ends.search_sorted(base, side="left").cast(
        pl.Int64
    )
    return out.with_columns((opened - closed).alias("dist"))


def _distinct_peaks(
    seq: pl.DataFrame, final: pl.DataFrame, peaks: list[int], least: int = 0
) -> tuple[pl.DataFrame, list[tuple[int, int]]]:
    """Where the peak of the distinct count can be had without computing it per row.

    A window never holds more distinct items than its group's whole sequence (carried and
    new) has, ``u``; the window after the group's last row (``final``, a new row: every
    group here has some) holds ``l`` of them. So a group with ``u <= peaks[gid]`` cannot
    raise its peak, and one with ``l == u`` (and, with ``least``, at least that many items
    in its final window, the row's count threshold) peaks at exactly ``u``. Returns the
    rows of the other groups (to compute per row) and those exact (gid, peak) values."""
    import polars as pl

    if seq.height == 0:
        return seq, []
    item, gid = pl.col("item"), pl.col("gid")
    bound = seq.group_by("gid").agg(item.n_unique().alias("u"))
    peak = gid.replace_strict(list(range(len(peaks))), peaks, default=0, return_dtype=pl.Int64)
    over = bound.filter(pl.col("u") > peak)
    if over.height == 0:  # no group can raise its peak (the usual case after a window's first frame)
        return seq.head(0), []
    last = final.filter(gid.is_in(over.get_column("gid").implode())).group_by("gid")
    over = over.join(last.agg(item.n_unique().alias("l"), pl.len().alias("len")), on="gid", how="left")
    exact = (pl.col("l") == pl.col("u")) & (pl.col("len") >= least)
    settled = over.filter(exact)
    rest = over.filter(~exact.fill_null(False)).get_column("gid")
    found = list(zip(settled.get_column("gid").to_list(), settled.get_column("u").to_list(), strict=True))
    if rest.len() == bound.height:
        return seq, found
    return seq.filter(gid.is_in(rest.to_list())), found


def _final_rows(seq: pl.DataFrame, w: int) -> pl.DataFrame:
    """The rows (gid, t, item) each group's window holds after its last row, as ``push``
    leaves it: the items with time at or after the last time minus ``w`` (the old deque
    without the items that expired, then the frame's items still inside), or all of
    them in a group without times."""
    import polars as pl

    t = pl.col("t")
    return seq.filter((t >= t.last().over("gid") - w) | t.is_null()).select("gid", "t", "item")


def _group_max(seq: pl.DataFrame, value: str) -> list[tuple[int, int]]:
    """(gid, max of ``value`` over the group's new rows)."""
    import polars as pl

    peaks = seq.filter(pl.col("new")).group_by("gid").agg(pl.col(value).max())
    return list(zip(peaks.get_column("gid").to_list(), peaks.get_column(value).to_list(), strict=True))


def _leave_windows(windows: list[_Window | None], final: pl.DataFrame, carry: _Carry) -> pl.DataFrame:
    """Leave each touched window holding its ``final`` rows (see :func:`_final_rows`),
    deferred (built when first read, see :class:`_Window`). Returns ``final``."""
    import polars as pl

    block = _Block(final.select("t", "item"))
    sizes = final.group_by("gid", maintain_order=True).agg(pl.len().alias("n"))
    deferred: list[tuple[_Window, _Pending]] = []
    start = 0
    for gid, n in zip(sizes.get_column("gid").to_list(), sizes.get_column("n").to_list(), strict=True):
        window = windows[gid]
        assert window is not None
        pending = _Pending(block, start, n)
        window._defer(pending)
        deferred.append((window, pending))
        start += n
    carry.defer(block, deferred)
    return final


def _gid_column(frame: pl.DataFrame, column: str, keys: list[str]) -> pl.DataFrame:
    import polars as pl

    index = pl.DataFrame(
        {column: keys, "gid": list(range(len(keys)))}, schema={column: pl.Utf8, "gid": pl.Int64}
    )
    # one chunk per column: polars' eager operations (select, filter, ...) first copy a
    # frame of several chunks into one, every time, all columns included (~5 ms per
    # operation on a full_audit frame), and this frame is read by many of them
    return frame.join(index, on=column, how="left", maintain_order="left").rechunk()


# ------------------------------------------------------------------ untimed windows
class _Appended:
    """A deferred window's contents: what it held before (``before()``: an earlier
    :class:`_Pending`/:class:`_Appended`, or the deque and counts it had), then rows
    ``start`` to ``start + n`` of a block, all without a time. Once built, ``last`` is the
    deque's last tuple (see :func:`_untimed_seal`)."""

    __slots__ = ("before", "block", "last", "n", "start")

    def __init__(self, before: Callable[[], _Contents], block: _Block, start: int, n: int) -> None:
        self.before, self.block, self.start, self.n = before, block, start, n
        self.last: object = None

    def __call__(self) -> _Contents:
        # a window appended to in many frames chains as many of these: walk back without recursion
        chain: list[_Appended] = []
        link: Callable[[], _Contents] = self
        while isinstance(link, _Appended):
            chain.append(link)
            link = link.before
        window, counts = link()
        get = counts.get
        for part in reversed(chain):
            items: list[str] = part.block.rows.get_column("item").slice(part.start, part.n).to_list()
            window.extend(zip(repeat(None), items))
            for item in items:
                counts[item] = get(item, 0) + 1
            part.last = window[-1] if window else None
        return window, counts


class _Held:
    """What a built window held (its own deque and counts, reused as they are)."""

    __slots__ = ("contents",)

    def __init__(self, items: deque[tuple[datetime | None, str]], counts: dict[str, int]) -> None:
        self.contents = (items, counts)

    def __call__(self) -> _Contents:
        return self.contents


#: (window, its pending contents, items it holds, its distinct items) per untimed window
_UntimedSeal = tuple[_Window, "_Appended", int, set[str]]


def _untimed_seals(detector: RansomwareDetector) -> dict[tuple[str, str], _UntimedSeal]:
    store: dict[tuple[str, str], _UntimedSeal] = detector.__dict__.setdefault("_frame_windows_untimed", {})
    return store


def _untimed_seal(
    seals: dict[tuple[str, str], _UntimedSeal], name: tuple[str, str], window: _Window
) -> tuple[int, set[str]] | None:
    """(items, distinct items) of a window known to hold only items without a time: empty,
    or left by :func:`_untimed_frame` and untouched since (still deferred to the same
    :class:`_Appended`, or built from it with the same size and the very same last tuple:
    any ``push`` appends a new tuple). None when not known."""
    seal = seals.get(name)
    if seal is not None and seal[0] is window:
        pending = seal[1]
        if window._pending is pending:
            return seal[2], seal[3]
        if window._pending is None:
            items = window.items
            if len(items) == seal[2] and items and items[-1] is pending.last:
                return seal[2], seal[3]
    if window._pending is None and not window.items:  # (reading items builds a deferred window)
        return 0, set()
    return None


def _untimed_frame(
    detector: RansomwareDetector,
    keys: list[str],
    states: list[_ClientShare],
    df: pl.DataFrame,
    ext_rows: pl.DataFrame,
) -> bool:
    """The ransomware frame path for a frame without any time whose groups' windows hold no
    time either (Zeek logs with a masked ``ts``). ``push(None, item)`` appends and never
    drops (the cap is only applied after a push with a time), so each window after the
    frame is what it held plus the frame's items, its distinct count the size of the union
    of both sets of items (a running count that never falls: the peak is its last value),
    and the extension-change window's peak its last length. The windows are left deferred,
    appended to what they held without reading it (the window arithmetic would re-read
    every item such a window ever got, at every frame). False, changing nothing, when a
    window may hold a time (then the general path runs)."""
    import polars as pl

    seals = _untimed_seals(detector)
    ext_counts = dict(ext_rows.group_by("gid").agg(pl.len()).iter_rows())
    known: list[tuple[tuple[int, set[str]], tuple[int, set[str]] | None]] = []
    for gid, (key, state) in enumerate(zip(keys, states, strict=True)):
        files, exts = state.files, state.ext_changes
        assert files is not None and exts is not None
        file_seal = _untimed_seal(seals, ("files", key), files)
        ext_seal = _untimed_seal(seals, ("ext_changes", key), exts) if gid in ext_counts else None
        if file_seal is None or (gid in ext_counts and ext_seal is None):
            return False
        known.append((file_seal, ext_seal))

    apply_tallies({keys[g]: states[g].tally for g in range(len(keys))}, df, "__key", "kind")
    file_rows = df.select("gid", pl.col("__file").alias("item")).sort("gid", maintain_order=True)
    fresh = file_rows.unique(maintain_order=True)
    new_items: dict[int, list[str]] = {}
    for gid, item in fresh.iter_rows():
        new_items.setdefault(gid, []).append(item)
    file_sizes = dict(file_rows.group_by("gid").agg(pl.len()).iter_rows())
    file_known: list[tuple[int, set[str]]] = []
    for gid, ((n, held), _) in enumerate(known):
        state = states[gid]
        distinct = held | set(new_items.get(gid, ()))
        if len(distinct) > state.peak_files:
            state.peak_files = len(distinct)
        file_known.append((n, distinct))
    _append_untimed(seals, "files", keys, [s.files for s in states], file_rows, file_sizes, file_known)
    if ext_counts:
        ext_block = ext_rows.select("gid", pl.col("__ext_item").alias("item"))
        ext_block = ext_block.sort("gid", maintain_order=True)
        ext_known: list[tuple[int, set[str]]] = []
        for gid, (_, ext_seal) in enumerate(known):
            if ext_seal is None:
                ext_known.append((0, set()))
                continue
            state = states[gid]
            state.peak_ext_changes = max(state.peak_ext_changes, ext_seal[0] + ext_counts[gid])
            ext_known.append(ext_seal)
        ext_windows = [s.ext_changes for s in states]
        _append_untimed(seals, "ext_changes", keys, ext_windows, ext_block, ext_counts, ext_known)
    _ransom_rest(detector, keys, states, df, ext_rows)
    return True


def _append_untimed(
    seals: dict[tuple[str, str], _UntimedSeal],
    family: str,
    keys: list[str],
    windows: list[_Window | None],
    rows: pl.DataFrame,
    sizes: dict[int, int],
    known: list[tuple[int, set[str]]],
) -> None:
    """Leave each window with new ``rows`` (gid, item; sorted by gid, each group in order)
    holding its items plus those, deferred, and seal it (see :func:`_untimed_seal`)."""
    block = _Block(rows.select("item"))
    start = 0
    for gid in sorted(sizes):
        n = sizes[gid]
        window = windows[gid]
        assert window is not None
        before = window._pending if window._pending is not None else _Held(window.items, window.counts)
        pending = _Appended(before, block, start, n)
        window._defer(pending)
        items, distinct = known[gid]
        seals[(family, keys[gid])] = (window, pending, items + n, distinct)
        start += n


# ---------------------------------------------------------------------- ransomware
def _replay_files(states: list[_ClientShare], rows: pl.DataFrame) -> None:
    """The window part of :meth:`RansomwareDetector.feed` for the rows of groups whose
    times are out of order (or mixed with missing times, or near the window cap): each
    row pushed to its group's real windows in order, with the peaks as ``feed`` keeps
    them. The rest of ``feed`` (tallies, notes, extensions, alerts) does not depend on
    the windows and stays on columns."""
    clock: dict[int | None, datetime | None] = {}
    times = _datetimes(rows.get_column("__t").to_list(), clock)
    columns = (rows.get_column(c).to_list() for c in ("gid", "__file", "__is_ext", "__ext_item"))
    for when, gid, file, is_ext, ext_item in zip(times, *columns, strict=True):
        state = states[gid]
        files = state.files
        assert files is not None
        files.push(when, file)
        distinct = files.distinct()
        if distinct > state.peak_files:
            state.peak_files = distinct
        if is_ext:
            ext_changes = state.ext_changes
            assert ext_changes is not None
            ext_changes.push(when, ext_item)
            state.peak_ext_changes = max(state.peak_ext_changes, len(ext_changes))


def _ransom_derive(kind: str, path: str | None, new_path: str | None) -> tuple[Any, ...]:
    """The per-row values :meth:`RansomwareDetector.feed` computes, in Python (used for
    rows with non-ASCII paths): file, ext change?, new extension, renamed-to item,
    ransom-note directory, known ransomware extension."""
    file = (path or "").lower()
    is_ext, new, item = False, None, None
    if kind == EventKind.FILE_RENAME.value and new_path:
        old, new = _ext(path), _ext(new_path)
        if new and new != old:
            is_ext, item = True, new_path.lower()
    note_dir = known = None
    target = new_path or path
    if kind != EventKind.FILE_DELETE.value and target:
        lowered = target.lower()
        if lowered.endswith(_NOTE_SUFFIXES) and _NOTE.search(target):
            note_dir = _dir(target)
        ext = _ext(lowered)
        if ext in _RANSOM_EXT:
            known = ext
    return file, is_ext, new if is_ext else None, item, note_dir, known


_DERIVED = ("__file", "__is_ext", "__new_ext", "__ext_item", "__note_dir", "__known")


_KNOWN_EXT = r"(?i)\.(" + "|".join(sorted(_RANSOM_EXT)) + r")$"


def _ext_expr(column: pl.Expr) -> pl.Expr:
    """:func:`_ext` for ASCII values ("" for null/empty): after the last dot of the last
    path component, lowercased."""
    return column.str.extract(r"\.([^.\\/]*)$", 1).str.to_lowercase().fill_null("")


def _ransom_derived(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with the derived columns of :func:`_ransom_columns`, computed once per
    distinct (kind, path, new_path) when that saves work (they depend on nothing else)."""
    on = ["kind", "path", "new_path"]
    head = frame.head(4096)
    if 8 * head.select(on).unique().height > head.height:  # many distinct values: not worth it
        return _ransom_columns(frame)
    combos = frame.select(on).unique()
    if 4 * combos.height > frame.height:
        return _ransom_columns(frame)
    return frame.join(_ransom_columns(combos), on=on, how="left", nulls_equal=True, maintain_order="left")


def _ransom_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """The per-row values :meth:`RansomwareDetector.feed` derives from (kind, path,
    new_path): polars for ASCII rows, :func:`_ransom_derive` for the others."""
    import polars as pl

    kind, path, new_path = pl.col("kind"), pl.col("path"), pl.col("new_path")
    renamed = (kind == EventKind.FILE_RENAME.value) & _truthy("new_path")
    staged = frame.with_columns(
        pl.when(_truthy("new_path")).then(new_path).otherwise(path).alias("__target"),
        # only read where ``renamed`` (the regex skips the nulls elsewhere)
        _ext_expr(pl.when(renamed).then(path)).alias("__old_ext"),
        _ext_expr(new_path).alias("__new"),
        (
            (path.str.len_bytes() != path.str.len_chars()).fill_null(False)
            | (new_path.str.len_bytes() != new_path.str.len_chars()).fill_null(False)
        ).alias("__odd"),
    )
    target, new_ext = pl.col("__target"), pl.col("__new")
    has_target = target.is_not_null() & (target != "")
    not_delete = kind != EventKind.FILE_DELETE.value
    is_ext = renamed & (new_ext != "") & (new_ext != pl.col("__old_ext"))
    out = staged.with_columns(
        path.fill_null("").str.to_lowercase().alias("__file"),
        is_ext.fill_null(False).alias("__is_ext"),
        pl.when(is_ext).then(new_ext).alias("__new_ext"),
        pl.when(is_ext).then(new_path.str.to_lowercase()).alias("__ext_item"),
        # for ASCII, _NOTE (re.I, ending in one of _NOTE_SUFFIXES) implies the suffix test
        (not_delete & has_target & target.str.contains("(?i)" + _NOTE.pattern))
        .fill_null(False)
        .alias("__note"),
        # _ext(target.lower()) when in _RANSOM_EXT: those have no dot or separator, so for
        # ASCII the name ends with "." + one of them exactly when that is its extension
        pl.when(not_delete & has_target)
        .then(target.str.extract(_KNOWN_EXT, 1).str.to_lowercase())
        .alias("__known"),
    )
    # rows with non-ASCII paths: every derived value from Python, per distinct (kind, path, new_path)
    weird = out.filter(pl.col("__odd")).select("kind", "path", "new_path").unique()
    if weird.height:
        rows = [_ransom_derive(*row) for row in weird.iter_rows()]
        fixed = weird.with_columns(
            pl.Series(name + "_py", [r[i] for r in rows], dtype=pl.Boolean if name == "__is_ext" else pl.Utf8)
            for i, name in enumerate(_DERIVED)
        )
        out = out.join(
            fixed, on=["kind", "path", "new_path"], how="left", nulls_equal=True, maintain_order="left"
        ).with_columns(
            pl.when(pl.col("__odd")).then(pl.col(name + "_py")).otherwise(pl.col(name)).alias(name)
            for name in _DERIVED
            if name != "__note_dir"
        )
        return out
    return out.with_columns(pl.lit(None, pl.Utf8).alias("__note_dir_py"))


def _ransom_rest(
    detector: RansomwareDetector,
    keys: list[str],
    states: list[_ClientShare],
    df: pl.DataFrame,
    ext_rows: pl.DataFrame,
) -> None:
    """What :meth:`RansomwareDetector.feed` does besides the windows, for every row of the
    frame on columns: new extensions, ransom-note directories, known extensions, alerts
    (tallies are applied before, as ``feed`` does)."""
    import polars as pl

    if ext_rows.height:
        counted = ext_rows.group_by("gid", "__new_ext", maintain_order=True).agg(pl.len().alias("n"))
        for gid, ext, n in counted.iter_rows():
            seen = states[gid].new_extensions
            if ext in seen:
                seen[ext] += n
            elif len(seen) < 100:
                seen[ext] = n
    notes = df.select("gid", "__target", "__odd", "__note_dir_py", "__note").filter(
        (pl.col("__note") & ~pl.col("__odd")) | pl.col("__note_dir_py").is_not_null()
    )
    dirs: dict[str, str] = {}
    for gid, target, odd, python_dir, _ in notes.iter_rows():
        if odd:
            found = python_dir
        elif (found := dirs.get(target)) is None:
            found = dirs[target] = _dir(target)
        note_dirs = states[gid].note_dirs
        if len(note_dirs) < 1000:
            note_dirs.add(found)
    known = df.select("gid", "__known").filter(pl.col("__known").is_not_null()).unique(maintain_order=True)
    for gid, ext in known.iter_rows():
        extensions = states[gid].known_extensions
        if len(extensions) < 20:
            extensions.add(ext)
    for gid in range(len(keys)):
        state = states[gid]
        if not state.alerted and detector._reasons(state):
            state.alerted = True


def ransomware_feed_frame(detector: RansomwareDetector, frame: pl.DataFrame) -> None:
    """:meth:`RansomwareDetector.feed` for every row of ``frame``, on columns (see module doc)."""
    import polars as pl

    share = pl.col("share")
    keep = frame.select(
        pl.col("kind").is_in([kind.value for kind in detector.kinds]) & (share.is_null() | (share != "IPC$"))
    ).to_series().fill_null(False)
    part = frame if keep.all() else frame.filter(keep)  # (the frame may hold any kinds)
    if part.height == 0:
        return
    if part.height < _MIN_ROWS:  # the column path's fixed cost is larger than the rows'
        _feed_rows(detector, part)
        return
    t = detector.t
    w = timedelta(seconds=t.ransomware_window) // US
    server = pl.when(_truthy("server")).then(pl.col("server")).otherwise(pl.lit("unknown"))
    client = (
        pl.when(_truthy("src_ip"))
        .then(pl.col("src_ip"))
        .when(_truthy("workstation"))
        .then(pl.col("workstation"))
        .otherwise(pl.lit("unknown"))
    )
    share_or = pl.when(_truthy("share")).then(share).otherwise(pl.lit("-"))
    df = part.with_columns(
        pl.concat_str([client, pl.lit("|"), server, pl.lit("|"), share_or]).alias("__key"),
        pl.col("time").dt.epoch("us").alias("__t"),
    )
    if w < 0 or not _times_fit(df, t.ransomware_window):
        _forget(detector)
        _feed_rows(detector, part)
        return
    keys: list[str] = df.get_column("__key").unique(maintain_order=True).to_list()
    groups = detector.groups
    fresh = [key for key in keys if key not in groups]
    if len(groups) + len(fresh) > _GROUPS_GUARD:  # the groups.clear() guard could fire
        _forget(detector)
        _feed_rows(detector, part)
        return
    for key in fresh:
        groups[key] = _ClientShare(
            files=_Window(t.ransomware_window), ext_changes=_Window(t.ransomware_window)
        )
    states = [groups[key] for key in keys]
    df = _gid_column(_ransom_derived(df), "__key", keys)

    gids = list(range(len(keys)))
    files: list[_Window | None] = [s.files for s in states]
    exts: list[_Window | None] = [s.ext_changes for s in states]
    ext_rows = df.select("gid", "__t", "__ext_item", "__new_ext", "__is_ext").filter(pl.col("__is_ext"))
    untimed = df.get_column("__t").null_count() == df.height
    if untimed and _untimed_frame(detector, keys, states, df, ext_rows):  # (Zeek logs with a masked ts)
        return
    if _replays(detector, df.height):  # every window replayed: cheaper than the arithmetic here
        _forget(detector)
        _replay_files(states, df)
        apply_tallies({keys[g]: states[g].tally for g in gids}, df, "__key", "kind")
        _ransom_rest(detector, keys, states, df, ext_rows)
        return
    ext_gids = ext_rows.get_column("gid").unique().to_list()
    file_carry, ext_carry = _carry(detector, "files"), _carry(detector, "ext_changes")
    carried_files, bad = _carried(files, gids, keys, file_carry)
    carried_exts, bad_exts = _carried(exts, ext_gids, keys, ext_carry)
    bad |= bad_exts
    file_seq = _sequence(
        carried_files, df.select(pl.col("gid"), pl.col("__t").alias("t"), pl.col("__file").alias("item"))
    )
    ext_seq = _sequence(
        carried_exts,
        ext_rows.select(pl.col("gid"), pl.col("__t").alias("t"), pl.col("__ext_item").alias("item")),
    )
    bad |= _unordered(file_seq) | _unordered(ext_seq)

    if bad:  # their windows are replayed; tallies, notes and extensions stay on columns
        slow = pl.col("gid").is_in(sorted(bad))
        _replay_files(states, df.filter(slow))
        file_seq = file_seq.filter(~slow)
        ext_seq = ext_seq.filter(~slow)

    apply_tallies({keys[g]: states[g].tally for g in gids}, df, "__key", "kind")

    file_final = _final_rows(file_seq, w)
    rising, settled = _distinct_peaks(file_seq, file_final, [s.peak_files for s in states])
    for gid, peak in settled + _group_max(_stats(rising, w, distinct=True, count=False), "dist"):
        if peak > states[gid].peak_files:
            states[gid].peak_files = peak
    if ext_seq.height:
        for gid, peak in _group_max(_stats(ext_seq, w, distinct=False), "cnt"):
            if peak > states[gid].peak_ext_changes:
                states[gid].peak_ext_changes = peak
    _ransom_rest(detector, keys, states, df, ext_rows)

    final = _leave_windows(files, file_final, file_carry)
    file_carry.update(keys, gids, [None if g in bad else files[g] for g in gids], final)
    final = (
        _leave_windows(exts, _final_rows(ext_seq, w), ext_carry)
        if ext_seq.height
        else ext_seq.select("gid", "t", "item")
    )
    ext_carry.update(keys, ext_gids, [None if g in bad else exts[g] for g in gids], final)


# -------------------------------------------------------------------- failed logons
def _source_expr() -> pl.Expr:
    """:meth:`FailedLogonDetector._source` as an expression."""
    import polars as pl

    src = pl.col("src_ip")
    server = pl.when(_truthy("server")).then(pl.col("server")).otherwise(pl.lit("unknown"))
    return (
        pl.when(_truthy("src_ip") & ~src.is_in(["-", "127.0.0.1", "::1"]))
        .then(src)
        .when(_truthy("workstation"))
        .then(pl.col("workstation"))
        .otherwise(pl.concat_str([pl.lit("local:"), server]))
    )


def _account_expr() -> pl.Expr:
    """``_account(event)`` as an expression."""
    import polars as pl

    user = pl.col("user")
    return (
        pl.when(_truthy("domain") & _truthy("user"))
        .then(pl.concat_str([pl.col("domain"), pl.lit("\\"), user]))
        .when(_truthy("user"))
        .then(user)
        .otherwise(pl.lit("-"))
    )


def _failed_logon_rows(detector: FailedLogonDetector, frame: pl.DataFrame) -> None:
    """The reference path for a failed-logon frame, row by row in order: failures through
    ``feed``; successful logons through :meth:`FailedLogonDetector._logon`, which is all
    ``feed`` does with them, on the column values (no :class:`Event` built: building one
    costs several times what the check does)."""
    import polars as pl

    failure, logon = EventKind.LOGON_FAILURE.value, EventKind.LOGON.value
    kinds: list[str] = frame.get_column("kind").to_list()
    failures = iter(frame_to_events(frame.filter(pl.col("kind") == failure).select(EVENT_COLUMNS)))
    columns = (frame.get_column(c).to_list() for c in ("src_ip", "workstation", "server", "domain", "user"))
    feed, noted = detector.feed, detector._logon
    for kind, src_ip, workstation, server, domain, user in zip(kinds, *columns, strict=True):
        if kind == failure:
            feed(next(failures))
        elif kind == logon:
            noted(_source_of(src_ip, workstation, server), _account_of(domain, user))


def _replay_failures(detector: FailedLogonDetector, states: list[_SourceState], rows: pl.DataFrame) -> None:
    """The window part of :meth:`FailedLogonDetector.feed` for the failures of sources
    whose times are out of order (or mixed with missing times, or near a guard): each
    failure pushed to the source's real windows in order, with the peaks and flags as
    ``feed`` keeps them. Tallies and successful logons do not depend on the windows and
    stay on columns."""
    t = detector.t
    clock: dict[int | None, datetime | None] = {}
    times = _datetimes(rows.get_column("__t").to_list(), clock)
    columns = (rows.get_column(c).to_list() for c in ("gid", "__lower"))
    for when, gid, account in zip(times, *columns, strict=True):
        state = states[gid]
        window = state.per_account.get(account)
        if window is None:
            if len(state.per_account) > _MAX_ACCOUNT_WINDOWS:  # as feed does
                state.per_account.clear()
            window = state.per_account[account] = _Window(t.brute_force_window)
        window.push(when, "")
        accounts = state.accounts_window
        assert accounts is not None
        accounts.push(when, account)
        state.peak_account_failures = max(state.peak_account_failures, len(window))
        distinct = accounts.distinct() if len(accounts) >= t.spray_accounts else 0
        state.peak_distinct_accounts = max(state.peak_distinct_accounts, distinct)
        if not state.brute and len(window) >= t.brute_force_failures:
            state.brute = True
        if not state.spray and distinct >= t.spray_accounts:
            state.spray = True


def _logons_before(df: pl.DataFrame, sources: dict[str, _SourceState]) -> tuple[pl.DataFrame, list[bool]]:
    """Successful logons (per source and account, the last row) and whether the account was
    already in the source's tally before this frame (``feed`` notes a logon when it is)."""
    import polars as pl

    logons = (
        df.filter(~pl.col("__fail"))
        .group_by("__key", "__account", maintain_order=True)
        .agg(pl.col("__row").max().alias("last"))
    )
    held_before: list[bool] = []
    for key, account in zip(
        logons.get_column("__key").to_list(), logons.get_column("__account").to_list(), strict=True
    ):
        state = sources.get(key)
        held_before.append(state is not None and account in state.tally.accounts)
    return logons, held_before


def _failure_tallies(keys: list[str], states: list[_SourceState], fails: pl.DataFrame) -> None:
    """``state.tally.add(event, status or detail or "failure")`` for every failure, on columns."""
    import polars as pl

    tallied = fails.with_columns(
        pl.when(_truthy("status"))
        .then(pl.col("status"))
        .when(_truthy("detail"))
        .then(pl.col("detail"))
        .otherwise(pl.lit("failure"))
        .alias("__item")
    )
    apply_tallies({keys[g]: states[g].tally for g in range(len(keys))}, tallied, "__key", "__item")


def _logons_after(
    sources: dict[str, _SourceState], fails: pl.DataFrame, logons: pl.DataFrame, held_before: list[bool]
) -> None:
    """After the frame's failures are tallied: a logon is noted when its account was held
    before the frame, or failed earlier in the frame and got into the tally (a bounded
    counter: an account it did not take at its first failure never gets in later)."""
    import polars as pl

    if logons.height:
        first = (
            fails.filter(_truthy("user"))
            .with_columns(
                pl.when(_truthy("domain"))
                .then(pl.concat_str([pl.col("domain"), pl.lit("\\"), pl.col("user")]))
                .otherwise(pl.col("user"))
                .alias("__account")
            )
            .group_by("__key", "__account")
            .agg(pl.col("__row").min().alias("first"))
        )
        checked = logons.join(first, on=["__key", "__account"], how="left", maintain_order="left")
        for (key, account, last, first_row), before in zip(checked.iter_rows(), held_before, strict=True):
            state = sources.get(key)
            if state is None:
                continue
            if before or (first_row is not None and first_row < last and account in state.tally.accounts):
                state.successes_after_failures.add(account)


def failed_logon_feed_frame(detector: FailedLogonDetector, frame: pl.DataFrame) -> None:
    """:meth:`FailedLogonDetector.feed` for every row of ``frame``, on columns (see module doc)."""
    import polars as pl

    kinds = frame.get_column("kind")
    failures = int((kinds == EventKind.LOGON_FAILURE.value).sum())
    if failures < _MIN_ROWS:  # the column path's fixed cost is larger than the rows'
        _failed_logon_rows(detector, frame)
        return
    part = frame.filter(pl.col("kind").is_in([EventKind.LOGON.value, EventKind.LOGON_FAILURE.value]))
    t = detector.t
    w_brute = timedelta(seconds=t.brute_force_window) // US
    w_spray = timedelta(seconds=t.spray_window) // US
    df = part.with_columns(
        _source_expr().alias("__key"),
        _account_expr().alias("__account"),
        pl.col("time").dt.epoch("us").alias("__t"),
        (pl.col("kind") == EventKind.LOGON_FAILURE.value).alias("__fail"),
        pl.int_range(pl.len()).alias("__row"),
    )
    if w_brute < 0 or w_spray < 0 or not _times_fit(df, max(t.brute_force_window, t.spray_window)):
        _forget(detector)
        _failed_logon_rows(detector, part)
        return
    df = _python_lower(df, "__account", "__lower")
    fails = df.filter(pl.col("__fail"))
    keys: list[str] = fails.get_column("__key").unique(maintain_order=True).to_list()
    sources = detector.sources
    for key in keys:
        if key not in sources:
            sources[key] = _SourceState(accounts_window=_Window(t.spray_window))
    states = [sources[key] for key in keys]
    fails = _gid_column(fails, "__key", keys)
    if _replays(detector, fails.height):  # every window replayed: cheaper than the arithmetic here
        _forget(detector)
        logons, held_before = _logons_before(df, sources)
        _replay_failures(detector, states, fails)
        _failure_tallies(keys, states, fails)
        _logons_after(sources, fails, logons, held_before)
        return

    # per (source, account) windows: gid numbers pairs, in order of first appearance
    pairs = fails.select("gid", "__lower").unique(maintain_order=True)
    pair_gid: list[int] = pairs.get_column("gid").to_list()
    pair_account: list[str] = pairs.get_column("__lower").to_list()
    fails = fails.join(
        pairs.with_columns(pl.int_range(pl.len()).cast(pl.Int64).alias("pid")),
        on=["gid", "__lower"],
        how="left",
        maintain_order="left",
    )
    bad: set[int] = set()
    new_accounts = [0] * len(keys)
    account_windows: list[_Window | None] = []
    for gid, account in zip(pair_gid, pair_account, strict=True):
        window = states[gid].per_account.get(account)
        if window is None:
            new_accounts[gid] += 1
        account_windows.append(window)
    for gid, n in enumerate(new_accounts):
        if n and len(states[gid].per_account) + n > _ACCOUNTS_GUARD:  # per_account.clear() could fire
            bad.add(gid)
    spray_windows: list[_Window | None] = [s.accounts_window for s in states]
    pair_names = [f"{len(keys[g])}:{keys[g]}{a}" for g, a in zip(pair_gid, pair_account, strict=True)]
    spray_carry, brute_carry = _carry(detector, "accounts_window"), _carry(detector, "per_account")
    carried_spray, bad_spray = _carried(spray_windows, list(range(len(keys))), keys, spray_carry)
    carried_brute, bad_brute = _carried(account_windows, list(range(len(pair_gid))), pair_names, brute_carry)
    bad |= bad_spray | {pair_gid[p] for p in bad_brute}
    spray_seq = _sequence(
        carried_spray, fails.select(pl.col("gid"), pl.col("__t").alias("t"), pl.col("__lower").alias("item"))
    )
    brute_seq = _sequence(
        carried_brute,
        fails.select(pl.col("pid").alias("gid"), pl.col("__t").alias("t"), pl.lit("").alias("item")),
    )
    bad |= _unordered(spray_seq)
    bad |= {pair_gid[p] for p in _unordered(brute_seq)}

    if bad:  # their windows are replayed; tallies and successful logons stay on columns
        _replay_failures(detector, states, fails.filter(pl.col("gid").is_in(sorted(bad))))
        spray_seq = spray_seq.filter(~pl.col("gid").is_in(sorted(bad)))
        bad_pids = [p for p, g in enumerate(pair_gid) if g in bad]
        brute_seq = brute_seq.filter(~pl.col("gid").is_in(bad_pids))

    logons, held_before = _logons_before(df, sources)
    if fails.height:
        _failure_tallies(keys, states, fails)

        for gid, peak in _group_max(
            _stats(brute_seq, w_brute, distinct=False).with_columns(
                pl.col("gid").replace_strict(list(range(len(pair_gid))), pair_gid).alias("gid")
            ),
            "cnt",
        ):
            state = states[gid]
            state.peak_account_failures = max(state.peak_account_failures, peak)
            if not state.brute and peak >= t.brute_force_failures:
                state.brute = True
        spray_final = _final_rows(spray_seq, w_spray)
        rising, settled = _distinct_peaks(
            spray_seq, spray_final, [s.peak_distinct_accounts for s in states], t.spray_accounts
        )
        spray = _stats(rising, w_spray, distinct=True).with_columns(
            pl.when(pl.col("cnt") >= t.spray_accounts).then(pl.col("dist")).otherwise(0).alias("v")
        )
        for gid, peak in settled + _group_max(spray, "v"):
            state = states[gid]
            state.peak_distinct_accounts = max(state.peak_distinct_accounts, peak)
            if not state.spray and peak >= t.spray_accounts:
                state.spray = True
        for gid, account in zip(pair_gid, pair_account, strict=True):
            if gid not in bad and account not in states[gid].per_account:
                states[gid].per_account[account] = _Window(t.brute_force_window)
        live: list[_Window | None] = [
            states[g].per_account[a] if g not in bad else None
            for g, a in zip(pair_gid, pair_account, strict=True)
        ]
        final = _leave_windows(live, _final_rows(brute_seq, w_brute), brute_carry)
        brute_carry.update(pair_names, list(range(len(pair_gid))), live, final)
        final = _leave_windows(spray_windows, spray_final, spray_carry)
        spray_carry.update(
            keys,
            list(range(len(keys))),
            [None if g in bad else w for g, w in enumerate(spray_windows)],
            final,
        )

    _logons_after(sources, fails, logons, held_before)
