"""Detectors: stateful consumers of :class:`Event` that raise :class:`LogFinding`.

Each detector has two methods: ``feed(event)`` returns the findings that became
true with this event (``logs watch`` prints them at once) and ``findings()``
returns the final, aggregated list (``logs analyze``). Thresholds are data
(:class:`Thresholds`), configurable from the command line.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from smbguard.logs.events import Event, EventKind, frame_to_events
from smbguard.logs.findings import LOG_FINDING_IDS, LogFinding, iso, severity_of
from smbguard.model import Confidence, JsonValue

if TYPE_CHECKING:
    import polars as pl

#: Catalog ids (kind = "log") the detectors below can raise.
DETECTOR_IDS: tuple[str, ...] = LOG_FINDING_IDS


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Tunable limits of the behavioural detectors."""

    brute_force_failures: int = 10  # failed logons of one source against one account ...
    brute_force_window: float = 300.0  # ... within this many seconds
    spray_accounts: int = 5  # distinct accounts failing from one source ...
    spray_window: float = 600.0  # ... within this many seconds
    ransomware_files: int = 100  # distinct files written/renamed/deleted by one client on one share ...
    ransomware_window: float = 120.0  # ... within this many seconds
    ransomware_extension_changes: int = 20  # renames that change the extension, in the same window
    ransomware_note_dirs: int = 3  # ransom-note-like file names written in this many directories
    admin_allowlist: frozenset[str] = frozenset()  # client addresses/names or accounts not reported
    service_pipes: frozenset[str] = frozenset(
        {"svcctl", "atsvc", "winreg", "itaskschedulerservice", "eventlog"}
    )


class Detector(Protocol):
    """``kinds``: the event kinds the detector looks at (others are never fed to it).

    A detector may also have ``feed_frame(frame)``: it must leave the detector in exactly
    the state feeding the frame's rows one by one to ``feed`` would (differential tests
    check this); :meth:`DetectorSet.feed_frame` falls back to ``feed`` per row otherwise.
    With a true ``feed_frame_any_kind`` attribute, ``feed_frame`` is given whole frames
    (rows of any kind, which ``feed`` ignores) and keeps its kinds' rows itself."""

    kinds: frozenset[EventKind]

    def feed(self, event: Event) -> list[LogFinding]: ...

    def findings(self) -> list[LogFinding]: ...


_MAX_SOURCES = 50  # bounds of a Tally's first-N-distinct sets and counters
_MAX_CLIENTS = 200
_MAX_SERVERS = 200
_MAX_COUNTED = 500


@dataclass(slots=True)
class Tally:
    """Evidence accumulated for one subject."""

    count: int = 0
    first: datetime | None = None
    last: datetime | None = None
    sources: set[str] = field(default_factory=set)
    clients: set[str] = field(default_factory=set)
    servers: set[str] = field(default_factory=set)
    accounts: Counter[str] = field(default_factory=Counter)
    items: Counter[str] = field(default_factory=Counter)

    def add(self, event: Event, item: str | None = None) -> None:
        self.count += 1
        when = event.time
        if when is not None:
            if self.first is None or when < self.first:
                self.first = when
            if self.last is None or when > self.last:
                self.last = when
        if event.source not in self.sources and len(self.sources) < _MAX_SOURCES:
            self.sources.add(event.source)
        client = event.src_ip or event.workstation or "unknown"
        if client not in self.clients and len(self.clients) < _MAX_CLIENTS:
            self.clients.add(client)
        server = event.server
        if server and server not in self.servers and len(self.servers) < _MAX_SERVERS:
            self.servers.add(server)
        user = event.user
        if user:  # bounded: accounts beyond 500 are counted in ``count`` only
            account = f"{event.domain}\\{user}" if event.domain else user
            accounts = self.accounts
            if account in accounts:
                accounts[account] += 1
            elif len(accounts) < _MAX_COUNTED:
                accounts[account] = 1
        if item is not None:
            items = self.items
            if item in items:
                items[item] += 1
            elif len(items) < _MAX_COUNTED:
                items[item] = 1

    def evidence(self, items_name: str | None = None) -> dict[str, JsonValue]:
        out: dict[str, JsonValue] = {
            "count": self.count,
            "first_seen": iso(self.first),
            "last_seen": iso(self.last),
            "sources": strings(self.sources),
            "clients": strings(self.clients),
            "servers": strings(self.servers),
            "accounts": {k: v for k, v in self.accounts.most_common(50)},
        }
        if items_name is not None:
            out[items_name] = {k: v for k, v in self.items.most_common(50)}
        return out


# ------------------------------------------------------------------ tallies from frames
def _truthy(name: str) -> pl.Expr:
    """Python truthiness of a Utf8 column: not null and not empty."""
    import polars as pl

    column = pl.col(name)
    return column.is_not_null() & (column != "")


def _or(name: str, default: pl.Expr | str) -> pl.Expr:
    """Python's ``event.<name> or default`` as an expression."""
    import polars as pl

    other = pl.lit(default) if isinstance(default, str) else default
    return pl.when(_truthy(name)).then(pl.col(name)).otherwise(other)


def _client_expr() -> pl.Expr:
    """:attr:`Event.client` as an expression."""
    return _or("src_ip", _or("workstation", "unknown"))


def _take_distinct(target: set[str], values: list[str], limit: int) -> None:
    """``target.add(v)`` for each value in order while ``len(target) < limit`` (as :meth:`Tally.add`)."""
    for value in values:
        if len(target) >= limit:
            return
        target.add(value)


def _join(*parts: pl.Expr | str) -> pl.Expr:
    """``"|".join(parts)`` of non-null string expressions (plain strings are literals)."""
    import polars as pl

    return pl.concat_str([pl.lit(p) if isinstance(p, str) else p for p in parts], separator="|")


def _kind_in(*kinds: EventKind) -> pl.Expr:
    import polars as pl

    return pl.col("kind").is_in([kind.value for kind in kinds])


def _where(values: pl.Series, test: Callable[[str | None], bool], name: str | None = None) -> pl.Expr:
    """Rows of column ``name`` (default: the series' name) whose value passes ``test``, a Python
    function run once per distinct value of ``values``, so Python string semantics
    (``str.lower``, ``re``) hold exactly. Values absent from ``values`` are false."""
    import polars as pl

    distinct = values.unique().to_list()
    column = pl.col(name or values.name)
    hits = column.is_in([v for v in distinct if v is not None and test(v)]).fill_null(False)
    return hits | column.is_null() if None in distinct and test(None) else hits


