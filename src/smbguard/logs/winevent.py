"""Windows event logs: EVTX files (via the Rust-backed ``evtx`` package) and
exported event XML (wevtutil / Get-WinEvent ``ToXml()``) or JSON (evtx_dump).

Every record is rendered as XML by the parser and read with a few anchored
regular expressions: that is faster than building a JSON tree per record (see
``benchmarks/logs_bench.py``), and the same code reads exported XML. Records
whose EventID is not one we interpret are counted and skipped before any field
is extracted. ``EvtxSource.fast`` switches ``frames()`` to the binary reader of
:mod:`smbguard.logs.evtxbin` (no XML; same rows, chunk by chunk with fallback).
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import os
import re
import subprocess
import time
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from smbguard.errors import DecodeError
from smbguard.logs import evtxbin
from smbguard.logs.events import EVENT_COLUMNS, FRAME_ROWS, Event, EventKind, SourceStats, frame_schema

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

    import polars as pl

    from smbguard.logs import _evtxbin

EVTX_MAGIC = b"ElfFile\x00"
_CHUNK = 65536
_HEADER = 4096

_EID = re.compile(r"<EventID[^>]*>\s*(\d+)\s*</EventID>")
_PROVIDER = re.compile(r'<Provider Name="([^"]*)"')
_DATA = re.compile(r'<Data Name="([^"]+)"(?:>([^<]*)</Data>|\s*/>)')
_USERDATA = re.compile(r"<UserData>(.*)</UserData>", re.S)
_ELEMENT = re.compile(r"<(\w+)>([^<]*)</\1>")
_EVENT_START = re.compile(r"<Event[\s>]")

# EventIDs we interpret (Security, SMBServer, SMBClient). Others are counted and skipped.
SECURITY_IDS = frozenset({"4624", "4625", "4776", "5140", "5142", "5143", "5144", "5145"})
SMB_IDS = frozenset({"3000", "551", "31017", "31018"})
INTERESTING = SECURITY_IDS | SMB_IDS
#: every EventData/UserData name :func:`event_row` reads (the binary EVTX reader decodes
#: only these; tests/logs/test_evtxbin.py checks the list against event_row)
EVENT_FIELDS = frozenset({
    "IpAddress", "WorkstationName", "TargetUserName", "TargetDomainName", "SubStatus",
    "LogonType", "AuthenticationPackageName", "LmPackageName", "Status", "AccessList",
    "ShareName", "SubjectUserName", "SubjectDomainName", "RelativeTargetName", "AccessMask",
    "Workstation", "PackageName", "OldSD", "NewSD", "ShareLocalPath", "ClientName", "UserName",
    "ServerName",
})  # fmt: skip
_INTERESTING_NUMBERS = frozenset(int(x) for x in INTERESTING)

# 5145 AccessList codes ([MS-ADTS]/auditing message table): %%4417 WriteData, %%4418 AppendData,
# %%1537 DELETE.
_WRITE_CODES = ("%%4417", "%%4418")
_DELETE_CODE = "%%1537"
_EMPTY = frozenset({"", "-", "NULL", "N/A"})


def _val(data: Mapping[str, str], key: str) -> str | None:
    value = data.get(key)
    if value is None:
        return None
    value = value.strip()
    return None if value in _EMPTY else value


def _vals_py(data: Mapping[str, str], keys: tuple[str, ...], empty: frozenset[str]) -> tuple[str | None, ...]:
    """:func:`_val` of each key: the reference of the C ``smbguard.logs._evtxscan.values``
    that :func:`event_row` uses for its hot event IDs (``empty``: always :data:`_EMPTY`, the
    C version takes it as an argument so that the set is written once, here)."""
    del empty  # _val reads _EMPTY
    return tuple(_val(data, key) for key in keys)


try:  # the C version (setup.py builds it; optional)
    from smbguard.logs._evtxscan import values as _vals
except ImportError:
    _vals = _vals_py


def _unmapped(ip: str | None) -> str | None:
    """``::ffff:10.0.0.1`` -> ``10.0.0.1`` (IPv4-mapped addresses as plain IPv4)."""
    return ip[7:] if ip is not None and ip.startswith("::ffff:") else ip


def _ip(data: Mapping[str, str], key: str = "IpAddress") -> str | None:
    return _unmapped(_val(data, key))


def _share(name: str | None) -> str | None:
    """``\\\\*\\C$`` -> ``C$``."""
    if name is None:
        return None
    return name.rsplit("\\", 1)[-1] or name


def parse_time(text: str | None) -> datetime | None:
    """``2021-12-12T07:15:28.352504Z`` (also with a space and 7 fraction digits) -> aware UTC."""
    if not text:
        return None
    try:
        parsed = datetime.fromisoformat(text)  # the evtx parser's own format: fast path
    except ValueError:
        value = text.strip().replace(" ", "T")
        if value.endswith("Z"):
            value = value[:-1]
        if "." in value:
            head, frac = value.split(".", 1)
            digits = "".join(ch for ch in frac if ch.isdigit())[:6]
            value = f"{head}.{digits}" if digits else head
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return None
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed if parsed.tzinfo is UTC else parsed.astimezone(UTC)


#: An event as a tuple in :data:`~smbguard.logs.events.EVENT_COLUMNS` order: what
#: :func:`event_row` returns, ``Event(*row)`` builds the object, the frame path builds columns.
Row = tuple[Any, ...]
_ROW_ORDER = (
    "kind", "source", "event_id", "time", "src_ip", "workstation", "server", "user", "domain",
    "share", "path", "new_path", "status", "logon_type", "auth_package", "lm_package", "protocol",
    "detail",
)  # fmt: skip
if EVENT_COLUMNS != _ROW_ORDER:  # the positional rows below depend on it
    raise RuntimeError("Event fields changed: update winevent.event_row")


def _logon_type(value: str | None) -> int | None:
    """``LogonType`` as a number; None when absent or not a (short) decimal number."""
    if value and len(value) <= 18 and value.isdecimal():
        return int(value)
    return None


# The EventData names event_row reads for its hot event IDs, in the order it unpacks them.
_LOGON = (
    "IpAddress", "WorkstationName", "TargetUserName", "TargetDomainName", "SubStatus", "LogonType",
    "AuthenticationPackageName", "LmPackageName", "Status",
)  # fmt: skip
_SHARE_ACCESS = (
    "IpAddress", "SubjectUserName", "SubjectDomainName", "ShareName", "RelativeTargetName", "AccessMask",
)  # fmt: skip
_NTLM = ("Status", "Workstation", "TargetUserName", "PackageName")


def event_row(
    event_id: str,
    data: Mapping[str, str],
    *,
    source: str,
    when: datetime | None,
    computer: str | None,
    channel: str | None = None,
) -> Row | None:
    """Map one Windows event (its EventData/UserData name->value pairs) to a :data:`Row`.

    This is the one mapping of Windows events: :func:`event_from_fields` makes it an
    :class:`Event`, ``EvtxSource.frames`` makes rows into columns. Returns None for an
    EventID we do not interpret. Row positions: kind, source, event_id, time, src_ip,
    workstation, server, user, domain, share, path, new_path, status, logon_type,
    auth_package, lm_package, protocol, detail."""
    # The hot event IDs read their values with one _vals call (each value as _val gives it)
    if event_id in ("4624", "4625"):
        ip, workstation, user, domain, sub_status, logon_type, auth, lm, status = _vals(data, _LOGON, _EMPTY)
        return (
            EventKind.LOGON if event_id == "4624" else EventKind.LOGON_FAILURE,
            source,
            event_id,
            when,
            _unmapped(ip),  # src_ip
            workstation,
            computer,  # server
            user,
            domain,
            None,  # share
            None,  # path
            None,  # new_path
            sub_status if event_id == "4625" else None,  # status
            _logon_type(logon_type),
            auth,  # auth_package
            lm,  # lm_package
            None,  # protocol
            status,  # detail
        )
    if event_id in ("5140", "5145"):
        access = data.get("AccessList", "")
        ip, user, domain, share_name, path, mask = _vals(data, _SHARE_ACCESS, _EMPTY)
        share = _share(share_name)
        kind = EventKind.SHARE_CONNECT if event_id == "5140" else EventKind.FILE_ACCESS
        if event_id == "5145":
            if _DELETE_CODE in access:
                kind = EventKind.FILE_DELETE
            elif (_WRITE_CODES[0] in access or _WRITE_CODES[1] in access) and share != "IPC$":
                kind = EventKind.FILE_WRITE
        return (
            kind,
            source,
            event_id,
            when,
            _unmapped(ip),  # src_ip
            None,  # workstation
            computer,  # server
            user,
            domain,
            share,
            path,
            None,  # new_path
            mask,  # status
            None,  # logon_type
            None,  # auth_package
            None,  # lm_package
            None,  # protocol
            " ".join(access.split()) or None,  # detail
        )
    if event_id == "4776":
        status_value, workstation, user, package = _vals(data, _NTLM, _EMPTY)
        status = status_value or "0x0"
        ok = status.lower() in ("0x0", "0")
        return (
            EventKind.LOGON if ok else EventKind.LOGON_FAILURE,
            source,
            event_id,
            when,
            None,  # src_ip
            workstation,
            computer,  # server
            user,
            None,  # domain
            None,  # share
            None,  # path
            None,  # new_path
            None if ok else status,  # status
            None,  # logon_type
            package,  # auth_package
            None,  # lm_package
            None,  # protocol
            None,  # detail
        )
    if event_id in ("5142", "5143", "5144"):
        detail = None
        if event_id == "5143":
            old, new = _val(data, "OldSD"), _val(data, "NewSD")
            detail = f"{old} -> {new}" if old != new else None
        return (
            {"5142": EventKind.SHARE_CREATED, "5143": EventKind.SHARE_CHANGED}.get(
                event_id, EventKind.SHARE_DELETED
            ),
            source,
            event_id,
            when,
            None,  # src_ip
            None,  # workstation
            computer,  # server
            _val(data, "SubjectUserName"),  # user
            _val(data, "SubjectDomainName"),  # domain
            _share(_val(data, "ShareName")),  # share
            _val(data, "ShareLocalPath"),  # path
            None,  # new_path
            None,  # status
            None,  # logon_type
            None,  # auth_package
            None,  # lm_package
            None,  # protocol
            detail,
        )
    if event_id == "3000" and (channel is None or "SMBServer" in channel):
        return (
            EventKind.SMB1_ACCESS,
            source,
            event_id,
            when,
            _val(data, "ClientName"),  # src_ip
            None,  # workstation
            computer,  # server
            None,  # user
            None,  # domain
            None,  # share
            None,  # path
            None,  # new_path
            None,  # status
            None,  # logon_type
            None,  # auth_package
            None,  # lm_package
            "SMB1",  # protocol
            None,  # detail
        )
    if event_id == "551" and (channel is None or "SMBServer" in channel):
        return (
            EventKind.LOGON_FAILURE,
            source,
            event_id,
            when,
            _val(data, "ClientName"),  # src_ip
            None,  # workstation
            computer,  # server
            _val(data, "UserName"),  # user
            None,  # domain
            None,  # share
            None,  # path
            None,  # new_path
            _val(data, "Status"),  # status
            None,  # logon_type
            "SMB",  # auth_package
            None,  # lm_package
            None,  # protocol
            None,  # detail
        )
    if event_id in ("31017", "31018") and (
        channel is None or "SmbClient" in channel or "SMBClient" in channel
    ):
        return (
            EventKind.INSECURE_GUEST,
            source,
            event_id,
            when,
            None,  # src_ip
            None,  # workstation
            computer,  # server
            _val(data, "UserName"),  # user
            None,  # domain
            _val(data, "ShareName"),  # share
            None,  # path
            None,  # new_path
            None,  # status
            None,  # logon_type
            None,  # auth_package
            None,  # lm_package
            None,  # protocol
            _val(data, "ServerName"),  # detail
        )
    return None


def event_from_fields(
    event_id: str,
    data: Mapping[str, str],
    *,
    source: str,
    when: datetime | None,
    computer: str | None,
    channel: str | None = None,
) -> Event | None:
    """Map one Windows event to an :class:`Event` (see :func:`event_row`).

    Returns None for an EventID we do not interpret."""
    row = event_row(event_id, data, source=source, when=when, computer=computer, channel=channel)
    return None if row is None else Event(*row)


def _event_id(xml: str) -> tuple[str | None, int]:
    """(EventID, end of its element) as ``_EID`` finds it; str.find for the usual form.

    The fast path only accepts what the regular expression accepts at the first
    ``<EventID`` tag (ASCII digits between optional ASCII blanks), where the regular
    expression's leftmost match would start too; anything else goes to the regex."""
    i = xml.find("<EventID")
    if i >= 0:
        j = xml.find(">", i + 8)
        k = xml.find("</EventID>", j)
        if j >= 0 and k >= 0:
            value = xml[j + 1 : k].strip(" \t\r\n")
            if value.isdigit() and value.isascii():
                return value, k + 10
    match = _EID.search(xml)
    if match is None:
        return None, 0
    return match.group(1), match.end()


