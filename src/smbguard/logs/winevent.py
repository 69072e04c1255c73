"""Windows event logs: EVTX files (via the Rust-backed ``evtx`` package) and
exported event XML (wevtutil / Get-WinEvent ``ToXml()``) or JSON (evtx_dump).

Every record is rendered as XML by the parser and read with a few anchored
regular expressions: that is faster than building a JSON tree per record (see
``benchmarks/logs_bench.py``), and the same code reads exported XML. Records
whose EventID is not one we interpret are counted and skipped before any field
is extracted.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any

from smbguard.logs.events import Event, EventKind, SourceStats

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


def _ip(data: Mapping[str, str], key: str = "IpAddress") -> str | None:
    value = _val(data, key)
    if value is None:
        return None
    if value.startswith("::ffff:"):
        value = value[7:]
    return value


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


def event_from_fields(
    event_id: str,
    data: Mapping[str, str],
    *,
    source: str,
    when: datetime | None,
    computer: str | None,
    channel: str | None = None,
) -> Event | None:
    """Map one Windows event (its EventData/UserData name->value pairs) to an :class:`Event`.

    Returns None for an EventID we do not interpret."""
    if event_id in ("4624", "4625"):
        logon_type = _val(data, "LogonType")
        return Event(
            kind=EventKind.LOGON if event_id == "4624" else EventKind.LOGON_FAILURE,
            src_ip=_ip(data),
            workstation=_val(data, "WorkstationName"),
            user=_val(data, "TargetUserName"),
            domain=_val(data, "TargetDomainName"),
            status=_val(data, "SubStatus") if event_id == "4625" else None,
            logon_type=int(logon_type) if logon_type and logon_type.isdigit() else None,
            auth_package=_val(data, "AuthenticationPackageName"),
            lm_package=_val(data, "LmPackageName"),
            detail=_val(data, "Status"),
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id == "4776":
        status = _val(data, "Status") or "0x0"
        ok = status.lower() in ("0x0", "0")
        return Event(
            kind=EventKind.LOGON if ok else EventKind.LOGON_FAILURE,
            workstation=_val(data, "Workstation"),
            user=_val(data, "TargetUserName"),
            status=None if ok else status,
            auth_package=_val(data, "PackageName"),
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id in ("5140", "5145"):
        target = _val(data, "RelativeTargetName")
        access = data.get("AccessList", "")
        share = _share(_val(data, "ShareName"))
        kind = EventKind.SHARE_CONNECT if event_id == "5140" else EventKind.FILE_ACCESS
        if event_id == "5145":
            if _DELETE_CODE in access:
                kind = EventKind.FILE_DELETE
            elif (_WRITE_CODES[0] in access or _WRITE_CODES[1] in access) and share != "IPC$":
                kind = EventKind.FILE_WRITE
        return Event(
            kind=kind,
            src_ip=_ip(data),
            user=_val(data, "SubjectUserName"),
            domain=_val(data, "SubjectDomainName"),
            share=share,
            path=target,
            status=_val(data, "AccessMask"),
            detail=" ".join(access.split()) or None,
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id in ("5142", "5143", "5144"):
        kind = {"5142": EventKind.SHARE_CREATED, "5143": EventKind.SHARE_CHANGED}.get(
            event_id, EventKind.SHARE_DELETED
        )
        detail = None
        if event_id == "5143":
            old, new = _val(data, "OldSD"), _val(data, "NewSD")
            detail = f"{old} -> {new}" if old != new else None
        return Event(
            kind=kind,
            user=_val(data, "SubjectUserName"),
            domain=_val(data, "SubjectDomainName"),
            share=_share(_val(data, "ShareName")),
            path=_val(data, "ShareLocalPath"),
            detail=detail,
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id == "3000" and (channel is None or "SMBServer" in channel):
        client = _val(data, "ClientName")
        return Event(
            kind=EventKind.SMB1_ACCESS,
            src_ip=client,
            protocol="SMB1",
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id == "551" and (channel is None or "SMBServer" in channel):
        return Event(
            kind=EventKind.LOGON_FAILURE,
            src_ip=_val(data, "ClientName"),
            user=_val(data, "UserName"),
            status=_val(data, "Status"),
            auth_package="SMB",
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    if event_id in ("31017", "31018") and (
        channel is None or "SmbClient" in channel or "SMBClient" in channel
    ):
        return Event(
            kind=EventKind.INSECURE_GUEST,
            user=_val(data, "UserName"),
            share=_val(data, "ShareName"),
            detail=_val(data, "ServerName"),
            source=source,
            event_id=event_id,
            time=when,
            server=computer,
        )
    return None


def _between(text: str, start: str, end: str, pos: int = 0) -> str | None:
    """The text between the first ``start`` after ``pos`` and the next ``end`` (str.find: fast)."""
    i = text.find(start, pos)
    if i < 0:
        return None
    i += len(start)
    j = text.find(end, i)
    return text[i:j] if j >= 0 else None


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
    event_id, end = _event_id(xml)
    if event_id is None or event_id not in INTERESTING:
        return event_id, None
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
    # SystemTime, Channel and Computer after the EventID (inlined _between: hot path)
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
    return event_id, event_from_fields(
        event_id,
        data,
        source=source,
        when=parse_time(when_text),
        computer=computer,
        channel=channel,
    )


class EvtxSource:
    """A binary ``.evtx`` file. Corrupt chunks are skipped with a counted warning; a
    truncated last chunk is reported (the parser cannot recover its records)."""

    type = "evtx"

    def __init__(self, path: str, after_record: int = 0) -> None:
        self.path = path
        self.stats = SourceStats(path=path, type=self.type)
        self.after_record = after_record  # ``logs watch``: skip records up to this EventRecordID
        self.last_record = after_record
        self.max_seen = 0  # highest EventRecordID in the file, skipped records included

    def events(self) -> Iterator[Event]:
        import evtx  # Rust-backed; imported lazily so the rest works without it

        try:
            size = os.path.getsize(self.path)
        except OSError as exc:
            self.stats.warn(f"cannot stat: {exc.strerror}")
            return
        extra = (size - _HEADER) % _CHUNK if size >= _HEADER else size
        if extra:
            self.stats.warn(
                f"file is truncated: last {extra} bytes are an incomplete chunk and were not read"
            )
        try:
            parser = evtx.PyEvtxParser(self.path, number_of_threads=1)
            records = parser.records()
        except (RuntimeError, OSError, ValueError) as exc:
            self.stats.warn(f"not a readable EVTX file: {exc}")
            self.stats.skipped += 1
            return
        stats = self.stats
        unknown: set[str] = set()
        path = self.path
        after = self.after_record
        # max_seen/last_record are kept in locals on the hot path and stored back
        # after every record that could be the last one seen by a consumer.
        max_seen, last_record = self.max_seen, self.last_record
        read = 0
        step = records.__next__
        try:
            while True:
                try:
                    record = step()
                except StopIteration:
                    break
                except (RuntimeError, OSError, ValueError) as exc:
                    stats.skipped += 1
                    stats.warn(f"corrupt record or chunk skipped: {str(exc)[:120]}")
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
                event_id, event = event_from_xml(xml, path)
                if event is None:
                    if event_id is None:
                        stats.skipped += 1
                        stats.warn("record without EventID skipped")
                    else:
                        unknown.add(event_id)
                    continue
                stats.events += 1
                stats.see(event.time)
                stats.records += read
                read = 0
                self.max_seen, self.last_record = max_seen, last_record
                yield event
        finally:
            stats.records += read
            self.max_seen, self.last_record = max_seen, last_record
        if unknown:
            stats.warn(f"event IDs not interpreted (counted, not analysed): {', '.join(sorted(unknown))}")


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
