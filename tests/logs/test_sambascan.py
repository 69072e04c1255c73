"""The C line reader ``smbguard.logs._sambascan`` against its Python reference, line by line.

For every line, the C reader says "fast" (it read the line), "odd" (parse_line hands the line
to _full_audit but the C reader declines it) or "other" (parse_line never hands it to
_full_audit). A fast line must give exactly what ``SambaSource.parse_line`` gives (an event
with the same fields, or none, and no exception); "other" must be exact (those lines are
read by parse_line after the fast lines of their segment, which is only right when they
cannot touch the state of full_audit lines). Whole files (state, statistics, frames) are
compared in test_samba_frames.py, with both column readers."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from typing import Any
from unittest import mock

import polars as pl
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smbguard.logs import samba
from smbguard.logs.samba import SambaSource, _prefix_fields
from tests.logs.test_samba_frames import _OTHER, _audit_line, _bench_line

try:
    from smbguard.logs import _sambascan
except ImportError:  # not built: the tests below skip (and fail under CI)
    _sambascan = None  # type: ignore[assignment]


def _scan_or_skip() -> Any:
    if _sambascan is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._sambascan is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("the C reader is not built here")
    return _sambascan.scan


def test_c_reader_is_built_and_used() -> None:
    """Under CI=true the extension must be importable: CI proves it was compiled."""
    assert samba._c_scan is _scan_or_skip()


def _scan(body: bytes, year: int = 2019) -> tuple[int, list[int], list[int], dict[str, list[Any]], list[str]]:
    n, odd, other, columns, prefixes = _scan_or_skip()(
        body, year, samba._SCAN_OPS, samba._SCAN_CATS, samba._SCAN_KINDS
    )
    cols = {name: pl.Series(name, samba._ArrowColumn(pair)).to_list() for name, pair in columns}
    return n, odd, other, cols, prefixes


def _reference(raw: bytes) -> tuple[bool, str, Any]:
    """parse_line on a fresh source: (whether _full_audit was called, outcome, event)."""
    source = SambaSource("x.log", year=2019)
    called: list[bool] = []
    original = SambaSource._full_audit

    def spy(self: SambaSource, line: bytes, text: str) -> Any:
        called.append(True)
        return original(self, line, text)

    with mock.patch.object(SambaSource, "_full_audit", spy):
        try:
            event = source.parse_line(raw)
        except Exception as exc:  # noqa: BLE001 - which lines raise matters
            return bool(called), type(exc).__name__, None
    return bool(called), "ok", event


def check_line(raw: bytes) -> str:
    """One line (without its newline) read by C and by parse_line; returns C's verdict."""
    body = raw + b"\n"
    n, odd, other, cols, prefixes = _scan(body)
    assert n == 1
    audit, outcome, event = _reference(body)
    if other == [0]:
        assert odd == [] and not audit, "C says parse_line never calls _full_audit"
        assert cols["fast_n"] == [] and cols["n"] == []
        return "other"
    assert audit, "C says parse_line calls _full_audit"
    if odd == [0]:
        assert cols["fast_n"] == [] and cols["n"] == []
        return "odd"
    assert cols["fast_n"] == [0]
    assert outcome == "ok", f"C read a line the reference rejects ({outcome})"
    if not cols["n"]:
        assert event is None
        return "fast"
    assert event is not None
    row = {name: values[0] for name, values in cols.items()}
    user, ip, pshare = _prefix_fields(prefixes[row["pre"]])
    connect = event.kind.value == "share_connect"
    got = (
        row["kind"],
        row["event_id"],
        row["time"],
        user,
        ip,
        row["cshare"] if connect else pshare or None,  # the reference's source has no connect yet
        row["path"],
        row["new_path"],
        row["status"],
    )
    expected = (
        event.kind.value,
        event.event_id,
        event.time,
        event.user,
        event.src_ip,
        event.share,
        event.path,
        event.new_path,
        event.status,
    )
    assert got == expected
    return "fast"


