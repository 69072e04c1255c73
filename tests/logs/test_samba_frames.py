"""SambaSource.frames() against events(): the same rows in the same order and the same
statistics, on the real logs, generated full_audit logs and hypothesis-made hostile lines."""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO
from unittest import mock

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.logs import samba
from smbguard.logs.detect import sniff
from smbguard.logs.events import events_to_frame
from smbguard.logs.samba import SambaSource

Opener = Callable[[str], IO[bytes]] | None


def _gzip(path: str) -> IO[bytes]:
    return gzip.open(path, "rb")  # type: ignore[return-value]


def _read_frames(
    path: Path, year: int | None, opener: Opener, rows: int, workers: int | None
) -> tuple[SambaSource, list[pl.DataFrame], str]:
    source = SambaSource(str(path), opener=opener, year=year)
    frames: list[pl.DataFrame] = []
    error = ""
    try:
        for frame in source.frames(rows, workers=workers):
            frames.append(frame)
    except (OSError, EOFError, ValueError) as exc:
        error = type(exc).__name__
    return source, frames, error


def _read_events(path: Path, year: int | None, opener: Opener) -> tuple[SambaSource, pl.DataFrame, str]:
    source = SambaSource(str(path), opener=opener, year=year)
    events = []
    error = ""
    try:
        for event in source.events():
            events.append(event)
    except (OSError, EOFError, ValueError) as exc:
        error = type(exc).__name__
    return source, events_to_frame(events), error


def assert_same(
    path: Path,
    year: int | None = 2019,
    opener: Opener = None,
    rows: int = 131_072,
    workers: int | None = None,
) -> pl.DataFrame:
    """frames() (any block size, any rows, parsed ahead in threads or not) == events():
    rows, order and stats."""
    fsource, frames, ferror = _read_frames(path, year, opener, rows, workers)
    esource, expected, eerror = _read_events(path, year, opener)
    assert ferror == eerror
    assert frames or ferror, "frames() yields at least one (possibly empty) frame"
    assert all(f.height <= rows for f in frames)
    got = pl.concat(frames) if frames else events_to_frame(())
    assert got.schema == expected.schema
    if not got.equals(expected):  # show the first differing row
        for i, (a, b) in enumerate(zip(got.iter_rows(), expected.iter_rows(), strict=False)):
            assert a == b, f"row {i}"
        assert got.height == expected.height
    assert fsource.stats.to_dict() == esource.stats.to_dict()
    return got


ANY = 1 << 40
# the column readers: the C line reader (when built) and the polars one (always there)
READERS = ["polars", *(["c"] if samba._c_scan is not None else [])]


@contextmanager
def _reader(name: str) -> Iterator[None]:
    """frames() with the named column reader ("c": the C module, "polars": without it)."""
    if name == "c":
        assert samba._c_scan is not None
        yield
        return
    with mock.patch.object(samba, "_c_scan", None):
        yield


@contextmanager
def _small_blocks(block: int, fast_share: int = 8, max_odd: int = 64) -> Iterator[None]:
    """Blocks of ``block`` bytes; ``fast_share=ANY`` uses the column path for every block
    with one line it can read."""
    with (
        mock.patch.object(samba, "_FRAME_BLOCK", block),
        mock.patch.object(samba, "_FAST_SHARE", fast_share),
        mock.patch.object(samba, "_MAX_ODD", max_odd),
    ):
        yield


# ------------------------------------------------------------------------------ real logs
def _samba_files(root: Path) -> list[Path]:
    files = sorted(p for p in (root / "logs").rglob("*") if p.is_file())
    return [p for p in files if sniff(str(p)).removeprefix("gzip:") == "samba" or "samba" in p.parts]


@pytest.mark.parametrize("reader", READERS)
def test_every_samba_file_in_the_shared_data(shared_data: Path, reader: str) -> None:
    files = _samba_files(shared_data)
    assert len(files) >= 6
    with _reader(reader):
        for path in files:
            for year in (2019, None):
                assert_same(path, year)
            with _small_blocks(512, ANY, 1_000):  # many blocks, the column path wherever possible
                assert_same(path, 2019, rows=2)
                assert_same(path, 2019, rows=3, workers=0)


