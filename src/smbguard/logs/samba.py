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
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import IO, Any

from smbguard.logs.events import Event, EventKind, SourceStats

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
        self._prefixes: dict[str, tuple[str | None, str | None, str | None]] = {}
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
        stats = self.stats
        for raw in lines:
            stats.records += 1
            try:
                event = self.parse_line(raw)
            except (ValueError, IndexError, KeyError, TypeError, AttributeError, RecursionError) as exc:
                # malformed line: count it and go on
                stats.skipped += 1
                stats.warn(f"malformed line skipped ({type(exc).__name__})")
                continue
            if event is not None:
                stats.events += 1
                stats.see(event.time)
                yield event

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
            try:
                when = datetime(
                    self.year,
                    _MONTHS[m.group(1)],
                    int(m.group(2)),
                    int(m.group(3)),
                    int(m.group(4)),
                    int(m.group(5)),
                    tzinfo=UTC,
                )
            except ValueError:
                when = None
            self._tz_warning()
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
        self._last_syslog = (prefix, when)
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
        prefix_key = "|".join(fields[:op_index])
        cached = self._prefixes.get(prefix_key)
        if cached is None:
            prefix = fields[:op_index]
            user = prefix[0].strip() or None
            if user is not None and " " in user:  # syslog prefix without "]: " separator
                user = user.rsplit(" ", 1)[-1]
            ip = next((p for p in prefix[1:] if _is_ip(p)), None)
            share_from_prefix = prefix[-1] if len(prefix) >= 3 and not _is_ip(prefix[-1]) else None
            cached = (user, ip, share_from_prefix)
            if len(self._prefixes) > 10_000:
                self._prefixes.clear()
            self._prefixes[prefix_key] = cached
        user, ip, share_from_prefix = cached
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


def _auth_time(text: str) -> tuple[datetime | None, bool]:
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