_H = "Sep 23 10:00:00 fs smbd_audit[1]: "
FAST = [
    _H + "alice|10.0.0.5|data|pwrite|ok|a.txt",
    _H + "alice|10.0.0.5|data|openat|ok|w|a.txt",
    _H + "alice|10.0.0.5|data|openat|ok|r|a.txt",
    _H + "alice|10.0.0.5|data|openat|ok|r|x|overwrite",
    _H + "alice|10.0.0.5|data|create_file|ok|0x1|create|a.txt",
    _H + "alice|10.0.0.5|data|renameat|ok|a|b",
    _H + "alice|10.0.0.5|data|renameat|ok|a",
    _H + "alice|10.0.0.5|data|renameat|ok|",
    _H + "alice|10.0.0.5|data|unlinkat|fail (EPERM)|a",
    _H + "alice|10.0.0.5|data|connect|fail|other",
    _H + "alice|10.0.0.5|data|connect|ok|",
    _H + "alice|10.0.0.5|data|connect|fail",
    _H + "alice|10.0.0.5|data|close|ok|a",
    _H + "alice|10.0.0.5|data|pwrite|ok|a\r\r",
    _H + "alice|10.0.0.5|data|pwrite|ok|a\x00b",
    _H + "alice|10.0.0.5|data|pwrite|ok|" + "\U0001f600" * 3,
    _H + "a|b|c|d|e|f|g|h|i|pwrite|ok|a",  # operation in field 9
    _H + "a|b|c|d|e|f|g|h|i|pwrite|fail",
    _H + "a|b|c|d|e|f|g|h|pwrite|ok|a|b|c|d|e|f|g|h|i|j|k|l|m|n",
    _H + "alice|10.0.0.5|close|ok|pwrite|ok|a",  # the first operation followed by a result
    _H + "pwrite|ok|pwrite|ok|a",
    "Feb 29 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",  # 2019: no such day
    "Feb 28 23:59:59 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep  3 00:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 03 24:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 31 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 00 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:60:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:60 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Dec 31 23:59:59 ]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:00 " + "h" * 61 + "[1]: alice|pwrite|ok|a",  # "]: " at column 79
    "Sep 23 10:00:00 a]: b]: alice|10.0.0.5|pwrite|ok|x",  # the first "]: "
]
ODD = [
    _H + "alice|10.0.0.5|data|pwrite|ok|\xff",  # (encoded below as latin-1: invalid UTF-8)
    "Sep 23 10:00:00 " + "h" * 62 + "[1]: alice|pwrite|ok|a",  # "]: " at column 80
    "Sep 23 10:00:00 h\u00f4te[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:00 fs smbd_audit: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:00: alice|10.0.0.5|pwrite|ok|a]: ",
    "Sep 23 10:00:0 x]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 123 10:00:00 x]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep   3 10:00:00 x]: alice|10.0.0.5|data|pwrite|ok|a",
    "sep 23 10:00:00 x]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:00\tx]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 1O:00:00 x]: alice|10.0.0.5|data|pwrite|ok|a",
    "Sep 23 10:00:00]: alice|10.0.0.5|data|pwrite|ok|a",  # head shorter than the stamp and a blank
    "2024-05-01T10:00:00Z fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    " Sep 23 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    "\ufeffSep 23 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    _H + "a|b|c|d|e|f|g|h|i|j|pwrite|ok|a",  # field 10: ValueError in the reference
    _H + "alice|10.0.0.5|data|Pwrite|ok|a",
    _H + "alice|10.0.0.5|data|pwrite|OK|a|fail",
    _H + "alice|10.0.0.5|data|pwrite |ok|a",
    _H + "|ok|",
]
OTHER = [
    "[2019/09/23 10:00:00.123,  0] alice|10.0.0.5|data|pwrite|ok|a",
    "[Sep 23 10:00:00 fs smbd_audit[1]: alice|10.0.0.5|data|pwrite|ok|a",
    _H + "alice|10.0.0.5|data|pwrite|ok",
    _H + "alice|10.0.0.5|data|pwrite|ok\r",
    _H + "alice|10.0.0.5|data|pwrite|ok\r|",
    _H + "alice|10.0.0.5|data|pwrite|fai",
    "",
    "\r",
]


def _encode(line: str) -> bytes:
    return line.encode("latin-1") if line.endswith("\xff") else line.encode()


