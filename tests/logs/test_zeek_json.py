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


def _read(text: str, block: int, rows: int, split: int = 2, bisect: int = 10**9) -> _Read:
    """(frames, fast source, reference calls, gated-reader runs, events() frame, slow source)."""
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
        saved = zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT
        # split: runs decoded in halves; bisect: rejected runs cut down to this many lines
        zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT = block, 1, split, bisect
        zeek._Block._json_gated = spy  # type: ignore[method-assign]
        try:
            fast = ZeekSource(name)
            got, calls = frames_counting_lines(fast, rows)
        finally:
            zeek._BLOCK, zeek._SMALL, zeek._JS_SPLIT, zeek._JS_BISECT = saved
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
