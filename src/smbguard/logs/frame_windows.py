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

Groups where that picture does not hold (a missing time, time going backwards, a window
that already holds a missing or unordered time, the 100,000-item cap or the 10,000
accounts guard within reach) are fed through ``feed`` row by row: groups are
independent, so mixing the two is exact. When a detector-wide guard (the 100,000 groups
of the ransomware detector) or a time too close to ``datetime.min`` could be reached in
this frame, the whole frame goes row by row.

Strings: polars lowercases and matches regular expressions like Python for ASCII; rows
with non-ASCII paths or accounts get those derived values from Python (per distinct value).
"""

from __future__ import annotations

from collections import deque
from datetime import UTC, datetime, timedelta
from itertools import islice
from typing import TYPE_CHECKING, Any

from smbguard.logs.detectors import (
    _NOTE,
    _NOTE_SUFFIXES,
    _RANSOM_EXT,
    FailedLogonDetector,
    RansomwareDetector,
    _ClientShare,
    _dir,
    _ext,
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
_WINDOW_CAP = 100_000  # _Window.push drops beyond this many items
_GROUPS_GUARD = 100_000  # RansomwareDetector clears its groups beyond this many
_ACCOUNTS_GUARD = 10_000  # FailedLogonDetector clears a source's per-account windows beyond this
_NON_ASCII = r"[^\x00-\x7F]"


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


def _datetimes(values: list[int]) -> list[datetime]:
    """Microseconds since the epoch -> aware datetimes (each distinct value built once)."""
    built = {v: EPOCH + timedelta(microseconds=v) for v in set(values)}
    return list(map(built.__getitem__, values))


def _python_lower(frame: pl.DataFrame, column: str, out: str) -> pl.DataFrame:
    """``out`` = ``column`` lowercased as Python's ``str.lower`` does (polars for ASCII values,
    Python for the distinct non-ASCII ones); nulls stay null."""
    import polars as pl

    col = pl.col(column)
    odd = frame.get_column(column).filter(frame.get_column(column).str.contains(_NON_ASCII))
    if odd.len() == 0:
        return frame.with_columns(col.str.to_lowercase().alias(out))
    values = odd.unique().to_list()
    lowered = pl.DataFrame(
        {"__v": values, out: [v.lower() for v in values]}, schema={"__v": pl.Utf8, out: pl.Utf8}
    )
    joined = frame.join(lowered, left_on=column, right_on="__v", how="left", maintain_order="left")
    return joined.with_columns(pl.coalesce(pl.col(out), col.str.to_lowercase()).alias(out))


def _carried(windows: list[_Window | None], gids: list[int]) -> tuple[pl.DataFrame, set[int]]:
    """The items already in these windows as rows (gid, t, item, new=False); gids whose
    window holds an item without a time are returned apart (their groups go row by row)."""
    import polars as pl

    out_gid: list[int] = []
    out_t: list[int] = []
    out_item: list[str] = []
    bad: set[int] = set()
    for gid in gids:
        window = windows[gid]
        if window is None or not window.items:
            continue
        times, items = zip(*window.items, strict=True)
        distinct = set(times)
        if None in distinct:
            bad.add(gid)
            continue
        micros = {when: (when - EPOCH) // US for when in distinct}
        out_t.extend(map(micros.__getitem__, times))
        out_item.extend(items)
        out_gid.extend([gid] * len(times))
    frame = pl.DataFrame(
        {"gid": out_gid, "t": out_t, "item": out_item, "new": [False] * len(out_gid)},
        schema={"gid": pl.Int64, "t": pl.Int64, "item": pl.Utf8, "new": pl.Boolean},
    )
    return frame, bad


def _sequence(carried: pl.DataFrame, fresh: pl.DataFrame) -> pl.DataFrame:
    """Carried window items, then the frame's rows, per gid in order."""
    import polars as pl

    fresh = fresh.select(
        pl.col("gid").cast(pl.Int64), pl.col("t").cast(pl.Int64), pl.col("item"), pl.lit(True).alias("new")
    )
    return pl.concat([carried, fresh]).sort("gid", maintain_order=True)


def _unordered(seq: pl.DataFrame) -> set[int]:
    """Gids whose sequence has a missing time, goes back in time or could reach the window cap."""
    import polars as pl

    t = pl.col("t")
    bad = seq.group_by("gid").agg(
        (t.is_null().any() | (t.diff() < 0).any() | (pl.len() > _WINDOW_CAP)).alias("bad")
    )
    return set(bad.filter(pl.col("bad")).get_column("gid").to_list())