def _mapped(
    values: pl.Series, function: Callable[[str | None], str | None], name: str | None = None
) -> pl.Expr:
    """Column ``name`` (default: the series' name) mapped by a Python function run once per
    distinct value of ``values``; values absent from ``values`` map to null."""
    import polars as pl

    distinct = values.unique().to_list()
    old = [v for v in distinct if v is not None]
    column = pl.col(name or values.name)
    out = column.replace_strict(
        pl.Series(old, dtype=pl.Utf8),
        pl.Series([function(v) for v in old], dtype=pl.Utf8),
        default=None,
        return_dtype=pl.Utf8,
    )
    if None in distinct:
        out = pl.when(column.is_null()).then(pl.lit(function(None), dtype=pl.Utf8)).otherwise(out)
    return out


#: The event columns :meth:`Tally.add` reads (besides ``time``).
_TALLY_COLUMNS = ("source", "src_ip", "workstation", "server", "user", "domain")


def _weighted(
    frame: pl.DataFrame, columns: Iterable[str | pl.Expr], keep: pl.Expr | None = None
) -> pl.DataFrame:
    """The distinct rows of ``frame`` (only those where ``keep`` holds, when given) over
    ``columns`` (names, or expressions with an alias), in order of first appearance, each
    with ``__n`` (how many rows) and ``__first``/``__last`` (their min/max ``time``).

    Everything a group-by detector does with a row depends only on these columns (and on
    the time through min/max), so it can work on this usually much smaller frame. (``keep``
    is applied in the same query: only the columns read are filtered.)"""
    import polars as pl

    lazy = frame.lazy()
    return (
        (lazy if keep is None else lazy.filter(keep))
        .group_by(
            [
                *dict.fromkeys(c for c in columns if isinstance(c, str)),
                *(c for c in columns if not isinstance(c, str)),
            ],
            maintain_order=True,
        )
        .agg(
            pl.len().alias("__n"),
            pl.col("time").min().alias("__first"),
            pl.col("time").max().alias("__last"),
        )
        .collect()
    )


#: Below this many distinct rows, Python per row costs less than polars' fixed cost per query.
_FEW_ROWS = 256
_KIND_OF = {kind.value: kind for kind in EventKind}
_EVENT_FIELDS = frozenset(Event.__slots__)


def _row_events(
    rows: pl.DataFrame, extra: tuple[str, ...] = ()
) -> Iterator[tuple[Event, int, Any, tuple[Any, ...]]]:
    """The rows of a :func:`_weighted` frame as (event, row count, last time, extra values):
    the event carries the columns present (``time`` = the first time, ``event_id`` "" when
    absent: only columns the caller's code reads are ever present)."""
    names = [c for c in rows.columns if c in _EVENT_FIELDS]
    columns = [rows.get_column(c).to_list() for c in (*names, "__n", "__first", "__last", *extra)]
    width = len(names)
    for values in zip(*columns, strict=True):
        fields = dict(zip(names, values[:width], strict=True))
        fields["kind"] = _KIND_OF[fields["kind"]] if "kind" in fields else EventKind.OTHER
        fields.setdefault("event_id", "")
        n, first, last = values[width : width + 3]
        fields["time"] = None if first is None else first.replace(tzinfo=UTC)
        yield Event(**fields), n, None if last is None else last.replace(tzinfo=UTC), values[width + 3 :]


def _add_weighted(tally: Tally, event: Event, item: str | None, n: int, last: datetime | None) -> None:
    """``tally.add`` for ``n`` rows equal to ``event`` (whose time is their first, ``last``
    their last): later rows only count where the first one got in."""
    tally.add(event, item)
    more = n - 1
    if not more:
        return
    tally.count += more
    if last is not None and (tally.last is None or last > tally.last):
        tally.last = last
    user = event.user
    if user:
        account = f"{event.domain}\\{user}" if event.domain else user
        if account in tally.accounts:
            tally.accounts[account] += more
    if item is not None and item in tally.items:
        tally.items[item] += more


def apply_tallies(tallies: dict[str, Tally], frame: pl.DataFrame, key: str, item: str | None) -> list[str]:
    """Columnar :meth:`Tally.add`: update (or create) ``tallies[k]`` exactly as
    ``tallies[k].add(event, item_value)`` for every row of ``frame`` in order would.

    ``frame`` is an event frame with an extra non-null Utf8 column named ``key`` (the
    group) and, when ``item`` is given, a nullable Utf8 column of that name (null = no
    item). Returns the keys that were created, in order of first appearance."""
    if frame.height == 0:
        return []
    columns = (key, *((item,) if item is not None else ()), *_TALLY_COLUMNS)
    return _apply_weighted(tallies, _weighted(frame, columns), key, item)


def _apply_weighted(tallies: dict[str, Tally], rows: pl.DataFrame, key: str, item: str | None) -> list[str]:
    """:func:`apply_tallies` for rows already made distinct by :func:`_weighted` (their
    ``key``, ``item`` and tally columns at least).

    Polars groups the rows; Python only touches each (group, distinct value) pair, and
    only the pairs that can still change a bounded set or counter: a set of limit N
    admits new values among the first 2N distinct values of a group in one frame, a
    counter of limit N among the first 2N; later distinct values only count when they
    are already in the counter (joined against the counter's keys). A value's first
    distinct row is its first row, so first-appearance order is kept."""
    import polars as pl

    if rows.height == 0:
        return []
    new: list[str] = []
    if rows.height <= _FEW_ROWS:
        for event, n, last, (name, value) in _row_events(rows, (key, item or key)):
            tally = tallies.get(name)
            if tally is None:
                tally = tallies[name] = Tally()
                new.append(name)
            _add_weighted(tally, event, value if item is not None else None, n, last)
        return new
    group = pl.col(key)
    lazy = rows.lazy()
    summary_query = lazy.group_by(group, maintain_order=True).agg(
        pl.col("__n").sum().alias("n"),
        pl.col("__first").min().alias("first"),
        pl.col("__last").max().alias("last"),
        pl.col("source").unique(maintain_order=True).head(2 * _MAX_SOURCES).alias("sources"),
        _client_expr().unique(maintain_order=True).head(2 * _MAX_CLIENTS).alias("clients"),
        pl.col("server")
        .filter(_truthy("server"))
        .unique(maintain_order=True)
        .head(2 * _MAX_SERVERS)
        .alias("servers"),
    )

    def pairs(value: pl.Expr, keep: pl.Expr) -> pl.LazyFrame:
        return (
            lazy.filter(keep)
            .group_by(group, value.alias("__value"), maintain_order=True)
            .agg(pl.col("__n").sum().alias("__count"))
            .with_columns(pl.int_range(pl.len()).over(key).alias("__rank"))
        )

    account = (
        pl.when(_truthy("domain"))
        .then(pl.concat_str([pl.col("domain"), pl.lit("\\"), pl.col("user")]))
        .otherwise(pl.col("user"))
    )
    queries = [summary_query, pairs(account, _truthy("user"))]
    if item is not None:
        queries.append(pairs(pl.col(item), pl.col(item).is_not_null()))
    summary, *counted = pl.collect_all(queries)

    get = tallies.get
    columns = (
        summary.get_column(c).to_list() for c in (key, "n", "first", "last", "sources", "clients", "servers")
    )
    for name, n, first, last, sources, clients, servers in zip(*columns, strict=True):
        tally = get(name)
        if tally is None:
            tally = tallies[name] = Tally()
            new.append(name)
        tally.count += n
        if first is not None:
            first = first.replace(tzinfo=UTC)
            if tally.first is None or first < tally.first:
                tally.first = first
            last = last.replace(tzinfo=UTC)
            if tally.last is None or last > tally.last:
                tally.last = last
        if len(tally.sources) < _MAX_SOURCES:
            _take_distinct(tally.sources, sources, _MAX_SOURCES)
        if len(tally.clients) < _MAX_CLIENTS:
            _take_distinct(tally.clients, clients, _MAX_CLIENTS)
        if len(tally.servers) < _MAX_SERVERS:
            _take_distinct(tally.servers, servers, _MAX_SERVERS)

    for which, found in zip(("accounts", "items"), counted, strict=False):
        _count_pairs(tallies, found, key, which)
    return new


