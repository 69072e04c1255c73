"""The plain JSON reader of ZeekSource.frames() (zeek._Block._json_plain).

It takes a JSON line when polars' strict parser (simd-json) accepts it, it starts with
"{" and ends with "}", is at most zeek._JS_MAX bytes, has no "\\u" escape and no doubtful
wanted field (duplicate key, non-string value). The claim behind it: for such a line
json.loads succeeds and gives, for every field the source reads, what polars gives.
``test_polars_accepts_only_what_json_loads_reads_the_same`` checks that claim line by line
on mutated Zeek lines; the file tests check the contract (frames() == events()) and that
the reference is called for exactly the lines the reader cannot vouch for."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from smbguard.logs import zeek
from smbguard.logs.events import events_to_frame, parse_epoch
from smbguard.logs.zeek import ZeekSource
from tests.logs.frames import frames_counting_lines

_LOG_TYPES = sorted(zeek._TYPE_KEYS)
_KEYS = sorted({key for log_type in _LOG_TYPES for key in zeek._keys(log_type)})
_STRINGS = st.sampled_from(
    ["-", "(empty)", "", "T", "F", "true", "false", "SMB::FILE_OPEN", "\\\\srv\\IPC$", "caf\u00e9", 'q"x']
) | st.text(max_size=6)
_SCALAR = (
    _STRINGS
    | st.integers(-(10**30), 10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.floats(1e9, 2e9)
    | st.booleans()
    | st.none()
)
_VALUE = st.recursive(_SCALAR, lambda inner: st.lists(inner, max_size=3), max_leaves=5) | st.dictionaries(
    st.text(max_size=3), _SCALAR, max_size=2
)
# characters that matter to a JSON parser, and some that only json.loads or only polars might accept
_NOISE = [*'{}[]":,\\/ tfnrule0123456789.+-Ee', "\t", "\r", "\x0b", "\x0c", "\x00", "\x7f", "\u00e9"]
_NOISE += ["\u2028", "\ufeff", "\\u0041", "\\ud800", "\\udc00", "NaN", "Infinity", "True", " "]


@st.composite
def _zeek_json_line(draw: st.DrawFn) -> str:
    """A Zeek-like JSON line (wanted keys and others, as Zeek or json.dumps write them),
    then maybe a few characters inserted, deleted or replaced."""
    keys = draw(st.lists(st.sampled_from(_KEYS) | st.text(max_size=4), max_size=8))
    members = []
    for key in keys:
        value: Any = draw(st.floats(1e9, 2e9) | _VALUE) if key == "ts" else draw(_VALUE)
        spaced = draw(st.integers(0, 5)) == 0
        text = json.dumps(value, ensure_ascii=draw(st.booleans()), separators=None if spaced else (",", ":"))
        members.append(json.dumps(key) + (" : " if spaced else ":") + text)
    line = "{" + ",".join(members) + "}"
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 2))
        line = line[:at] + draw(st.sampled_from(["", *_NOISE])) + line[at + cut :]
    return line


def _plain(log_type: str, lines: list[str]) -> pl.DataFrame | None:
    """What the plain reader decides for each line: ``_ok`` and the decoded values (``v``),
    or None when polars rejects a line (the gated reader then takes the run)."""
    source = ZeekSource("x.log")
    source.log_type = log_type
    block = zeek._Block(source)
    block.has_cr = any("\r" in line for line in lines)
    got: list[pl.DataFrame] = []
    block._json_rows = lambda df, *rest: got.append(df)  # type: ignore[method-assign]
    if not block._json_plain(pl.Series("l", lines, dtype=pl.Utf8), 0, []):
        return None
    return got[0]


def _same_value(key: str, decoded: str | None, loaded: Any) -> bool:
    """What the source makes of polars' string equals what it makes of json.loads' value."""
    if key == "ts":
        if loaded is None or decoded is None:
            return loaded is None and decoded is None
        if parse_epoch(decoded) != parse_epoch(str(loaded)):
            return False
        # the vectorised conversion (zeek._emit) reads ts matching _TS_RX as a float
        return not pl.Series([decoded]).str.contains(zeek._TS_RX).item() or float(decoded) == float(loaded)
    if key == "success":
        return {"true": True, "false": False}.get(decoded, decoded) == loaded  # type: ignore[arg-type]
    return decoded == loaded if isinstance(loaded, str) or loaded is None else False


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_LOG_TYPES), _zeek_json_line())
# polars: NUL, json.loads: a lone surrogate
@example(log_type="smb_mapping", line='{"ts":1,"path":"x\\ud800"}')
# polars keeps the first, json.loads the last
@example(log_type="smb_mapping", line='{"ts":1,"path":"a","path":"b"}')
@example(log_type="smb_mapping", line='{"ts":1,"path" :"a","path":"b"}')
@example(log_type="smb_mapping", line='{"ts":1,"path":1.0}')  # polars "1", str(1.0) "1.0"
@example(log_type="ntlm", line='{"ts":1,"success":"true"}')
@example(log_type="ntlm", line='{"ts":1,"success":1}')  # json.loads 1 == True
@example(log_type="smb_mapping", line='{"ts":' + "9" * 4301 + "}")  # json.loads: int_max_str_digits
def test_polars_accepts_only_what_json_loads_reads_the_same(log_type: str, line: str) -> None:
    df = _plain(log_type, [line])
    if df is None or not df["_ok"][0]:
        return  # the gated reader or the reference decides
    loaded = json.loads(line)  # must not raise
    assert isinstance(loaded, dict)
    decoded = df["v"][0]
    for key in zeek._keys(log_type):
        assert _same_value(key, decoded[key], loaded.get(key)), (key, decoded[key], loaded.get(key))


@pytest.mark.parametrize(
    "odd",
    [
        '{"ts":1,"path":"p","a":' + "[" * 1010 + "]" * 1010 + "}",  # polars takes it, json.loads does not
        '{"ts":1,"path":"p","n":' + "9" * 4301 + "}",  # json.loads: int_max_str_digits; polars rejects it
    ],
    ids=["deep", "huge_int"],
)
def test_deep_nesting_and_huge_numbers_go_to_the_reference(
    odd: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """polars' parser allows 1022 levels of nesting, json.loads about 1000 minus the
    caller's stack depth (RecursionError: the reference skips the line); such lines are
    longer than zeek._JS_MAX. Not a hypothesis test: hypothesis raises the recursion limit."""
    log = tmp_path / "smb_mapping.log"
    log.write_text("\n".join([_GOOD, odd, _GOOD, _GOOD]) + "\n")
    monkeypatch.setattr(zeek, "_SMALL", 1)  # the fast path even for a few lines
    monkeypatch.setattr(zeek, "_zj", None)  # polars' reader (the C scanner: test_c_deep_nesting...)
    source = ZeekSource(str(log))
    got = pl.concat(list(source.frames()))
    want_source = ZeekSource(str(log))
    want = events_to_frame(want_source.events())
    assert want.height == 3  # the reference skipped it
    assert got.equals(want)
    assert source.stats.to_dict() == want_source.stats.to_dict()


def test_polars_rejects_what_the_plain_reader_must_not_take() -> None:
    """The other half of the argument: polars' parser is strict where json.loads is (a
    line it accepted while json.loads does not would be caught above; these are the
    obvious ones, so that a polars upgrade that relaxes them shows here first)."""
    for bad in ['{"a":1}x{}', '{"a":1,}', "{'a':1}", '{"a":01}', '{"a":"\x01"}', '{"a":"\\x"}', '{"a":True}',
                '{"a":.5}', '{"a":+1}', '{"a":1.}', '{"a":-}', '{"a":"x}', '{"a":"x"}}', '{"a" "x"}',
                '{"a":1\x0c}', '{"a":1\x00}', '{\x0b"a":1}', '{"a":1,\u00a0"b":2}', '{"a":1}{"b":2}',
                '{"a":NaN}', '{"a":-Infinity}', '{"a":1e999}']:  # fmt: skip
        assert _plain("smb_mapping", ['{"ts":1}', bad]) is None, bad


# ------------------------------------------------------------------ whole files
_GOOD = '{"ts":1332008627.33,"uid":"C","id.orig_h":"10.0.0.1","id.orig_p":4557,"id.resp_h":"10.0.0.2","id.resp_p":445,"path":"\\\\\\\\S\\\\IPC$","service":"IPC","share_type":"PIPE"}'  # noqa: E501
# perturbation -> (line, whether the reference reads it: None = the run goes to the gated reader)
_PERTURB: dict[str, tuple[str, bool | None]] = {
    "none": (_GOOD, False),
    "spaced": (json.dumps(json.loads(_GOOD)), False),
    "null": ('{"ts":1332008627.5,"path":null,"share_type":"DISK"}', False),
    "escapes": ('{"ts":1,"path":"a\\\\b\\"c\\/d\\t\\r","share_type":"\\u00e9"}', True),
    "nested_other": ('{"ts":1,"x":{"y":[1,{"z":null}]},"path":"p"}', False),
    "ts_forms": ('{"ts":"1332008627.5","path":"p"}', False),
    "ts_exp": ('{"ts":1.3e9,"path":"p"}', False),
    "ts_bool": ('{"ts":true,"path":"p"}', False),
    "ts_big": ('{"ts":123456789012345678901234567890,"path":"p"}', False),
    "blank": ("", False),
    "blank_ws": (" \t", False),
    "dup": ('{"ts":1,"path":"a","share_type":"DISK","path":"b"}', True),
    "dup_spaced": ('{"ts":1,"path" : "a","path":"b"}', True),
    "number": ('{"ts":1,"path":1.0}', True),
    "bool": ('{"ts":1,"path":"p","share_type":true}', True),
    "escape_u": ('{"ts":1,"path":"\\u005c\\u005cS\\u005cx"}', True),
    "long": ('{"ts":1,"path":"p","pad":"' + "x" * zeek._JS_MAX + '"}', True),
    "trailing_space": (_GOOD + " ", True),
    "not_json": ("x y z", True),
    "array_in_wanted": ('{"ts":1,"path":["a"]}', None),
    "invalid": ('{"ts":1,"path":"p",}', None),
    "nan": ('{"ts":NaN,"path":"p"}', None),
}


@st.composite
def _json_log(draw: st.DrawFn) -> tuple[str, int | None]:
    """An smb_mapping JSON log: mostly Zeek's lines, some perturbed; (text, reference calls
    expected or None when the gated reader takes a run)."""
    lines = [_GOOD]  # the first line names the log type: the reference reads it
    expected: int | None = 1
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(sorted(_PERTURB))) if draw(st.integers(0, 3)) == 0 else "none"
        line, need = _PERTURB[kind]
        lines.append(line)
        if need is None:
            expected = None
        elif need and expected is not None:
            expected += 1
    return "\n".join(lines) + "\n", expected


_Read = tuple[pl.DataFrame, ZeekSource, int, int, pl.DataFrame, ZeekSource]


def _read(text: str, block: int, rows: int, split: int = 2, bisect: int = 10**9, c: bool = False) -> _Read:
    """(frames, fast source, reference calls, gated-reader runs, events() frame, slow source);
    ``c``: with the C scanner (``zeek._zj``; the polars readers otherwise)."""
    fd, name = tempfile.mkstemp(suffix=".log")
    gated = 0
    real = zeek._Block._json_gated

    def spy(self: zeek._Block, *args: Any) -> None:
        nonlocal gated
        gated += 1
        real(self, *args)

    try:
        with os.fdopen(fd, "w", encoding="utf-8", errors="surrogatepass") as out:
            out.write(text)
        saved = zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT, zeek._zj
        # split: runs decoded in halves; bisect: rejected runs cut down to this many lines
        zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT = block, 1, split, bisect
        if not c:
            zeek._zj = None  # type: ignore[assignment]
        zeek._Block._json_gated = spy  # type: ignore[method-assign]
        try:
            fast = ZeekSource(name)
            got, calls = frames_counting_lines(fast, rows)
        finally:
            zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT, zeek._zj = saved
            zeek._Block._json_gated = real  # type: ignore[method-assign]
        slow = ZeekSource(name)
        want = events_to_frame(slow.events())
        return got, fast, calls, gated, want, slow
    finally:
        os.unlink(name)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    _json_log(),
    st.integers(200, 20_000),
    st.integers(1, 50),
    st.sampled_from([2, 7, 10**9]),
    st.sampled_from([1, 3, 10**9]),
)
def test_json_files_plain_reader(
    case: tuple[str, int | None], block: int, rows: int, split: int, bisect: int
) -> None:
    """frames() == events(), and (when no line makes polars reject its run) the reference
    reads exactly the first line and the lines the plain reader cannot vouch for; runs
    decoded whole or in two halves (split: the shortest run cut in halves); runs polars
    rejects cut in halves down to ``bisect`` lines."""
    text, expected = case
    got, fast, calls, gated, want, slow = _read(text, block, rows, split, bisect)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    if expected is not None:
        assert gated == 0
        assert calls == expected


@pytest.mark.parametrize("kind", sorted(k for k, (_, need) in _PERTURB.items() if need is not None))
def test_each_perturbation(kind: str) -> None:
    """Each perturbed line among good ones, one block: the contract, and whether the
    reference read it."""
    line, need = _PERTURB[kind]
    text = "\n".join([_GOOD, _GOOD, line, _GOOD, line[::-1] if kind == "not_json" else _GOOD]) + "\n"
    got, fast, calls, gated, want, slow = _read(text, 1 << 20, 3)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert gated == 0
    assert calls == 1 + need + (kind == "not_json")


@pytest.mark.parametrize("kind", sorted(k for k, (_, need) in _PERTURB.items() if need is None))
def test_runs_polars_rejects_take_the_gated_reader(kind: str) -> None:
    text = "\n".join([_GOOD, _GOOD, _PERTURB[kind][0], _GOOD]) + "\n"
    got, fast, _, gated, want, slow = _read(text, 1 << 20, 3)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert gated == 1


@pytest.mark.parametrize("kind", sorted(k for k, (_, need) in _PERTURB.items() if need is None))
def test_one_odd_line_sends_only_its_part_of_the_run_to_the_gated_reader(kind: str) -> None:
    """40 good lines around one that polars rejects: cut in halves down to runs of 4
    lines, the gated reader takes only the run with the odd line (spaced good lines,
    which only the plain reader takes, show where the reference read them)."""
    spaced = _PERTURB["spaced"][0]
    lines = [_GOOD, *([spaced] * 40)]
    lines[23] = _PERTURB[kind][0]
    got, fast, calls, gated, want, slow = _read("\n".join(lines) + "\n", 1 << 20, 3, bisect=4)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert gated == 1
    assert calls <= 1 + 7  # the first line, then at most the gated run of 4-7 lines


def test_a_panic_in_polars_takes_the_gated_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """Should polars' JSON decoding panic on some hostile line (a pyo3 PanicException, a
    BaseException, not a PolarsError), the run goes to the gated reader, not the caller."""

    def panic(*args: Any, **kwargs: Any) -> Any:
        raise pl.exceptions.PanicException("simulated")

    monkeypatch.setattr(pl, "collect_all", panic)
    text = "\n".join([_GOOD] * 5) + "\n"
    got, fast, _, gated, want, slow = _read(text, 1 << 20, 3)
    assert got.equals(want) and got.height == 5
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert gated == 1


# ------------------------------------------------------------ the C scanner (_zeekjson)
# zeek._json_lines: smbguard.logs._zeekjson.scan takes a JSON line only when it proves
# what json.loads + ZeekSource._event make of it; every other line goes to the reference.


def _zj() -> Any:
    if zeek._zj is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._zeekjson is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("smbguard.logs._zeekjson is not built")
    return zeek._zj


def test_zeekjson_is_built_under_ci() -> None:
    """Under CI=true the extension must be importable: CI proves it was compiled."""
    assert _zj() is not None


def _modes(keys: tuple[str, ...]) -> bytes:
    return "".join(zeek._JSON_MODES.get(key, "s") for key in keys).encode()


def _c_scan(data: bytes, keys: tuple[str, ...]) -> tuple[pl.DataFrame, list[tuple[int, int, int]], int]:
    schema, array, declined, lines = _zj().scan(data, 0, len(data), keys, _modes(keys))
    return pl.DataFrame(zeek._Arrow(schema, array)), declined, lines


def _reference_value(key: str, value: Any) -> tuple[bool, str | None]:
    """(whether the scanner may take a line with this json.loads value for ``key``, the
    text it must then give). ts: a number only as zeek._emit reads it (see below)."""
    if value is None:
        return True, None
    if isinstance(value, str):
        return True, value
    if key == "success" and isinstance(value, bool):
        return True, "T" if value else "F"  # what _event's `in (True, "T")` tests
    if key == "ts" and isinstance(value, int | float) and not isinstance(value, bool):
        return True, None  # checked by the caller against the written number
    return False, None


def _check_taken_line(raw: bytes, keys: tuple[str, ...], got: dict[str, Any]) -> None:
    """A line the scanner took: exactly what the reference (ZeekSource.parse_line) does
    with it must give the same fields."""
    assert not raw.startswith(b"#")
    text = raw.decode("utf-8", "replace").rstrip("\r\n")
    if not raw.strip():
        assert got is None  # blank: counted, no row
        return
    assert got is not None, raw
    assert text.startswith("{") and "\tEternalSafety::" not in text
    assert raw.decode("utf-8") is not None  # strictly valid UTF-8 (no replacement)
    loaded = json.loads(text)  # must not raise
    assert isinstance(loaded, dict)
    for key in keys:
        value = loaded.get(key)
        ok, want = _reference_value(key, value)
        assert ok, (key, value, raw)
        if key == "ts" and isinstance(value, int | float):
            written = got[key]
            assert isinstance(written, str) and pl.Series([written]).str.contains(zeek._TS_RX).item()
            assert float(written) == value, (written, value)  # str(int) == written for ints
            if isinstance(value, int):
                assert written == str(value)
            continue
        assert got[key] == want, (key, got[key], want, raw)


# bytes that matter to a JSON parser or to the reference's line handling, and some that
# only json.loads or only a lax scanner would accept
_BNOISE = [c.encode() for c in '{}[]":,\\/ tfnrule0123456789.+-Ee']
_BNOISE += [b"\t", b"\r", b"\x0b", b"\x0c", b"\x1c", b"\x00", b"\x7f", b"\xc3\xa9", b"\xe2\x80\xa8"]
_BNOISE += [b"\xef\xbb\xbf"]
_BNOISE += [b"\x80", b"\xc3", b"\xff", b"\xed\xa0\x80", b"\xc0\xaf", b"\xf4\x90\x80\x80", b"\xe0\x80\xaf"]
_BNOISE += [b"\\u0041", b"\\ud800", b"\\udc00", b"\\ud83d\\ude00", b"\\ud83d", b"\\u00", b"\\uZZZZ", b"\\x41"]
_BNOISE += [b"NaN", b"Infinity", b"-Infinity", b"True", b"1e999", b"\tEternalSafety::x", b"#", b"  "]


@st.composite
def _zeek_json_bytes(draw: st.DrawFn) -> bytes:
    """A Zeek-like JSON line as bytes (maybe with surrogates, written as json.dumps does
    or raw), then a few bytes inserted, deleted or replaced."""
    line = draw(_zeek_json_line()).encode("utf-8", "surrogatepass")
    for _ in range(draw(st.integers(0, 3))):
        at = draw(st.integers(0, len(line)))
        cut = draw(st.integers(0, 2))
        line = line[:at] + draw(st.sampled_from([b"", *_BNOISE])) + line[at + cut :]
    return line


# string pieces: valid (escapes, UTF-8 of 1-4 bytes), then ones only json.loads or only a
# lax scanner would take (bad escapes, lone surrogates, control bytes, invalid UTF-8)
_STR_PARTS = [b"a", b"-", b"\xc3\xa9", b"\xe2\x82\xac", b"\xf0\x9f\x98\x80", b'\\"', b"\\\\", b"\\/", b"\\b"]
_STR_PARTS += [b"\\f", b"\\n", b"\\r", b"\\t",
    b"\\u0041", b"\\u00e9", b"\\u20AC", b"\\ud83d\\ude00", b"\\u0000",
]
_STR_PARTS += [b"\\uDBFF\\uDFFF", b"\\x41", b"\\'", b"\\U0041", b"\\u00G0", b"\\u12", b"\\ud800", b"\\udc00"]
_STR_PARTS += [b"\\ud800\\u0041", b"\\", b"\x00", b"\x1f",
    b"\t", b"\x7f", b"\x80", b"\xc0\xaf", b"\xed\xa0\x80",
]
_STR_PARTS += [b"\xf4\x90\x80\x80", b"\xf8\x88\x80\x80\x80", b"\xe2\x82",
    b"\xc3", b"\xef\xbf\xbf", b"\xf4\x8f\xbf\xbf",
]
_NUMBER = st.builds(
    lambda *parts: b"".join(parts),
    st.sampled_from([b"", b"", b"-", b"+"]),
    st.sampled_from([b"0", b"1", b"01", b"00", b"1332008627", b"9999999999", b"12345678901", b""]),
    st.sampled_from([b"", b"", b".", b".5", b".33", b".123456789", b".1234567890", b".0"]),
    st.sampled_from([b"", b"", b"", b"e5", b"E+5", b"e-0", b"e", b"e+", b"e999"]),
)
_LITERAL = st.sampled_from([b"true", b"false", b"null", b"NaN", b"Infinity", b"-Infinity", b"True", b"nul"])
_SPACE = st.sampled_from([b"", b"", b"", b" ", b"\t", b"\r", b"  ", b"\x0b", b"\x0c", b"\xc2\xa0"])
_STRING = st.builds(lambda p: b'"' + b"".join(p) + b'"', st.lists(st.sampled_from(_STR_PARTS), max_size=4))
_KEY = st.sampled_from([b'"' + k.encode() + b'"' for k in _KEYS] + [b'"p\\u0061th"', b'"x"', b'""', b'"ts "'])


def _json_value(inner: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.builds(lambda items: b"[" + b",".join(items) + b"]", st.lists(inner, max_size=3)) | st.builds(
        lambda items: b"{" + b",".join(k + b":" + v for k, v in items) + b"}",
        st.lists(st.tuples(_KEY, inner), max_size=2),
    )


@st.composite
def _fragment_line(draw: st.DrawFn) -> bytes:
    """A JSON object line built from pieces (strings, numbers, literals, nesting, spacing),
    each maybe one that only json.loads or only a lax scanner would accept."""
    value = st.recursive(_STRING | _NUMBER | _LITERAL, _json_value, max_leaves=4)
    members = []
    for _ in range(draw(st.integers(0, 5))):
        sp = [draw(_SPACE) for _ in range(4)]
        members.append(sp[0] + draw(_KEY) + sp[1] + b":" + sp[2] + draw(value) + sp[3])
    end = draw(st.sampled_from([b"", b"", b" ", b"\r", b",", b"x", b"}", b"]"]))
    return b"{" + b",".join(members) + b"}" + end


@settings(max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(_LOG_TYPES), _zeek_json_bytes() | _fragment_line())
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"x\\ud800"}')  # lone surrogate
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"x\\udc00\\ud800"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"x\\udc00"}')  # a lone low surrogate
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"x\\ud800y"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"x\\ud800\\u0041"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"\\ud83d\\ude00\\u00e9\\u0000"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"\\"\\\\\\/\\b\\f\\n\\r\\t"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"a","path":"b"}')  # json.loads: the last
@example(log_type="smb_mapping", line=b'{"ts":1,"path" :"a", "path"\t:\r"b" }\r')
@example(log_type="smb_mapping", line=b'{"ts":1,"p\\u0061th":"a"}')  # an escaped wanted key
@example(log_type="smb_mapping", line=b'{"ts":1,"path":1.0}')  # str(1.0) "1.0"
@example(log_type="smb_mapping", line=b'{"ts":01,"path":"a"}')
@example(log_type="smb_mapping", line=b'{"ts":1.,"path":"a"}')
@example(log_type="smb_mapping", line=b'{"ts":-0,"path":"a"}')  # str(0) "0"
@example(log_type="smb_mapping", line=b'{"ts":1e9,"path":"a"}')  # str(1e9) "1000000000.0"
@example(log_type="smb_mapping", line=b'{"ts":12345678901,"path":"a"}')
@example(log_type="smb_mapping", line=b'{"ts":1.0000000001,"path":"a"}')
@example(log_type="smb_mapping", line=b'{"ts":true,"path":"a"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"n":' + b"9" * 4301 + b"}")  # int_max_str_digits
@example(log_type="smb_mapping", line=b'{"ts":1,"x":NaN}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":"\\x41"}')  # not a JSON escape
@example(log_type="smb_mapping", line=b'{"ts":1,"path":"\\u00G0"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":"\x1f"}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":"\xed\xa0\x80"}')  # an encoded surrogate
@example(log_type="smb_mapping", line=b'{"ts":1,"x":"\xf4\x90\x80\x80"}')  # above U+10FFFF
@example(log_type="smb_mapping", line=b'{"ts":1,"x":"\xe0\x80\xaf"}')  # overlong
@example(log_type="smb_mapping", line=b'{"ts":1,"x":1} x')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":1}{}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":[1,]}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":{"a":1,}}')
@example(log_type="smb_mapping", line=b'{"ts":1,"x":[}')
@example(log_type="smb_mapping", line=b"{\x0b}")
@example(log_type="smb_mapping", line=b"\x1c")  # str.strip() removes it, bytes.strip() does not
@example(log_type="ntlm", line=b'{"ts":1,"success":true}')
@example(log_type="ntlm", line=b'{"ts":1,"success":"true"}')
@example(log_type="ntlm", line=b'{"ts":1,"success":1}')  # json.loads 1 == True
@example(log_type="ntlm", line=b'{"ts":1,"success":0.0}')
@example(log_type="notice", line=b'{"ts":1,"note":"EternalSafety::x","msg":["a"]}')
def test_c_scanner_takes_only_what_the_reference_reads_the_same(log_type: str, line: bytes) -> None:
    """The claim behind the C scanner, line by line: a line it takes is one json.loads
    reads (no exception, an object), and each wanted field it gives is what the source
    makes of json.loads' value; a blank line it takes is one bytes.strip() empties."""
    keys = zeek._keys(log_type)
    for raw in (line, line + b"\n", line + b"\r\n"):
        rows, declined, lines = _c_scan(raw, keys)
        assert lines == (1 if raw else 0)  # an empty buffer holds no line
        if declined:
            assert declined == [(0, 0, len(raw))] and rows.height == 0
            continue
        _check_taken_line(raw, keys, rows.row(0, named=True) if rows.height else None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "line",
    [
        b'{"ts":1332008627.33,"uid":"C","id.orig_h":"10.0.0.1","id.orig_p":4557,"path":"\\\\\\\\S\\\\IPC$"}',
        b'{"ts":"1332008627.5","path":null,"share_type":"DISK","x":{"y":[1,{"z":null}],"e":-1.5E+3}}',
        b'{ "ts" : 1332008627 , "path" : "a\\u00e9\\ud83d\\ude00\\n" , "path":"b\xc3\xa9" }  ',
        b'{"ts":"","path":"-","share_type":"(empty)","a":"\\ud83d\\ude00","b":[],"c":{},"d":true}',
        b"{}",
        b"",
        b" \t\x0b\x0c\r",
    ],
)
def test_c_scanner_takes_zeek_lines(line: bytes) -> None:
    """Lines as Zeek (or json.dumps) write them are taken (the fast path is used)."""
    keys = zeek._keys("smb_mapping")
    rows, declined, lines = _c_scan(line + b"\n", keys)
    assert (declined, lines) == ([], 1)
    _check_taken_line(line, keys, rows.row(0, named=True) if rows.height else None)  # type: ignore[arg-type]


