"""Zeek logs: smb_files, smb_mapping, smb_cmd, ntlm, dce_rpc and notice, in the
TSV format (``#fields`` header) or JSON lines; gzip is handled by the opener.

The log type comes from ``#path`` (TSV) or from the field names (JSON).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from typing import IO, Any

from smbguard.logs.events import Event, EventKind, SourceStats, parse_epoch

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
        stats = self.stats
        for raw in lines:
            try:
                event = self.parse_line(raw)
            except (ValueError, IndexError, KeyError, TypeError, StopIteration) as exc:
                stats.skipped += 1
                stats.warn(f"malformed line skipped ({type(exc).__name__})")
                continue
            if event is not None:
                stats.events += 1
                stats.see(event.time)
                yield event
        if self.log_type is not None:
            stats.type = f"zeek:{self.log_type}"

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
