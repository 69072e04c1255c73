"""Zeek logs: smb_files, smb_mapping, smb_cmd, ntlm, dce_rpc and notice, in the
TSV format (``#fields`` header) or JSON lines; gzip is handled by the opener.

The log type comes from ``#path`` (TSV) or from the field names (JSON).

:meth:`ZeekSource.events` reads line by line (:meth:`ZeekSource.parse_line`, the
readable reference); :meth:`ZeekSource.frames` gives the same events as polars frames,
parsing whole blocks (TSV data lines with the C reader ``_zeektsv`` or else polars' CSV
reader, JSON lines with the C scanner ``_zeekjson`` or else polars) and sending every
line it cannot decide with certainty through the reference (see "event frames" below).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from smbguard.logs.events import FRAME_ROWS, Event, EventKind, SourceStats, parse_epoch

if TYPE_CHECKING:
    import polars as pl

try:  # the C JSON-line scanner (setup.py builds it; optional): see _json_lines
    from smbguard.logs import _zeekjson as _zj
except ImportError:  # not built: polars' JSON decoding (_Block._json) reads JSON lines
    _zj = None  # type: ignore[assignment]
try:  # the C TSV-line reader (optional): see _tsv_lines
    from smbguard.logs import _zeektsv as _zt
except ImportError:  # not built: polars' CSV reader (_tsv_segment) reads TSV lines
    _zt = None  # type: ignore[assignment]

_FILE_ACTIONS = {
    "SMB::FILE_WRITE": EventKind.FILE_WRITE,
    "SMB::FILE_DELETE": EventKind.FILE_DELETE,
    "SMB::FILE_RENAME": EventKind.FILE_RENAME,
    "SMB::FILE_OPEN": EventKind.FILE_ACCESS,
    "SMB::FILE_READ": EventKind.FILE_ACCESS,
}
_WANTED = (
    "ts",
    "id.orig_h",
    "id.resp_h",
    "action",
    "path",
    "name",
    "prev_name",
    "service",
    "share_type",
    "command",
    "sub_command",
    "status",
    "version",
    "username",
    "tree",
    "hostname",
    "domainname",
    "success",
    "named_pipe",
    "endpoint",
    "operation",
    "note",
    "msg",
    "src",
    "dst",
)


def log_type_from_fields(fields: Mapping[str, Any] | list[str]) -> str | None:
    """Guess the Zeek log type from its field names."""
    names = set(fields)
    if "note" in names:
        return "notice"
    if "command" in names and "version" in names:
        return "smb_cmd"
    if "action" in names and "name" in names:
        return "smb_files"
    if "share_type" in names or ("service" in names and "path" in names):
        return "smb_mapping"
    if "named_pipe" in names or "endpoint" in names:
        return "dce_rpc"
    if "success" in names and ("username" in names or "hostname" in names):
        return "ntlm"
    return None


def _share_of(path: str | None) -> str | None:
    if not path:
        return None
    return path.rstrip("\\").rsplit("\\", 1)[-1] or None


class ZeekSource:
    """One Zeek log file (TSV or JSON lines)."""

    type = "zeek"

    def __init__(self, path: str, opener: Callable[[str], IO[bytes]] | None = None) -> None:
        self.path = path
        self.opener = opener
        self.stats = SourceStats(path=path, type=self.type)
        self.log_type: str | None = None
        self.sep = "\t"
        self.unset = "-"
        self.columns: dict[str, int] = {}
        self._max_column = 0
        self._column_items: tuple[tuple[str, int], ...] = ()
        self._masked_warned = False

    def events(self) -> Iterator[Event]:
        opener = self.opener or (lambda p: open(p, "rb"))  # noqa: SIM115
        with opener(self.path) as handle:
            yield from self.events_from_lines(handle)

    def events_from_lines(self, lines: Any) -> Iterator[Event]:
        """Parse an iterable of byte lines; header state is kept between calls (``logs watch``)."""
        line = self.line
        for raw in lines:
            event = line(raw)
            if event is not None:
                yield event
        if self.log_type is not None:
            self.stats.type = f"zeek:{self.log_type}"

    def line(self, raw: bytes) -> Event | None:
        """:meth:`parse_line` with its errors counted, and the event (if any) counted in ``stats``."""
        stats = self.stats
        try:
            event = self.parse_line(raw)
        except (ValueError, IndexError, KeyError, TypeError, StopIteration) as exc:
            stats.skipped += 1
            stats.warn(f"malformed line skipped ({type(exc).__name__})")
            return None
        if event is not None:
            stats.events += 1
            stats.see(event.time)
        return event

    def frames(self, rows: int = FRAME_ROWS) -> Iterator[pl.DataFrame]:
        """The events of :meth:`events` as event frames of at most ``rows`` rows.

        polars parses whole blocks of lines (see :func:`_frames`); every line it cannot
        decide with certainty goes through :meth:`line`, and the results are merged back
        in file order. The contract (tests/logs/test_zeek_frames.py): the same rows and
        the same ``stats`` as :meth:`events`."""
        yield from _frames(self, rows)

    def parse_line(self, raw: bytes) -> Event | None:
        """One line: a header line updates the parser state, a data line may give an event."""
        stats = self.stats
        if raw.startswith(b"#"):
            self._header(raw.decode("utf-8", "replace").rstrip("\r\n"))
            return None
        if raw.startswith(b"### "):  # btest banner
            return None
        if not self.columns and raw.startswith(b"ts\t"):  # zeek-cut -c style header without '#fields'
            names = raw.decode("utf-8", "replace").rstrip("\r\n").split("\t")
            self._set_columns(names)
            self.log_type = self.log_type or log_type_from_fields(names)
            return None
        stats.records += 1
        if not raw.strip():
            return None
        text = raw.decode("utf-8", "replace").rstrip("\r\n")
        row: dict[str, Any]
        if not self.columns and ("\tEternalSafety::" in text or self.log_type == "notice"):
            # header-less notice lines (zeek-cut output): other notes are not ours
            parts = text.split("\t")
            note_at = next((i for i, p in enumerate(parts) if p.startswith("EternalSafety::")), -1)
            self.log_type = "notice"
            if note_at < 0:
                return None
            row = {"note": parts[note_at]}
            if note_at + 1 < len(parts):
                row["msg"] = parts[note_at + 1]
            if note_at >= 4:
                row["id.orig_h"], row["id.resp_h"] = parts[0], parts[2]
            return self._event(row, None)
        if text.startswith("{"):
            try:
                obj = json.loads(text)
            except (ValueError, RecursionError):
                stats.skipped += 1
                stats.warn("malformed JSON line skipped")
                return None
            if not isinstance(obj, dict):
                stats.skipped += 1
                stats.warn("JSON line is not an object")
                return None
            row = obj
            if self.log_type is None:
                self.log_type = log_type_from_fields(obj)
        else:
            if not self.columns:
                parts = text.split("\t")
                if len(parts) > 6 and "::" in parts[5]:  # header-less notice line of another note type
                    self.log_type = "notice"
                    return None
                stats.skipped += 1
                stats.warn("line before any #fields header skipped")
                return None
            parts = text.split(self.sep)
            if len(parts) <= self._max_column:
                stats.skipped += 1
                stats.warn("line with too few fields skipped")
                return None
            unset = self.unset
            row = {name: parts[i] for name, i in self._column_items if parts[i] != unset}
        ts = row.get("ts")
        when = parse_epoch(str(ts)) if ts is not None else None
        if when is None and ts is not None and not self._masked_warned:
            self._masked_warned = True
            stats.warn("timestamps are masked or invalid; events have no time")
        return self._event(row, when)

    def _set_columns(self, names: list[str]) -> None:
        self.columns = {n: i for i, n in enumerate(names) if n in _WANTED}
        self._max_column = max(self.columns.values(), default=0)
        self._column_items = tuple(self.columns.items())

    def _header(self, line: str) -> None:
        if line.startswith("#separator"):
            token = line.split(" ", 1)[1] if " " in line else "\\x09"
            self.sep = token.encode().decode("unicode_escape") if token.startswith("\\x") else token
        elif line.startswith("#unset_field"):
            self.unset = line.split(self.sep, 1)[1] if self.sep in line else "-"
        elif line.startswith("#path"):
            self.log_type = line.split(self.sep, 1)[1].strip() if self.sep in line else None
        elif line.startswith("#fields"):
            names = line.split(self.sep)[1:]
            self._set_columns(names)
            if self.log_type is None:
                self.log_type = log_type_from_fields(names)

    def _event(self, row: Mapping[str, Any], when: Any) -> Event | None:
        kind_name = self.log_type
        source = self.path
        get = row.get
        src_ip = _s(get("id.orig_h"))
        server = _s(get("id.resp_h"))
        if kind_name == "smb_files":
            action = _s(get("action")) or ""
            kind = _FILE_ACTIONS.get(action)
            if kind is None:
                return None
            share = _share_of(_s(get("path")))
            name = _s(get("name"))
            if kind is EventKind.FILE_RENAME:
                return Event(
                    kind=kind,
                    event_id=f"zeek:smb_files:{action}",
                    share=share,
                    path=_s(get("prev_name")),
                    new_path=name,
                    source=source,
                    time=when,
                    src_ip=src_ip,
                    server=server,
                )
            return Event(
                kind=kind,
                event_id=f"zeek:smb_files:{action}",
                share=share,
                path=name,
                source=source,
                time=when,
                src_ip=src_ip,
                server=server,
            )
        if kind_name == "smb_mapping":
            return Event(
                kind=EventKind.SHARE_CONNECT,
                event_id="zeek:smb_mapping",
                share=_share_of(_s(get("path"))),
                path=_s(get("path")),
                detail=_s(get("share_type")),
                source=source,
                time=when,
                src_ip=src_ip,
                server=server,
            )
        if kind_name == "smb_cmd":
            version = _s(get("version"))
            command = _s(get("command")) or ""
            status = _s(get("status"))
            if (
                command == "SESSION_SETUP"
                and status
                and status not in ("SUCCESS", "MORE_PROCESSING_REQUIRED")
            ):
                return Event(
                    kind=EventKind.LOGON_FAILURE,
                    event_id="zeek:smb_cmd:SESSION_SETUP",
                    status=status,
                    user=_s(get("username")),
                    protocol=version,
                    source=source,
                    time=when,
                    src_ip=src_ip,
                    server=server,
                )
            if version == "SMB1":
                return Event(
                    kind=EventKind.SMB1_ACCESS,
                    event_id=f"zeek:smb_cmd:{command}",
                    protocol="SMB1",
                    user=_s(get("username")),
                    share=_share_of(_s(get("tree"))),
                    detail=command,
                    source=source,
                    time=when,
                    src_ip=src_ip,
                    server=server,
                )
            return None
        if kind_name == "ntlm":
            success = get("success")
            if success in (True, "T"):
                kind = EventKind.LOGON
            elif success in (False, "F"):
                kind = EventKind.LOGON_FAILURE
            else:
                return None
            return Event(
                kind=kind,
                event_id="zeek:ntlm",
                user=_s(get("username")),
                workstation=_s(get("hostname")),
                domain=_s(get("domainname")),
                auth_package="NTLM",
                source=source,
                time=when,
                src_ip=src_ip,
                server=server,
            )
        if kind_name == "dce_rpc":
            return Event(
                kind=EventKind.RPC_CALL,
                event_id="zeek:dce_rpc",
                path=_s(get("endpoint")),
                share="IPC$",
                detail=_s(get("operation")),
                source=source,
                time=when,
                src_ip=src_ip,
                server=server,
            )
        if kind_name == "notice":
            note = _s(get("note")) or ""
            if not note.startswith("EternalSafety::"):
                return None
            src_ip = src_ip or _s(get("src"))
            server = server or _s(get("dst"))
            return Event(
                kind=EventKind.EXPLOIT,
                event_id=f"zeek:notice:{note}",
                detail=note,
                path=_s(get("msg")),
                source=source,
                time=when,
                src_ip=src_ip,
                server=server,
            )
        return None


def _s(value: Any) -> str | None:
    if value is None or value in ("-", "(empty)", ""):
        return None
    return str(value)


# ------------------------------------------------------------------------ event frames
# The fast path of ZeekSource.frames(): parse_line() and _event() re-expressed over whole
# blocks of lines with polars. It only takes lines whose meaning it can decide with
# certainty; every other line goes through ZeekSource.line() (the reference) and its
# event is merged back in file order. Header lines ("#...") always take the reference.
# Two readers (_block_frames chooses): TSV data lines of a known log type are read in
# segments by the C reader (_tsv_lines: declined lines go to the reference by line
# number) or, without it, polars' CSV reader (_tsv_segment: row i is line i; doubtful
# rows go to the reference by line number); everything else takes the line runs (_Block): lines split
# in polars, cut into runs with a fixed parser state; within a run, a line that could
# change the state (a JSON line while the log type is unknown, a non-JSON line in a JSON
# log) is handled by the reference and the run goes on from the state it left.
# tests/logs/test_zeek_frames.py proves both paths equal (real logs, hostile lines);
# docs/zeek-frames.md gives the argument and the numbers.

_BLOCK = 8 << 20  # bytes read per block; blocks end at a line end (a longer line grows it)
_SMALL = 32  # shorter runs of lines go through the reference (cheaper than polars' set-up)
_BLANK = r"^[ \t\n\r\x0B\x0C]*$"  # what bytes.strip() removes
_TS_RX = r"^[0-9]{1,10}(\.[0-9]{1,9})?$"  # ts the vectorised epoch conversion takes
_EMPTY = ("-", "(empty)", "")  # values _s() maps to None
_BASE_KEYS = ("ts", "id.orig_h", "id.resp_h")
_TYPE_KEYS: dict[str, tuple[str, ...]] = {
    "smb_files": ("action", "path", "name", "prev_name"),
    "smb_mapping": ("path", "share_type"),
    "smb_cmd": ("version", "command", "status", "username", "tree"),
    "ntlm": ("success", "username", "hostname", "domainname"),
    "dce_rpc": ("endpoint", "operation"),
    "notice": ("note", "msg", "src", "dst"),
}
# A flat JSON object Python's json.loads certainly accepts (as Zeek writes them): keys
# without escapes, string values without \u escapes or control characters, plain numbers
# (no exponent, bounded digits), true/false/null, arrays of those, no whitespace outside
# strings. In such a line '"key":' occurs exactly where the key does.
_JS_STR = r'"(?:[^"\\\x00-\x1F]|\\["\\/bfnrt])*"'
_JS_SCALAR = rf"(?:{_JS_STR}|-?(?:0|[1-9][0-9]{{0,17}})(?:\.[0-9]{{1,17}})?|true|false|null)"
_JS_VALUE = rf"(?:{_JS_SCALAR}|\[(?:{_JS_SCALAR}(?:,{_JS_SCALAR})*)?\])"
_JS_MEMBER = rf'"[^"\\\x00-\x1F]*":{_JS_VALUE}'
_JS_LINE = rf"^\{{{_JS_MEMBER}(?:,{_JS_MEMBER})*\}}$"
# Longest JSON line the plain reader takes (_Block._json_plain): at most ~500 levels of
# nesting (json.loads' RecursionError starts near 1000 minus the caller's stack depth)
# and no integer of 4300 digits (int_max_str_digits)
_JS_MAX = 1000
_JS_SPLIT = 4096  # runs of at least this many JSON lines are decoded in two halves at once
_JS_BISECT = 512  # a run polars rejects is cut in halves down to runs of this many lines
_JS_WINDOW = 16 << 10  # bytes the C scanner reads after a state change (then doubling)


def _js_doubtful(keys: tuple[str, ...]) -> str:
    """A line whose wanted fields polars would read differently from json.loads: a key
    given twice (json.loads keeps the last, polars the first), or a value whose str() is
    not its text (a number, true/false, an array), except ts, which only needs its numeric
    value, and success, where true and false count and the strings "true"/"false" do not.

    In valid JSON without ``\\u`` escapes every occurrence of the key ``k`` is written
    ``"k"``, JSON whitespace, ``:``; so ``"k"\\s*:`` finds each one (and maybe more, in keys
    with escaped quotes, which only makes more lines doubtful)."""
    parts = []
    for key in keys:
        quoted = _rx_key(key) + r"\s*:"
        parts.append(f"{quoted}.*{quoted}")
        if key == "ts":
            parts.append(quoted + r"\s*\[")
        elif key == "success":
            parts.append(quoted + r'\s*(?:[^"ntf\s]|"(?:true|false)")')
        else:
            parts.append(quoted + r'\s*[^"n\s]')
    return "|".join(parts)


def _keys(log_type: str | None) -> tuple[str, ...]:
    """The fields :meth:`ZeekSource._event` reads for a log type (``ts`` alone when it gives no events)."""
    extra = _TYPE_KEYS.get(log_type or "")
    return ("ts",) if extra is None else _BASE_KEYS + extra


def _rx_key(key: str) -> str:
    return '"' + key.replace(".", r"\.") + '"'


def _byte_blocks(handle: Any, size: int = 0) -> Iterator[bytes]:
    """Blocks of whole lines (the last may lack its newline): about ``size`` bytes, then
    the rest of the line they end in (``readline``; a longer line grows the block), so a
    block is copied at most once (not at all when a read ends at a line end). A read
    error is raised after the complete lines read before it, as line-by-line reading
    would."""
    size = size or _BLOCK
    read = getattr(handle, "read1", None) or handle.read
    readline = handle.readline
    while True:
        parts: list[bytes] = []
        got = 0
        try:
            while got < size:
                chunk = read(size - got)
                if not chunk:
                    break
                parts.append(chunk)
                got += len(chunk)
            if parts and not parts[-1].endswith(b"\n"):
                tail = readline()
                if tail:
                    parts.append(tail)
        except Exception:
            data = b"".join(parts)
            end = data.rfind(b"\n") + 1
            if end:
                yield data[:end]
            raise
        if not parts:
            return
        yield parts[0] if len(parts) == 1 else b"".join(parts)


class _Batcher:
    """Re-cuts a stream of frames into frames of exactly ``rows`` rows (the last may be shorter)."""

    def __init__(self, rows: int) -> None:
        if rows < 1:
            raise ValueError("rows must be positive")
        self.rows = rows
        self.pending: list[pl.DataFrame] = []
        self.count = 0
        self.yielded = False

    def add(self, frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
        import polars as pl

        if not frame.height:
            return
        self.pending.append(frame)
        self.count += frame.height
        if self.count < self.rows:
            return
        big = pl.concat(self.pending)
        full = big.height - big.height % self.rows
        for at in range(0, full, self.rows):
            self.yielded = True
            yield big.slice(at, self.rows)
        rest = big.slice(full)
        self.pending = [rest] if rest.height else []
        self.count = rest.height

    def flush(self) -> Iterator[pl.DataFrame]:
        import polars as pl

        if self.pending:
            self.yielded = True
            yield pl.concat(self.pending)
        self.pending = []
        self.count = 0

    def finish(self) -> Iterator[pl.DataFrame]:
        import polars as pl

        from smbguard.logs.events import frame_schema

        yield from self.flush()
        if not self.yielded:  # no event at all: one empty frame, so pl.concat(frames) works
            self.yielded = True
            yield pl.DataFrame(schema=frame_schema())


def _frames(source: ZeekSource, rows: int) -> Iterator[pl.DataFrame]:
    opener = source.opener or (lambda p: open(p, "rb"))  # noqa: SIM115
    batcher = _Batcher(rows)
    with opener(source.path) as handle:
        blocks = _byte_blocks(handle)
        while True:
            try:
                data = next(blocks)
            except StopIteration:
                break
            except Exception:
                yield from batcher.flush()  # what was read before the error, then the error
                raise
            for frame in _block_frames(source, data):
                yield from batcher.add(frame)
    yield from batcher.finish()
    if source.log_type is not None:
        source.stats.type = f"zeek:{source.log_type}"


def _block_frames(source: ZeekSource, data: bytes) -> Iterator[pl.DataFrame]:
    """The events of one block of whole lines, in file order (see the section comment):
    header lines through the reference; data lines of a TSV log as whole segments read by
    polars' CSV reader (:func:`_tsv_segment`) up to the next header that changes the parser
    state; whatever that reader cannot vouch for, and every other format, through the
    line-run reader :class:`_Block`."""
    pos = 0
    end = len(data)
    window = 0  # bytes the next JSON scan reads (0: the rest of the block)
    while pos < end:
        if data[pos] == _HASH:  # a header line (or a "### " banner): the reference
            stop = data.find(b"\n", pos) + 1 or end
            source.line(data[pos:stop])  # no event from a "#" line (parse_line)
            pos = stop
            continue
        if _zj is not None and not source.columns and source.log_type != "notice":
            # JSON lines (or lines before the log type is known): the C scanner
            if source.log_type:
                stop = len(data) if not window else (data.find(b"\n", pos + window) + 1 or len(data))
                frame, resume, changed = _json_lines(source, data, pos, stop)
                # after a state change scan twice as far as it was away (at least _JS_WINDOW),
                # then twice as far each time: state changes in every few lines cost O(n), not
                # a scan of the rest of the block each
                window = max(_JS_WINDOW, 2 * (resume - pos)) if changed or window else 0
                pos = resume
            else:
                frame, pos = _untyped_lines(source, data, pos)
            if frame is not None:
                yield frame
            continue
        if not _tsv_ready(source):  # JSON, header-less, CR, unknown type: the line runs
            yield _Block(source).run(data[pos:].decode("utf-8", "replace"))
            return
        # TSV data lines, and the header lines after them as long as the state stays the
        # same (data lines of a TSV log with a known type never change it: parse_line)
        before = _get_state(source)
        after = before
        ranges = []
        while True:
            head = _next_header(data, pos)
            ranges.append((pos, head))
            if head == end:
                pos = end
                break
            stop = data.find(b"\n", head) + 1 or end
            source.line(data[head:stop])
            pos = stop
            after = _get_state(source)
            if after != before:
                break
        _set_state(source, before)
        if _zt is not None:  # the C reader: each range in place
            for first, last in ranges:
                if first < last:
                    yield _tsv_lines(source, data, first, last)
            _set_state(source, after)
            continue
        segment = data[ranges[0][0] : ranges[0][1]] if len(ranges) == 1 else b"".join(
            data[a:b] for a, b in ranges
        )
        if segment:
            frame = _tsv_segment(source, segment)
            if frame is None:  # a line polars cannot vouch for: the line runs take them all
                frame = _Block(source).run(segment.decode("utf-8", "replace"))
            yield frame
        _set_state(source, after)


class _Arrow:
    """The capsules of an Arrow struct array (the Arrow PyCapsule interface polars reads)."""

    __slots__ = ("array", "schema")

    def __init__(self, schema: object, array: object) -> None:
        self.schema = schema
        self.array = array

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.schema, self.array


_JSON_MODES = {"ts": "t", "success": "b"}  # the other keys: "s" (strings only); see _zeekjson.c


def _json_lines(
    source: ZeekSource, data: bytes, pos: int, end: int
) -> tuple[pl.DataFrame | None, int, bool]:
    """The JSON lines of ``data[pos:end]`` (a log of known type, no ``#fields``): the C
    scanner (``_zeekjson.scan``) takes the blank lines and the JSON objects whose wanted
    fields it reads exactly as ``json.loads`` + :meth:`ZeekSource._event` would; every
    line it declines goes through the reference, in order. A declined line may change the
    parser state (a header, a non-JSON line): then only the lines before it count, and
    the position after it is returned for the caller to go on in the new state.
    Returns (events, where to go on, whether the state changed).
    tests/logs/test_zeek_json.py compares the scanner with json.loads line by line."""
    import polars as pl

    assert _zj is not None
    keys = _keys(source.log_type)
    modes = "".join(_JSON_MODES.get(key, "s") for key in keys).encode()
    schema, array, declined, lines = _zj.scan(data, pos, end, keys, modes)
    rows = pl.DataFrame(_Arrow(schema, array))
    before = _get_state(source)
    after = before
    slow_at: list[int] = []
    slow: list[Event] = []
    stop = end
    taken = lines - len(declined)
    line = source.line
    for n, (at, first, last) in enumerate(declined):
        event = line(data[first:last])
        if event is not None:
            slow_at.append(at)
            slow.append(event)
        after = _get_state(source)
        if after != before:  # the lines after it are read again in the new state
            rows = rows.filter(pl.col("_i") < at)
            taken = at - n
            stop = last
            break
    source.stats.records += taken
    _set_state(source, before)
    events = _emit(source, rows.with_columns(_ok=pl.lit(True)))
    _set_state(source, after)
    changed = after != before
    if not events.height and not slow:
        return None, stop, changed
    return _merge([events] if events.height else [], slow_at, slow), stop, changed


def _tsv_lines(source: ZeekSource, data: bytes, pos: int, end: int) -> pl.DataFrame:
    """The events of the TSV data lines ``data[pos:end]`` (no line starts with "#"; the
    parser state is :func:`_tsv_ready`): the C reader (``_zeektsv.scan``) takes the blank
    lines and the lines it reads exactly as :meth:`ZeekSource.parse_line` would (split at
    the one-byte separator, enough fields, valid UTF-8 in the wanted fields); every line it
    declines (a JSON line, too few fields, bytes Python would replace) goes through the
    reference. No TSV data line of a log of known type changes the parser state, so the
    order of the two paths does not matter; the events are merged back by line number.
    tests/logs/test_zeek_tsv.py compares the reader with the reference line by line."""
    import polars as pl

    assert _zt is not None
    keys = _keys(source.log_type)
    columns = source.columns
    fields = tuple(columns.get(key, -1) for key in keys)
    ts_at = 0 if "ts" in columns else -1  # keys[0] is "ts": converted in C when plain (_emit)
    unset = source.unset.encode("utf-8", "surrogatepass")
    schema, array, declined, lines, _blank = _zt.scan(
        data, pos, end, source.sep.encode(), unset, fields, keys, source._max_column, ts_at
    )
    rows = pl.DataFrame(_Arrow(schema, array))
    source.stats.records += lines - len(declined)
    events = _emit(source, rows.with_columns(_ok=pl.lit(True)))
    if not declined:
        return events.drop("_i")
    slow_at: list[int] = []
    slow: list[Event] = []
    line = source.line
    for at, first, last in declined:
        event = line(data[first:last])
        if event is not None:
            slow_at.append(at)
            slow.append(event)
    return _merge([events] if events.height else [], slow_at, slow)


def _untyped_lines(source: ZeekSource, data: bytes, pos: int) -> tuple[pl.DataFrame | None, int]:
    """Lines read before the log type is known (no ``#fields``, no JSON line naming it
    yet), one by one through the reference, up to the first that changes the parser
    state (the position after it is returned)."""
    before = _get_state(source)
    slow_at: list[int] = []
    slow: list[Event] = []
    end = len(data)
    count = 0
    while pos < end:
        stop = data.find(b"\n", pos) + 1 or end
        event = source.line(data[pos:stop])
        pos = stop
        if event is not None:
            slow_at.append(count)
            slow.append(event)
        count += 1
        if _get_state(source) != before:
            break
    return (_merge([], slow_at, slow) if slow else None), pos


_HASH = ord("#")
_BOM = b"\xef\xbb\xbf"  # polars' CSV reader drops it at the start of its input
_NOT_DATA = r"^(?:\{|[ \t\x0B\x0C]*$)"  # a first field of a JSON or a blank line


def _next_header(data: bytes, pos: int) -> int:
    """Where the first line at or after ``pos`` (a line start) that starts with "#" begins,
    or ``len(data)``."""
    at = pos
    while True:
        at = data.find(b"#", at)  # one byte: memchr
        if at < 0:
            return len(data)
        if at == pos or data[at - 1] == 0x0A:
            return at
        at += 1


def _get_state(source: ZeekSource) -> tuple[Any, ...]:
    """Everything the parsing of a data line depends on (besides the masked-ts flag,
    which only decides whether a warning counted once is counted now or later)."""
    return (source.log_type, source.sep, source.unset, source.columns, source._max_column,
            source._column_items)  # fmt: skip


def _set_state(source: ZeekSource, state: tuple[Any, ...]) -> None:
    (source.log_type, source.sep, source.unset, source.columns, source._max_column,
     source._column_items) = state  # fmt: skip


def _tsv_ready(source: ZeekSource) -> bool:
    """Whether data lines are TSV ones polars' CSV reader can split as ``str.split`` does:
    ``#fields`` seen, a known log type (so a JSON line cannot change it), and a one-byte
    separator other than the line ends."""
    sep = source.sep
    return bool(
        source.columns
        and source.log_type is not None
        and len(sep) == 1
        and sep.isascii()
        and sep not in "\r\n"
    )


def _tsv_segment(source: ZeekSource, segment: bytes) -> pl.DataFrame | None:
    """The events of a segment of TSV data lines (no line starts with "#"), all read by
    polars' multi-threaded CSV reader, or None when it cannot vouch for every line.

    With no quote character, no comment prefix and "\\n" as the only line end, the reader
    gives row i for line i, the fields as ``line.split(sep)`` would (tests/logs/
    test_zeek_frames.py). None (the caller then takes the line runs) for: a "\\r" anywhere
    (the reader ends lines at it), a BOM at the start (the reader drops it), a line the
    reference would not read as a TSV row (blank, or starting with "{": first field), or
    a line with too few fields (its last wanted field missing; an empty one reads as
    missing too, so it is doubtful as well)."""
    import polars as pl

    if b"\r" in segment or segment.startswith(_BOM):
        return None
    if not segment.isascii():
        try:
            segment.decode()
        except UnicodeDecodeError:  # as the reference decodes each line
            segment = segment.decode("utf-8", "replace").encode()
    columns = source.columns
    last = source._max_column
    keys = _keys(source.log_type)
    read = sorted({0, last, *(columns[key] for key in keys if key in columns)})
    try:
        frame = pl.read_csv(
            segment,
            has_header=False,
            separator=source.sep,
            quote_char=None,
            schema={f"f{i}": pl.Utf8 for i in range(last + 1)},
            columns=read,
            infer_schema=False,
            truncate_ragged_lines=True,  # more fields than wanted: ignored, as by the reference
            extra_columns="ignore",
            missing_columns="insert",
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError:
        return None
    first = pl.col("f0")
    doubtful = first.is_null() | first.str.contains(_NOT_DATA) | pl.col(f"f{last}").is_null()
    frame = frame.with_columns(
        pl.int_range(0, frame.height, dtype=pl.UInt32).alias("_i"), (~doubtful).alias("_ok")
    )
    unset = source.unset
    values = []
    for key in keys:
        at = columns.get(key)
        if at is None:
            values.append(pl.lit(None, pl.Utf8).alias(key))
            continue
        field = pl.col(f"f{at}")
        if key == "ts":  # an empty field reads as null; for ts "" differs from unset (a warning)
            field = field.fill_null("")
        values.append(pl.when(field != unset).then(field).alias(key))
    rows = frame.select("_i", "_ok", *values)
    slow_at = rows.select(pl.col("_i").filter(~pl.col("_ok"))).to_series()
    source.stats.records += frame.height - slow_at.len()
    events = _emit(source, rows)
    if not slow_at.len():
        return events.drop("_i")
    # row i is line i: the lines polars cannot vouch for go through the reference (a TSV
    # data line of a known log type never changes the parser state, so the order of the
    # two paths does not matter), merged back by line number
    lines = segment.split(b"\n")
    slow_lines = []
    slow = []
    for at in slow_at.to_list():
        event = source.line(lines[at])
        if event is not None:
            slow_lines.append(at)
            slow.append(event)
    return _merge([events], slow_lines, slow)


def _merge(fast: list[pl.DataFrame], slow_at: list[int], slow: list[Event]) -> pl.DataFrame:
    """Event frames from polars (each with ``_i``, the line number, in line order) and
    events from the reference (at lines ``slow_at``) -> one event frame in line order."""
    import polars as pl

    from smbguard.logs.events import EVENT_COLUMNS, events_to_frame, frame_schema

    frames = list(fast)
    if slow:
        try:
            frame = events_to_frame(slow)
        except UnicodeEncodeError:  # json.loads lets "\ud800" through; a frame cannot hold it
            frame = events_to_frame([_without_surrogates(event) for event in slow])
        frames.append(frame.select(pl.Series("_i", slow_at, dtype=pl.UInt32), *EVENT_COLUMNS))
    if not frames:
        return pl.DataFrame(schema=frame_schema())
    out = pl.concat(frames) if len(frames) > 1 else frames[0]
    if slow:  # reference lines are not all taken in file order
        out = out.sort("_i")
    return out.drop("_i")


class _Block:
    """The events of one block of lines: polars frames for runs it can decide, the
    reference for every other line, merged by line number."""

    def __init__(self, source: ZeekSource) -> None:
        self.source = source
        self.fast: list[pl.DataFrame] = []
        self.slow_at: list[int] = []
        self.slow: list[Event] = []
        self.has_cr = True  # whether rstrip("\r\n") can change a line of this block

    def run(self, text: str) -> pl.DataFrame:
        import polars as pl

        self.has_cr = "\r" in text
        lines = pl.Series("l", [text]).str.split("\n").explode()
        if text.endswith("\n"):
            lines = lines.slice(0, lines.len() - 1)
        self._run(lines)
        return _merge(self.fast, self.slow_at, self.slow)  # slow lines out of order: see _run

    def _slow(self, line: str, at: int) -> None:
        event = self.source.line(line.encode())
        if event is not None:
            self.slow_at.append(at)
            self.slow.append(event)

    def _mode(self) -> str | None:
        source = self.source
        if source.columns:
            return "tsv" if source.sep else None
        if source.log_type is not None and source.log_type != "notice":
            return "json"
        return None

    def _run(self, lines: pl.Series) -> None:
        """A line that may change the parser state (a header; a JSON line while the log type
        is unknown; a non-JSON line in a JSON log: see the module comment) goes through the
        reference, in order; the fast path then takes every other line up to the first one
        that did change the state, all in one go (their results do not depend on the order:
        each line gives at most one event, and stats are sums)."""
        import polars as pl

        done = 0
        total = lines.len()
        while done < total:
            mode = self._mode()
            if mode is None or total - done < _SMALL:  # a few lines: cheaper one by one
                self._slow(lines[done], done)
                done += 1
                continue
            rest = lines.slice(done)
            line = pl.col("l")
            rule = line.str.starts_with("#")
            if mode == "json":
                rule = (~line.str.starts_with("{") & ~line.str.contains(_BLANK)) | line.str.contains(
                    "\tEternalSafety::", literal=True
                )
            elif self.source.log_type is None:  # a JSON line may name the log type
                rule = rule | line.str.starts_with("{")
            cuts = rest.to_frame().select(rule.arg_true()).to_series().to_list()
            before = _get_state(self.source)
            after = before
            end = rest.len()
            handled = []
            for cut in cuts:
                self._slow(rest[cut], done + cut)
                after = _get_state(self.source)
                if after != before:
                    end = cut
                    break
                handled.append(cut)
            if end:  # the lines before the change, with the state they were read in
                _set_state(self.source, before)
                fast = self._tsv if mode == "tsv" else self._json
                fast(rest.slice(0, end), done, handled)
                _set_state(self.source, after)
            done += end + 1 if end < rest.len() else end

    def _rstrip(self, line: pl.Expr) -> pl.Expr:
        """``text.rstrip("\\r\\n")`` (lines hold no "\\n"; without "\\r" it is the line itself)."""
        return line.str.strip_chars_end("\r\n") if self.has_cr else line

    def _tsv(self, seg: pl.Series, start: int, handled: list[int]) -> None:
        """TSV lines (``handled``: positions in ``seg`` the reference already took)."""
        import polars as pl

        source = self.source
        stats = source.stats
        last = source._max_column
        line = pl.col("l")
        taken = _taken(seg.len(), handled)
        split = seg.to_frame().select(
            pl.int_range(start, start + seg.len(), dtype=pl.UInt32).alias("_i"),
            taken,
            line.str.contains(_BLANK).alias("blank"),
            (line.str.starts_with("{") & taken).alias("json"),  # parse_line: JSON
            self._rstrip(line).str.splitn(source.sep, last + 2).alias("f"),
        )
        f = pl.col("f")
        tsv = pl.col("taken") & ~pl.col("json") & ~pl.col("blank")
        short = tsv & f.struct.field(f"field_{last}").is_null()
        json_lines, shorts = split.select(pl.col("json").sum(), short.sum().alias("short")).row(0)
        if json_lines:
            for at in split.filter(pl.col("json"))["_i"].to_list():
                self._slow(seg[at - start], at)
        stats.records += seg.len() - len(handled) - json_lines
        if shorts:
            stats.skipped += shorts
            stats.warnings["line with too few fields skipped"] += shorts
        unset = source.unset
        columns = []
        for key in _keys(source.log_type):
            at = source.columns.get(key)
            if at is None:
                columns.append(pl.lit(None, pl.Utf8).alias(key))
            else:
                field = f.struct.field(f"field_{at}")
                columns.append(pl.when(field != unset).then(field).alias(key))
        self._emit(split.select("_i", (tsv & ~short).alias("_ok"), *columns))

    def _json(self, seg: pl.Series, start: int, handled: list[int]) -> None:
        """JSON lines (``handled``: positions in ``seg`` the reference already took): the
        plain reader (:meth:`_json_plain`); when polars rejects a line, each half of the
        run again (in order), down to runs of ``_JS_BISECT`` lines, which the gated reader
        takes (so one odd line does not send a whole block to the slower reader)."""
        if self._json_plain(seg, start, handled):
            return
        if seg.len() < 2 * _JS_BISECT:
            self._json_gated(seg, start, handled)
            return
        mid = seg.len() // 2
        self._json(seg.slice(0, mid), start, [at for at in handled if at < mid])
        self._json(seg.slice(mid), start + mid, [at - mid for at in handled if at >= mid])

    def _json_plain(self, seg: pl.Series, start: int, handled: list[int]) -> bool:
        """JSON lines decoded by polars' strict JSON parser (simd-json), which proves
        that they are valid JSON; False (nothing done) when it rejects one of them.

        A line is taken (``_ok``) when it starts with "{", ends with "}", has at most
        ``_JS_MAX`` bytes (json.loads would fail on deep nesting or on an integer of
        more than 4300 digits), no ``\\u`` escape (polars turns a lone surrogate into
        NUL) and no doubtful wanted field (:func:`_js_doubtful`: duplicate keys,
        non-string values). Valid JSON is what json.loads accepts, giving the same
        strings (docs/zeek-frames.md; tests/logs/test_zeek_json.py). The run is cut in
        halves collected at once (``pl.collect_all``) and the doubtful-field regex and
        the decoding are one ``select``: polars runs all four on its threads."""
        import polars as pl

        source = self.source
        keys = _keys(source.log_type)
        line = pl.col("l")
        text = self._rstrip(line)
        taken = pl.col("taken")
        plain = (
            taken
            & text.str.starts_with("{")
            & text.str.ends_with("}")
            & (text.str.len_bytes() <= _JS_MAX)
            & ~text.str.contains("\\u", literal=True)
        )
        schema = pl.Struct({key: pl.Utf8 for key in keys})
        frame = seg.to_frame().with_columns(
            pl.int_range(start, start + seg.len(), dtype=pl.UInt32).alias("_i"), _taken(seg.len(), handled)
        )
        half = frame.height // 2 if frame.height >= _JS_SPLIT and pl.thread_pool_size() > 1 else 0
        parts = [frame.slice(0, half), frame.slice(half)] if half else [frame]
        plans = [
            part.lazy().select(
                "_i",
                (line.str.contains(_BLANK) & taken).alias("blank"),
                (plain & ~text.str.contains(_js_doubtful(keys))).alias("_ok"),
                "taken",
                pl.when(plain).then(text).str.json_decode(schema).alias("v"),
            )
            for part in parts
        ]
        try:
            done = pl.collect_all(plans)
        except (pl.exceptions.PolarsError, pl.exceptions.PanicException):  # a line polars rejects
            return False
        self._json_rows(pl.concat(done) if half else done[0], seg, start, keys)
        return True

    def _json_gated(self, seg: pl.Series, start: int, handled: list[int]) -> None:
        """JSON lines, each proven valid by the structural regex ``_JS_LINE`` before polars
        decodes it (the reader before :meth:`_json_plain`; now for runs polars rejects)."""
        import polars as pl

        source = self.source
        keys = _keys(source.log_type)
        line = pl.col("l")
        text = self._rstrip(line)
        taken = _taken(seg.len(), handled)
        df = seg.to_frame().select(
            pl.int_range(start, start + seg.len(), dtype=pl.UInt32).alias("_i"),
            (line.str.contains(_BLANK) & taken).alias("blank"),
            (text.str.contains(_JS_LINE) & ~text.str.contains(_js_doubtful(keys)) & taken).alias("_ok"),
            taken,
            text,
        )
        ok = pl.col("_ok")
        schema = pl.Struct({key: pl.Utf8 for key in keys})
        try:  # simd-json does the unescaping; gated lines are valid for it too
            decoded = pl.when(ok).then(pl.col("l")).str.json_decode(schema).alias("v")
            df = df.select("_i", "blank", "_ok", "taken", decoded)
        except pl.exceptions.PolarsError:  # not expected: then the reference takes them all
            df = df.select(
                "_i", "blank", pl.lit(False).alias("_ok"), "taken", pl.lit(None, schema).alias("v")
            )
        self._json_rows(df, seg, start, keys)

    def _json_rows(self, df: pl.DataFrame, seg: pl.Series, start: int, keys: tuple[str, ...]) -> None:
        """Decoded JSON lines (``_i``, ``blank``, ``_ok``, ``taken``, ``v``) -> events; the
        taken lines that are neither blank nor ``_ok`` go through the reference."""
        import polars as pl

        ok = pl.col("_ok")
        for at in df.filter(pl.col("taken") & ~pl.col("blank") & ~ok)["_i"].to_list():
            self._slow(seg[at - start], at)
        self.source.stats.records += df.select((pl.col("blank") | ok).sum()).item()
        values = []
        for key in keys:
            value = pl.col("v").struct.field(key)
            if key == "success":  # json.loads' True/False; the strings "true"/"false" are doubtful
                value = value.replace({"true": "T", "false": "F"})
            values.append(value.alias(key))
        self._emit(df.select("_i", "_ok", *values))

    def _emit(self, rows: pl.DataFrame) -> None:
        events = _emit(self.source, rows)
        if events.height:
            self.fast.append(events)


def _emit(source: ZeekSource, rows: pl.DataFrame) -> pl.DataFrame:
    """Rows of raw field values (``_i``, ``_ok``, the keys; null = unset; only rows with
    ``_ok`` count; optionally ``_us``: the time of rows whose ``ts`` the C TSV reader
    converted, their ``ts`` null) -> times, the masked-timestamp warning, the events
    (with ``_i``)."""
    import polars as pl

    stats = source.stats
    ok = pl.col("_ok")
    ts = pl.col("ts")
    others = None
    if "_us" in rows.columns:  # the C TSV reader converted the plain ts values (their ts is null)
        rest = rows.select(ts.filter(ok).unique()).to_series().drop_nulls()
        if rest.len() <= _TS_MAP:  # the values it left (masked, odd, 17 digits...): the reference
            others = rest
            rows = rows.with_columns(time=pl.col("_us").cast(pl.Datetime("us", "UTC")))
    if others is None:
        rows = rows.with_columns(_x=ts.cast(pl.Float64, strict=False), _fast=ts.str.contains(_TS_RX))
        x = pl.col("_x")  # parsed once (a column, not an expression evaluated at each use)
        whole = x.floor()
        micro = ((x - whole) * 1e6).round(0, mode="half_to_even")  # as datetime.fromtimestamp
        epoch_us = whole.cast(pl.Int64) * 1_000_000 + micro.cast(pl.Int64)
        time: pl.Expr = pl.when(pl.col("_fast")).then(epoch_us.cast(pl.Datetime("us", "UTC")))
        if "_us" in rows.columns:
            time = pl.coalesce(pl.col("_us").cast(pl.Datetime("us", "UTC")), time)
        rows = rows.with_columns(time=time)
        others = rows.select(ts.filter(ok & ~pl.col("_fast")).unique()).to_series().drop_nulls()
    if others.len():  # masked ("XXXXXXXXXX.XXXXXX"), odd or out-of-range values: the reference
        mapping = {value: parse_epoch(value) for value in others.to_list()}
        other = ts.replace_strict(mapping, default=None, return_dtype=pl.Datetime("us", "UTC"))
        rows = rows.with_columns(time=pl.coalesce(pl.col("time"), other))
    if not source._masked_warned and rows.select(
        (ok & ts.is_not_null() & pl.col("time").is_null()).any()
    ).item():
        source._masked_warned = True
        stats.warn("timestamps are masked or invalid; events have no time")
    events = _to_events(rows, source.log_type, source.path)
    if events.height:
        stats.events += events.height
        times = events["time"]
        for value in (times.min(), times.max()):
            if isinstance(value, datetime):
                stats.see(value.replace(tzinfo=UTC))
    return events


def _without_surrogates(event: Event) -> Event:
    """The event with lone surrogates (from JSON "\\udXXX" escapes) as U+FFFD: the one
    place frames differ from events, which no frame could hold as they are."""
    changes: dict[str, Any] = {}
    for name in event.__slots__:
        value = getattr(event, name)
        if isinstance(value, str):
            clean = value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
            if clean != value:
                changes[name] = clean
    return dataclasses.replace(event, **changes) if changes else event


def _taken(count: int, handled: list[int]) -> pl.Expr:
    """``taken``: the lines of a run the fast path answers for (not ``handled`` already)."""
    import polars as pl

    if not handled:
        return pl.lit(True).alias("taken")
    return (~pl.int_range(0, count, dtype=pl.UInt32).is_in(handled)).alias("taken")


_SHARE_FROM = {"smb_files": "path", "smb_mapping": "path", "smb_cmd": "tree"}
_TS_MAP = 256  # up to this many distinct ts the C reader left as text: parse_epoch per value
_SHARE_MAP = 256  # up to this many distinct paths per frame: _share_of per value, replace_strict


def _s_expr(name: str) -> pl.Expr:
    """:func:`_s` over a column: "-", "(empty)" and "" are None."""
    import polars as pl

    column = pl.col(name)
    test = column != _EMPTY[0]
    for value in _EMPTY[1:]:
        test = test & (column != value)
    return pl.when(test).then(column)


def _file_actions() -> pl.DataFrame:
    """smb_files actions that give an event: their kind and event_id."""
    import polars as pl

    return pl.DataFrame(
        {
            "action": list(_FILE_ACTIONS),
            "_kind": [kind.value for kind in _FILE_ACTIONS.values()],
            "_event_id": [f"zeek:smb_files:{action}" for action in _FILE_ACTIONS],
        }
    )


def _to_events(rows: pl.DataFrame, log_type: str | None, path: str) -> pl.DataFrame:
    """:meth:`ZeekSource._event` over a frame of field values: the event frame (plus ``_i``)."""
    import polars as pl

    from smbguard.logs.events import EVENT_COLUMNS, frame_schema

    if log_type not in _TYPE_KEYS:
        return pl.DataFrame(schema={"_i": pl.UInt32, **frame_schema()})
    s = _s_expr
    if log_type in _SHARE_FROM:  # _share_of(_s(...)) once per distinct value
        name = _SHARE_FROM[log_type]
        distinct = rows.get_column(name).unique().drop_nulls()
        if distinct.len() <= _SHARE_MAP:  # a few shares (as usual): the reference, mapped back
            mapping = {value: _share_of(_s(value)) for value in distinct.to_list()}
            share = pl.col(name).replace_strict(mapping, default=None, return_dtype=pl.Utf8)
            rows = rows.with_columns(share.alias("_share"))
        else:  # the same in polars, joined back
            last = s(name).str.extract(r"([^\\]*)\\*$", 1)
            shares = distinct.to_frame().with_columns(pl.when(last != "").then(last).alias("_share"))
            rows = rows.join(shares, on=name, how="left", maintain_order="left")
    if log_type == "smb_files":  # kind and event_id of each action, joined
        rows = rows.join(_file_actions(), on="action", how="left", maintain_order="left")

    def lit(text: str) -> pl.Expr:
        return pl.lit(text, pl.Utf8)

    cols: dict[str, pl.Expr] = {
        "source": lit(path),
        "time": pl.col("time"),
        "src_ip": s("id.orig_h"),
        "server": s("id.resp_h"),
    }
    keep: pl.Expr
    if log_type == "smb_files":
        rename = pl.col("action") == "SMB::FILE_RENAME"
        keep = pl.col("_kind").is_not_null()  # an action of _FILE_ACTIONS (none is "-" or "")
        cols |= {
            "kind": pl.col("_kind"),
            "event_id": pl.col("_event_id"),
            "share": pl.col("_share"),
            "path": pl.when(rename).then(s("prev_name")).otherwise(s("name")),
            "new_path": pl.when(rename).then(s("name")),
        }
    elif log_type == "smb_mapping":
        keep = pl.lit(True)
        cols |= {
            "kind": lit(EventKind.SHARE_CONNECT.value),
            "event_id": lit("zeek:smb_mapping"),
            "share": pl.col("_share"),
            "path": s("path"),
            "detail": s("share_type"),
        }
    elif log_type == "smb_cmd":
        version = s("version")
        command = s("command").fill_null("")
        status = s("status")
        failed = (
            (command == "SESSION_SETUP")
            & status.is_not_null()
            & ~status.is_in(["SUCCESS", "MORE_PROCESSING_REQUIRED"])
        ).fill_null(False)
        smb1 = ~failed & (version == "SMB1").fill_null(False)
        keep = failed | smb1
        cols |= {
            "kind": pl.when(failed)
            .then(lit(EventKind.LOGON_FAILURE.value))
            .otherwise(lit(EventKind.SMB1_ACCESS.value)),
            "event_id": pl.when(failed)
            .then(lit("zeek:smb_cmd:SESSION_SETUP"))
            .otherwise(pl.concat_str(lit("zeek:smb_cmd:"), command)),
            "status": pl.when(failed).then(status),
            "user": s("username"),
            "protocol": pl.when(failed).then(version).otherwise(lit("SMB1")),
            "share": pl.when(smb1).then(pl.col("_share")),
            "detail": pl.when(smb1).then(command),
        }
    elif log_type == "ntlm":
        success = pl.col("success")
        keep = success.is_in(["T", "F"]).fill_null(False)
        cols |= {
            "kind": pl.when(success == "T")
            .then(lit(EventKind.LOGON.value))
            .otherwise(lit(EventKind.LOGON_FAILURE.value)),
            "event_id": lit("zeek:ntlm"),
            "user": s("username"),
            "workstation": s("hostname"),
            "domain": s("domainname"),
            "auth_package": lit("NTLM"),
        }
    elif log_type == "dce_rpc":
        keep = pl.lit(True)
        cols |= {
            "kind": lit(EventKind.RPC_CALL.value),
            "event_id": lit("zeek:dce_rpc"),
            "path": s("endpoint"),
            "share": lit("IPC$"),
            "detail": s("operation"),
        }
    else:  # notice
        note = s("note").fill_null("")
        keep = note.str.starts_with("EternalSafety::")
        cols |= {
            "kind": lit(EventKind.EXPLOIT.value),
            "event_id": pl.concat_str(lit("zeek:notice:"), note),
            "detail": note,
            "path": s("msg"),
            "src_ip": pl.coalesce(s("id.orig_h"), s("src")),
            "server": pl.coalesce(s("id.resp_h"), s("dst")),
        }
    schema = frame_schema()
    exprs = [
        cols.get(name, pl.lit(None)).cast(schema[name]).alias(name) for name in EVENT_COLUMNS
    ]
    # lazy: the optimizer computes each shared sub-expression (s("name"), action...) once
    return rows.lazy().filter(pl.col("_ok") & keep).select("_i", *exprs).collect()
