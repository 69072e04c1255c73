"""Samba logs: vfs_full_audit lines (syslog, journal or file), authentication
audit lines ("Auth: [...]" and the JSON audit), and log.smbd debug logs.

One :class:`SambaSource` reads all of these line by line; each line is classified
by a cheap substring test before any regular expression runs. Timestamps without
a year (syslog) take the year of the file's modification time; timestamps
without a zone are taken as UTC (a counted warning says so).
"""

from __future__ import annotations

import functools
import io
import ipaddress
import json
import os
import re
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from smbguard.logs.events import FRAME_ROWS, Event, EventKind, SourceStats, events_to_frame

if TYPE_CHECKING:
    import polars as pl

# Samba auth audit ([source4/auth/auth_log.c] log_authentication_event_human_readable)
_AUTH = re.compile(
    r"Auth: \[(?P<svc>[^,\]]*),(?P<pkg>[^\]]*)\] user \[(?P<domain>[^\]]*)\]\\\[(?P<user>[^\]]*)\]"
    r" at \[(?P<when>[^\]]*)\] with \[(?P<ptype>[^\]]*)\] status \[(?P<status>[^\]]*)\]"
    r"(?: workstation \[(?P<ws>[^\]]*)\])?(?: remote host \[(?P<remote>[^\]]*)\])?"
)
_SMBD_HEADER = re.compile(rb"^\[(\d{4})/(\d\d)/(\d\d) (\d\d):(\d\d):(\d\d)(?:\.(\d+))?,")
_CONNECT = re.compile(
    r"\((?:ipv4:|ipv6:)?([^)]*?)(?::\d+)?\) connect to service (\S+) initially as user (\S+)"
)
_DENIED = re.compile(r"Denied connection from (?:\()?([0-9A-Fa-f:.]+)")
_SELECTED = re.compile(r"Selected protocol (\S+)")
_SYSLOG = re.compile(r"^(\w{3}) +(\d{1,2}) (\d\d):(\d\d):(\d\d)")
_ISO = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?)")
_MONTH_NAMES = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MONTHS = {m: i for i, m in enumerate(_MONTH_NAMES, 1)}

# vfs_full_audit operations that matter, -> event kind
_WRITE_OPS = frozenset({"pwrite", "write", "pwrite_send", "pwrite_recv", "ftruncate", "fallocate"})
_RENAME_OPS = frozenset({"rename", "renameat"})
_DELETE_OPS = frozenset({"unlink", "unlinkat", "rmdir"})
_OPEN_OPS = frozenset({"open", "openat", "create_file"})
_OTHER_OPS = frozenset(
    {
        "connect",
        "disconnect",
        "close",
        "chdir",
        "realpath",
        "mkdir",
        "mkdirat",
        "read",
        "pread",
        "pread_send",
        "pread_recv",
        "stat",
        "fstat",
        "lstat",
        "opendir",
        "fdopendir",
        "readdir",
        "closedir",
        "get_nt_acl",
        "fget_nt_acl",
        "fset_nt_acl",
        "set_nt_acl",
        "chmod",
        "fchmod",
        "chown",
        "fchown",
        "lchown",
        "ntimes",
        "fntimes",
        "symlink",
        "symlinkat",
        "link",
        "linkat",
        "readlink",
        "readlinkat",
        "getxattr",
        "fgetxattr",
        "setxattr",
        "fsetxattr",
        "listxattr",
        "flistxattr",
        "removexattr",
        "fremovexattr",
        "lseek",
        "sendfile",
        "recvfile",
        "fsync",
        "fsync_send",
        "fsync_recv",
        "translate_name",
        "fstatat",
        "get_dos_attributes",
        "openat2",
    }
)
_ALL_OPS = _WRITE_OPS | _RENAME_OPS | _DELETE_OPS | _OPEN_OPS | _OTHER_OPS
# every substring parse_line tests before it can return an event (see _block)
_NEEDLES = (
    b"|ok|",
    b"|fail",
    b"Auth: [",
    b'"Authentication"',
    b"connect to service",
    b"Selected protocol",
    b"Denied connection from",
)
_BLOCK = 1 << 20
_SMB1_PROTOCOLS = frozenset({"NT1", "LANMAN2", "LANMAN1", "CORE", "COREPLUS"})

# -- frames(): the column path for vfs_full_audit lines (see SambaSource.frames) --------------
_FRAME_BLOCK = 1 << 22  # bytes read per block
_FAST_SHARE = 8  # a block is read column-wise when at least 1 line in _FAST_SHARE can be
_MAX_ODD = 64  # ... and at most this many full_audit lines in another shape cut it in segments
_FIELDS = 9  # "|" fields split out per line; a line with more is read by parse_line
_MAX_OP = 4  # the operation is field 1.._MAX_OP (prefix "%u|%I|%m|%S" puts it at 4)
# a syslog/journal head up to the first "]: " (checked once per distinct head, in Python)
_FAST_HEAD = re.compile(rf"(?:{'|'.join(_MONTH_NAMES)}) (?: \d|\d\d) \d\d:\d\d:\d\d .*\]: ")
# event kind of an operation (parse_line's if/elif chain over the same sets)
_OP_KIND: dict[str, str] = {
    **{op: "connect" for op in ("connect",)},
    **{op: EventKind.FILE_WRITE.value for op in _WRITE_OPS},
    **{op: EventKind.FILE_RENAME.value for op in _RENAME_OPS},
    **{op: EventKind.FILE_DELETE.value for op in _DELETE_OPS},
    **{op: "open" for op in _OPEN_OPS},
}
# field i can be the operation only if field i+1 is a result; no operation name is one
assert not any(op == "ok" or op.startswith("fail") for op in _ALL_OPS)