def event_from_xml(xml: str, source: str) -> tuple[str | None, Event | None]:
    """Read one ``<Event>`` XML document. Returns (EventID, Event or None)."""
    event_id, row = row_from_xml(xml, source)
    return event_id, None if row is None else Event(*row)


#: What the scanners return: (EventID, EventData/UserData pairs or None when the EventID is
#: missing or not interesting, SystemTime text, Channel, Computer).
Scanned = tuple[str | None, dict[str, str] | None, str | None, str | None, str | None]
_SKIP: tuple[None, None, None, None] = (None, None, None, None)

_c_scan: Callable[[str, frozenset[str]], Scanned | None] | None
try:  # the C scanner (setup.py builds it; optional): same result as _scan_py, or None to decline
    from smbguard.logs._evtxscan import scan as _c_scan
except ImportError:  # no compiler at install time: the Python reference does the work
    _c_scan = None


def _scan_py(xml: str) -> Scanned:
    """The scanning part of :func:`row_from_xml` in Python: the reference of the C scanner
    ``smbguard.logs._evtxscan.scan``, which gives the same tuple or declines."""
    event_id, end = _event_id(xml)
    if event_id is None or event_id not in INTERESTING:
        return (event_id, *_SKIP)
    escaped = "&" in xml
    start = xml.find("<EventData", end)
    start = end if start < 0 else start
    if escaped:
        data = {name: html.unescape(value) for name, value in _DATA.findall(xml, start)}
    else:
        data = dict(_DATA.findall(xml, start))
    if "<UserData>" in xml:
        user_data = _USERDATA.search(xml, end)
        if user_data is not None:
            for name, value in _ELEMENT.findall(user_data.group(1)):
                data.setdefault(name, html.unescape(value) if escaped else value)
    # SystemTime, Channel and Computer after the EventID (str.find: hot path)
    when_text = ""
    i = xml.find('SystemTime="', end)
    if i >= 0:
        j = xml.find('"', i + 12)
        if j >= 0:
            when_text = xml[i + 12 : j]
    channel = computer = None
    i = xml.find("<Channel>", end)
    if i >= 0:
        j = xml.find("</Channel>", i + 9)
        if j >= 0:
            channel = xml[i + 9 : j]
    i = xml.find("<Computer>", end)
    if i >= 0:
        j = xml.find("</Computer>", i + 10)
        if j >= 0:
            computer = xml[i + 10 : j]
            if escaped and "&" in computer:
                computer = html.unescape(computer)
    return event_id, data, when_text, channel, computer