def test_c_scanner_nesting_bound() -> None:
    """Nesting is followed with a fixed stack: 64 levels (the object included) are taken,
    deeper lines declined (json.loads' RecursionError depends on the caller's stack)."""
    keys = zeek._keys("smb_mapping")
    for depth, taken in ((63, True), (64, False), (5000, False)):
        line = b'{"ts":1,"a":' + b"[" * depth + b"]" * depth + b"}"
        _, declined, _ = _c_scan(line, keys)
        assert (not declined) is taken, depth
    line = b'{"ts":1,"a":' + b'{"b":' * 63 + b"1" + b"}" * 63 + b"}"
    assert not _c_scan(line, keys)[1]
    line = b'{"ts":1,"a":' + b'{"b":' * 64 + b"1" + b"}" * 64 + b"}"
    assert _c_scan(line, keys)[1]


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(_zeek_json_bytes() | st.binary(max_size=30), max_size=12),
    st.booleans(),
    st.sampled_from(_LOG_TYPES),
)
def test_c_scanner_line_bookkeeping(lines: list[bytes], final_newline: bool, log_type: str) -> None:
    """Many lines in one buffer: lines are split at "\\n" only (as iterating a binary file
    does), declined lines are reported with their exact bytes (newline included), row
    ``_i`` is the line number, and each line is judged as when it is alone."""
    lines = [line.replace(b"\n", b"") for line in lines]
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    keys = zeek._keys(log_type)
    rows, declined, count = _c_scan(data, keys)
    parts = data.split(b"\n")  # not splitlines(): that also splits at "\r" and others
    raws = [part + b"\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    assert count == len(raws)
    declined_at = [at for at, _, _ in declined]
    for at, start, end in declined:
        assert data[start:end] == raws[at]
    taken_rows = dict(zip(rows["_i"].to_list(), rows.drop("_i").rows(named=True), strict=True))
    for at, raw in enumerate(raws):
        alone_rows, alone_declined, _ = _c_scan(raw, keys)
        assert (at in declined_at) == bool(alone_declined)
        if at not in declined_at:
            alone = alone_rows.drop("_i").row(0, named=True) if alone_rows.height else None
            assert taken_rows.get(at) == alone


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400), st.integers(0, 400), st.integers(0, 400))
def test_c_scanner_hostile_bytes(data: bytes, start: int, end: int) -> None:
    """Any bytes, any start and end: no crash, consistent results (memory checks: an ASan
    build, docs/zeek-frames.md)."""
    keys = zeek._keys("ntlm")
    if not start <= end <= len(data):
        with pytest.raises(ValueError):
            _zj().scan(data, start, end, keys, _modes(keys))
        return
    schema, array, declined, lines = _zj().scan(data, start, end, keys, _modes(keys))
    rows = pl.DataFrame(zeek._Arrow(schema, array))
    assert rows.height + len(declined) <= lines
    assert all(start <= a < b <= end for _, a, b in declined)