def _count_pairs(tallies: dict[str, Tally], found: pl.DataFrame, key: str, which: str) -> None:
    """Add (group, value, n) rows, in first-appearance order, to each tally's bounded Counter."""
    import polars as pl

    head = found.filter(pl.col("__rank") < 2 * _MAX_COUNTED)
    for name, value, n in zip(
        head.get_column(key).to_list(),
        head.get_column("__value").to_list(),
        head.get_column("__count").to_list(),
        strict=True,
    ):
        counter: Counter[str] = getattr(tallies[name], which)
        if value in counter:
            counter[value] += n
        elif len(counter) < _MAX_COUNTED:
            counter[value] = n
    tail = found.filter(pl.col("__rank") >= 2 * _MAX_COUNTED)
    if tail.height == 0:
        return
    # values this late in a frame only count when the counter already holds them
    names: list[str] = []
    values: list[str] = []
    for name in tail.get_column(key).unique().to_list():
        held = list(getattr(tallies[name], which))
        names.extend([name] * len(held))
        values.extend(held)
    known = pl.DataFrame({key: names, "__value": values}, schema={key: pl.Utf8, "__value": pl.Utf8})
    hits = tail.join(known, on=[key, "__value"], how="inner")
    for name, value, n in zip(
        hits.get_column(key).to_list(),
        hits.get_column("__value").to_list(),
        hits.get_column("__count").to_list(),
        strict=True,
    ):
        getattr(tallies[name], which)[value] += n


def strings(values: Iterable[str]) -> list[JsonValue]:
    """Sorted strings, typed as a JSON list."""
    return [v for v in sorted(values)]


def _account(event: Event) -> str:
    return _account_of(event.domain, event.user)


def _account_of(domain: str | None, user: str | None) -> str:
    if domain and user:
        return f"{domain}\\{user}"
    return user or "-"


def _source_of(src_ip: str | None, workstation: str | None, server: str | None) -> str:
    """:meth:`FailedLogonDetector._source` of these event fields."""
    if src_ip and src_ip not in ("-", "127.0.0.1", "::1"):
        return src_ip
    if workstation:
        return workstation
    return f"local:{server or 'unknown'}"


def _account_expr() -> pl.Expr:
    """:func:`_account` as an expression."""
    import polars as pl

    both = _truthy("domain") & _truthy("user")
    return (
        pl.when(both)
        .then(pl.concat_str([pl.col("domain"), pl.lit("\\"), pl.col("user")]))
        .otherwise(_or("user", "-"))
    )


def _span(tally: Tally) -> str:
    if tally.first is None or tally.last is None:
        return "time unknown"
    if tally.first == tally.last:
        return f"at {tally.first.isoformat()}"
    return f"from {tally.first.isoformat()} to {tally.last.isoformat()}"


class _Simple:
    """Group events by a key; every group is a finding (inventory-like detections)."""

    kinds: frozenset[EventKind] = frozenset()

    finding_id = ""
    items_name: str | None = None
    confidence = Confidence.CONFIRMED

    def __init__(self) -> None:
        self.groups: dict[str, Tally] = {}

    def match(self, event: Event) -> tuple[str, str | None] | None:  # (key, item)
        raise NotImplementedError

    def describe(self, key: str, tally: Tally) -> str:
        raise NotImplementedError

    #: the event columns :meth:`match` reads besides ``kind`` and the tally's own
    frame_columns: tuple[str, ...] = ()

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        """:meth:`match` for a frame of distinct rows (see :func:`_weighted`): the rows it
        keeps, in order, with its (key, item) as the extra columns ``__key`` and ``__item``."""
        raise NotImplementedError

    def frame_columns_of(self, frame: pl.DataFrame) -> list[str | pl.Expr]:
        """What rows are made distinct on before :meth:`frame_match` (a subclass may blank
        a column where :meth:`match` ignores it, so that fewer rows are distinct)."""
        return ["kind", *self.frame_columns, *_TALLY_COLUMNS]

    def feed_frame(self, frame: pl.DataFrame) -> None:
        """:meth:`feed` for every row of an event frame (the findings are not returned):
        identical rows are counted once by polars, :meth:`frame_match` runs on the
        distinct ones, :func:`_apply_weighted` updates the tallies."""
        if frame.height:
            self.feed_rows(_weighted(frame, self.frame_columns_of(frame)))

    def feed_rows(self, rows: pl.DataFrame) -> None:
        """:meth:`feed_frame` for the distinct rows :func:`_weighted` made of a frame
        (over at least :meth:`frame_columns_of`)."""
        if rows.height <= _FEW_ROWS:  # few distinct rows: the reference match() on each
            groups = self.groups
            for event, n, last, _ in _row_events(rows):
                found = self.match(event)
                if found is not None:
                    key, item = found
                    tally = groups.get(key)
                    if tally is None:
                        tally = groups[key] = Tally()
                    _add_weighted(tally, event, item, n, last)
            return
        matched = self.frame_match(rows)
        if matched.height:
            _apply_weighted(self.groups, matched, "__key", "__item")

    def feed(self, event: Event) -> list[LogFinding]:
        matched = self.match(event)
        if matched is None:
            return []
        key, item = matched
        tally = self.groups.get(key)
        new = tally is None
        if tally is None:
            tally = self.groups[key] = Tally()
        tally.add(event, item)
        return [self._finding(key, tally)] if new else []

    def _finding(self, key: str, tally: Tally) -> LogFinding:
        return LogFinding(
            id=self.finding_id,
            key=f"{self.finding_id}|{key}",
            summary=self.describe(key, tally),
            severity=severity_of(self.finding_id),
            confidence=self.confidence,
            evidence=tally.evidence(self.items_name),
        )

    def findings(self) -> list[LogFinding]:
        return [self._finding(key, tally) for key, tally in sorted(self.groups.items())]