@pytest.mark.parametrize("line", FAST)
def test_lines_it_reads(line: str) -> None:
    assert check_line(_encode(line)) == "fast"


@pytest.mark.parametrize("line", ODD)
def test_lines_it_declines(line: str) -> None:
    assert check_line(_encode(line)) == "odd"


@pytest.mark.parametrize("line", OTHER)
def test_lines_that_are_no_full_audit_lines(line: str) -> None:
    assert check_line(_encode(line)) == "other"


def test_invalid_utf8_anywhere_is_declined() -> None:
    good = (_H + "alice|10.0.0.5|data|pwrite|ok|a.txt").encode()
    bad_bytes = (
        b"\x80",
        b"\xc0\xaf",
        b"\xe0\x80\xaf",
        b"\xed\xa0\x80",
        b"\xf4\x90\x80\x80",
        b"\xf8",
        b"\xc3",
    )
    for bad in bad_bytes:
        for at in (0, 20, 40, len(good)):
            assert check_line(good[:at] + bad + good[at:]) in ("odd", "other")
    for fine in ("\u00e9", "\u0800", "\ud7ff", "\ue000", "\U00010000", "\U0010ffff"):
        assert check_line(good + fine.encode()) == "fast"


@settings(max_examples=1500, deadline=None)
@given(st.one_of(_audit_line(), _OTHER, st.binary(max_size=120)))
@example(b"\n")
def test_any_line(line: bytes) -> None:
    for part in line.split(b"\n"):
        check_line(part)


def _mutated() -> st.SearchStrategy[bytes]:
    """A line of the common shape with one byte replaced, inserted or removed."""

    @st.composite
    def build(draw: st.DrawFn) -> bytes:
        line = _bench_line(draw(st.integers(0, 20_000))).encode().rstrip(b"\n")
        at = draw(st.integers(0, len(line)))
        byte = bytes([draw(st.sampled_from(b"|] :\r\x00\x80\xc3\xff0aZ[\t"))])
        how = draw(st.sampled_from(["replace", "insert", "delete"]))
        if how == "replace":
            return line[:at] + byte + line[at + 1 :]
        if how == "insert":
            return line[:at] + byte + line[at:]
        return line[:at] + line[at + 1 :]

    return build()


@settings(max_examples=1500, deadline=None)
@given(_mutated())
def test_lines_one_byte_off(line: bytes) -> None:
    check_line(line.replace(b"\n", b""))


def _alone(line: bytes) -> tuple[str, dict[str, list[Any]], list[str]]:
    _, odd, other, cols, prefixes = _scan(line + b"\n")
    return ("odd" if odd else "other" if other else "fast"), cols, prefixes


def _row(cols: dict[str, list[Any]], prefixes: list[str], i: int) -> dict[str, Any]:
    row = {name: values[i] for name, values in cols.items() if name not in ("fast_n", "n")}
    row["pre"] = prefixes[row["pre"]]
    return row


def check_after(first: bytes, second: bytes) -> None:
    """The second line's verdict and row do not depend on the line before it (the C reader
    keeps the time of the last stamp read)."""
    n, odd, other, cols, prefixes = _scan(first + b"\n" + second + b"\n")
    assert n == 2
    verdict = "odd" if 1 in odd else "other" if 1 in other else "fast"
    alone, alone_cols, alone_prefixes = _alone(second)
    assert verdict == alone
    if alone_cols["n"]:
        assert cols["n"][-1] == 1
        assert _row(cols, prefixes, -1) == _row(alone_cols, alone_prefixes, 0)


_STAMP = "Sep 23 10:00:00"


@pytest.mark.parametrize(
    "second",
    [
        _STAMP + "x]: u|10.0.0.1|data|pwrite|ok|a",  # same 15 bytes, no blank after the stamp
        _STAMP + "]: u|10.0.0.1|data|pwrite|ok|a",
        _STAMP + " ]: u|10.0.0.1|data|pwrite|ok|a",
        _STAMP + " h\u00f4te]: u|10.0.0.1|data|pwrite|ok|a",
        _STAMP + " fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|b",
        "Sep 23 10:00:01 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|b",
        "Feb 29 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|b",
    ],
)
def test_the_line_before_does_not_matter(second: str) -> None:
    before = (_STAMP + " fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|a", "Feb 29 10:00:00 h]: u|pwrite|ok|a")
    for first in before:
        check_after(first.encode(), second.encode())