def _scan(xml: str) -> Scanned:
    """:func:`_scan_py`'s result, from the C scanner when it is built and accepts ``xml``."""
    if _c_scan is not None:
        scanned = _c_scan(xml, INTERESTING)
        if scanned is not None:
            return scanned
    return _scan_py(xml)


def _row_from_scan(scanned: Scanned, source: str) -> tuple[str | None, Row | None]:
    event_id, data, when_text, channel, computer = scanned
    if event_id is None or data is None:
        return event_id, None
    when = parse_time(when_text)
    return event_id, event_row(event_id, data, source=source, when=when, computer=computer, channel=channel)


def row_from_xml(xml: str, source: str) -> tuple[str | None, Row | None]:
    """Read one ``<Event>`` XML document. Returns (EventID, :data:`Row` or None)."""
    return _row_from_scan(_scan(xml), source)


def _row_from_xml_reference(xml: str, source: str) -> tuple[str | None, Row | None]:
    """:func:`row_from_xml` without the C scanner (the differential tests' reference)."""
    return _row_from_scan(_scan_py(xml), source)


class EvtxSource:
    """A binary ``.evtx`` file. Corrupt chunks are skipped with a counted warning; a
    truncated last chunk is reported (the parser cannot recover its records).

    ``events()`` streams :class:`Event` objects (``logs watch`` uses it with
    ``after_record``). ``frames()`` gives the same events as column frames for
    ``logs analyze``; on a large file it splits the chunks into contiguous ranges
    and parses them in worker processes (EVTX chunks are independent: each has its
    own string and template tables), see :meth:`frames`."""

    type = "evtx"

    def __init__(self, path: str, after_record: int = 0, workers: int | None = None) -> None:
        self.path = path
        self.stats = SourceStats(path=path, type=self.type)
        self.after_record = after_record  # ``logs watch``: skip records up to this EventRecordID
        self.last_record = after_record
        self.max_seen = 0  # highest EventRecordID in the file, skipped records included
        #: worker processes for ``frames()`` (None: one per CPU; 0 or 1: none, read in-process)
        self.workers = workers
        self.range_chunks = _RANGE_CHUNKS  # chunks per range handed to a worker
        #: start workers when the rest of the file would take more CPU seconds than this
        #: in-process (starting one costs about 0.4 s of CPU); 0: before the first range
        self.spawn_after = _SPAWN_AFTER
        self.range_timeout = _RANGE_TIMEOUT  # seconds a worker may take for one range
        self.wait_for_workers = False  # tests: never read a range here while a worker is alive
        self.worker_pids: list[int] = []  # of the last ``frames()`` run (tests check they are gone)
        self._unknown: set[str] = set()
        self._size = 0
        #: True: ``frames()`` reads chunks without XML (:func:`read_chunk`: the C reader, or the
        #: Python reference when it is not built) where that reproduces them with certainty,
        #: else with the Rust parser. On when the C reader is built (the Python reference alone
        #: measured no faster than the Rust parser's XML; docs/evtx-binary.md)
        self.fast = _c_read_chunk is not None
        #: True: with ``fast``, ``frames()`` builds the columns in C (``_evtxbin.Sink``: the
        #: ``_fast_rows`` loop, the rows and the Arrow columns, no Python object per row);
        #: False: ``_fast_rows`` and :func:`rows_to_frame`, the readable reference. On when built
        self.sink = _CSink is not None
        self.fast_chunks = 0  # chunks read by evtxbin / by the Rust parser (measurements, tests)
        self.slow_chunks = 0

    # ------------------------------------------------------------------ shared by both paths
    def _open(self) -> Iterator[Any] | None:
        """Stat the file, warn about a truncated tail, open the parser (None: nothing to read)."""
        try:
            size = self._size = os.path.getsize(self.path)
        except OSError as exc:
            self.stats.warn(f"cannot stat: {exc.strerror}")
            return None
        extra = (size - _HEADER) % _CHUNK if size >= _HEADER else size
        if extra:
            self.stats.warn(
                f"file is truncated: last {extra} bytes are an incomplete chunk and were not read"
            )
        return self._parser(self.path)

    def _parser(self, target: Any) -> Iterator[Any] | None:
        import evtx  # Rust-backed; imported lazily so the rest works without it

        try:
            parser = evtx.PyEvtxParser(target, number_of_threads=1)
            records: Iterator[Any] = parser.records()
        except (RuntimeError, OSError, ValueError) as exc:
            self.stats.warn(f"not a readable EVTX file: {exc}")
            self.stats.skipped += 1
            return None
        return records

    def _rows(self, records: Iterator[Any], first_chunk: int = 0) -> Iterator[Row]:
        """Every interpreted record as a :data:`Row`, counting the rest in ``stats``.

        ``first_chunk``: the file's chunk number of the parser's first chunk (a range
        parsed on its own), so parser messages name the file's chunk numbers."""
        stats = self.stats
        unknown = self._unknown
        path = self.path
        after = self.after_record
        see = stats.see
        # max_seen/last_record are kept in locals on the hot path and stored back
        # after every record that could be the last one seen by a consumer.
        max_seen, last_record = self.max_seen, self.last_record
        read = 0
        step = records.__next__
        c_scan, interesting = _c_scan, INTERESTING
        # row_from_xml inlined: the C scanner when built and not declining, else _scan_py
        try:
            while True:
                try:
                    record = step()
                except StopIteration:
                    break
                except (RuntimeError, OSError, ValueError) as exc:
                    stats.skipped += 1
                    message = _file_chunk_numbers(str(exc), first_chunk)
                    stats.warn(f"corrupt record or chunk skipped: {message[:120]}")
                    continue
                read += 1
                if isinstance(record, dict):
                    record_id = record.get("event_record_id")
                    xml = record.get("data")
                else:
                    record_id = xml = None
                if isinstance(record_id, int):
                    if record_id > max_seen:
                        max_seen = record_id
                    if record_id <= after:
                        continue
                    if record_id > last_record:
                        last_record = record_id
                if not isinstance(xml, str):
                    stats.skipped += 1
                    stats.warn("record without data skipped")
                    continue
                scanned = c_scan(xml, interesting) if c_scan is not None else None
                event_id, data, when_text, channel, computer = scanned or _scan_py(xml)
                if event_id is None:
                    stats.skipped += 1
                    stats.warn("record without EventID skipped")
                    continue
                row = None
                if data is not None:
                    when = parse_time(when_text)
                    row = event_row(
                        event_id, data, source=path, when=when, computer=computer, channel=channel
                    )
                if row is None:
                    unknown.add(event_id)
                    continue
                stats.events += 1
                see(row[3])
                stats.records += read
                read = 0
                self.max_seen, self.last_record = max_seen, last_record
                yield row
        finally:
            stats.records += read
            self.max_seen, self.last_record = max_seen, last_record

    def _chunks(
        self, header: bytes, body: bytes, first_chunk: int
    ) -> Iterator[list[evtxbin.Record] | Iterator[Row]]:
        """``body`` (whole chunks, the last one maybe followed by an incomplete tail), chunk
        by chunk: the records of :func:`evtxbin.read_chunk` (a list) where it reproduces the
        chunk with certainty, else the rows of the Rust parser on the file header and that
        chunk (the last one with the tail), as a range of one chunk would be read."""
        import io

        count = len(body) // _CHUNK
        if count == 0:
            records = self._parser(io.BytesIO(header + body))
            if records is not None:
                yield self._rows(records, first_chunk)
            return
        tail = len(body) % _CHUNK
        for i in range(count):
            chunk = body[i * _CHUNK : (i + 1) * _CHUNK]
            last = i == count - 1
            if not (last and tail):
                fast = read_chunk(chunk)
                if fast is not None:
                    self.fast_chunks += 1
                    yield fast
                    continue
            self.slow_chunks += 1
            records = self._parser(io.BytesIO(header + (body[i * _CHUNK :] if last else chunk)))
            if records is not None:
                yield self._rows(records, first_chunk + i)

    def _chunk_rows(self, header: bytes, body: bytes, first_chunk: int) -> Iterator[Row]:
        """The rows of :meth:`_chunks` (same rows and counters whichever reader reads a chunk)."""
        for part in self._chunks(header, body, first_chunk):
            yield from self._fast_rows(part) if isinstance(part, list) else part

    # ------------------------------------------------------------------ the C column sink
    def _sink_frames(
        self, header: bytes, body: bytes, first_chunk: int, sink: _evtxbin.Sink
    ) -> Iterator[pl.DataFrame]:
        """:meth:`_chunk_rows` made into frames by the C sink ``_evtxbin.Sink``: the records of
        a chunk read without XML go through ``Sink.feed`` (the :meth:`_fast_rows` loop, the row
        and the columns in C), the rows of the Rust parser through ``Sink.append``. A row the
        sink does not take (a value it cannot put in a column with certainty) is made a
        frame by :func:`rows_to_frame` after the sink's rows, so the order stays the file's.
        Frames of at least :data:`_BATCH` rows while going; the caller takes the rest and
        adds the sink's counters (:meth:`_merge_sink`)."""
        for part in self._chunks(header, body, first_chunk):
            if isinstance(part, list):
                yield from self._sink_records(sink, part)
            else:
                yield from self._sink_rows(sink, part)
            if sink.rows >= _BATCH:
                yield _sink_frame(sink)

    def _sink_records(self, sink: _evtxbin.Sink, records: list[evtxbin.Record]) -> Iterator[pl.DataFrame]:
        """:meth:`_fast_rows` of one chunk's records into the sink (frames only for odd rows)."""
        start = 0
        while True:
            done = sink.feed(records, start)
            if done is True:
                return
            if done is False:  # not read_chunk's shape: the reference loop, its rows appended
                yield from self._sink_rows(sink, self._fast_rows(records))
                return
            start, row = done
            start += 1
            self.stats.see(row[3])
            yield from _odd_row(sink, row)

    @staticmethod
    def _sink_rows(sink: _evtxbin.Sink, rows: Iterator[Row]) -> Iterator[pl.DataFrame]:
        for row in rows:
            if not sink.append(row):
                yield from _odd_row(sink, row)

    def _new_sink(self) -> _evtxbin.Sink:
        assert _CSink is not None
        return _CSink(self.path, self.after_record, event_row, self._unknown, _NUMBER_TEXT)

    def _merge_sink(self, sink: _evtxbin.Sink) -> None:
        """Add what ``Sink.feed`` counted (the rest was counted in ``stats`` as it happened)."""
        stats = self.stats
        stats.records += sink.records
        stats.events += sink.events
        stats.see(sink.first_time)
        stats.see(sink.last_time)
        self.max_seen = max(self.max_seen, sink.max_seen)
        if sink.last_record is not None:
            self.last_record = max(self.last_record, sink.last_record)

    def _fast_rows(self, records: list[evtxbin.Record]) -> Iterator[Row]:
        """:meth:`_rows` for records read by :func:`evtxbin.read_chunk`."""
        stats = self.stats
        unknown = self._unknown
        path = self.path
        after = self.after_record
        see = stats.see
        max_seen, last_record = self.max_seen, self.last_record
        read = 0
        c_row = _c_row
        try:
            for record_id, number, fields in records:
                read += 1
                if record_id > max_seen:
                    max_seen = record_id
                if record_id <= after:
                    continue
                if record_id > last_record:
                    last_record = record_id
                event_id = _NUMBER_TEXT.get(number) or str(number)
                if fields is None:
                    unknown.add(event_id)
                    continue
                # event_row's row from C for the hot event IDs, else event_row (the reference)
                row = c_row(event_id, fields, path) if c_row is not None else None
                if row is None:
                    when, computer, channel, data = fields  # a Fields, or the C reader's plain tuple
                    row = event_row(
                        event_id, data, source=path, when=when, computer=computer, channel=channel
                    )
                if row is None:
                    unknown.add(event_id)
                    continue
                stats.events += 1
                see(row[3])
                stats.records += read
                read = 0
                self.max_seen, self.last_record = max_seen, last_record
                yield row
        finally:
            stats.records += read
            self.max_seen, self.last_record = max_seen, last_record

    def _finish(self) -> None:
        if self._unknown:
            self.stats.warn(
                f"event IDs not interpreted (counted, not analysed): {', '.join(sorted(self._unknown))}"
            )

    # ------------------------------------------------------------------ events
    def events(self) -> Iterator[Event]:
        records = self._open()
        if records is None:
            return
        for row in self._rows(records):
            yield Event(*row)
        self._finish()

    # ------------------------------------------------------------------ frames
    def frames(self, rows: int = FRAME_ROWS) -> Iterator[pl.DataFrame]:
        """The events of :meth:`events` as frames of at most ``rows`` rows (same order, same stats).

        A file of more than a few ranges of chunks is read range by range in this
        process. When the rest of the file is estimated to need more than
        ``spawn_after`` CPU seconds (from the CPU time of ranges 3-5: the first two
        pay one-time costs), ``workers`` processes (fresh interpreters) are
        started; once ready, each parses the next ranges (header + the range's chunks)
        and sends back the frame as Arrow IPC with its counters. Frames are yielded in
        file order; at most a few ranges are in flight, so memory stays bounded.
        Workers are stopped when the generator ends, is closed or raises
        (KeyboardInterrupt included); one that dies or overruns ``range_timeout`` has
        its range reported as not read (a warning, one skipped) and the rest goes on."""
        if rows < 1:
            raise ValueError("rows must be positive")
        records = self._open()
        if records is None:
            return
        out = _FrameBuffer(rows)
        workers = self.workers if self.workers is not None else (os.cpu_count() or 1)
        chunks = (self._size - _HEADER) // _CHUNK
        if (workers < 2 or chunks < 2 * self.range_chunks) and self.fast and self.sink and _CSink is not None:
            del records
            for frame in self._whole_file_frames():
                yield from out.add(frame)
        elif workers < 2 or chunks < 2 * self.range_chunks:
            batch: list[Row] = []
            if self.fast:
                del records
                rows_in = self._whole_file_rows()
            else:
                rows_in = self._rows(records)
            for row in rows_in:
                batch.append(row)
                if len(batch) >= _BATCH:
                    yield from out.add(rows_to_frame(batch))
                    batch = []
            if batch:
                yield from out.add(rows_to_frame(batch))
        else:
            del records  # ranges below open their own parsers
            for frame in self._range_frames(chunks, workers):
                yield from out.add(frame)
        yield from out.flush()
        self._finish()

    def _whole_file_rows(self) -> Iterator[Row]:
        """:meth:`_chunk_rows` over the whole file, read a range of chunks at a time."""
        for header, body, first in self._whole_file():
            yield from self._chunk_rows(header, body, first)

    def _whole_file_frames(self) -> Iterator[pl.DataFrame]:
        """:meth:`_whole_file_rows` as frames, through the C sink (:meth:`_sink_frames`)."""
        sink = self._new_sink()
        try:
            for header, body, first in self._whole_file():
                yield from self._sink_frames(header, body, first, sink)
            if sink.rows:
                yield _sink_frame(sink)
        finally:
            self._merge_sink(sink)

    def _whole_file(self) -> Iterator[tuple[bytes, bytes, int]]:
        """(file header, body, first chunk number) of each range of chunks of the file."""
        with open(self.path, "rb") as handle:
            header = handle.read(_HEADER)
            first = 0
            while True:
                body = handle.read(_RANGE_CHUNKS * _CHUNK)
                rest = handle.read(_CHUNK)  # a range keeps an incomplete tail with it
                if len(rest) < _CHUNK:
                    body += rest
                    rest = b""
                if not body and first:
                    return
                yield header, body, first
                if not rest:
                    return
                first += len(body) // _CHUNK
                handle.seek(-len(rest), os.SEEK_CUR)

    def _ranges(self, chunks: int) -> list[_Range]:
        step = self.range_chunks
        ranges: list[_Range] = []
        for first in range(0, chunks, step):
            start = _HEADER + first * _CHUNK
            last = first + step >= chunks
            end = self._size if last else start + step * _CHUNK  # the last one takes the tail too
            ranges.append(_Range(len(ranges), first, start, end, self.fast, self.sink))
        return ranges

    def _range_frames(self, chunks: int, workers: int) -> Iterator[pl.DataFrame]:
        ranges = self._ranges(chunks)
        done: dict[int, _RangeResult | BaseException] = {}
        pool = _Pool(workers, self.range_timeout)
        next_out = next_in = 0  # next range to yield / to hand out
        window = 2 * workers + 2  # ranges handed out but not yet yielded, at most
        busy = 0.0  # CPU seconds this process spent reading the sampled ranges
        sampled = 0  # their bytes
        try:
            if self.spawn_after <= 0:
                pool.start()
                self.worker_pids = pool.pids()
            while next_out < len(ranges):
                result = done.pop(next_out, None)
                if result is not None:
                    if isinstance(result, BaseException):
                        raise result
                    self._merge(result)
                    next_out += 1
                    if result.frame is not None:
                        yield result.frame
                    continue
                done.update(pool.poll(timeout=0))
                while next_in < len(ranges) and next_in - next_out < window:
                    if not pool.assign(ranges[next_in], self.path, self.after_record):
                        break
                    next_in += 1
                if next_out in done:
                    continue
                if next_in == next_out and not (self.wait_for_workers and pool.alive()):
                    # nobody has the next range (no worker ready yet): read it here
                    part = ranges[next_out]
                    cpu = time.process_time()
                    done[next_out] = _read_range(part, self.path, self.after_record)
                    next_in += 1
                    # the first ranges pay one-time costs (imports, template layouts: 30x
                    # a later range on the mixed benchmark file), so the rate of the next
                    # few decides. CPU time, not wall: a busy machine should not decide
                    if not pool.started and _WARM_RANGES <= part.number < _WARM_RANGES + _SAMPLED_RANGES:
                        busy += time.process_time() - cpu
                        sampled += part.end - part.start
                        if part.number == _WARM_RANGES + _SAMPLED_RANGES - 1:
                            rate = sampled / max(busy, 1e-6)
                            if (self._size - part.end) / rate > self.spawn_after:
                                pool.start()
                                self.worker_pids = pool.pids()
                    continue
                done.update(pool.poll(timeout=0.5))
                done.update(pool.reap(self.path, self.after_record))
        finally:
            pool.close()

    def _merge(self, result: _RangeResult) -> None:
        stats, part = self.stats, result.stats
        stats.records += part.records
        stats.events += part.events
        stats.skipped += part.skipped
        stats.warnings.update(part.warnings)
        stats.see(part.first_time)
        stats.see(part.last_time)
        self._unknown |= result.unknown
        self.max_seen = max(self.max_seen, result.max_seen)
        self.last_record = max(self.last_record, result.last_record)
        self.fast_chunks += result.fast_chunks
        self.slow_chunks += result.slow_chunks