class Smb1ClientDetector(_Simple):
    """Clients still speaking SMB1, per (client, server): the inventory needed before turning SMB1 off."""

    kinds = frozenset({EventKind.SMB1_ACCESS})

    finding_id = "smb1-client-activity"
    items_name = "observations"
    frame_columns = ("detail", "event_id")

    def match(self, event: Event) -> tuple[str, str | None] | None:
        if event.kind is not EventKind.SMB1_ACCESS:
            return None
        return f"{event.client}|{event.server or 'unknown'}", event.detail or event.event_id

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        return frame.filter(_kind_in(EventKind.SMB1_ACCESS)).with_columns(
            _join(_client_expr(), _or("server", "unknown")).alias("__key"),
            _or("detail", pl.col("event_id")).alias("__item"),
        )

    def describe(self, key: str, tally: Tally) -> str:
        client, server = key.split("|", 1)
        return f"client {client} used SMB1 with server {server} {tally.count} time(s), {_span(tally)}"


_ANONYMOUS = frozenset({"anonymous logon", "anonymous", ""})


class AnonymousLogonDetector(_Simple):
    """Anonymous (null session) logons and insecure guest logons."""

    kinds = frozenset({EventKind.LOGON, EventKind.INSECURE_GUEST})

    finding_id = "anonymous-logon"
    items_name = "logon_kinds"
    frame_columns = ("event_id", "logon_type", "lm_package", "auth_package", "protocol", "detail")

    def match(self, event: Event) -> tuple[str, str | None] | None:
        if event.kind is EventKind.INSECURE_GUEST:
            return f"guest|{event.server or 'unknown'}|{event.detail or 'unknown'}", "insecure guest logon"
        if event.kind is not EventKind.LOGON:
            return None
        user = (event.user or "").lower()
        if event.event_id in ("4624", "pcap:session-setup") and user == "anonymous logon":
            if event.event_id == "4624":
                package = event.lm_package or event.auth_package or "-"
                kind = f"anonymous logon type {event.logon_type} ({package})"
            else:
                kind = f"anonymous {event.protocol or 'SMB'} session setup (capture)"
            return f"{event.client}|{event.server or 'unknown'}", kind
        if event.event_id.startswith("samba:auth") and user in _ANONYMOUS:
            return f"{event.client}|{event.server or 'unknown'}", "samba anonymous authentication"
        return None

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        guest = pl.col("kind") == EventKind.INSECURE_GUEST.value
        frame = frame.filter(guest | (pl.col("kind") == EventKind.LOGON.value))
        users = frame.get_column("user")
        event_id = pl.col("event_id")
        windows = (event_id == "4624").fill_null(False)
        logon = ~guest & (windows | (event_id == "pcap:session-setup").fill_null(False))
        logon = logon & _where(users, lambda u: (u or "").lower() == "anonymous logon")
        samba = ~guest & event_id.str.starts_with("samba:auth").fill_null(False)
        samba = samba & _where(users, lambda u: (u or "").lower() in _ANONYMOUS)
        package = _or("lm_package", _or("auth_package", "-"))
        logon_type = pl.col("logon_type").cast(pl.Utf8).fill_null("None")
        client_server = _join(_client_expr(), _or("server", "unknown"))
        return frame.with_columns(
            pl.when(guest)
            .then(_join("guest", _or("server", "unknown"), _or("detail", "unknown")))
            .when(logon | samba)
            .then(client_server)
            .alias("__key"),
            pl.when(guest)
            .then(pl.lit("insecure guest logon"))
            .when(logon & windows)
            .then(
                pl.concat_str(
                    [pl.lit("anonymous logon type "), logon_type, pl.lit(" ("), package, pl.lit(")")]
                )
            )
            .when(logon)
            .then(
                pl.concat_str(
                    [pl.lit("anonymous "), _or("protocol", "SMB"), pl.lit(" session setup (capture)")]
                )
            )
            .when(samba)
            .then(pl.lit("samba anonymous authentication"))
            .alias("__item"),
        ).filter(pl.col("__key").is_not_null())

    def describe(self, key: str, tally: Tally) -> str:
        parts = key.split("|")
        if parts[0] == "guest":
            return f"{parts[1]} made {tally.count} insecure guest logon(s) to {parts[2]}, {_span(tally)}"
        return f"{tally.count} anonymous logon(s) from {parts[0]} on {parts[1]}, {_span(tally)}"


class NtlmV1Detector(_Simple):
    """Named accounts authenticating with NTLMv1 (anonymous logons always show "NTLM V1"
    in 4624 and are reported as anonymous-logon instead)."""

    kinds = frozenset({EventKind.LOGON, EventKind.LOGON_FAILURE})

    finding_id = "ntlmv1-logon"
    items_name = "packages"
    frame_columns = ("lm_package",)

    def match(self, event: Event) -> tuple[str, str | None] | None:
        if event.kind not in (EventKind.LOGON, EventKind.LOGON_FAILURE) or event.lm_package != "NTLM V1":
            return None
        if (event.user or "").lower() in _ANONYMOUS:
            return None
        return f"{event.client}|{_account(event)}", event.lm_package

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        frame = frame.filter(
            _kind_in(EventKind.LOGON, EventKind.LOGON_FAILURE)
            & (pl.col("lm_package") == "NTLM V1").fill_null(False)
        )
        named = ~_where(frame.get_column("user"), lambda u: (u or "").lower() in _ANONYMOUS)
        return frame.filter(named).with_columns(
            _join(_client_expr(), _account_expr()).alias("__key"), pl.col("lm_package").alias("__item")
        )

    def describe(self, key: str, tally: Tally) -> str:
        client, account = key.split("|", 1)
        return f"{account} authenticated with NTLMv1 from {client} {tally.count} time(s), {_span(tally)}"