def _stats(seq: pl.DataFrame, w: int, distinct: bool) -> pl.DataFrame:
    """Add ``cnt`` (items of the group with time in ``[t - w, t]``) and, with ``distinct``,
    ``dist`` (distinct items among them) to every row of a clean sequence (see module doc)."""
    import polars as pl

    n = seq.height
    if n == 0:
        return seq.with_columns(pl.lit(0, pl.Int64).alias("cnt"), pl.lit(0, pl.Int64).alias("dist"))
    t = seq.get_column("t")
    ranks = pl.concat([t, t - w, t + w]).rank("dense").cast(pl.Int64)
    m = int(ranks.max() or 0) + 1  # type: ignore[arg-type]
    base = seq.get_column("gid") * m
    at = base + ranks.slice(0, n)
    since = base + ranks.slice(n, n)
    until = base + ranks.slice(2 * n, n)
    cnt = at.search_sorted(at, side="right").cast(pl.Int64) - at.search_sorted(since, side="left").cast(
        pl.Int64
    )
    out = seq.with_columns(cnt.alias("cnt"))
    if not distinct:
        return out
    col = pl.col("t")
    marks = seq.select(
        (col.shift(1).over("gid", "item").is_null() | (col.shift(1).over("gid", "item") < col - w)).alias(
            "s"
        ),
        (col.shift(-1).over("gid", "item").is_null() | (col < col.shift(-1).over("gid", "item") - w)).alias(
            "e"
        ),
    )
    starts = at.filter(marks.get_column("s")).sort()
    ends = until.filter(marks.get_column("e")).sort()
    opened = starts.search_sorted(at, side="right").cast(pl.Int64) - starts.search_sorted(
        base, side="left"
    ).cast(pl.Int64)
    closed = ends.search_sorted(at, side="left").cast(pl.Int64) - ends.search_sorted(base, side="left").cast(
        pl.Int64
    )
    return out.with_columns((opened - closed).alias("dist"))


def _group_max(seq: pl.DataFrame, value: str) -> list[tuple[int, int]]:
    """(gid, max of ``value`` over the group's new rows)."""
    import polars as pl

    peaks = seq.filter(pl.col("new")).group_by("gid").agg(pl.col(value).max())
    return list(zip(peaks.get_column("gid").to_list(), peaks.get_column(value).to_list(), strict=True))


def _leave_windows(windows: list[_Window | None], seq: pl.DataFrame, w: int) -> None:
    """Leave each touched window as ``push`` would: the old deque without the items that
    expired by the group's last time, then the frame's items that are still inside."""
    import polars as pl

    t, new = pl.col("t"), pl.col("new")
    marked = seq.with_columns((t >= t.last().over("gid") - w).alias("keep"))
    dropped = marked.filter(~new & ~pl.col("keep")).group_by("gid").agg(pl.len().alias("n"))
    for gid, n in zip(dropped.get_column("gid").to_list(), dropped.get_column("n").to_list(), strict=True):
        window = windows[gid]
        assert window is not None
        window.items = deque(islice(window.items, n, None))
    added = marked.filter(new & pl.col("keep"))
    sizes = added.group_by("gid", maintain_order=True).agg(pl.len().alias("n"))
    times = _datetimes(added.get_column("t").to_list())
    items = added.get_column("item").to_list()
    start = 0
    for gid, n in zip(sizes.get_column("gid").to_list(), sizes.get_column("n").to_list(), strict=True):
        window = windows[gid]
        assert window is not None
        window.items.extend(zip(times[start : start + n], items[start : start + n], strict=True))
        start += n
    sign = pl.when(new & pl.col("keep")).then(1).when(~new & ~pl.col("keep")).then(-1).otherwise(0)
    delta = (
        marked.group_by("gid", "item", maintain_order=True)
        .agg(sign.sum().alias("d"))
        .filter(pl.col("d") != 0)
    )
    for gid, item, d in zip(
        delta.get_column("gid").to_list(),
        delta.get_column("item").to_list(),
        delta.get_column("d").to_list(),
        strict=True,
    ):
        window = windows[gid]
        assert window is not None
        counts = window.counts
        left = counts.get(item, 0) + d
        if left:
            counts[item] = left
        else:
            del counts[item]


def _gid_column(frame: pl.DataFrame, column: str, keys: list[str]) -> pl.DataFrame:
    import polars as pl

    index = pl.DataFrame(
        {column: keys, "gid": list(range(len(keys)))}, schema={column: pl.Utf8, "gid": pl.Int64}
    )
    return frame.join(index, on=column, how="left", maintain_order="left")