# ---------------------------------------------------------------------------- EVTX frames
_BATCH = 8192  # rows turned into a frame at once when reading in-process
_RANGE_CHUNKS = 32  # 2 MiB of chunks per range handed to a worker
#: CPU seconds of estimated in-process work left that justify starting workers. With the C
#: reader and sink a worker's record costs more CPU than reading it here (the parent still
#: decodes the Arrow IPC and runs the detectors; two interpreters start): on the 300,000-record
#: benchmark files (1.2-2 s here) workers lost in wall and CPU time in every A/B, on a
#: 1,200,000-record file (~5-6 s) they won or lost depending on the load (docs/evtx-binary.md)
_SPAWN_AFTER = 4.0
_WARM_RANGES = 2  # ranges read before the rate of the next ones is sampled
_SAMPLED_RANGES = 3  # ranges whose CPU time per byte estimates the rest of the file
_RANGE_TIMEOUT = 120.0  # seconds one worker may spend on one range before it is killed
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_CHUNK_NUMBER = re.compile(r"chunk number (\d+)")
_NUMBER_TEXT = {int(x): x for x in INTERESTING}
_C_LAYOUT = functools.partial(evtxbin.c_layout, wanted=EVENT_FIELDS)  # one object: the C cache's key

_CReader = Callable[
    [bytes, frozenset[int], Callable[..., evtxbin.CLayout | None]], list[evtxbin.Record] | None
]
_c_read_chunk: _CReader | None
_c_row: Callable[[str, tuple[Any, ...], str], Row | None] | None
_CSink: type[_evtxbin.Sink] | None
try:  # the C version of evtxbin.read_chunk (setup.py builds it; optional)
    from smbguard.logs._evtxbin import Sink as _CSink
    from smbguard.logs._evtxbin import configure as _c_configure
    from smbguard.logs._evtxbin import read_chunk as _c_read_chunk
    from smbguard.logs._evtxbin import row as _c_row