def test_c_scanner_arguments() -> None:
    scan = _zj().scan
    with pytest.raises(ValueError):
        scan(b"{}", 0, 2, ("ts",), b"tt")
    with pytest.raises(ValueError):
        scan(b"{}", 0, 2, ("ts",), b"x")
    for start, end in ((-1, 2), (0, 3), (2, 1)):
        with pytest.raises(ValueError):
            scan(b"{}", start, end, ("ts",), b"t")
    with pytest.raises(TypeError):
        scan(b"{}", 0, 2, (b"ts",), b"t")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        scan(b"{}", 0, 2, tuple(f"k{i}" for i in range(33)), b"s" * 33)


# which perturbed lines the reference reads with the C scanner (it decodes escapes, takes
# duplicate keys and long lines; it declines numbers and booleans in string fields, ts
# numbers not written [0-9]{1,10}(.[0-9]{1,9})?, and anything not valid JSON)
_C_NEEDS = {
    "none": False, "spaced": False, "null": False, "escapes": False, "nested_other": False,
    "ts_forms": False, "ts_exp": True, "ts_bool": True, "ts_big": True, "blank": False,
    "blank_ws": False, "dup": False, "dup_spaced": False, "number": True, "bool": True,
    "escape_u": False, "long": False, "trailing_space": False, "not_json": True,
    "array_in_wanted": True, "invalid": True, "nan": True,
}  # fmt: skip