@settings(max_examples=600, deadline=None)
@given(st.one_of(_audit_line(), _mutated()), st.one_of(_audit_line(), _mutated()))
def test_pairs_of_lines(first: bytes, second: bytes) -> None:
    check_after(first.replace(b"\n", b""), second.replace(b"\n", b""))


def test_many_lines_and_the_last_without_newline() -> None:
    lines = [_bench_line(i).encode() for i in range(3000)]
    body = b"".join(lines) + b"Sep 23 10:00:00 fs smbd_audit[1]: u|10.0.0.1|data|pwrite|ok|last"
    n, odd, other, cols, prefixes = _scan(body)
    assert n == 3001 and odd == [] and other == []
    assert cols["fast_n"] == list(range(3001))
    assert cols["path"][-1] == "last"
    assert len(prefixes) == len(set(prefixes)) < 200
    empty = _scan(b"")
    assert empty[:3] == (0, [], []) and all(v == [] for v in empty[3].values()) and empty[4] == []


def test_long_lines() -> None:
    """Long lines are read; a line with more than 512 '|' is declined (or not audit)."""
    for size in (1, 100, 1 << 16, 1 << 20):
        line = (_H + "u|10.0.0.1|" + "d" * size + "|pwrite|ok|end").encode()
        assert check_line(line) == "fast"
    for size in (1, 100, 490):
        line = (_H + "u|10.0.0.1|data|pwrite|ok|" + "x|" * size + "end").encode()
        assert check_line(line) == "fast"
    for size in (600, 1 << 16):
        line = (_H + "u|10.0.0.1|data|pwrite|ok|" + "x|" * size + "end").encode()
        assert check_line(line) == "odd"
        assert check_line(b"x" + b"|" * size + b"|ok") == "other"
        assert check_line(b"x" + b"|" * size + b"ok|") == "odd"
        assert check_line(b"[x" + b"|" * size + b"ok|") == "other"


def test_times_over_the_years() -> None:
    """The C date arithmetic against datetime, every day of some years (leap rules too)."""
    for year in (1, 4, 100, 1900, 1970, 2000, 2019, 2020, 2100, 2400, 9999):
        body = b"".join(
            f"{month} {day:2d} 23:59:58 h]: u|1.2.3.4|d|pwrite|ok|p\n".encode()
            for month in samba._MONTH_NAMES
            for day in range(0, 32)
        )
        n, odd, other, cols, _ = _scan(body, year)
        assert n == 12 * 32 and odd == other == []
        expected = []
        for month in range(1, 13):
            for day in range(0, 32):
                try:
                    expected.append(datetime(year, month, day, 23, 59, 58, tzinfo=UTC))
                except ValueError:
                    expected.append(None)
        assert cols["time"] == expected
    assert all(t is None for t in _scan(body, 0)[3]["time"])


def test_bad_arguments() -> None:
    scan = _scan_or_skip()
    with pytest.raises(TypeError):
        scan("text", 2019, samba._SCAN_OPS, samba._SCAN_CATS, samba._SCAN_KINDS)
    with pytest.raises(ValueError):
        scan(b"", 2019, samba._SCAN_OPS, samba._SCAN_CATS[:-1], samba._SCAN_KINDS)
    with pytest.raises(ValueError):
        scan(b"", 2019, ("x" * 65,), b"\x00", samba._SCAN_KINDS)
    with pytest.raises(ValueError):
        scan(b"", 2019, ("x",), b"\x09", samba._SCAN_KINDS)
    with pytest.raises(TypeError):
        scan(b"", 2019, samba._SCAN_OPS, samba._SCAN_CATS, samba._SCAN_KINDS[:4])


def test_columns_are_released_when_not_consumed() -> None:
    """Capsules never handed to polars free their buffers (no crash, no leak of the rows)."""
    body = b"".join(_bench_line(i).encode() for i in range(2000))
    scan = _scan_or_skip()
    for _ in range(50):
        result = scan(body, 2019, samba._SCAN_OPS, samba._SCAN_CATS, samba._SCAN_KINDS)
        del result