except ImportError:  # no compiler at install time: the Rust parser reads every chunk
    _c_read_chunk = None
    _c_row = None
    _CSink = None
else:  # _evtxbin.row: event_row for the hot event IDs (the same row, or None: event_row decides)
    _c_configure(
        (EventKind.LOGON, EventKind.LOGON_FAILURE, EventKind.SHARE_CONNECT, EventKind.FILE_ACCESS,
         EventKind.FILE_DELETE, EventKind.FILE_WRITE),
        (*_LOGON, "AccessList", *_SHARE_ACCESS[1:], "Workstation", "PackageName"),
    )  # fmt: skip


def read_chunk_py(chunk: bytes) -> list[evtxbin.Record] | None:
    """The records of a 64 KiB chunk by the Python reference :func:`evtxbin.read_chunk`,
    None where it declines."""
    try:
        return evtxbin.read_chunk(chunk, _INTERESTING_NUMBERS, EVENT_FIELDS)
    except DecodeError:
        return None


def read_chunk(chunk: bytes) -> list[evtxbin.Record] | None:
    """The records of a 64 KiB chunk without XML: the C reader when built (same records as
    :func:`read_chunk_py` where both accept; tests/logs/test_evtxbin.py), else the
    Python reference; None: the chunk goes to the Rust parser."""
    if _c_read_chunk is not None:
        return _c_read_chunk(chunk, _INTERESTING_NUMBERS, _C_LAYOUT)
    return read_chunk_py(chunk)