@st.composite
def _json_log_c(draw: st.DrawFn) -> tuple[str, int]:
    """An smb_mapping JSON log (as _json_log) and the reference calls the C path makes."""
    lines = [_GOOD]
    expected = 1
    for _ in range(draw(st.integers(1, 60))):
        kind = draw(st.sampled_from(sorted(_PERTURB))) if draw(st.integers(0, 3)) == 0 else "none"
        lines.append(_PERTURB[kind][0])
        expected += _C_NEEDS[kind]
    return "\n".join(lines) + "\n", expected


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_json_log_c(), st.integers(200, 20_000), st.integers(1, 50))
def test_c_json_files(case: tuple[str, int], block: int, rows: int) -> None:
    """frames() == events() with the C scanner, and the reference reads exactly the first
    line and the lines the scanner declines."""
    _zj()
    text, expected = case
    got, fast, calls, _, want, slow = _read(text, block, rows, c=True)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert calls == expected


@pytest.mark.parametrize("kind", sorted(_PERTURB))
def test_c_each_perturbation(kind: str) -> None:
    _zj()
    line = _PERTURB[kind][0]
    text = "\n".join([_GOOD, _GOOD, line, _GOOD, line[::-1] if kind == "not_json" else _GOOD]) + "\n"
    got, fast, calls, _, want, slow = _read(text, 1 << 20, 3, c=True)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()
    assert calls == 1 + _C_NEEDS[kind] + (kind == "not_json")