# ---------------------------------------------------------------------- ransomware
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


def _ext_expr(column: pl.Expr) -> pl.Expr:
    """:func:`_ext` for ASCII values ("" for null/empty)."""
    import polars as pl

    name = column.str.replace_all("/", "\\", literal=True).str.split("\\").list.last()
    ext = pl.when(name.str.contains(".", literal=True)).then(
        name.str.split(".").list.last().str.to_lowercase()
    )
    return ext.otherwise(pl.lit("")).fill_null("")


def _ransom_columns(frame: pl.DataFrame) -> pl.DataFrame:
    import polars as pl

    kind, path, new_path = pl.col("kind"), pl.col("path"), pl.col("new_path")
    target = pl.when(_truthy("new_path")).then(new_path).otherwise(path)
    has_target = target.is_not_null() & (target != "")
    not_delete = kind != EventKind.FILE_DELETE.value
    old_ext, new_ext = _ext_expr(path), _ext_expr(new_path)
    is_ext = (
        (kind == EventKind.FILE_RENAME.value) & _truthy("new_path") & (new_ext != "") & (new_ext != old_ext)
    )
    lowered = target.str.to_lowercase()
    suffix = pl.lit(False)
    for end in _NOTE_SUFFIXES:
        suffix = suffix | lowered.str.ends_with(end)
    note = not_delete & has_target & suffix & target.str.contains("(?i)" + _NOTE.pattern)
    slashed = target.str.replace_all("/", "\\", literal=True)
    note_dir = pl.when(slashed.str.contains("\\", literal=True)).then(slashed.str.replace(r"\\[^\\]*$", ""))
    kext = _ext_expr(lowered)
    out = frame.with_columns(
        path.fill_null("").str.to_lowercase().alias("__file"),
        is_ext.fill_null(False).alias("__is_ext"),
        pl.when(is_ext).then(new_ext).alias("__new_ext"),
        pl.when(is_ext).then(new_path.str.to_lowercase()).alias("__ext_item"),
        pl.when(note).then(note_dir.fill_null("")).alias("__note_dir"),
        pl.when(not_delete & has_target & kext.is_in(sorted(_RANSOM_EXT))).then(kext).alias("__known"),
    )
    odd = path.str.contains(_NON_ASCII).fill_null(False) | new_path.str.contains(_NON_ASCII).fill_null(False)
    weird = out.filter(odd).select("kind", "path", "new_path").unique()
    if weird.height == 0:
        return out
    rows = [_ransom_derive(*row) for row in weird.iter_rows()]
    fixed = weird.with_columns(
        pl.Series(name, [r[i] for r in rows], dtype=pl.Boolean if name == "__is_ext" else pl.Utf8)
        for i, name in enumerate(_DERIVED)
    )
    patched = out.join(
        fixed.rename({name: name + "_py" for name in _DERIVED}),
        on=["kind", "path", "new_path"],
        how="left",
        nulls_equal=True,
        maintain_order="left",
    )
    return patched.with_columns(
        pl.when(odd).then(pl.col(name + "_py")).otherwise(pl.col(name)).alias(name) for name in _DERIVED
    ).drop([name + "_py" for name in _DERIVED])