_ADMIN_SHARE = re.compile(r"^(?:[A-Za-z]\$|ADMIN\$)$", re.I)


class AdminShareDetector(_Simple):
    """Access to C$/ADMIN$ and to service-control pipes over IPC$ (remote service
    creation, scheduled tasks, remote registry), unless the client or account is allowlisted."""

    kinds = frozenset(
        {
            EventKind.SHARE_CONNECT,
            EventKind.FILE_ACCESS,
            EventKind.FILE_WRITE,
            EventKind.FILE_DELETE,
            EventKind.FILE_RENAME,
            EventKind.RPC_CALL,
        }
    )

    finding_id = "admin-share-access"
    items_name = "targets"
    confidence = Confidence.LIKELY
    frame_columns = ("share", "path")

    def __init__(self, thresholds: Thresholds) -> None:
        super().__init__()
        self.allow = {a.lower() for a in thresholds.admin_allowlist}
        self.pipes = thresholds.service_pipes

    def match(self, event: Event) -> tuple[str, str | None] | None:
        share = event.share or ""
        item: str | None = None
        if event.kind in (
            EventKind.SHARE_CONNECT,
            EventKind.FILE_ACCESS,
            EventKind.FILE_WRITE,
            EventKind.FILE_DELETE,
            EventKind.FILE_RENAME,
        ) and _ADMIN_SHARE.match(share):
            item = share.upper()
        elif share.upper() == "IPC$" and event.kind in (
            EventKind.FILE_ACCESS,
            EventKind.FILE_WRITE,
            EventKind.RPC_CALL,
        ):
            pipe = (event.path or "").lstrip("\\").lower()
            pipe = pipe.removeprefix("pipe\\")
            if pipe in self.pipes:
                item = f"IPC$\\{pipe}"
        if item is None:
            return None
        if self.allow & {event.client.lower(), (event.user or "").lower(), _account(event).lower()}:
            return None
        return f"{event.client}|{event.user or '-'}|{event.server or 'unknown'}", item

    def _admin_item(self, share: str | None) -> str | None:
        share = share or ""
        return share.upper() if _ADMIN_SHARE.match(share) else None

    def _pipe_item(self, path: str | None) -> str | None:
        pipe = (path or "").lstrip("\\").lower().removeprefix("pipe\\")
        return f"IPC$\\{pipe}" if pipe in self.pipes else None

    #: :meth:`feed_frame` takes a frame of any kinds (see :meth:`DetectorSet.feed_frame`)
    feed_frame_any_kind = True

    def feed_frame(self, frame: pl.DataFrame) -> None:
        """:meth:`_Simple.feed_frame` on the rows of its kinds whose share :meth:`match`
        can accept (an administrative share or IPC$, tested once per distinct share): the
        others match nothing, so they change nothing. The frame may hold rows of any kind
        (one filter, inside the query that makes the rows distinct)."""
        import polars as pl

        if not frame.height:
            return
        distinct = frame.get_column("share").unique().to_list()
        keep = [s for s in distinct if s is not None and self._accepts(s)]
        if not keep:
            return
        rows = pl.col("share").is_in(keep) & _kind_in(*self.kinds)  # (a null share is dropped)
        # frame_columns_of, with the IPC$ test taken from the distinct shares at hand
        ipc = pl.col("share").is_in([s for s in keep if s.upper() == "IPC$"]).fill_null(False)
        path = pl.when(ipc).then(pl.col("path")).alias("path")
        weighted = _weighted(frame, ["kind", "share", path, *_TALLY_COLUMNS], rows.fill_null(False))
        if weighted.height:
            self.feed_rows(weighted)

    def _accepts(self, share: str) -> bool:
        """Whether :meth:`match` can accept an event on this share (admin share or IPC$)."""
        return self._admin_item(share) is not None or share.upper() == "IPC$"

    def frame_columns_of(self, frame: pl.DataFrame) -> list[str | pl.Expr]:
        import polars as pl

        # the path only matters on IPC$ (pipe names): file paths on C$ would make most rows distinct
        ipc = _where(frame.get_column("share"), lambda s: (s or "").upper() == "IPC$")
        return ["kind", "share", pl.when(ipc).then(pl.col("path")).alias("path"), *_TALLY_COLUMNS]

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        admin_kinds = _kind_in(
            EventKind.SHARE_CONNECT,
            EventKind.FILE_ACCESS,
            EventKind.FILE_WRITE,
            EventKind.FILE_DELETE,
            EventKind.FILE_RENAME,
        )
        ipc_kinds = _kind_in(EventKind.FILE_ACCESS, EventKind.FILE_WRITE, EventKind.RPC_CALL)
        frame = frame.filter(admin_kinds | ipc_kinds)
        shares = frame.get_column("share")
        admin = _mapped(shares, self._admin_item)
        ipc = ipc_kinds & _where(shares, lambda s: (s or "").upper() == "IPC$")
        frame = frame.with_columns(admin.alias("__admin"), ipc.alias("__ipc")).filter(
            (admin_kinds & pl.col("__admin").is_not_null()) | pl.col("__ipc")
        )
        pipes = frame.filter(pl.col("__ipc")).get_column("path")
        frame = frame.with_columns(
            pl.when(admin_kinds & pl.col("__admin").is_not_null())
            .then(pl.col("__admin"))
            .when(pl.col("__ipc"))
            .then(_mapped(pipes, self._pipe_item))
            .alias("__item"),
            _client_expr().alias("__client"),
        ).filter(pl.col("__item").is_not_null())
        if self.allow:
            frame = frame.with_columns(_account_expr().alias("__account"))
            allowed = self.allow.__contains__
            frame = frame.filter(
                ~(
                    _where(frame.get_column("__client"), lambda c: allowed((c or "").lower()))
                    | _where(frame.get_column("user"), lambda u: allowed((u or "").lower()))
                    | _where(frame.get_column("__account"), lambda a: allowed((a or "").lower()))
                )
            )
        return frame.with_columns(
            _join(pl.col("__client"), _or("user", "-"), _or("server", "unknown")).alias("__key")
        )

    def describe(self, key: str, tally: Tally) -> str:
        client, user, server = key.split("|", 2)
        targets = ", ".join(sorted(tally.items))
        return (
            f"{client} (account {user}) accessed {targets} on {server} {tally.count} time(s), {_span(tally)}"
        )