_Scanned = tuple[int, list[int], list[int], list[tuple[str, tuple[object, object]]], list[str]]
_c_scan: Callable[[bytes, int, tuple[str, ...], bytes, tuple[str, str, str, str, str]], _Scanned] | None
try:  # the optional C line reader (setup.py builds it; without it the polars code below reads)
    from smbguard.logs._sambascan import scan as _c_scan
except ImportError:  # no compiler at install time
    _c_scan = None
# what the C reader needs of the rules above: the operations, each one's category
# (0 connect, 1 write, 2 rename, 3 delete, 4 open, 5 no event) and the kind of each category
_SCAN_OPS = tuple(sorted(_ALL_OPS))
_SCAN_CATEGORY = {"connect": 0, EventKind.FILE_WRITE.value: 1, EventKind.FILE_RENAME.value: 2}
_SCAN_CATEGORY |= {EventKind.FILE_DELETE.value: 3, "open": 4}
_SCAN_CATS = bytes(_SCAN_CATEGORY.get(_OP_KIND.get(op, ""), 5) for op in _SCAN_OPS)
_SCAN_KINDS = (
    EventKind.SHARE_CONNECT.value,
    EventKind.FILE_WRITE.value,
    EventKind.FILE_RENAME.value,
    EventKind.FILE_DELETE.value,
    EventKind.FILE_ACCESS.value,
)


class _ArrowColumn:
    """One column handed over by the C reader as an Arrow C data interface capsule pair
    (polars moves the buffers out of it)."""

    __slots__ = ("pair",)

    def __init__(self, pair: tuple[object, object]) -> None:
        self.pair = pair

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.pair


def looks_like_samba(head: str) -> bool:
    """Content sniffing used by :func:`smbguard.logs.detect.open_source`."""
    if "Auth: [" in head or "smbd_audit" in head or '"type": "Authentication"' in head:
        return True
    if re.search(r"^\[\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", head, re.M) and ("../" in head or "smbd" in head):
        return True
    if re.search(r"\b(?:smbd|nmbd|winbindd)\[\d+\]:", head):
        return True
    return bool(
        re.search(
            r"^[^|\n]*\|[^|\n]*\|(?:connect|open|openat|pwrite|unlinkat|renameat)\|(?:ok|fail)\|", head, re.M
        )
    )


@functools.lru_cache(maxsize=4096)
def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


@functools.lru_cache(maxsize=16384)
def _prefix_fields(prefix_key: str) -> tuple[str | None, str | None, str | None]:
    """The vfs_full_audit prefix (the fields before the operation, joined by ``|``) ->
    (user, client address, share named in the prefix). A pure function of the text,
    cached: a log has few distinct prefixes (user|address|share)."""
    prefix = prefix_key.split("|")
    user = prefix[0].strip() or None
    if user is not None and " " in user:  # syslog prefix without "]: " separator
        user = user.rsplit(" ", 1)[-1]
    ip = next((p for p in prefix[1:] if _is_ip(p)), None)
    share_from_prefix = prefix[-1] if len(prefix) >= 3 and not _is_ip(prefix[-1]) else None
    return user, ip, share_from_prefix


def _syslog_time(m: re.Match[str], year: int) -> datetime | None:
    """A ``_SYSLOG`` match (month name already checked) -> aware datetime (read as UTC), or
    None when the date does not exist."""
    try:
        return datetime(
            year,
            _MONTHS[m.group(1)],
            int(m.group(2)),
            int(m.group(3)),
            int(m.group(4)),
            int(m.group(5)),
            tzinfo=UTC,
        )
    except ValueError:
        return None


@dataclass(slots=True)
class _Parsed:
    """One block, parsed (see ``SambaSource._parse``); ``fast`` None: read it line by line."""

    body: bytes
    n: int = 0
    fast: pl.DataFrame | None = None
    fast_n: pl.Series | None = None
    odd: list[int] = field(default_factory=list)
    other: list[int] = field(default_factory=list)


def _has_audit(body: bytes) -> bool:
    """Does ``body`` contain "|ok|" or "|fail" (what parse_line tests)? Pipes are found with
    memchr, which is much faster than searching the two strings where pipes are rare."""
    find = body.find
    pos = find(b"|")
    for _ in range(1000):
        if pos < 0:
            return False
        if body.startswith(b"ok|", pos + 1) or body.startswith(b"fail", pos + 1):
            return True
        pos = find(b"|", pos + 1)
    return b"|ok|" in body or b"|fail" in body


def _lines_frame(body: bytes, n: int) -> pl.DataFrame:
    """The ``n`` lines of ``body`` as a one-column frame ("line"), each the text
    ``parse_line`` decodes. polars' CSV reader (one column, no quoting) splits lines fast;
    where its line rules could differ (carriage returns, a byte order mark, invalid UTF-8,
    the column separator in the text) Python splits them."""
    import polars as pl

    schema = {"line": pl.Utf8}
    if b"\r" not in body and b"\x1f" not in body and not body.startswith(b"\xef\xbb\xbf"):
        try:
            frame = pl.read_csv(
                body,
                has_header=False,
                separator="\x1f",
                quote_char=None,
                schema=schema,
                empty_string_is_null=False,
            )
        except pl.exceptions.PolarsError:  # not UTF-8
            pass
        else:
            if frame.height == n:
                return frame
    lines = body.decode("utf-8", "replace").split("\n")
    if body.endswith(b"\n"):
        lines.pop()
    return pl.DataFrame({"line": lines}, schema=schema)


def _runs(index: list[int]) -> list[tuple[int, int]]:
    """Sorted line numbers -> (start, stop) of each run of consecutive ones."""
    out: list[tuple[int, int]] = []
    for i in index:
        if out and out[-1][1] == i:
            out[-1] = (out[-1][0], i + 1)
        else:
            out.append((i, i + 1))
    return out