def rows_to_frame(rows: list[Row]) -> pl.DataFrame:
    """Rows (:func:`event_row`) -> an event frame, equal to ``events_to_frame`` of their events.

    Times become microseconds since the epoch in Python and a Datetime column in polars
    (polars converts ``datetime`` objects one by one, several times slower)."""
    import polars as pl

    schema = frame_schema()
    columns: list[pl.Series] = []
    for name, values in zip(EVENT_COLUMNS, zip(*rows, strict=True), strict=True):
        if name == "time":
            micros = [None if when is None else (when - _EPOCH) // _MICROSECOND for when in values]
            columns.append(pl.Series(name, micros, dtype=pl.Int64).cast(schema[name]))
        else:
            columns.append(pl.Series(name, values, dtype=schema[name]))
    return pl.DataFrame(columns)


class _ArrowPair:
    """One column from ``Sink.take()``: an Arrow C data interface capsule pair (polars
    imports it without copying; as ``samba._ArrowColumn``)."""

    __slots__ = ("pair",)

    def __init__(self, pair: tuple[object, object]) -> None:
        self.pair = pair

    def __arrow_c_array__(self, requested_schema: object = None) -> tuple[object, object]:
        return self.pair


def _sink_frame(sink: _evtxbin.Sink) -> pl.DataFrame:
    """The sink's rows as an event frame (the sink starts empty again)."""
    import polars as pl

    columns = sink.take()
    return pl.DataFrame(
        [pl.Series(name, _ArrowPair(pair)) for name, pair in zip(EVENT_COLUMNS, columns, strict=True)]
    )


def _odd_row(sink: _evtxbin.Sink, row: Row) -> Iterator[pl.DataFrame]:
    """A row the sink does not take: the sink's rows so far, then the row by the reference."""
    if sink.rows:
        yield _sink_frame(sink)
    yield rows_to_frame([row])


def _file_chunk_numbers(message: str, first_chunk: int) -> str:
    """A parser message about a range parsed on its own, with the file's chunk numbers."""
    if not first_chunk or "chunk number" not in message:
        return message
    return _CHUNK_NUMBER.sub(lambda m: f"chunk number {int(m.group(1)) + first_chunk}", message)


class _FrameBuffer:
    """Joins small frames and cuts big ones so every frame yielded has at most ``rows`` rows."""

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.parts: list[pl.DataFrame] = []
        self.count = 0

    def add(self, frame: pl.DataFrame) -> Iterator[pl.DataFrame]:
        if frame.height == 0:
            return
        self.parts.append(frame)
        self.count += frame.height
        while self.count >= self.rows:
            whole = self._joined()
            yield whole.slice(0, self.rows)
            rest = whole.slice(self.rows)
            self.parts = [rest] if rest.height else []
            self.count = rest.height

    def flush(self) -> Iterator[pl.DataFrame]:
        if self.count:
            yield self._joined()
        self.parts, self.count = [], 0

    def _joined(self) -> pl.DataFrame:
        import polars as pl

        return self.parts[0] if len(self.parts) == 1 else pl.concat(self.parts)


class _Range(NamedTuple):
    """Chunks ``first_chunk``.. of the file: bytes ``start``..``end`` (the last range ends at EOF)."""

    number: int  # position in the file's list of ranges
    first_chunk: int
    start: int
    end: int
    fast: bool = False  # read chunks with evtxbin where it can (EvtxSource.fast)
    sink: bool = False  # and make the columns in C (EvtxSource.sink)


@dataclass(slots=True)
class _RangeResult:
    frame: pl.DataFrame | None
    stats: SourceStats
    unknown: set[str]
    max_seen: int
    last_record: int
    fast_chunks: int = 0
    slow_chunks: int = 0


def _read_range(part: _Range, path: str, after_record: int) -> _RangeResult:
    """Parse one range on its own: the file header followed by the range's bytes."""
    import io

    source = EvtxSource(path, after_record)
    with open(path, "rb") as handle:
        header = handle.read(_HEADER)
        handle.seek(part.start)
        body = handle.read(part.end - part.start)
    records = source._parser(io.BytesIO(header + body))
    rows: list[Row] = []
    frame = None
    if records is not None and part.fast and part.sink and _CSink is not None:
        del records
        sink = source._new_sink()
        try:
            frames = list(source._sink_frames(header, body, part.first_chunk, sink))
            if sink.rows:
                frames.append(_sink_frame(sink))
        finally:
            source._merge_sink(sink)
        if frames:
            import polars as pl

            frame = frames[0] if len(frames) == 1 else pl.concat(frames)
    elif records is not None:
        rows = list(
            source._chunk_rows(header, body, part.first_chunk)
            if part.fast
            else source._rows(records, part.first_chunk)
        )
        frame = rows_to_frame(rows) if rows else None
    return _RangeResult(
        frame, source.stats, source._unknown, source.max_seen, source.last_record,
        source.fast_chunks, source.slow_chunks,
    )  # fmt: skip


def _lost_range(part: _Range, path: str, after_record: int, why: str) -> _RangeResult:
    stats = SourceStats(path=path, type=EvtxSource.type)
    stats.skipped += 1
    last = part.first_chunk + (part.end - part.start) // _CHUNK - 1
    stats.warn(f"chunks {part.first_chunk}-{max(last, part.first_chunk)} not read: {why}")
    return _RangeResult(None, stats, set(), 0, after_record)


def _worker_main(read_fd: int, write_fd: int) -> None:
    """A worker process (see ``_Pool.start``): parse the ranges it is sent on ``read_fd``,
    answer each on ``write_fd`` with its frame as Arrow IPC and its counters."""
    import io
    import pickle
    from multiprocessing.connection import Connection

    # one polars thread: the workers are the parallelism (2 cores, 2 workers, the parent)
    os.environ["POLARS_MAX_THREADS"] = "1"
    import evtx  # noqa: F401 - imported before saying "ready"
    import polars  # noqa: F401

    tasks = Connection(read_fd, writable=False)
    conn = Connection(write_fd, readable=False)
    try:
        conn.send(("ready",))
    except OSError:  # the parent is gone or done already
        return
    while True:
        try:
            task = tasks.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        part, path, after_record = task
        try:
            result = _read_range(part, path, after_record)
            ipc = None
            if result.frame is not None:
                buffer = io.BytesIO()
                result.frame.write_ipc(buffer)
                ipc = buffer.getvalue()
            result.frame = None
            message: tuple[Any, ...] = ("ok", part.number, ipc, result)
        except Exception as exc:  # noqa: BLE001 - sent to the parent, raised where the range is yielded
            try:
                pickle.dumps(exc)
                error: BaseException = exc
            except Exception:  # noqa: BLE001 - an unpicklable exception is sent as text
                error = RuntimeError(f"{type(exc).__name__}: {exc}")
            message = ("error", part.number, error)
        try:
            conn.send(message)
        except (OSError, ValueError):
            return


@dataclass(slots=True)
class _Worker:
    process: subprocess.Popen[bytes]
    tasks: Connection  # to the worker
    conn: Connection  # from the worker
    ready: bool = False
    dead: bool = False
    queue: deque[_Range] = field(default_factory=deque)  # ranges sent, answers pending (in order)
    since: float = 0.0  # when the head of the queue was started
    timed_out: bool = False


class _Pool:
    """Worker processes, each a fresh interpreter (never a fork: polars is multi-threaded) with a
    pipe each way. Not ``multiprocessing``'s "spawn": that re-imports the caller's main module in
    every worker (slow, and unsafe for scripts without a ``__main__`` guard)."""

    def __init__(self, size: int, timeout: float) -> None:
        self.size = size
        self.timeout = timeout
        self.workers: list[_Worker] = []
        self.started = False

    def start(self) -> None:
        import sys
        from multiprocessing.connection import Connection

        import smbguard

        self.started = True
        package_dir = os.path.dirname(os.path.dirname(os.path.abspath(smbguard.__file__)))
        for _ in range(self.size):
            task_read, task_write = os.pipe()
            answer_read, answer_write = os.pipe()
            code = (
                f"import sys; sys.path.insert(0, {package_dir!r}); "
                "from smbguard.logs.winevent import _worker_main; "
                f"_worker_main({task_read}, {answer_write})"
            )
            try:
                process = subprocess.Popen(
                    [sys.executable, "-c", code],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    pass_fds=(task_read, answer_write),
                    process_group=0,  # Ctrl-C reaches the parent only; it stops the workers
                )
            except OSError:  # cannot start a process: fewer workers, the parent reads the rest
                for fd in (task_read, task_write, answer_read, answer_write):
                    os.close(fd)
                return
            os.close(task_read)
            os.close(answer_write)
            tasks = Connection(task_write, readable=False)
            answers = Connection(answer_read, writable=False)
            self.workers.append(_Worker(process, tasks, answers))

    def alive(self) -> bool:
        return any(not w.dead for w in self.workers)

    def pids(self) -> list[int]:
        return [w.process.pid for w in self.workers]

    def assign(self, part: _Range, path: str, after_record: int) -> bool:
        """Send a range to the least busy ready worker (at most two queued each); False if none."""
        idle = [w for w in self.workers if w.ready and not w.dead and len(w.queue) < 2]
        if not idle:
            return False
        worker = min(idle, key=lambda w: len(w.queue))
        try:
            worker.tasks.send((part, path, after_record))
        except (OSError, ValueError):
            worker.dead = True
            return False
        if not worker.queue:
            worker.since = time.monotonic()
        worker.queue.append(part)
        return True

    def poll(self, timeout: float) -> list[tuple[int, _RangeResult | BaseException]]:
        """Answers that arrived (waiting up to ``timeout`` seconds for the first)."""
        from multiprocessing.connection import wait

        live = {w.conn: w for w in self.workers if not w.dead}
        if not live:
            return []
        answers: list[tuple[int, _RangeResult | BaseException]] = []
        for conn in wait(list(live), timeout):
            worker = live[conn]  # type: ignore[index]
            try:
                message = worker.conn.recv()
            except (EOFError, OSError):
                worker.dead = True  # reap() reports its ranges
                continue
            if message[0] == "ready":
                worker.ready = True
                continue
            part = worker.queue.popleft()
            worker.since = time.monotonic()
            if message[0] == "ok":
                result: _RangeResult = message[3]
                if message[2] is not None:
                    import io

                    import polars as pl

                    result.frame = pl.read_ipc(io.BytesIO(message[2]))
                answers.append((part.number, result))
            else:
                answers.append((part.number, message[2]))
        return answers

    def reap(self, path: str, after_record: int) -> list[tuple[int, _RangeResult | BaseException]]:
        """Workers that died or overran ``timeout``: the range each was on is reported lost
        (a warning and one skipped); ranges queued behind it are read in this process."""
        answers: list[tuple[int, _RangeResult | BaseException]] = []
        now = time.monotonic()
        for worker in self.workers:
            if not worker.dead:
                if worker.process.poll() is not None:
                    worker.dead = True
                elif worker.queue and now - worker.since > self.timeout:
                    worker.process.kill()
                    worker.dead = worker.timed_out = True
            if not (worker.dead and worker.queue):
                continue
            with contextlib.suppress(subprocess.TimeoutExpired):
                worker.process.wait(1.0)
            why = (
                f"parser process timed out after {self.timeout:g} s"
                if worker.timed_out
                else f"parser process died (exit code {worker.process.returncode})"
            )
            head = worker.queue.popleft()
            answers.append((head.number, _lost_range(head, path, after_record, why)))
            while worker.queue:
                part = worker.queue.popleft()
                answers.append((part.number, _read_range(part, path, after_record)))
        return answers

    def close(self) -> None:
        """Stop every worker: ask, then terminate, then kill; never leaves a process behind."""
        for worker in self.workers:
            with contextlib.suppress(OSError, ValueError):
                worker.tasks.send(None)
            worker.tasks.close()
            worker.conn.close()
        deadline = time.monotonic() + 2.0
        for worker in self.workers:
            process = worker.process
            for stop in (None, process.terminate, process.kill):
                if stop is not None:
                    stop()
                try:
                    process.wait(max(0.0, deadline - time.monotonic()) if stop is None else 1.0)
                    break
                except subprocess.TimeoutExpired:
                    continue
            else:
                process.wait()


class EventXmlSource:
    """Exported event XML: ``<Event>`` elements, optionally inside ``<Events>``; streamed."""

    type = "event-xml"

    def __init__(self, path: str, opener: Any = None) -> None:
        self.path = path
        self.opener = opener
        self.stats = SourceStats(path=path, type=self.type)

    def events(self) -> Iterator[Event]:
        buf = ""
        with _open_text(self.path, self.opener) as handle:
            while True:
                chunk = handle.read(1 << 20)
                if not chunk:
                    break
                buf += chunk
                while True:
                    start_match = _EVENT_START.search(buf)
                    if start_match is None:
                        buf = buf[-16:]  # keep a possible partial "<Event" tag
                        break
                    start = start_match.start()
                    end = buf.find("</Event>", start)
                    if end < 0:
                        buf = buf[start:]
                        break
                    doc = buf[start : end + 8]
                    buf = buf[end + 8 :]
                    yield from self._one(doc)
                if len(buf) > 1 << 22:  # no </Event> in 4 MiB: garbage, drop it
                    self.stats.skipped += 1
                    self.stats.warn("oversized XML fragment without </Event> skipped")
                    buf = ""
        if _EVENT_START.search(buf):
            self.stats.skipped += 1
            self.stats.warn("truncated final <Event> element skipped")

    def _one(self, doc: str) -> Iterator[Event]:
        self.stats.records += 1
        if not doc:
            self.stats.skipped += 1
            self.stats.warn("unmatched </Event> skipped")
            return
        event_id, event = event_from_xml(doc, self.path)
        if event_id is None:
            self.stats.skipped += 1
            self.stats.warn("<Event> without EventID skipped")
        if event is not None:
            self.stats.events += 1
            self.stats.see(event.time)
            yield event


def _flatten_json_event(obj: Any) -> tuple[str | None, dict[str, str], str | None, str | None, str | None]:
    """evtx_dump JSON ``{"Event": {"System": ..., "EventData": ...}}``
    -> (id, data, time, computer, channel)."""
    event = obj.get("Event", obj) if isinstance(obj, dict) else None
    if not isinstance(event, dict):
        return None, {}, None, None, None
    system = event.get("System", {})
    if not isinstance(system, dict):
        return None, {}, None, None, None
    eid = system.get("EventID")
    if isinstance(eid, dict):
        eid = eid.get("#text")
    time_created = system.get("TimeCreated", {})
    when = time_created.get("#attributes", {}).get("SystemTime") if isinstance(time_created, dict) else None
    data: dict[str, str] = {}
    for section in ("EventData", "UserData"):
        part = event.get(section)
        if isinstance(part, dict):
            if section == "UserData" and len(part) == 1:
                (inner,) = part.values()
                part = inner if isinstance(inner, dict) else part
            for key, value in part.items():
                if key != "#attributes" and not isinstance(value, dict | list):
                    data[key] = "" if value is None else str(value)
    computer = system.get("Computer")
    channel = system.get("Channel")
    return (
        str(eid) if eid is not None else None,
        data,
        str(when) if when else None,
        str(computer) if computer else None,
        str(channel) if channel else None,
    )


class EventJsonSource:
    """Exported events as JSON lines (evtx_dump ``-o jsonl``) or one JSON array."""

    type = "event-json"

    def __init__(self, path: str, opener: Any = None) -> None:
        self.path = path
        self.opener = opener
        self.stats = SourceStats(path=path, type=self.type)

    def events(self) -> Iterator[Event]:
        with _open_text(self.path, self.opener) as handle:
            first = handle.read(1)
            rest = handle.read() if first == "[" else None
            if rest is not None:  # a JSON array: bounded by the file, parsed once
                try:
                    items = json.loads(first + rest)
                except (ValueError, RecursionError):
                    self.stats.skipped += 1
                    self.stats.warn("invalid JSON array")
                    return
                for item in items if isinstance(items, list) else []:
                    yield from self._one(item)
                return
            line_iter = _prepend(first, handle)
            for line in line_iter:
                if not line.strip():
                    continue
                try:
                    obj = json.loads(line)
                except (ValueError, RecursionError):
                    self.stats.records += 1
                    self.stats.skipped += 1
                    self.stats.warn("malformed JSON line skipped")
                    continue
                yield from self._one(obj)

    def _one(self, obj: Any) -> Iterator[Event]:
        self.stats.records += 1
        eid, data, when, computer, channel = _flatten_json_event(obj)
        if eid is None:
            self.stats.skipped += 1
            self.stats.warn("JSON object without Event/System/EventID skipped")
            return
        if eid not in INTERESTING:
            return
        event = event_from_fields(
            eid, data, source=self.path, when=parse_time(when), computer=computer, channel=channel
        )
        if event is not None:
            self.stats.events += 1
            self.stats.see(event.time)
            yield event


def _prepend(first: str, handle: Any) -> Iterator[str]:
    line = first + handle.readline()
    if line:
        yield line
    yield from handle


def _open_text(path: str, opener: Any) -> Any:
    if opener is not None:
        return opener(path)
    return open(path, encoding="utf-8", errors="replace")
