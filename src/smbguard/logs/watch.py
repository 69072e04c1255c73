"""``logs watch``: follow log files as they grow and print alerts as they happen.

Text logs (Samba, Zeek) are followed like ``tail -F``: only complete lines are
parsed, a file whose inode changed was rotated (the rest of the old file is read
first, then the new one from its start), a file that shrank was truncated (read
again from its start). EVTX files are re-read when they change and only records
with a higher EventRecordID are analysed. Offsets, inodes, record ids and the
keys of alerts already printed are kept in a JSON state file, written atomically
after every poll that changed something, so a restart neither re-reads old lines
nor repeats old alerts. Detector windows (failure counts etc.) start empty after
a restart.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, Any

from smbguard.logs.detect import expand_paths, sniff
from smbguard.logs.detectors import Detector, DetectorSet, Thresholds, default_detectors
from smbguard.logs.events import Event
from smbguard.logs.findings import LogFinding
from smbguard.logs.render import finding_line
from smbguard.logs.samba import SambaSource
from smbguard.logs.winevent import EvtxSource
from smbguard.logs.zeek import ZeekSource

STATE_VERSION = 1
MAX_READ = 16 << 20  # bytes read from one file per poll
MAX_PARTIAL = 1 << 20  # longest incomplete line kept between polls
MAX_ALERT_KEYS = 20_000


def default_state_path() -> str:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "smbguard", "watch-state.json")


@dataclass(slots=True)
class _Followed:
    path: str
    kind: str
    inode: int | None = None
    offset: int = 0
    record: int = 0  # EVTX: highest EventRecordID analysed
    mtime_size: tuple[float, int] | None = None  # EVTX: last seen (mtime, size)
    handle: IO[bytes] | None = None
    parser: SambaSource | ZeekSource | None = None
    pending: bytes = b""
    warnings: set[str] = field(default_factory=set)


class Watcher:
    """Follow files (and files that appear in watched directories); see module docstring."""

    def __init__(
        self,
        paths: list[str],
        state_path: str,
        thresholds: Thresholds | None = None,
        from_start: bool = False,
        detectors: list[Detector] | None = None,
        out: IO[str] | None = None,
    ) -> None:
        self.paths = paths
        self.state_path = state_path
        self.from_start = from_start
        self.detectors = DetectorSet(detectors if detectors is not None else default_detectors(thresholds))
        self.out = out or sys.stdout
        self.files: dict[str, _Followed] = {}
        self.alerted: dict[str, str] = {}
        self._saved: dict[str, Any] = {}
        self._first_poll = True
        self._warned: set[str] = set()
        self._load_state()

    # -- state ---------------------------------------------------------------------------------
    def _load_state(self) -> None:
        try:
            with open(self.state_path, encoding="utf-8") as handle:
                data = json.load(handle)
        except (OSError, ValueError):
            return
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            return
        files = data.get("files", {})
        self._saved = files if isinstance(files, dict) else {}
        alerted = data.get("alerted", {})
        if isinstance(alerted, dict):
            self.alerted = {str(k): str(v) for k, v in alerted.items()}

    def save_state(self) -> None:
        files = dict(self._saved)
        for path, f in self.files.items():
            files[path] = {"kind": f.kind, "inode": f.inode, "offset": f.offset, "record": f.record}
        if len(self.alerted) > MAX_ALERT_KEYS:
            keep = sorted(self.alerted.items(), key=lambda kv: kv[1])[-MAX_ALERT_KEYS:]
            self.alerted = dict(keep)
        document = {"version": STATE_VERSION, "files": files, "alerted": self.alerted}
        directory = os.path.dirname(os.path.abspath(self.state_path))
        os.makedirs(directory, exist_ok=True)
        tmp = f"{self.state_path}.tmp.{os.getpid()}"
        with open(tmp, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(tmp, self.state_path)

    # -- discovery -----------------------------------------------------------------------------
    def _discover(self) -> None:
        for path in expand_paths(self.paths):
            if path in self.files or path == self.state_path or path.startswith(self.state_path + ".tmp"):
                continue
            try:
                if os.path.getsize(path) == 0:
                    continue  # type unknown until something is written
                kind = sniff(path)
            except OSError:
                continue
            if kind not in ("samba", "zeek", "evtx"):
                self._warn_once(path, f"{path}: {kind} files are not followed by watch")
                continue
            f = _Followed(path=path, kind=kind)
            saved = self._saved.get(path)
            st = os.stat(path)
            if isinstance(saved, dict) and saved.get("kind") == kind:
                f.inode = saved.get("inode") if isinstance(saved.get("inode"), int) else None
                f.record = int(saved.get("record") or 0)
                f.offset = int(saved.get("offset") or 0) if f.inode == st.st_ino else 0
            elif not self.from_start and self._first_poll:
                # already there when watching started: only what is written from now on
                f.offset = st.st_size
                if kind == "evtx":
                    f.record = self._max_record(path)
            f.inode = st.st_ino
            self.files[path] = f

    def _warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            print(f"smbguard watch: {message}", file=sys.stderr)

    @staticmethod
    def _max_record(path: str) -> int:
        source = EvtxSource(path)
        for _ in source.events():
            pass
        return source.last_record

    # -- reading -------------------------------------------------------------------------------
    def _events(self, f: _Followed, final: bool = False) -> Iterator[Event]:
        if f.kind == "evtx":
            yield from self._evtx(f)
        else:
            yield from self._text(f, final)

    def _evtx(self, f: _Followed) -> Iterator[Event]:
        try:
            st = os.stat(f.path)
        except OSError:
            return
        stamp = (st.st_mtime, st.st_size)
        if stamp == f.mtime_size:
            return
        f.mtime_size = stamp
        if st.st_ino != f.inode:  # a new log file (cleared or rotated): record ids restart
            f.inode, f.record = st.st_ino, 0
        source = EvtxSource(f.path, after_record=f.record)
        yield from source.events()
        if 0 < source.max_seen < f.record:
            # every record id is below what was already read: the log was cleared or
            # replaced in place (same inode), so all of it is new
            source = EvtxSource(f.path)
            yield from source.events()
        f.record = source.last_record

    def _open(self, f: _Followed) -> None:
        f.handle = open(f.path, "rb")  # noqa: SIM115 - kept open between polls
        f.parser = SambaSource(f.path) if f.kind == "samba" else ZeekSource(f.path)
        f.pending = b""
        if f.kind == "zeek" and f.offset > 0:
            # resume in the middle: the header of the file gives the columns
            for raw in f.handle:
                if not raw.startswith(b"#"):
                    break
                f.parser.parse_line(raw)
        size = os.fstat(f.handle.fileno()).st_size
        if f.offset > size:
            f.offset = 0
        f.handle.seek(f.offset)

    def _text(self, f: _Followed, final: bool = False) -> Iterator[Event]:
        try:
            st = os.stat(f.path)
        except OSError:
            st = None
        if f.handle is None:
            if st is None:
                return
            f.inode = st.st_ino
            self._open(f)
        assert f.handle is not None
        if st is not None and st.st_ino != f.inode:
            # rotated: finish the old file, then start the new one at 0
            yield from self._read_available(f, final=True)
            f.handle.close()
            f.inode, f.offset = st.st_ino, 0
            self._open(f)
        elif st is not None and st.st_size < f.offset:
            # truncated (copytruncate): start again from the beginning
            f.offset = 0
            f.pending = b""
            f.handle.seek(0)
        yield from self._read_available(f, final=final)

    def _read_available(self, f: _Followed, final: bool = False) -> Iterator[Event]:
        """Parse the complete lines written since the last read, in bounded chunks."""
        assert f.handle is not None and f.parser is not None
        while True:
            data = f.handle.read(MAX_READ)
            at_end = len(data) < MAX_READ
            if not data and not (final and f.pending):
                return
            buf = f.pending + data
            cut = len(buf) if (final and at_end) else buf.rfind(b"\n") + 1
            complete, f.pending = buf[:cut], buf[cut:]
            if len(f.pending) > MAX_PARTIAL:
                f.parser.stats.warn("over-long line without newline dropped")
                f.pending = b""
            f.offset = f.handle.tell() - len(f.pending)
            if complete:
                yield from f.parser.events_from_lines(complete.splitlines(keepends=True))
            if at_end:
                return

    # -- loop ----------------------------------------------------------------------------------
    def poll(self, final: bool = False) -> list[LogFinding]:
        """Read whatever is new in every followed file; return alerts not printed before.

        ``final`` (``--once``): a last line without a newline is taken as complete."""
        self._discover()
        self._first_poll = False
        alerts: list[LogFinding] = []
        for f in list(self.files.values()):
            try:
                for event in self._events(f, final):
                    for finding in self.detectors.feed(event):
                        if finding.key not in self.alerted:
                            self.alerted[finding.key] = datetime.now(tz=UTC).isoformat()
                            alerts.append(finding)
            except OSError as exc:
                self._warn_once(f"io:{f.path}", f"{f.path}: {exc}")
        return alerts

    def emit(self, alerts: list[LogFinding], jsonl: bool) -> None:
        for finding in alerts:
            if jsonl:
                self.out.write(finding_line(finding) + "\n")
            else:
                stamp = datetime.now(tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
                summary = "".join(ch if ch.isprintable() else "?" for ch in finding.summary)
                self.out.write(f"{stamp} {finding.severity.label.upper()} {finding.id}: {summary}\n")
        self.out.flush()

    def close(self) -> None:
        for f in self.files.values():
            if f.handle is not None:
                f.handle.close()
                f.handle = None

    def run(self, jsonl: bool = False, interval: float = 1.0, once: bool = False) -> int:
        try:
            while True:
                alerts = self.poll(final=once)
                self.emit(alerts, jsonl)
                self.save_state()
                if once:
                    return 0
                time.sleep(max(0.05, interval))
        except KeyboardInterrupt:
            return 0
        finally:
            self.save_state()
            self.close()