def _remote(text: str | None) -> str | None:
    """``ipv4:172.17.0.1:44890`` -> ``172.17.0.1``; ``ipv6:[::1]:445`` -> ``::1``."""
    if not text:
        return None
    value = text
    for prefix in ("ipv4:", "ipv6:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            if prefix == "ipv4:":
                return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
            if value.startswith("["):
                return value[1 : value.find("]")] if "]" in value else value
            return value.rsplit(":", 1)[0]
    return value or None


class SambaSource:
    """Samba full_audit, auth audit and log.smbd lines; streamed line by line."""

    type = "samba"

    def __init__(
        self, path: str, opener: Callable[[str], IO[bytes]] | None = None, year: int | None = None
    ) -> None:
        self.path = path
        self.opener = opener
        self.stats = SourceStats(path=path, type=self.type)
        if year is None:
            try:
                year = datetime.fromtimestamp(os.path.getmtime(path), tz=UTC).year
            except OSError:
                year = datetime.now(tz=UTC).year
        self.year = year
        self._share: dict[tuple[str | None, str | None], str] = {}
        self._pid_client: dict[str, str] = {}
        self._last_syslog: tuple[bytes, datetime | None] = (b"", None)
        self._header_time: datetime | None = None
        self._header_raw = b""
        self._header_parsed = True
        self._tz_warned = False

    def events(self) -> Iterator[Event]:
        if self.opener is not None:  # gzip...: line by line, so a broken stream keeps every line read
            with self.opener(self.path) as handle:
                yield from self.events_from_lines(handle)
            return
        with open(self.path, "rb") as handle:
            rest = b""
            while True:
                block = handle.read(_BLOCK)
                if not block:
                    break
                if rest:
                    block = rest + block
                cut = block.rfind(b"\n") + 1
                if cut == 0:  # no line end yet: keep reading (as line iteration would)
                    rest = block
                    continue
                rest = block[cut:]
                yield from self._block(block[:cut] if rest else block)
            if rest:
                yield from self.events_from_lines((rest,))

    def _block(self, body: bytes) -> Iterator[Event]:
        """Complete lines, same results as ``events_from_lines(lines of body)``.

        Only lines containing one of the substrings ``parse_line`` tests can be events;
        they are found with ``bytes.find`` over the whole block. Between two of them
        only the last valid log.smbd header line matters (it gives the time of the
        next event line). A block where such lines are dense is read line by line."""
        hits: set[int] = set()
        limit = len(body) >> 7  # more than one candidate line per 128 bytes: dense
        find = body.find
        for needle in _NEEDLES:
            pos = find(needle)
            while pos >= 0:
                hits.add(body.rfind(b"\n", 0, pos) + 1)
                if len(hits) > limit:
                    yield from self.events_from_lines(io.BytesIO(body))
                    return
                end = find(b"\n", pos)
                pos = find(needle, end)
        stats = self.stats
        stats.records += body.count(b"\n")
        cur = 0
        for start in sorted(hits):
            self._last_header(body, cur, start)
            cur = find(b"\n", start) + 1
            try:
                event = self.parse_line(body[start:cur])
            except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                stats.skipped += 1
                stats.warn(f"malformed line skipped ({type(exc).__name__})")
                continue
            if event is not None:
                stats.events += 1
                stats.see(event.time)
                yield event
        self._last_header(body, cur, len(body))

    def _last_header(self, body: bytes, lo: int, hi: int) -> None:
        """What ``parse_line`` does for the lines in body[lo:hi] that are no event candidates:
        remember the last one that is a log.smbd header."""
        end = hi
        while end > lo:
            i = body.rfind(b"\n[", lo, end)
            start = i + 1 if i >= 0 else lo
            if i < 0 and body[lo : lo + 1] != b"[":
                return
            line_end = body.find(b"\n", start, hi)
            line = body[start : line_end + 1 if line_end >= 0 else hi]
            if _SMBD_HEADER.match(line):
                self._header_raw = line
                self._header_time = None
                self._header_parsed = False
                return
            if i < 0:
                return
            end = i + 1

    def events_from_lines(self, lines: Any) -> Iterator[Event]:
        """Parse an iterable of byte lines (also used by ``logs watch``)."""
        count = self._count_line
        for raw in lines:
            event = count(raw)
            if event is not None:
                yield event

    def _count_line(self, raw: bytes) -> Event | None:
        """:meth:`parse_line` with the statistics: a record, an event or a skipped line."""
        stats = self.stats
        stats.records += 1
        try:
            event = self.parse_line(raw)
        except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            # malformed line: count it and go on
            stats.skipped += 1
            stats.warn(f"malformed line skipped ({type(exc).__name__})")
            return None
        if event is not None:
            stats.events += 1
            stats.see(event.time)
        return event

    # -- frames --------------------------------------------------------------------------------
    def frames(self, rows: int = FRAME_ROWS, workers: int | None = None) -> Iterator[pl.DataFrame]:
        """The events of :meth:`events` as frames of at most ``rows`` rows: the same rows in
        the same order, and the same ``stats`` (tests/logs/test_samba_frames.py checks both).

        The file is read in blocks of whole lines. In a block with vfs_full_audit lines,
        polars splits every line on ``|``; lines in the common shape (syslog or journal
        head, the operation in field 1-4, at most 8 fields) become event rows column-wise,
        every other line goes through :meth:`parse_line` in file order, and the rows are
        merged back in line order. :meth:`parse_line` stays the reference: the column code
        uses its helpers (``_prefix_fields``, ``_syslog_time``) and operation sets, and
        the differential tests prove the rest equal.

        ``workers`` threads (default: one per CPU, at most 2) parse the next blocks while
        the caller works on the frames of this one; the state the lines share (the share
        of the last connect, log.smbd headers, statistics) is only touched in file order,
        in the calling thread. ``workers=0`` parses in the calling thread."""
        import polars as pl

        pending: list[pl.DataFrame] = []
        held = 0
        emitted = False
        try:
            for frame in self._frames_in_order(workers):
                if frame.height == 0:
                    continue
                pending.append(frame)
                held += frame.height
                while held >= rows:
                    whole = pl.concat(pending) if len(pending) > 1 else pending[0]
                    yield whole.slice(0, rows)
                    emitted = True
                    rest = whole.slice(rows)
                    pending, held = ([rest] if rest.height else []), rest.height
        except Exception:  # reading failed: the rows read before the error are delivered first
            if pending:
                yield pl.concat(pending) if len(pending) > 1 else pending[0]
            raise
        if pending:
            yield pl.concat(pending) if len(pending) > 1 else pending[0]
        elif not emitted:
            yield events_to_frame(())

    def _frames_in_order(self, workers: int | None) -> Iterator[pl.DataFrame]:
        """Frames block after block: parsed ahead by ``workers`` threads, committed in order."""
        if workers is None:
            workers = min(2, os.cpu_count() or 1)
        if workers <= 0:
            for block in self._line_blocks():
                yield from self._commit(self._parse(block))
            return
        from collections import deque
        from concurrent.futures import Future, ThreadPoolExecutor

        pool = ThreadPoolExecutor(workers, thread_name_prefix="smbguard-samba")
        queue: deque[Future[_Parsed]] = deque()
        error: Exception | None = None
        blocks = self._line_blocks()
        try:
            while True:
                try:
                    block = next(blocks)
                except StopIteration:
                    break
                except Exception as exc:  # noqa: BLE001 - re-raised below, after the blocks read before it
                    error = exc
                    break
                queue.append(pool.submit(self._parse, block))
                while len(queue) > workers:
                    yield from self._commit(queue.popleft().result())
            while queue:
                yield from self._commit(queue.popleft().result())
            if error is not None:
                raise error
        finally:
            blocks.close()
            pool.shutdown(wait=True, cancel_futures=True)

    def _line_blocks(self) -> Generator[bytes, None, None]:
        """The file as blocks of whole lines (only the last may lack its newline). A read
        error (a truncated gzip stream) is raised after the block of the whole lines read
        before it, as line iteration in :meth:`events` would."""
        handle = self.opener(self.path) if self.opener is not None else open(self.path, "rb")  # noqa: SIM115
        with handle:
            read = getattr(handle, "read1", handle.read)
            parts: list[bytes] = []
            size = 0
            try:
                while True:
                    chunk = read(_FRAME_BLOCK)
                    if not chunk:
                        break
                    size += len(chunk)
                    cut = chunk.rfind(b"\n") + 1
                    if size < _FRAME_BLOCK or cut == 0:
                        parts.append(chunk)
                        continue
                    # the block: what was kept, and the chunk up to its last newline (one copy)
                    if not parts and cut == len(chunk):
                        yield chunk
                    else:
                        yield b"".join([*parts, memoryview(chunk)[:cut]])
                    parts = [chunk[cut:]] if cut < len(chunk) else []
                    size = len(chunk) - cut
            except Exception:
                data = b"".join(parts)
                cut = data.rfind(b"\n") + 1
                if cut:
                    yield data[:cut]
                raise
            if parts:
                yield b"".join(parts)

    def _slow(self, body: bytes) -> Iterator[Event]:
        """Events of a block of lines, read the way :meth:`events` reads them."""
        cut = body.rfind(b"\n") + 1
        if cut:
            yield from self._block(body[:cut])
        if cut < len(body):
            yield from self.events_from_lines((body[cut:],))

    def _block_frames(self, body: bytes) -> list[pl.DataFrame]:
        """Event frames of one block of lines (see :meth:`frames`)."""
        return self._commit(self._parse(body))

    def _parse(self, body: bytes) -> _Parsed:
        """The part of reading a block that depends on no state of the source (so blocks
        can be parsed in worker threads): which lines the column path reads, and their
        event rows without the share a line takes from an earlier connect."""
        import polars as pl

        try:
            return self._parse_columns(body)
        except pl.exceptions.PolarsError:  # never seen; hostile input must not stop the reading
            return _Parsed(body)

    def _parse_columns(self, body: bytes) -> _Parsed:
        if not _has_audit(body):  # no vfs_full_audit line: nothing to gain
            return _Parsed(body)
        if _c_scan is not None:
            return self._parse_c(body)
        return self._parse_polars(body)

    def _parse_c(self, body: bytes) -> _Parsed:
        """:meth:`_parse_polars` by the C reader ``smbguard.logs._sambascan``: it reads the
        fast lines (see docs/samba-frames.md for its rules), the user, address and share
        of each distinct prefix come from ``_prefix_fields`` as in the reference."""
        import polars as pl

        year = self.year if 1 <= self.year <= 9999 else 0  # 0: every date is invalid, as in datetime()
        assert _c_scan is not None
        n, odd, other, columns, prefixes = _c_scan(body, year, _SCAN_OPS, _SCAN_CATS, _SCAN_KINDS)
        cols = {name: pl.Series(name, _ArrowColumn(pair)) for name, pair in columns}
        fast_n = cols.pop("fast_n")
        if fast_n.len() == 0 or fast_n.len() * _FAST_SHARE < n:  # mostly other lines:
            return _Parsed(body)  # the per-line path skips them faster
        if len(odd) > _MAX_ODD:  # full_audit lines in another shape: they share state with the fast ones
            return _Parsed(body)
        fields = [_prefix_fields(pre) for pre in prefixes]
        utf8 = pl.Utf8
        lookup = pl.DataFrame(
            {
                "user": [f[0] for f in fields],
                "src_ip": [f[1] for f in fields],
                "pshare": [f[2] or None for f in fields],  # _full_audit: share_from_prefix or ...
            },
            schema={"user": utf8, "src_ip": utf8, "pshare": utf8},
        )
        pre = cols.pop("pre")
        fast = pl.DataFrame(list(cols.values())).hstack(lookup.select(pl.all().gather(pre)))
        return _Parsed(body, n, fast, fast_n, odd, other)

    def _parse_polars(self, body: bytes) -> _Parsed:
        """The column reader without the C module: polars splits the lines."""
        import polars as pl

        n = body.count(b"\n") + (not body.endswith(b"\n"))
        lines = _lines_frame(body, n)
        line = pl.col("line")
        if b"\r" in body:
            line = line.str.strip_chars_end("\r")  # _full_audit's rstrip("\r\n")
        names = [f"c{i}" for i in range(_FIELDS)]
        c = [pl.col(name) for name in names]
        ops = sorted(_ALL_OPS)
        op_at = pl.lit(None, pl.Int8)
        sure = pl.lit(False)
        for i in range(_MAX_OP, 0, -1):  # _full_audit: the first operation followed by a result
            result = c[i + 1]
            hit = c[i].is_in(ops) & ((result == "ok") | result.str.starts_with("fail"))
            op_at = pl.when(hit).then(pl.lit(i, pl.Int8)).otherwise(op_at)
            # such a line has "|fail" or "|ok|": parse_line hands it to _full_audit (or reads
            # it as a log.smbd header when it starts with "[": still a line of its own below)
            sure = pl.when(hit).then(result.str.starts_with("fail") | c[i + 2].is_not_null()).otherwise(sure)
        df = (
            lines.lazy()
            .select(line.str.splitn("|", _FIELDS).struct.rename_fields(names).alias("f"))
            .unnest("f")
            .with_row_index("n")
            .with_columns(
                op_at.alias("k"),
                sure.alias("sure"),
                # _full_audit: the head up to the first "]: ", the user field after it
                c[0].str.splitn("]: ", 2).struct.rename_fields(["head", "user0"]).alias("h"),
            )
            .unnest("h")
            .with_columns((pl.col("sure") & c[-1].is_null() & pl.col("user0").is_not_null()).alias("cand"))
            .collect()
        )
        # the other lines: does parse_line hand them to _full_audit?
        audit = df.get_column("sure")
        unsure = df.get_column("n").filter(~audit)
        if unsure.len():
            text = lines.get_column("line").gather(unsure)
            audit = audit.scatter(unsure, ~text.str.starts_with("[") & text.str.contains(r"\|ok\||\|fail"))
        df = df.with_columns(audit.alias("audit"))
        del lines
        heads = df.get_column("head").filter(df.get_column("cand")).unique().to_list()
        good: dict[str, datetime | None] = {}
        for head in heads:
            ok, when = self._fast_head(head)
            if ok:
                good[head] = when
        fast_mask = df.get_column("cand") & df.get_column("head").is_in(list(good))
        fast_n = df.get_column("n").filter(fast_mask)
        if fast_n.len() == 0 or fast_n.len() * _FAST_SHARE < n:  # mostly other lines:
            return _Parsed(body)  # the per-line path skips them faster
        df = df.with_columns(fast_mask.alias("fast"))
        odd = df.filter(pl.col("audit") & ~pl.col("fast")).get_column("n").to_list()
        if len(odd) > _MAX_ODD:  # full_audit lines in another shape: they share state with the fast ones
            return _Parsed(body)
        other = df.filter(~pl.col("audit")).get_column("n").to_list()
        fast = self._fast_events(df if fast_n.len() == n else df.filter(pl.col("fast")), good)
        return _Parsed(body, n, fast, fast_n, odd, other)

    def _commit(self, parsed: _Parsed) -> list[pl.DataFrame]:
        """The part of reading a block that uses and updates the source's state, in file order."""
        body, n, fast, fast_n, odd, other = (
            parsed.body,
            parsed.n,
            parsed.fast,
            parsed.fast_n,
            parsed.odd,
            parsed.other,
        )
        if fast is None or fast_n is None:
            return [events_to_frame(self._slow(body))]
        self._tz_warning()  # every fast line has a syslog time read as UTC
        raw_lines = body.split(b"\n") if odd or other else []
        out: list[pl.DataFrame] = []
        lo = 0
        for start, stop in [*_runs(odd), (n, n)]:  # odd lines cut the block in segments
            out.append(self._segment(fast, fast_n, lo, start, other, raw_lines, body))
            if start < stop:
                out.append(self._python_lines(range(start, stop), raw_lines, body, with_index=False))
            lo = stop
        return out

    def _fast_head(self, head: str | None) -> tuple[bool, datetime | None]:
        """Is ``head`` (a line up to its first "]: ") a syslog head the column path reads,
        and the time ``_line_time`` gives such a line."""
        if head is None or not head.isascii() or len(head) >= 80 or not _FAST_HEAD.fullmatch(head + "]: "):
            return False, None
        m = _SYSLOG.match(head)
        if m is None or m.end() != 15:
            return False, None
        return True, _syslog_time(m, self.year)

    def _fast_events(self, df: pl.DataFrame, times: dict[str, datetime | None]) -> pl.DataFrame:
        """Fast lines -> their event rows (``n`` = line index), share not yet resolved."""
        import polars as pl

        c = [pl.col(f"c{i}") for i in range(_FIELDS)]
        parts = []
        ks = df.get_column("k").unique().to_list()
        for k in ks:
            part = df.filter(pl.col("k") == k) if len(ks) > 1 else df
            op, status = c[k], c[k + 1]
            args = c[k + 2 : _FIELDS - 1]
            first, second, last = args[0], args[1], pl.coalesce(args[::-1])
            kind = pl.col("cat")
            writing = first.is_in(["w", "rw"]) | pl.any_horizontal(
                [(a == "create") | (a == "overwrite") for a in args]
            ).fill_null(False)
            parts.append(
                part.lazy()
                .with_columns(op.replace_strict(_OP_KIND, default=None, return_dtype=pl.Utf8).alias("cat"))
                .filter((kind == "connect") | (kind.is_not_null() & (status == "ok")))
                .select(
                    "n",
                    pl.when(kind == "connect")
                    .then(pl.lit(EventKind.SHARE_CONNECT.value))
                    .when(kind == "open")
                    .then(
                        pl.when(writing)
                        .then(pl.lit(EventKind.FILE_WRITE.value))
                        .otherwise(pl.lit(EventKind.FILE_ACCESS.value))
                    )
                    .otherwise(kind)
                    .alias("kind"),
                    ("vfs:" + op).alias("event_id"),
                    pl.col("head")
                    .replace_strict(list(times), list(times.values()), return_dtype=pl.Datetime("us", "UTC"))
                    .alias("time"),
                    pl.concat_str([pl.col("user0"), *c[1:k]], separator="|").alias("pre"),
                    pl.when(kind == "connect").then(first).alias("cshare"),
                    pl.when(kind == "connect")
                    .then(pl.lit(None, pl.Utf8))
                    .when(kind == EventKind.FILE_RENAME.value)
                    .then(first)
                    .otherwise(last)
                    .alias("path"),
                    pl.when(kind == EventKind.FILE_RENAME.value).then(second).alias("new_path"),
                    status.alias("status"),
                )
                .collect()
            )
        events = pl.concat(parts).sort("n") if len(parts) > 1 else parts[0]
        pres = events.get_column("pre").unique().to_list()
        fields = [_prefix_fields(pre) for pre in pres]
        pre_map = pl.DataFrame(
            {
                "pre": pres,
                "user": [f[0] for f in fields],
                "src_ip": [f[1] for f in fields],
                "pshare": [f[2] or None for f in fields],  # _full_audit: share_from_prefix or ...
            },
            schema={"pre": pl.Utf8, "user": pl.Utf8, "src_ip": pl.Utf8, "pshare": pl.Utf8},
        )
        return events.join(pre_map, on="pre", how="left", maintain_order="left").drop("pre")

    def _segment(
        self,
        fast: pl.DataFrame,
        fast_n: pl.Series,
        lo: int,
        hi: int,
        other: list[int],
        raw_lines: list[bytes],
        body: bytes,
    ) -> pl.DataFrame:
        """Lines lo..hi-1 of a block (no odd full_audit line among them): the fast lines
        column-wise, the others through parse_line, merged in line order."""
        import bisect

        import polars as pl

        stats = self.stats
        n_fast = int(fast_n.search_sorted(hi)) - int(fast_n.search_sorted(lo))
        stats.records += n_fast
        part = fast.filter(pl.col("n").is_between(lo, hi, closed="left")) if n_fast < fast_n.len() else fast
        part = self._resolve_shares(part)
        if part.height:
            stats.events += part.height
            times = part.get_column("time")
            for when in (times.min(), times.max()):
                if isinstance(when, datetime):
                    stats.see(when.replace(tzinfo=UTC))
        rows = part.select("n", *self._columns())
        python = other[bisect.bisect_left(other, lo) : bisect.bisect_left(other, hi)]
        if not python:
            return rows.drop("n")
        slow = self._python_lines(python, raw_lines, body, with_index=True)
        if slow.height == 0:
            return rows.drop("n")
        return pl.concat([rows, slow]).sort("n").drop("n")

    def _columns(self) -> list[pl.Expr]:
        import polars as pl

        from smbguard.logs.events import EVENT_COLUMNS, frame_schema

        schema = frame_schema()
        have = {"kind", "event_id", "time", "src_ip", "user", "share", "path", "new_path", "status"}
        out = []
        for name in EVENT_COLUMNS:
            if name == "source":
                out.append(pl.lit(self.path, pl.Utf8).alias(name))
            elif name in have:
                out.append(pl.col(name))
            else:
                out.append(pl.lit(None, schema[name]).alias(name))
        return out

    def _resolve_shares(self, events: pl.DataFrame) -> pl.DataFrame:
        """The ``share`` column: a connect's own argument; else the share in the prefix;
        else the last connect of this (user, address) before the line (``self._share``,
        carried across blocks) -- and ``self._share`` updated as _full_audit would."""
        import polars as pl

        connect = pl.col("kind") == EventKind.SHARE_CONNECT.value
        keys = ["user", "src_ip"]
        need, sets_any = events.select(
            (~connect & pl.col("pshare").is_null()).any().alias("need"),
            (connect & (pl.col("cshare") != "")).any().alias("sets"),
        ).row(0)
        if not need:  # every line names its share (or is a connect): no state is read
            out = events.with_columns(
                pl.when(connect).then(pl.col("cshare")).otherwise(pl.col("pshare")).alias("share")
            )
            if sets_any:
                updates = (
                    events.lazy()
                    .filter(connect & (pl.col("cshare") != ""))
                    .group_by(keys)
                    .agg(pl.col("cshare").last())
                    .collect()
                )
                for user, src_ip, share_name in updates.iter_rows():
                    self._share[(user, src_ip)] = share_name
            return out
        sets = events.lazy().with_columns(
            pl.when(connect & (pl.col("cshare") != "")).then(pl.col("cshare")).alias("set")
        )
        if need:
            seed = pl.DataFrame(
                {
                    "user": [key[0] for key in self._share],
                    "src_ip": [key[1] for key in self._share],
                    "seed": list(self._share.values()),
                },
                schema={"user": pl.Utf8, "src_ip": pl.Utf8, "seed": pl.Utf8},
            )
            sets = sets.with_columns(pl.col("set").forward_fill().over(keys).alias("seen")).join(
                seed.lazy(), on=keys, how="left", nulls_equal=True, maintain_order="left"
            )
            share = pl.coalesce("pshare", "seen", "seed")
        else:
            share = pl.col("pshare")
        out = sets.with_columns(
            pl.when(connect).then(pl.col("cshare")).otherwise(share).alias("share")
        ).collect()
        updates = (
            out.lazy().filter(pl.col("set").is_not_null()).group_by(keys).agg(pl.col("set").last()).collect()
        )
        for user, src_ip, share_name in updates.iter_rows():
            self._share[(user, src_ip)] = share_name
        return out

    def _python_lines(
        self, index: Iterable[int], raw_lines: list[bytes], body: bytes, *, with_index: bool
    ) -> pl.DataFrame:
        """parse_line over some lines of a block (by index), in order, as a frame."""
        import polars as pl

        ended = body.endswith(b"\n")
        last = len(raw_lines) - 1  # the one line without a newline when the block does not end with one
        events: list[Event] = []
        at: list[int] = []
        for i in index:
            raw = raw_lines[i] + b"\n" if (i < last or ended) else raw_lines[i]
            event = self._count_line(raw)
            if event is not None:
                events.append(event)
                at.append(i)
        frame = events_to_frame(events)
        if with_index:
            frame = frame.with_columns(pl.Series("n", at, dtype=pl.UInt32)).select("n", *frame.columns)
        return frame

    # -- one line ------------------------------------------------------------------------------
    def parse_line(self, raw: bytes) -> Event | None:
        if raw[:1] == b"[":
            if _SMBD_HEADER.match(raw):
                self._header_raw = raw
                self._header_time = None
                self._header_parsed = False
            return None
        if b"|ok|" in raw or b"|fail" in raw:
            return self._full_audit(raw, raw.decode("utf-8", "replace").rstrip("\r\n"))
        if b"Auth: [" in raw:
            return self._auth(raw.decode("utf-8", "replace"))
        if b'"Authentication"' in raw:
            return self._auth_json(raw.decode("utf-8", "replace"))
        if b"connect to service" in raw:
            text = raw.decode("utf-8", "replace")
            m = _CONNECT.search(text)
            if m is None:
                return None
            client, share, user = m.group(1), m.group(2), m.group(3)
            return Event(
                kind=EventKind.SHARE_CONNECT,
                source=self.path,
                event_id="smbd:connect",
                time=self._line_time(raw),
                src_ip=client if _is_ip(client) else None,
                workstation=None if _is_ip(client) else client,
                user=user,
                share=share,
            )
        if b"Selected protocol" in raw:
            text = raw.decode("utf-8", "replace")
            m = _SELECTED.search(text)
            if m is None or m.group(1) not in _SMB1_PROTOCOLS:
                return None
            return Event(
                kind=EventKind.SMB1_ACCESS,
                source=self.path,
                event_id="smbd:negprot",
                time=self._line_time(raw),
                protocol=m.group(1),
            )
        if b"Denied connection from" in raw:
            text = raw.decode("utf-8", "replace")
            m = _DENIED.search(text)
            return Event(
                kind=EventKind.CONNECTION_DENIED,
                source=self.path,
                event_id="smbd:denied",
                time=self._line_time(raw),
                src_ip=m.group(1).rstrip(".)") if m else None,
            )
        return None

    # -- time ----------------------------------------------------------------------------------
    def _line_time(self, raw: bytes) -> datetime | None:
        """Syslog/ISO prefix of this line, else the time of the last log.smbd header."""
        if raw[:1] in (b" ", b"\t"):
            return self._smbd_header_time()
        prefix = raw[:15]
        if prefix == self._last_syslog[0]:
            return self._last_syslog[1]
        when: datetime | None = None
        m = _SYSLOG.match(raw.decode("ascii", "replace"))
        if m is not None and m.group(1) in _MONTHS:
            when = _syslog_time(m, self.year)
            self._tz_warning()
            if m.end() == 15:  # the whole stamp is in the key: a line with the same key has this time
                self._last_syslog = (prefix, when)
        else:
            iso = _ISO.match(raw[:40].decode("ascii", "replace"))
            if iso is not None:
                try:
                    when = datetime.fromisoformat(iso.group(1).replace("Z", "+00:00"))
                except ValueError:
                    when = None
                if when is not None and when.tzinfo is None:
                    when = when.replace(tzinfo=UTC)
                    self._tz_warning()
            else:
                return self._smbd_header_time()
        return when

    def _smbd_header_time(self) -> datetime | None:
        if self._header_parsed:
            return self._header_time
        self._header_parsed = True
        m = _SMBD_HEADER.match(self._header_raw)
        if m is None:
            return None
        frac = (m.group(7) or b"0")[:6].ljust(6, b"0")
        try:
            year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
            self._header_time = datetime(year, month, day, hour, minute, second, int(frac), tzinfo=UTC)
        except ValueError:
            self._header_time = None
        self._tz_warning()
        return self._header_time

    def _tz_warning(self) -> None:
        if not self._tz_warned:
            self._tz_warned = True
            self.stats.warn("timestamps without a time zone were read as UTC")

    # -- formats -------------------------------------------------------------------------------
    def _full_audit(self, raw: bytes, text: str) -> Event | None:
        body = text
        colon = text.find("]: ")
        if 0 <= colon < 80:
            body = text[colon + 3 :]
        fields = body.split("|")
        op_index = -1
        for i in range(1, min(len(fields) - 1, 10)):
            if fields[i] in _ALL_OPS:
                result = fields[i + 1]
                if result == "ok" or result.startswith("fail"):
                    op_index = i
                    break
        if op_index < 1:
            raise ValueError("no vfs operation")
        op, status, args = fields[op_index], fields[op_index + 1], fields[op_index + 2 :]
        user, ip, share_from_prefix = _prefix_fields("|".join(fields[:op_index]))
        key = (user, ip)
        when = self._line_time(raw) if colon >= 0 else None
        if op == "connect":
            share = args[0] if args else None
            if share:
                self._share[key] = share
            return Event(
                kind=EventKind.SHARE_CONNECT,
                source=self.path,
                event_id="vfs:connect",
                time=when,
                src_ip=ip,
                user=user,
                share=share,
                status=status,
            )
        share = share_from_prefix or self._share.get(key)
        if status != "ok":
            return None
        if op in _WRITE_OPS:
            kind, path, new = EventKind.FILE_WRITE, (args[-1] if args else None), None
        elif op in _RENAME_OPS:
            kind = EventKind.FILE_RENAME
            path = args[0] if args else None
            new = args[1] if len(args) > 1 else None
        elif op in _DELETE_OPS:
            kind, path, new = EventKind.FILE_DELETE, (args[-1] if args else None), None
        elif op in _OPEN_OPS:
            mode = args[0] if args else ""
            writing = mode in ("w", "rw") or "create" in args or "overwrite" in args
            kind = EventKind.FILE_WRITE if writing else EventKind.FILE_ACCESS
            path, new = (args[-1] if args else None), None
        else:
            return None
        return Event(
            kind=kind,
            source=self.path,
            event_id=f"vfs:{op}",
            time=when,
            src_ip=ip,
            user=user,
            share=share,
            path=path,
            new_path=new,
            status=status,
        )

    def _auth(self, text: str) -> Event | None:
        m = _AUTH.search(text)
        if m is None:
            raise ValueError("unrecognised Auth line")
        status = m.group("status")
        when, zoned = _auth_time(m.group("when"))
        if not zoned:
            self._tz_warning()
        if when is None:
            when = self._line_time(text.encode())
        ok = status == "NT_STATUS_OK"
        user = m.group("user") or None
        return Event(
            kind=EventKind.LOGON if ok else EventKind.LOGON_FAILURE,
            source=self.path,
            event_id="samba:auth",
            time=when,
            src_ip=_remote(m.group("remote")),
            workstation=m.group("ws") or None,
            user=user,
            domain=m.group("domain") or None,
            status=None if ok else status,
            auth_package=m.group("ptype") or None,
            lm_package="NTLM V1" if m.group("ptype") == "NTLMv1" else None,
            protocol=m.group("svc") or None,
        )

    def _auth_json(self, text: str) -> Event | None:
        start = text.find("{")
        obj = json.loads(text[start:])
        auth = obj.get("Authentication") if isinstance(obj, dict) else None
        if not isinstance(auth, dict):
            return None
        status = str(auth.get("status", ""))
        ok = status == "NT_STATUS_OK"
        when = None
        ts = obj.get("timestamp")
        if isinstance(ts, str):
            try:
                when = datetime.fromisoformat(ts.replace("Z", "+00:00"))
            except ValueError:
                when = None
            if when is not None and when.tzinfo is None:
                when = when.replace(tzinfo=UTC)
        ptype = str(auth.get("passwordType") or "") or None
        return Event(
            kind=EventKind.LOGON if ok else EventKind.LOGON_FAILURE,
            source=self.path,
            event_id="samba:auth-json",
            time=when,
            src_ip=_remote(str(auth.get("remoteAddress") or "")),
            workstation=(str(auth.get("workstation") or "") or None),
            user=(str(auth.get("clientAccount") or "") or None),
            domain=(str(auth.get("clientDomain") or "") or None),
            status=None if ok else status,
            auth_package=ptype,
            lm_package="NTLM V1" if ptype == "NTLMv1" else None,
            protocol=(str(auth.get("serviceDescription") or "") or None),
        )


def _auth_time_reference(text: str) -> tuple[datetime | None, bool]:
    """``Thu, 14 Oct 2021 15:24:12.023984 UTC`` -> (aware datetime, zone understood).

    Zone abbreviations other than UTC/GMT are ambiguous (CST is three different zones):
    the time is then read as UTC and the second item is False."""
    parts = text.rsplit(" ", 1)
    if len(parts) != 2:
        return None, True
    stamp, zone = parts
    try:
        when = datetime.strptime(stamp, "%a, %d %b %Y %H:%M:%S.%f")
    except ValueError:
        return None, True
    return when.replace(tzinfo=UTC), zone in ("UTC", "GMT", "Z")


@functools.lru_cache(maxsize=4096)
def _auth_second(head: str) -> datetime | None:
    """``strptime(head, "%a, %d %b %Y %H:%M:%S")`` or None; cached (a burst of failed
    logons has many lines in the same second)."""
    try:
        return datetime.strptime(head, "%a, %d %b %Y %H:%M:%S")
    except ValueError:
        return None


def _auth_time(text: str) -> tuple[datetime | None, bool]:
    """:func:`_auth_time_reference`, with the second parsed once per distinct second: when
    the stamp is ``<head>.<1-6 ASCII digits>`` and ``head`` alone parses (which needs a head
    without '.'), strptime of the whole stamp takes the same path through its regular
    expression and gives that time plus the fraction; otherwise the reference decides
    (tests/logs/test_samba.py compares both)."""
    parts = text.rsplit(" ", 1)
    if len(parts) == 2:
        stamp, zone = parts
        head, dot, frac = stamp.rpartition(".")
        if dot and 0 < len(frac) <= 6 and frac.isascii() and frac.isdigit():
            base = _auth_second(head)
            if base is not None:
                return base.replace(microsecond=int(frac.ljust(6, "0")), tzinfo=UTC), zone in (
                    "UTC",
                    "GMT",
                    "Z",
                )
    return _auth_time_reference(text)