def ransomware_feed_frame(detector: RansomwareDetector, frame: pl.DataFrame) -> None:
    """:meth:`RansomwareDetector.feed` for every row of ``frame``, on columns (see module doc)."""
    import polars as pl

    share = pl.col("share")
    part = frame.filter(
        pl.col("kind").is_in([kind.value for kind in detector.kinds]) & (share.is_null() | (share != "IPC$"))
    )
    if part.height == 0:
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
        _feed_rows(detector, part)
        return
    keys: list[str] = df.get_column("__key").unique(maintain_order=True).to_list()
    groups = detector.groups
    fresh = [key for key in keys if key not in groups]
    if len(groups) + len(fresh) > _GROUPS_GUARD:  # the groups.clear() guard could fire
        _feed_rows(detector, part)
        return
    for key in fresh:
        groups[key] = _ClientShare(
            files=_Window(t.ransomware_window), ext_changes=_Window(t.ransomware_window)
        )
    states = [groups[key] for key in keys]
    df = _gid_column(_ransom_columns(df), "__key", keys)

    gids = list(range(len(keys)))
    files: list[_Window | None] = [s.files for s in states]
    exts: list[_Window | None] = [s.ext_changes for s in states]
    ext_rows = df.filter(pl.col("__is_ext"))
    ext_gids = ext_rows.get_column("gid").unique().to_list()
    carried_files, bad = _carried(files, gids)
    carried_exts, bad_exts = _carried(exts, ext_gids)
    bad |= bad_exts
    file_seq = _sequence(
        carried_files, df.select(pl.col("gid"), pl.col("__t").alias("t"), pl.col("__file").alias("item"))
    )
    ext_seq = _sequence(
        carried_exts,
        ext_rows.select(pl.col("gid"), pl.col("__t").alias("t"), pl.col("__ext_item").alias("item")),
    )
    bad |= _unordered(file_seq) | _unordered(ext_seq)

    if bad:
        slow = pl.col("gid").is_in(sorted(bad))
        _feed_rows(detector, df.filter(slow))
        df = df.filter(~slow)
        file_seq = file_seq.filter(~slow)
        ext_seq = ext_seq.filter(~slow)
    if df.height == 0:
        return

    apply_tallies({keys[g]: states[g].tally for g in gids if g not in bad}, df, "__key", "kind")

    for gid, peak in _group_max(_stats(file_seq, w, distinct=True), "dist"):
        if peak > states[gid].peak_files:
            states[gid].peak_files = peak
    if ext_seq.height:
        for gid, peak in _group_max(_stats(ext_seq, w, distinct=False), "cnt"):
            if peak > states[gid].peak_ext_changes:
                states[gid].peak_ext_changes = peak
        counted = (
            df.filter(pl.col("__is_ext"))
            .group_by("gid", "__new_ext", maintain_order=True)
            .agg(pl.len().alias("n"))
        )
        for gid, ext, n in counted.iter_rows():
            seen = states[gid].new_extensions
            if ext in seen:
                seen[ext] += n
            elif len(seen) < 100:
                seen[ext] = n
    for column, limit, attr in (("__note_dir", 1000, "note_dirs"), ("__known", 20, "known_extensions")):
        found = df.filter(pl.col(column).is_not_null()).select("gid", column).unique(maintain_order=True)
        for gid, value in found.iter_rows():
            target: set[str] = getattr(states[gid], attr)
            if len(target) < limit:
                target.add(value)
    for gid in gids:
        state = states[gid]
        if gid not in bad and not state.alerted and detector._reasons(state):
            state.alerted = True

    _leave_windows(files, file_seq, w)
    if ext_seq.height:
        _leave_windows(exts, ext_seq, w)


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


def failed_logon_feed_frame(detector: FailedLogonDetector, frame: pl.DataFrame) -> None:
    """:meth:`FailedLogonDetector.feed` for every row of ``frame``, on columns (see module doc)."""
    import polars as pl

    part = frame.filter(pl.col("kind").is_in([EventKind.LOGON.value, EventKind.LOGON_FAILURE.value]))
    if part.height == 0:
        return
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
        _feed_rows(detector, part)
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
    carried_spray, bad_spray = _carried(spray_windows, list(range(len(keys))))
    carried_brute, bad_brute = _carried(account_windows, list(range(len(pair_gid))))
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

    if bad:
        slow_keys = sorted(keys[g] for g in bad)
        _feed_rows(detector, df.filter(pl.col("__key").is_in(slow_keys)))
        df = df.filter(~pl.col("__key").is_in(slow_keys))
        fails = fails.filter(~pl.col("gid").is_in(sorted(bad)))
        spray_seq = spray_seq.filter(~pl.col("gid").is_in(sorted(bad)))
        bad_pids = [p for p, g in enumerate(pair_gid) if g in bad]
        brute_seq = brute_seq.filter(~pl.col("gid").is_in(bad_pids))

    # successful logons: the account must be in the source's tally when the logon comes
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

    if fails.height:
        tallied = fails.with_columns(
            pl.when(_truthy("status"))
            .then(pl.col("status"))
            .when(_truthy("detail"))
            .then(pl.col("detail"))
            .otherwise(pl.lit("failure"))
            .alias("__item")
        )
        apply_tallies(
            {keys[g]: states[g].tally for g in range(len(keys)) if g not in bad}, tallied, "__key", "__item"
        )

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
        spray = _stats(spray_seq, w_spray, distinct=True).with_columns(
            pl.when(pl.col("cnt") >= t.spray_accounts).then(pl.col("dist")).otherwise(0).alias("v")
        )
        for gid, peak in _group_max(spray, "v"):
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
        _leave_windows(live, brute_seq, w_brute)
        _leave_windows(spray_windows, spray_seq, w_spray)

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