class ShareChangeDetector:
    """Shares created (5142) and share permissions changed (5143)."""

    kinds = frozenset({EventKind.SHARE_CREATED, EventKind.SHARE_CHANGED})

    def __init__(self) -> None:
        self.created = _ShareEvents("share-created", EventKind.SHARE_CREATED, "created")
        self.changed = _ShareEvents("share-permissions-changed", EventKind.SHARE_CHANGED, "changed")

    def feed(self, event: Event) -> list[LogFinding]:
        return self.created.feed(event) + self.changed.feed(event)

    def feed_frame(self, frame: pl.DataFrame) -> None:
        if frame.height:  # both read the same columns: rows made distinct once
            rows = _weighted(frame, self.created.frame_columns_of(frame))
            self.created.feed_rows(rows)
            self.changed.feed_rows(rows)

    def findings(self) -> list[LogFinding]:
        return self.created.findings() + self.changed.findings()


class _ShareEvents(_Simple):
    items_name = "details"
    frame_columns = ("share", "detail", "path")
    kinds = frozenset({EventKind.SHARE_CREATED, EventKind.SHARE_CHANGED})

    def __init__(self, finding_id: str, kind: EventKind, verb: str) -> None:
        super().__init__()
        self.finding_id = finding_id
        self.kind = kind
        self.verb = verb

    def match(self, event: Event) -> tuple[str, str | None] | None:
        if event.kind is not self.kind:
            return None
        return f"{event.server or 'unknown'}|{event.share or '-'}", event.detail or event.path

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        return frame.filter(_kind_in(self.kind)).with_columns(
            _join(_or("server", "unknown"), _or("share", "-")).alias("__key"),
            _or("detail", pl.col("path")).alias("__item"),
        )

    def describe(self, key: str, tally: Tally) -> str:
        server, share = key.split("|", 1)
        by = ", ".join(sorted(tally.accounts)) or "unknown account"
        return f"share {share} on {server} {self.verb} by {by} {tally.count} time(s), {_span(tally)}"


class ExploitDetector(_Simple):
    """Exploit traffic seen in captures or Zeek notices (MS17-010 family, SMBGhost)."""

    kinds = frozenset({EventKind.EXPLOIT})

    items_name = "indicators"
    frame_columns = ("event_id", "detail")

    def __init__(self, finding_id: str, marker: str) -> None:
        super().__init__()
        self.finding_id = finding_id
        self.marker = marker

    def match(self, event: Event) -> tuple[str, str | None] | None:
        if event.kind is not EventKind.EXPLOIT:
            return None
        is_ghost = "smbghost" in event.event_id
        if (self.marker == "smbghost") != is_ghost:
            return None
        return f"{event.client}|{event.server or 'unknown'}", event.detail or event.event_id

    def frame_match(self, frame: pl.DataFrame) -> pl.DataFrame:
        import polars as pl

        ghost = pl.col("event_id").str.contains("smbghost", literal=True).fill_null(False)
        return frame.filter(
            _kind_in(EventKind.EXPLOIT) & (ghost if self.marker == "smbghost" else ~ghost)
        ).with_columns(
            _join(_client_expr(), _or("server", "unknown")).alias("__key"),
            _or("detail", pl.col("event_id")).alias("__item"),
        )

    def describe(self, key: str, tally: Tally) -> str:
        client, server = key.split("|", 1)
        what = "; ".join(sorted(tally.items)[:3])
        return f"{client} -> {server}: {what} ({tally.count} indicator(s)), {_span(tally)}"


_Contents = tuple[deque[tuple[datetime | None, str]], dict[str, int]]


class _Window:
    """Items of one subject inside a sliding time window, with an incremental count of
    distinct items. Events without a time never expire (they form one window).

    ``feed_frame`` (:mod:`smbguard.logs.frame_windows`) may leave a window *deferred*
    (:meth:`_defer`): its contents are then what ``_pending()`` returns, built on first use
    by :class:`_DeferredWindow`, so the row path below pays nothing for it."""

    __slots__ = ("_pending", "counts", "items", "seconds")

    def __init__(self, seconds: float) -> None:
        self.seconds = timedelta(seconds=seconds)
        self.items: deque[tuple[datetime | None, str]] = deque()
        self.counts: dict[str, int] = {}
        self._pending: Callable[[], _Contents] | None = None

    def _defer(self, pending: Callable[[], _Contents]) -> None:
        """From now on the window holds what ``pending()`` returns (built when first used)."""
        self.items, self.counts = deque(), {}
        self._pending = pending
        self.__class__ = _DeferredWindow

    def push(self, when: datetime | None, item: str) -> None:
        self.items.append((when, item))
        self.counts[item] = self.counts.get(item, 0) + 1
        if when is None:
            return
        limit = when - self.seconds
        items = self.items
        while items:
            first = items[0][0]
            if first is None or first >= limit:
                break
            self._drop()
        if len(items) > 100_000:  # bound memory on pathological input
            self._drop()

    def _drop(self) -> None:
        _, old = self.items.popleft()
        left = self.counts[old] - 1
        if left:
            self.counts[old] = left
        else:
            del self.counts[old]

    def __len__(self) -> int:
        return len(self.items)

    def distinct(self) -> int:
        return len(self.counts)


class _DeferredWindow(_Window):
    """A deferred :class:`_Window`: any use builds its contents and turns it back into a
    plain ``_Window`` (same slots, so ``__class__`` can switch), then proceeds."""

    __slots__ = ()

    def _materialise(self) -> None:
        pending = self._pending
        assert pending is not None
        self._pending = None
        self.__class__ = _Window  # type: ignore[assignment]  # back to a plain window
        self.items, self.counts = pending()

    def __getattribute__(self, name: str) -> Any:
        if name in ("items", "counts"):
            _DeferredWindow._materialise(self)
        return object.__getattribute__(self, name)

    def push(self, when: datetime | None, item: str) -> None:
        self._materialise()
        self.push(when, item)

    def __len__(self) -> int:
        self._materialise()
        return len(self.items)

    def distinct(self) -> int:
        self._materialise()
        return len(self.counts)


@dataclass(slots=True)
class _SourceState:
    tally: Tally = field(default_factory=Tally)
    per_account: dict[str, _Window] = field(default_factory=dict)
    accounts_window: _Window | None = None
    brute: bool = False
    spray: bool = False
    peak_account_failures: int = 0
    peak_distinct_accounts: int = 0
    successes_after_failures: set[str] = field(default_factory=set)


#: FailedLogonDetector forgets a source's per-account windows beyond this many accounts
_MAX_ACCOUNT_WINDOWS = 10_000