@pytest.mark.parametrize("reader", READERS)
def test_real_lines_through_the_column_path(shared_data: Path, tmp_path: Path, reader: str) -> None:
    """The journal excerpt repeated: state (share of the last connect) crosses blocks."""
    text = (shared_data / "logs/samba/timlok-otus-linux_full_audit_journal_excerpt.log").read_bytes()
    log = tmp_path / "journal.log"
    log.write_bytes(text * 300)
    with _reader(reader):
        got = assert_same(log)
        assert got.height == 3 * 300
        with _small_blocks(700, ANY, 1_000):
            assert_same(log, rows=5)


def test_gzip_and_a_truncated_gzip(shared_data: Path, tmp_path: Path) -> None:
    text = (shared_data / "logs/samba/timlok-otus-linux_full_audit_journal_excerpt.log").read_bytes() * 2000
    whole = tmp_path / "audit.log.gz"
    whole.write_bytes(gzip.compress(text))
    assert assert_same(whole, opener=_gzip).height == 3 * 2000
    cut = tmp_path / "cut.log.gz"
    cut.write_bytes(whole.read_bytes()[: len(whole.read_bytes()) // 2])
    with _small_blocks(4096):
        got = assert_same(cut, opener=_gzip)
        assert assert_same(cut, opener=_gzip, workers=0).equals(got)
    assert 0 < got.height < 3 * 2000


# ------------------------------------------------------------------------ generated logs
def _bench_line(i: int) -> str:
    """The line shape of benchmarks/logs_bench.py make_full_audit, with some variants."""
    ops = (
        "pwrite|ok|{d}/file{n}.docx",
        "renameat|ok|{d}/file{n}.docx|{d}/file{n}.docx.bak",
        "openat|ok|r|{d}/file{n}.xlsx",
        "openat|ok|w|{d}/new{n}.xlsx",
        "create_file|ok|0x1|file|create|{d}/c{n}",
        "unlinkat|ok|{d}/tmp{n}.tmp",
        "unlinkat|fail (Permission denied)|{d}/tmp{n}.tmp",
        "close|ok|{d}/file{n}.docx",
        "connect|ok|share{m}",
        "connect|fail|share{m}",
    )
    sec = i // 7
    stamp = f"Sep {1 + sec // 86400 % 30:2d} {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
    op = ops[i % len(ops)].format(d=f"dépt{i % 7}", n=i % 500, m=i % 3)
    prefix = (f"user{i % 13}|10.0.0.{i % 11}|data", f"user{i % 13}|10.0.0.{i % 11}", f"u{i % 5}|::1|pc|s")[
        i // 5000 % 3
    ]
    return f"{stamp} fs smbd_audit[5841]: {prefix}|{op}\n"


@pytest.mark.parametrize("reader", READERS)
def test_generated_full_audit(tmp_path: Path, reader: str) -> None:
    log = tmp_path / "audit.log"
    log.write_text("".join(_bench_line(i) for i in range(30_000)), encoding="utf-8")
    with _reader(reader):
        got = assert_same(log, rows=10_000)
        assert got.height > 20_000
        with _small_blocks(1 << 16):
            assert_same(log, rows=4_096)
        for year in (0, 1, 2020, 9999, 10_000):  # leap years; no valid date at all
            with _small_blocks(1 << 18):
                assert_same(log, year=year, rows=50_000)


def test_iso_times_are_not_taken_from_the_previous_line(tmp_path: Path) -> None:
    """Regression: the time cache of _line_time was keyed on 15 bytes, which an ISO time
    shares with every time of the same 10 minutes."""
    log = tmp_path / "iso.log"
    log.write_text(
        "2024-05-01T10:00:00+00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a\n"
        "2024-05-01T10:07:30+00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|b\n"
    )
    source = SambaSource(str(log))
    times = [e.time for e in source.events()]
    assert times == [datetime(2024, 5, 1, 10, 0, tzinfo=UTC), datetime(2024, 5, 1, 10, 7, 30, tzinfo=UTC)]
    assert_same(log)


# one rule of _full_audit each; True: the column path reads the line (else parse_line does);
# C_MORE: lines the C reader reads and the polars reader does not
_H = "Sep 23 10:00:00 fs smbd_audit[1]: "
RULES = [
    (_H + "alice|10.0.0.5|data|openat|ok|rw|a.txt", True),
    (_H + "alice|10.0.0.5|data|openat|ok|w|a.txt", True),
    (_H + "alice|10.0.0.5|data|openat|ok|r|a.txt", True),
    (_H + "alice|10.0.0.5|data|openat|ok|r|overwrite|a.txt", True),
    (_H + "alice|10.0.0.5|data|create_file|ok|0x1|create|a.txt", True),
    (_H + "alice|10.0.0.5|data|open|ok", False),  # no "|ok|": not a full_audit line at all
    (_H + "alice|10.0.0.5|data|open|ok|", True),
    (_H + "alice|10.0.0.5|data|renameat|ok|a|b", True),
    (_H + "alice|10.0.0.5|data|renameat|ok|a", True),
    (_H + "alice|10.0.0.5|data|renameat|ok", False),
    (_H + "alice|10.0.0.5|data|unlinkat|fail (EPERM)|a", True),
    (_H + "alice|10.0.0.5|data|connect|fail|other", True),
    (_H + "alice|10.0.0.5|data|connect|ok|", True),
    (_H + "alice|10.0.0.5||pwrite|ok|a", True),  # empty share in the prefix: last connect's
    (_H + "alice|10.0.0.5|pwrite|ok|a", True),  # no share in the prefix: last connect's
    (_H + "alice|::1|pc|data|pwrite|ok|a", True),
    (_H + "alice|data|10.0.0.5|pwrite|ok|a", True),  # address last: no share from the prefix
    (_H + "bob smith|10.0.0.5|data|pwrite|ok|a", True),
    (_H + " |10.0.0.5|data|pwrite|ok|a", True),
    (_H + "a|b|c|d|e|pwrite|ok|a", False),  # operation in field 5
    (_H + "alice|10.0.0.5|data|pwrite|ok|a|b|c|d|e|f|g", False),  # more fields than split out
    (_H + "alice|10.0.0.5|close|ok|pwrite|ok|a", True),
    (_H + "alice|10.0.0.5|data|pwrite|ok|a\r", True),
    ("Sep 23 10:00:00 " + "h" * 61 + "[1]: alice|10.0.0.5|data|pwrite|ok|a", True),
    ("Sep 23 10:00:00 " + "h" * 62 + "[1]: alice|10.0.0.5|data|pwrite|ok|a", False),
    ("Feb 29 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a", True),  # time None
    ("Sep 23 10:00:00 fs smbd_audit: alice|10.0.0.5|data|pwrite|ok|a", False),
    ("2024-05-01T10:00:00Z fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a", False),
    (_H + "alice|10.0.0.5|data|pwrite|ok|caf\u00e9", True),
    (_H + "al\u00efce|10.0.0.5|data|pwrite|ok|a", True),
    ("Sep 23 10:00:00 h\u00f4te[1]: alice|10.0.0.5|data|pwrite|ok|a", False),  # head not ASCII
    (_H + "a|b|c|d|e|f|g|h|pwrite|ok|a", False),  # operation in field 8
    (_H + "a|b|c|d|e|f|g|h|i|pwrite|ok|a", False),  # operation in field 9
    (_H + "a|b|c|d|e|f|g|h|i|j|pwrite|ok|a", False),  # field 10: no operation (ValueError)
    (_H + "a|b|c|d|e|f|g|h|i|pwrite|ok", False),  # no "|ok|"
    (_H + "a|b|c|d|e|f|g|h|i|pwrite|fail", False),  # last field the result
    (_H + "alice|10.0.0.5|data|create_file|ok|0x1|file|a|b|c|overwrite|x", False),
]
C_MORE = {
    _H + "a|b|c|d|e|pwrite|ok|a",
    _H + "alice|10.0.0.5|data|pwrite|ok|a|b|c|d|e|f|g",
    _H + "a|b|c|d|e|f|g|h|pwrite|ok|a",
    _H + "a|b|c|d|e|f|g|h|i|pwrite|ok|a",
    _H + "a|b|c|d|e|f|g|h|i|pwrite|fail",
    _H + "alice|10.0.0.5|data|create_file|ok|0x1|file|a|b|c|overwrite|x",
}


def _fast_lines_read(log: Path) -> int:
    """assert_same(log), and how many lines the column reader read (not parse_line)."""
    read: list[int] = []
    original = SambaSource._commit

    def spy(self: SambaSource, parsed: samba._Parsed) -> list[pl.DataFrame]:
        if parsed.fast_n is not None:
            read.append(parsed.fast_n.len())
        return original(self, parsed)

    with _small_blocks(1 << 22, ANY, 1_000), mock.patch.object(SambaSource, "_commit", spy):
        assert_same(log)
    return sum(read)


@pytest.mark.parametrize("reader", READERS)
@pytest.mark.parametrize(("line", "fast"), RULES)
def test_rules_line_by_line(tmp_path: Path, line: str, fast: bool, reader: str) -> None:
    """Each line between lines that set a share, read both ways; and the column path is
    really the one that read it when it should."""
    log = tmp_path / "rule.log"
    log.write_text(f"{_H}alice|10.0.0.5|connect|ok|shared\n{line}\n{_H}alice|10.0.0.5|pwrite|ok|z\n")
    with _reader(reader):
        read = _fast_lines_read(log)
    assert read == (3 if fast or (reader == "c" and line in C_MORE) else 2)


# ------------------------------------------------------------------------ hostile lines
_GOOD_HEADS = ["Sep 23 10:00:00 fs smbd_audit[5841]: ", "Sep  3 23:59:59 fs smbd_audit[1]: "]
_HEADS = st.sampled_from(
    [
        "Feb 29 10:00:00 fs smbd_audit[1]: ",  # no such day in 2019
        "Feb 30 10:00:00 fs smbd_audit[1]: ",
        "Sep 23 24:00:00 fs smbd_audit[1]: ",
        "Sep 23 10:00:60 fs smbd_audit[1]: ",
        "Sep 03 10:00:00 fs smbd_audit[1]: ",
        "Sep   3 10:00:00 fs smbd_audit[1]: ",
        "Foo 23 10:00:00 fs smbd_audit[1]: ",
        "Sep 23 10:00:00 fs smbd_audit: ",  # no "]: "
        "Sep 23 10:00:00 h]x smbd_audit[1]: ",
        "Sep 23 10:00:00 " + "h" * 70 + "[1]: ",  # "]: " past column 80
        "Sep 23 10:00:00 " + "h" * 62 + "[1]: ",  # "]: " at column 80
        "Sep 23 10:00:00 " + "h" * 61 + "[1]: ",  # "]: " at column 79
        "Sep 23 10:00:00 hôte smbd_audit[1]: ",
        "Sep 23 10:00:00 fs smbd_audit[1]:  ",
        "Sep 23 10:00:00 fs x[1]: a]: ",
        "2024-05-01T10:00:00.123456+02:00 fs smbd_audit[1]: ",
        "2024-05-01T10:00:00 fs smbd_audit[1]: ",
        "2024-05-01T10:00:00Z fs smbd_audit[1]: ",
        " ",
        "\t",
        "",
        "[2019/09/23 10:00:00.123,  0] ",
        "Sep 23 10:00:0",
    ]
)
_USERS = st.sampled_from(["alice", "bob smith", " carol ", "", "日本", "x\x00y", "Auth: ["])
_FIELD = st.sampled_from(
    ["10.0.0.5", "10.0.0.6", "::1", "fe80::1%eth0", "010.0.0.1", "data", "IPC$", "", "pc1", "]: ", "connect"]
)
_COMMON_OPS = ["connect", "open", "openat", "create_file", "pwrite", "renameat", "unlinkat", "rmdir", "close"]
_OPS = st.sampled_from(_COMMON_OPS) | st.sampled_from([*sorted(samba._ALL_OPS), "nope", "ok", "Connect"])
_STATUS = st.sampled_from(["ok", "ok", "ok", "fail", "fail (Permission denied)", "failed", "OK", ""])
_ARGS = st.sampled_from(
    ["w", "rw", "r", "create", "overwrite", "a/b.txt", "日本語.txt", "", "ok", "fail", "x|y", "connect"]
)
_ENDS = st.sampled_from(["\n", "\n", "\n", "\r\n", "\r\r\n", "\r", " \n"])


@st.composite
def _audit_line(draw: st.DrawFn) -> bytes:
    """Mostly lines of the common shape with odd values, sometimes odd shapes."""
    head = draw(st.sampled_from(_GOOD_HEADS) | _HEADS)
    prefix = [draw(_USERS), *draw(st.lists(_FIELD, min_size=0, max_size=4))]
    fields = [*prefix, draw(_OPS), draw(_STATUS), *draw(st.lists(_ARGS, max_size=9))]
    return (head + "|".join(fields) + draw(_ENDS)).encode()


_OTHER = st.sampled_from(
    [
        b"[2019/09/23 10:00:00.123456,  3] ../source3/smbd/service.c:1 (make_connection)\n",
        b"[2019/02/30 10:00:00,  3] bad date header\n",
        b"  host (ipv4:10.0.0.9:5555) connect to service data initially as user bob (uid=1)\n",
        b"  host (ipv4:10.0.0.9:5555) signed connect to service IPC$ initially as user bob|ok|\n",
        b"Sep 23 10:00:00 fs smbd[1]:   Selected protocol NT1\n",
        b"Dec 18 18:06:28 h smbd[832]: Denied connection from (192.168.3.23)\n",
        b"Auth: [SMB2,(null)] user [W]\\[root] at [Thu, 14 Oct 2021 15:24:12.023984 UTC] with [NTLMv2]"
        b" status [NT_STATUS_NO_SUCH_USER] workstation [M] remote host [ipv4:172.17.0.1:44890]\n",
        b"Auth: [broken|ok|\n",
        b'{"timestamp": "2024-05-01T10:00:00+0000", "type": "Authentication", '
        b'"Authentication": {"status": "x"}}\n',
        b'{"Authentication": |fail\n',
        b"\n",
        b"\r\n",
        b"\xff\xfe|ok|\xc3\n",
        b"\xef\xbb\xbfSep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|bom\n",
        b"Sep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|\x1f\n",
        b'"Sep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|quoted"\n',
        b"[Sep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|bracket\n",
        b"Sep 23 10:00:00 fs smbd_audit[1]: u\xff|10.0.0.1|data|pwrite|ok|\xe2\x82\n",
        b"Sep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|" + b"x" * 5000 + b"\n",
    ]
)


@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=250, deadline=None)
@given(
    st.lists(_audit_line() | _OTHER | st.binary(max_size=60), max_size=40),
    st.sampled_from([16, 64, 200, 1 << 22]),
    st.sampled_from([1, 3, 1000]),
    st.booleans(),
    st.sampled_from([0, 1, 2]),
)
def test_hostile_lines(
    tmp_path_factory: pytest.TempPathFactory,
    reader: str,
    lines: list[bytes],
    block: int,
    rows: int,
    lax: bool,
    workers: int,
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "audit.log"
    path.write_bytes(b"".join(lines))
    with _reader(reader), _small_blocks(block, ANY if lax else 8, 1_000 if lax else 2):
        assert_same(path, 2019, rows=rows, workers=workers)


@pytest.mark.parametrize("reader", READERS)
@settings(max_examples=60, deadline=None)
@given(st.lists(_audit_line(), min_size=1, max_size=60), st.sampled_from([64, 1 << 22]))
def test_fast_lines_mixed_with_odd_ones(
    tmp_path_factory: pytest.TempPathFactory, reader: str, lines: list[bytes], block: int
) -> None:
    """Mostly lines the column path reads (so it is used), interleaved with odd ones."""
    good = [_bench_line(i).encode() for i in range(len(lines) * 3)]
    mixed = [x for pair in zip(good[::3], good[1::3], good[2::3], lines, strict=True) for x in pair]
    path = tmp_path_factory.mktemp("mixed") / "audit.log"
    path.write_bytes(b"".join(mixed))
    with _reader(reader), _small_blocks(block, ANY, 1_000):
        assert_same(path, 2019, rows=7)


def test_stopping_early_ends_the_worker_threads(tmp_path: Path) -> None:
    import threading

    log = tmp_path / "audit.log"
    log.write_text("".join(_bench_line(i) for i in range(20_000)), encoding="utf-8")
    before = threading.active_count()
    with _small_blocks(1 << 14):
        frames = SambaSource(str(log), year=2019).frames(100, workers=2)
        assert next(frames).height == 100
        frames.close()  # type: ignore[attr-defined]
    assert threading.active_count() == before


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"", False),
        (b"a|b|c\n", False),
        (b"a|ok", False),
        (b"a|ok|", True),
        (b"|fail", True),
        (b"|fai", False),
        (b"x|" * 5000 + b"|ok|", True),  # past the pipes looked at one by one
        (b"x|" * 5000, False),
    ],
)
def test_has_audit_is_the_substring_test(body: bytes, expected: bool) -> None:
    assert samba._has_audit(body) is expected
    assert (b"|ok|" in body or b"|fail" in body) is expected
