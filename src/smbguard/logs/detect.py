"""Content sniffing: which :class:`LogSource` reads a file, whatever its name.

gzip is unwrapped transparently; directories are walked recursively.
"""

from __future__ import annotations

import gzip
import os
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import IO

from smbguard.logs.events import Event, LogSource, SourceStats
from smbguard.logs.samba import SambaSource, looks_like_samba
from smbguard.logs.winevent import EVTX_MAGIC, EventJsonSource, EventXmlSource, EvtxSource
from smbguard.logs.zeek import ZeekSource

PCAP_MAGICS = (
    b"\xd4\xc3\xb2\xa1",
    b"\xa1\xb2\xc3\xd4",
    b"\x4d\x3c\xb2\xa1",
    b"\xa1\xb2\x3c\x4d",
    b"\x0a\x0d\x0d\x0a",
)
_SNIFF = 65536


def _gzip_open(path: str) -> IO[bytes]:
    return gzip.open(path, "rb")  # type: ignore[return-value]


def _text_gzip_open(path: str) -> IO[str]:
    return gzip.open(path, "rt", encoding="utf-8", errors="replace")


def sniff(path: str) -> str:
    """Return the source type of ``path``: evtx, pcap, zeek, samba, event-xml, event-json, or unknown
    (prefixed with ``gzip:`` when compressed)."""
    with open(path, "rb") as handle:
        magic = handle.read(8)
    if magic.startswith(EVTX_MAGIC):
        return "evtx"
    if magic[:4] in PCAP_MAGICS:
        return "pcap"
    prefix = ""
    opener: Callable[[str], IO[bytes]] = lambda p: open(p, "rb")  # noqa: E731, SIM115
    if magic.startswith(b"\x1f\x8b"):
        prefix, opener = "gzip:", _gzip_open
    try:
        with opener(path) as handle:
            head = handle.read(_SNIFF)
    except (OSError, EOFError, gzip.BadGzipFile):
        return "unknown"
    if prefix and head[:4] in PCAP_MAGICS:
        return "unknown"  # compressed captures are not supported
    return prefix + _sniff_text(head)


def _sniff_text(head: bytes) -> str:
    text = head.decode("utf-8", "replace")
    stripped = text.lstrip("\ufeff \r\n\t")
    lines = [line for line in stripped.splitlines()[:20] if line and not line.startswith("### BTest")]
    first = lines[0] if lines else ""
    if first.startswith("#separator") or "\n#fields\t" in text or first.startswith("ts\tuid\t"):
        return "zeek"
    if any("\tEternalSafety::" in line for line in lines[:10]):
        return "zeek"
    if first.startswith("{") and '"id.orig_h"' in first:
        return "zeek"
    if stripped.startswith("<?xml") or stripped.startswith("<Event"):
        return "event-xml"
    if (first.startswith("{") or first.startswith("[")) and '"EventID"' in text[:8192]:
        return "event-json"
    if looks_like_samba(text):
        return "samba"
    return "unknown"


@dataclass(slots=True)
class UnknownSource:
    """A file no source recognised: reported with a warning, never silently dropped."""

    stats: SourceStats

    def events(self) -> Iterator[Event]:
        return iter(())


def open_source(path: str, kind: str | None = None) -> LogSource:
    """The :class:`LogSource` for one file (type auto-detected unless ``kind`` is given)."""
    try:
        kind = kind or sniff(path)
    except OSError as exc:
        stats = SourceStats(path=path, type="unreadable")
        stats.warn(f"cannot read: {exc.strerror or exc}")
        return UnknownSource(stats)
    gz = kind.startswith("gzip:")
    base = kind.removeprefix("gzip:")
    bopener = _gzip_open if gz else None
    topener = _text_gzip_open if gz else None
    if base == "evtx":
        return EvtxSource(path)
    if base == "pcap":
        from smbguard.logs.capture import CaptureSource  # local: heavier, only when needed

        return CaptureSource(path)
    if base == "zeek":
        return ZeekSource(path, bopener)
    if base == "samba":
        return SambaSource(path, bopener)
    if base == "event-xml":
        return EventXmlSource(path, topener)
    if base == "event-json":
        return EventJsonSource(path, topener)
    stats = SourceStats(path=path, type="unknown")
    stats.warn("format not recognised (not EVTX, event XML/JSON, Samba, Zeek or pcap); skipped")
    stats.skipped = 1
    return UnknownSource(stats)


def expand_paths(paths: Iterable[str]) -> Iterator[str]:
    """Files named directly, and every file below named directories (sorted, hidden files skipped)."""
    for path in paths:
        if os.path.isdir(path):
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                for name in sorted(files):
                    if not name.startswith("."):
                        yield os.path.join(root, name)
        else:
            yield path