class FailedLogonDetector:
    """Brute force (many failures for one account from one source) and password
    spraying (failures for many accounts from one source) inside sliding windows."""

    kinds = frozenset({EventKind.LOGON, EventKind.LOGON_FAILURE})

    def __init__(self, thresholds: Thresholds) -> None:
        self.t = thresholds
        self.sources: dict[str, _SourceState] = {}

    @staticmethod
    def _source(event: Event) -> str:
        return _source_of(event.src_ip, event.workstation, event.server)

    def _logon(self, source: str, account: str) -> None:
        """A successful logon: noted when the source already failed for that account."""
        state = self.sources.get(source)
        if state is not None and account in state.tally.accounts:
            state.successes_after_failures.add(account)

    def feed(self, event: Event) -> list[LogFinding]:
        if event.kind is EventKind.LOGON:
            self._logon(self._source(event), _account(event))
            return []
        if event.kind is not EventKind.LOGON_FAILURE:
            return []
        key = self._source(event)
        state = self.sources.get(key)
        if state is None:
            state = self.sources[key] = _SourceState(accounts_window=_Window(self.t.spray_window))
        account = _account(event).lower()
        state.tally.add(event, event.status or event.detail or "failure")
        window = state.per_account.get(account)
        if window is None:
            if len(state.per_account) > _MAX_ACCOUNT_WINDOWS:
                state.per_account.clear()
            window = state.per_account[account] = _Window(self.t.brute_force_window)
        window.push(event.time, "")
        assert state.accounts_window is not None
        state.accounts_window.push(event.time, account)
        state.peak_account_failures = max(state.peak_account_failures, len(window))
        distinct = (
            state.accounts_window.distinct() if len(state.accounts_window) >= self.t.spray_accounts else 0
        )
        state.peak_distinct_accounts = max(state.peak_distinct_accounts, distinct)
        out: list[LogFinding] = []
        if not state.brute and len(window) >= self.t.brute_force_failures:
            state.brute = True
            out.append(self._finding("smb-brute-force", key, state))
        if not state.spray and distinct >= self.t.spray_accounts:
            state.spray = True
            out.append(self._finding("password-spraying", key, state))
        return out

    def _finding(self, finding_id: str, key: str, state: _SourceState) -> LogFinding:
        tally = state.tally
        evidence = tally.evidence("statuses")
        evidence["peak_failures_one_account_in_window"] = state.peak_account_failures
        evidence["peak_distinct_accounts_in_window"] = state.peak_distinct_accounts
        evidence["window_seconds"] = (
            self.t.brute_force_window if finding_id == "smb-brute-force" else self.t.spray_window
        )
        evidence["accounts_later_successful"] = strings(state.successes_after_failures)
        n_accounts = len(tally.accounts)
        if finding_id == "smb-brute-force":
            summary = (
                f"{key}: {tally.count} failed logon(s) for {n_accounts} account(s), up to "
                f"{state.peak_account_failures} for one account within {self.t.brute_force_window:g}s, "
                f"{_span(tally)}"
            )
        else:
            summary = (
                f"{key}: failed logons for {n_accounts} distinct account(s), "
                f"up to {state.peak_distinct_accounts} within {self.t.spray_window:g}s, {_span(tally)}"
            )
        if state.successes_after_failures:
            summary += f"; later successful: {', '.join(sorted(state.successes_after_failures))}"
        return LogFinding(
            id=finding_id,
            key=f"{finding_id}|{key}",
            summary=summary,
            severity=severity_of(finding_id),
            confidence=Confidence.LIKELY,
            evidence=evidence,
        )

    def findings(self) -> list[LogFinding]:
        out = []
        for key, state in sorted(self.sources.items()):
            if state.brute:
                out.append(self._finding("smb-brute-force", key, state))
            if state.spray:
                out.append(self._finding("password-spraying", key, state))
        return out

    def feed_frame(self, frame: pl.DataFrame) -> None:
        """:meth:`feed` for every row of an event frame, on columns (exactly the same state)."""
        from smbguard.logs.frame_windows import failed_logon_feed_frame

        failed_logon_feed_frame(self, frame)


_NOTE = re.compile(
    r"(?:^|[\\/])(?:[^\\/]*(?:readme|read_me|decrypt|restore|recover|how_to|help_to|ransom)[^\\/]*)"
    r"\.(?:txt|html?|hta|rtf|url)$",
    re.I,
)
_RANSOM_EXT = frozenset(
    {
        "locked",
        "encrypted",
        "crypt",
        "crypted",
        "enc",
        "wncry",
        "wnry",
        "wcry",
        "locky",
        "zepto",
        "cerber",
        "crab",
        "krab",
        "gdcb",
        "ryk",
        "conti",
        "lockbit",
        "akira",
        "royal",
        "blackcat",
    }
)


def _ext(path: str | None) -> str:
    if not path:
        return ""
    name = path.replace("/", "\\").rsplit("\\", 1)[-1]
    return name.rsplit(".", 1)[-1].lower() if "." in name else ""


def _dir(path: str | None) -> str:
    if not path:
        return ""
    return path.replace("/", "\\").rsplit("\\", 1)[0] if "\\" in path.replace("/", "\\") else ""


@dataclass(slots=True)
class _ClientShare:
    tally: Tally = field(default_factory=Tally)
    files: _Window | None = None
    ext_changes: _Window | None = None
    note_dirs: set[str] = field(default_factory=set)
    peak_files: int = 0
    peak_ext_changes: int = 0
    new_extensions: Counter[str] = field(default_factory=Counter)
    known_extensions: set[str] = field(default_factory=set)
    alerted: bool = False


_NOTE_SUFFIXES = (".txt", ".html", ".htm", ".hta", ".rtf", ".url")