_NTLM = '{"ts":1332008627.5,"id.orig_h":"10.0.0.3","username":"u","success":true,"domainname":"D"}'
_TSV_HEAD = "#separator \\x09\n#path\tsmb_mapping\n#fields\tts\tuid\tid.orig_h\tid.resp_h\tpath\tshare_type\n"


@pytest.mark.parametrize(
    "middle",
    [
        _TSV_HEAD + "1332008627.5\tC\t10.0.0.9\t10.0.0.8\t\\\\\\\\S\\\\D$\tDISK\n",  # JSON -> TSV
        "#close\t2026-01-01\n",  # a header that changes nothing
        "x y z\n#path\tntlm\n",  # a header that changes the type
        "1332008627.5\tC\t10.0.0.9\t10.0.0.8\tEternalSafety::X\tmsg\n",  # header-less notice
        "ts\tid.orig_h\tpath\n1\t10.0.0.7\tp\n",  # zeek-cut -c header
        # the type changes every few lines (windows after a change: zeek._JS_WINDOW)
        "".join(f"#path\t{t}\n{_NTLM if t == 'ntlm' else _GOOD}\n" for t in ["ntlm", "smb_mapping"] * 30),
    ],
    ids=["tsv", "close", "path", "notice", "cut_header", "alternating"],
)
@pytest.mark.parametrize("block", [64, 1 << 20])
@pytest.mark.parametrize("window", [40, 1 << 14])
def test_c_state_changes_mid_block(
    middle: str, block: int, window: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A declined line that changes the parser state: the lines before it count, the
    lines after it are read again in the new state (JSON lines after a TSV header
    included)."""
    _zj()
    monkeypatch.setattr(zeek, "_JS_WINDOW", window)
    text = "\n".join([_GOOD] * 5) + "\n" + middle + "\n".join([_GOOD] * 5) + "\n"
    got, fast, _, _, want, slow = _read(text, block, 4, c=True)
    assert got.equals(want)
    assert fast.stats.to_dict() == slow.stats.to_dict()


def test_c_real_zeek_json_logs(shared_data: Path) -> None:
    """The real MACCDC 2012 JSON logs: every line but the first (it names the log type)
    taken by the scanner, frames() == events()."""
    _zj()
    logs = sorted((shared_data / "logs").glob("zeek-maccdc2012-*/*.log"))
    assert len(logs) == 3
    for log in logs:
        text = log.read_text()
        assert text.startswith("{")
        got, fast, calls, _, want, slow = _read(text, 1 << 20, 7, c=True)
        assert got.equals(want) and want.height > 0, log
        assert fast.stats.to_dict() == slow.stats.to_dict()
        assert calls == 1, log
        data = log.read_bytes()
        keys = zeek._keys(fast.log_type)
        rows, declined, count = _c_scan(data, keys)
        assert not declined and rows.height == count == data.count(b"\n")
        got_rows = rows.drop("_i").rows(named=True)
        for raw, got_row in zip(data.splitlines(keepends=True), got_rows, strict=True):
            _check_taken_line(raw, keys, got_row)