class RansomwareDetector:
    """One client writing/renaming/deleting many files on one share in a short
    window, renames that change extensions, ransom-note-like file names."""

    kinds = frozenset({EventKind.FILE_WRITE, EventKind.FILE_RENAME, EventKind.FILE_DELETE})
    #: :meth:`feed_frame` takes a frame of any kinds (see :meth:`DetectorSet.feed_frame`)
    feed_frame_any_kind = True

    def __init__(self, thresholds: Thresholds) -> None:
        self.t = thresholds
        self.groups: dict[str, _ClientShare] = {}

    def feed(self, event: Event) -> list[LogFinding]:
        if event.kind not in self.kinds or event.share == "IPC$":  # named pipes are not files
            return []
        key = f"{event.client}|{event.server or 'unknown'}|{event.share or '-'}"
        state = self.groups.get(key)
        if state is None:
            if len(self.groups) > 100_000:
                self.groups.clear()
            state = self.groups[key] = _ClientShare(
                files=_Window(self.t.ransomware_window), ext_changes=_Window(self.t.ransomware_window)
            )
        files, ext_changes = state.files, state.ext_changes
        assert files is not None and ext_changes is not None
        state.tally.add(event, event.kind.value)
        files.push(event.time, (event.path or "").lower())
        distinct = files.distinct()
        if distinct > state.peak_files:
            state.peak_files = distinct
        if event.kind is EventKind.FILE_RENAME and event.new_path:
            old, new = _ext(event.path), _ext(event.new_path)
            if new and new != old:
                ext_changes.push(event.time, event.new_path.lower())
                state.peak_ext_changes = max(state.peak_ext_changes, len(ext_changes))
                if len(state.new_extensions) < 100 or new in state.new_extensions:
                    state.new_extensions[new] += 1
        target = event.new_path or event.path
        if event.kind is not EventKind.FILE_DELETE and target:
            lowered = target.lower()
            if lowered.endswith(_NOTE_SUFFIXES) and _NOTE.search(target) and len(state.note_dirs) < 1000:
                state.note_dirs.add(_dir(target))
            ext = _ext(lowered)
            if ext in _RANSOM_EXT and len(state.known_extensions) < 20:
                state.known_extensions.add(ext)
        if not state.alerted and self._reasons(state):
            state.alerted = True
            return [self._finding(key, state)]
        return []

    def _reasons(self, state: _ClientShare) -> list[str]:
        t = self.t
        reasons = [f"known ransomware extension .{ext}" for ext in sorted(state.known_extensions)]
        if state.peak_files >= t.ransomware_files:
            reasons.append(f"{state.peak_files} distinct files changed within {t.ransomware_window:g}s")
        if state.peak_ext_changes >= t.ransomware_extension_changes:
            reasons.append(f"{state.peak_ext_changes} renames changing the extension")
        if len(state.note_dirs) >= t.ransomware_note_dirs:
            reasons.append(f"ransom-note-like files in {len(state.note_dirs)} directories")
        return reasons

    def _finding(self, key: str, state: _ClientShare) -> LogFinding:
        client, server, share = key.split("|", 2)
        reasons = self._reasons(state)
        evidence = state.tally.evidence("operations")
        evidence["reasons"] = strings(reasons)
        evidence["peak_distinct_files_in_window"] = state.peak_files
        evidence["peak_extension_changes_in_window"] = state.peak_ext_changes
        evidence["new_extensions"] = dict(state.new_extensions.most_common(20))
        evidence["ransom_note_directories"] = strings(sorted(state.note_dirs)[:20])
        evidence["window_seconds"] = self.t.ransomware_window
        return LogFinding(
            id="ransomware-like-activity",
            key=f"ransomware-like-activity|{key}",
            summary=f"{client} on {server} share {share}: " + "; ".join(reasons) + f", {_span(state.tally)}",
            severity=severity_of("ransomware-like-activity"),
            confidence=Confidence.POSSIBLE,
            evidence=evidence,
        )

    def findings(self) -> list[LogFinding]:
        return [self._finding(k, s) for k, s in sorted(self.groups.items()) if s.alerted]

    def feed_frame(self, frame: pl.DataFrame) -> None:
        """:meth:`feed` for every row of an event frame, on columns (exactly the same state)."""
        from smbguard.logs.frame_windows import ransomware_feed_frame

        ransomware_feed_frame(self, frame)


def default_detectors(thresholds: Thresholds | None = None) -> list[Detector]:
    """The full detector set, in report order."""
    t = thresholds or Thresholds()
    return [
        ExploitDetector("ms17-010-exploit-traffic", "ms17-010"),
        ExploitDetector("smbghost-exploit-traffic", "smbghost"),
        RansomwareDetector(t),
        FailedLogonDetector(t),
        AdminShareDetector(t),
        ShareChangeDetector(),
        NtlmV1Detector(),
        AnonymousLogonDetector(),
        Smb1ClientDetector(),
    ]


class DetectorSet:
    """Feeds each event only to the detectors whose ``kinds`` include its kind."""

    def __init__(self, detectors: list[Detector]) -> None:
        self.detectors = detectors
        self._by_kind: dict[EventKind, list[Callable[[Event], list[LogFinding]]]] = {
            kind: [d.feed for d in detectors if kind in d.kinds] for kind in EventKind
        }

    def feed(self, event: Event) -> list[LogFinding]:
        out: list[LogFinding] = []
        for feed in self._by_kind[event.kind]:
            found = feed(event)
            if found:
                out.extend(found)
        return out

    def feed_frame(self, frame: pl.DataFrame) -> None:
        """Feed a frame of events (see :func:`smbguard.logs.events.events_to_frame`).

        Detectors are independent, so each gets the frame's rows of its kinds in order,
        through its own ``feed_frame`` when it has one, else row by row. The findings
        that become true are not returned: this is the ``logs analyze`` path, which
        reads :meth:`findings` at the end (``logs watch`` uses :meth:`feed`)."""
        if frame.height == 0:
            return
        if max(frame.n_chunks("all"), default=1) > 1:
            # polars' eager operations (filter, select, group_by, ...) copy a frame of
            # several chunks into one, all its columns, each time; sources build frames of
            # 8-32 chunks and each detector runs a dozen operations on its part: copy once
            frame = frame.rechunk()
        kinds = frame.get_column("kind")
        present = frozenset(kinds.unique().to_list())
        parts: dict[frozenset[str], pl.DataFrame] = {}  # one filter per distinct set of kinds
        for detector in self.detectors:
            wanted = present & {kind.value for kind in detector.kinds}
            if not wanted:
                continue
            if getattr(detector, "feed_frame_any_kind", False):
                # it keeps its rows itself, in a filter it needs anyway (feed ignores other
                # kinds, so the rows it is given besides its own change nothing)
                detector.feed_frame(frame)  # type: ignore[attr-defined]
                continue
            part = parts.get(wanted)
            if part is None:
                part = parts[wanted] = frame if wanted == present else frame.filter(kinds.is_in(wanted))
            feed_frame = getattr(detector, "feed_frame", None)
            if feed_frame is not None:
                feed_frame(part)
            else:
                feed = detector.feed
                for event in frame_to_events(part):
                    feed(event)

    def findings(self) -> list[LogFinding]:
        """Every detector's final findings, worst severity first."""
        out: list[LogFinding] = []
        for detector in self.detectors:
            out.extend(detector.findings())
        out.sort(key=lambda f: (-int(f.severity), f.id, f.key))
        return out


def run_detectors(events: Iterable[Event], detectors: list[Detector]) -> Iterator[LogFinding]:
    """Feed every event to the detectors; yield findings as they become true."""
    dispatcher = DetectorSet(detectors)
    for event in events:
        yield from dispatcher.feed(event)
