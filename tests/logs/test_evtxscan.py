"""The C scanner ``smbguard.logs._evtxscan`` against its Python reference ``winevent._scan_py``.

``scan(xml, INTERESTING)`` must give exactly ``_scan_py(xml)`` (the data dict in the same
order too) or None (decline: the Python reference reads the document), and ``row_from_xml``
must give ``_row_from_xml_reference``'s (EventID, row) on every input: hypothesis-built
XML-ish strings and every record of every shared EVTX file."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import evtx
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from smbguard.logs import winevent
from smbguard.logs.winevent import INTERESTING, _row_from_xml_reference, _scan_py, row_from_xml

try:
    from smbguard.logs import _evtxscan
except ImportError:  # not built: the tests below skip (and fail under CI)
    _evtxscan = None  # type: ignore[assignment]

Scan = Callable[[str, frozenset[str]], Any]


def _c_or_skip() -> Scan:
    if _evtxscan is None:
        if os.environ.get("CI"):
            pytest.fail("smbguard.logs._evtxscan is not built (pip install -e . / setup.py build_ext)")
        pytest.skip("the C scanner is not built here")
    return _evtxscan.scan


@pytest.fixture(scope="module")
def scan() -> Scan:
    return _c_or_skip()


def test_c_scanner_is_built_and_used() -> None:
    """Under CI=true the extension must be importable: CI proves it was compiled."""
    c_scan = _c_or_skip()
    assert winevent._c_scan is c_scan


def _outcome(func: Callable[[str, str], Any], xml: str) -> Any:
    try:
        return ("ok", func(xml, "src"))
    except Exception as exc:  # noqa: BLE001 - both paths must fail the same way too
        return ("raised", type(exc))


def _check(scan: Scan, xml: str) -> bool:
    """The C result equals the reference (or declines); row_from_xml equals the reference.
    Returns whether the C scanner accepted the document."""
    scanned = scan(xml, INTERESTING)
    if scanned is not None:
        expected = _scan_py(xml)
        assert scanned == expected
        if expected[1] is not None:
            assert list(scanned[1].items()) == list(expected[1].items())  # dict(findall) order
    assert _outcome(row_from_xml, xml) == _outcome(_row_from_xml_reference, xml)
    return scanned is not None


HEADER = (
    '<Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System>'
    '<Provider Name="Microsoft-Windows-Security-Auditing"/><EventID>{eid}</EventID>'
    '<TimeCreated SystemTime="2021-12-12T07:15:56.716780Z"/><EventRecordID>7</EventRecordID>'
    "<Channel>{channel}</Channel><Computer>fs03.offsec.lan</Computer></System><EventData>"
)
FRAGMENTS = [
    '<Data Name="', '">', "</Data>", "/>", " />", '"', "<", ">", "&", "&amp;", "&lt;",
    " ", "\t", "\n", "\r", "\x0b", "\x0c", "\x1c", "\x1f", "\x85", "\xa0", "\u2003", "\u3000",
    "\x00", "é", "名", "\ud800", "\udfff", "Name", "x", "-", "0x0", "IpAddress", "TargetUserName",
    "AccessList", "%%4417", "%%1537", "ShareName", "\\\\*\\C$", "LogonType", "3",
    "<EventData>", '<EventData Name="e">', "</EventData>", "<UserData>", "</UserData>",
    "<Share><ShareName>a</ShareName></Share>", "<EventID>", "<EventID Qualifiers=\"0\">",
    "</EventID>", "4624", "5145", "3000", "9999", " 4625\n", "<Channel>", "</Channel>",
    "<Computer>", "</Computer>", 'SystemTime="', "2021-12-12T07:15:56.716780Z", "Security",
    "Microsoft-Windows-SMBServer/Audit", '<Data Name="IpAddress">10.0.0.1</Data>',
    '<Data Name="LogonType">3</Data>', '<Data Name="x" />', '<Data Name="<Data Name="',
    '<Data Name="a">1</Data><Data Name="a">2</Data>', "</Event>",
]  # fmt: skip
DECLINING = ("&", "&amp;", "&lt;", "\ud800", "\udfff", "<UserData>", "</UserData>")
_small = st.sampled_from(["", "a", "x", "IpAddress", "TargetUserName", "ShareName", "AccessList", "Status"])
_element = st.builds(  # a <Data> element, whole or damaged
    lambda name, sep, value, close: f'<Data Name="{name}"{sep}{value}{close}',
    _small | st.text(max_size=4),
    st.sampled_from([">", "/>", " />", "\x1c\x1f/>", "\t\n\r\x0b\x0c/>", '"', "", "\x85/>", " >"]),
    _small | st.text(max_size=4) | st.sampled_from(["-", " 0x0 ", "%%4417 %%1537", "::ffff:1.2.3.4"]),
    st.sampled_from(["</Data>", "", "<", "</Data", "</data>"]),
)
_pieces = st.lists(st.sampled_from(FRAGMENTS) | st.text(max_size=3), max_size=40).map("".join)
_clean = st.lists(
    st.sampled_from([f for f in FRAGMENTS if f not in DECLINING]) | st.text(max_size=3) | _element,
    max_size=40,
).map("".join)  # mostly accepted by the C scanner: exercises its findall
_eids = st.sampled_from(["4624", "4625", "5140", "5145", "4776", "5143", "3000", "551", "31017", "1"])
_channels = st.sampled_from(["Security", "Microsoft-Windows-SMBServer/Audit", "x&amp;y", ""])
documents = st.one_of(
    _pieces,
    st.builds(lambda e, c, body: HEADER.format(eid=e, channel=c) + body, _eids, _channels, _pieces),
    st.builds(lambda e, body: HEADER.format(eid=e, channel="Security") + body, _eids, _clean),
)


@settings(max_examples=3000, deadline=None)
@given(documents)
@example('<EventID>4624</EventID><Data Name="<Data Name="x">v</Data>')
@example('<EventID>4624</EventID><Data Name="a">1</Data><Data Name="b"/><Data Name="a">2</Data>')
@example('<EventID>4624</EventID><Data Name="a"\x1c\x1f\x0b />')
@example('<EventID>4624</EventID><Data Name="a"\x85/>')
@example('<EventID>4624</EventID><Data Name="a">x<Data Name="b">y</Data>')
@example('<EventID>4624</EventID><Data Name="">x</Data><Data Name="é名">\x00</Data>')
@example("<EventID>4624</EventID><Computer>a</Computer")
def test_fuzz_c_scanner_equals_reference(scan: Scan, xml: str) -> None:
    _check(scan, xml)


def _records(path: Path) -> list[Any]:
    """Every record the parser gives (corrupt ones skipped, as EvtxSource does)."""
    try:
        step = evtx.PyEvtxParser(str(path), number_of_threads=1).records().__next__
    except (RuntimeError, OSError, ValueError):
        return []
    out: list[Any] = []
    while True:
        try:
            out.append(step())
        except StopIteration:
            return out
        except (RuntimeError, OSError, ValueError):
            continue


def test_every_record_of_every_shared_evtx_file(scan: Scan, shared_data: Path) -> None:
    files = sorted((shared_data / "evtx").rglob("*.evtx"))
    assert len(files) >= 30
    records = accepted = interesting = 0
    for path in files:
        for record in _records(path):
            xml = record.get("data") if isinstance(record, dict) else None
            if not isinstance(xml, str):
                continue
            records += 1
            accepted += _check(scan, xml)
            event_id = _scan_py(xml)[0]
            interesting += event_id in INTERESTING
    # not vacuous: the C scanner read (nearly) all of them itself
    assert records > 1_000
    assert accepted >= 0.99 * records, (accepted, records, interesting)


def _row(xml: str) -> Any:
    return _row_from_xml_reference(xml, "src")


DOC = HEADER.format(eid="4624", channel="Security")
DECLINED = {
    "ampersand": DOC + '<Data Name="TargetUserName">a&amp;b</Data></EventData></Event>',
    "userdata": DOC.replace("<EventID>4624", "<EventID>5140")
    + "</EventData><UserData><X><ShareName>\\\\*\\C$</ShareName></X></UserData></Event>",
    "eventid regex form": DOC.replace("<EventID>4624", "<EventID>\x0c4624")
    + '<Data Name="TargetUserName">bob</Data>',
    "unicode blank before />": DOC
    + '<Data Name="TargetUserName"\u2003/><Data Name="IpAddress">1.1.1.1</Data>',
    "lone surrogate": DOC + '<Data Name="TargetUserName">\ud800</Data>',
    "no EventID": '<Event><Data Name="TargetUserName">bob</Data></Event>',
}


@pytest.mark.parametrize("name", sorted(DECLINED))
def test_declined_documents_fall_back_to_the_reference(
    scan: Scan, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    xml = DECLINED[name]
    assert scan(xml, INTERESTING) is None
    expected = _row(xml)
    calls: list[str] = []

    def counting(xml: str) -> Any:
        calls.append(xml)
        return _scan_py(xml)

    monkeypatch.setattr(winevent, "_scan_py", counting)
    assert row_from_xml(xml, "src") == expected
    assert calls == [xml]  # the Python reference read it


def test_declined_documents_still_read_right() -> None:
    """What the fallback gives on the declined forms (independent of the C scanner)."""
    assert _row(DECLINED["ampersand"])[1][7] == "a&b"  # user, unescaped
    assert _row(DECLINED["userdata"])[1][9] == "C$"  # share from UserData
    assert _row(DECLINED["eventid regex form"])[0] == "4624"
    row = _row(DECLINED["unicode blank before />"])[1]
    assert row[4] == "1.1.1.1" and row[7] is None  # \s matched \u2003: an empty TargetUserName


def test_accepted_documents_do_not_call_the_reference(scan: Scan, monkeypatch: pytest.MonkeyPatch) -> None:
    xml = DOC + '<Data Name="TargetUserName">bob</Data><Data Name="IpAddress">::ffff:1.2.3.4</Data>'
    monkeypatch.setattr(winevent, "_scan_py", None)  # would raise if called
    event_id, row = row_from_xml(xml, "src")
    assert event_id == "4624" and row is not None
    assert (row[4], row[6], row[7]) == ("1.2.3.4", "fs03.offsec.lan", "bob")
    assert scan(DOC.replace("4624", "1"), INTERESTING) == ("1", None, None, None, None)


def test_scan_argument_errors(scan: Scan) -> None:
    with pytest.raises(TypeError):
        scan(b"<EventID>4624</EventID>", INTERESTING)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scan("<EventID>4624</EventID>", ["4624"])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        scan("<EventID>4624</EventID>")  # type: ignore[call-arg]


# ----------------------------------------------------------------------------- values()
_names = st.sampled_from(["IpAddress", "Status", "ShareName", "x", "", "é"])
_values = (
    st.sampled_from(["", "-", "NULL", "N/A", " - ", "\u2003N/A\x1c", "a", " a b ", "\x85x\xa0"]) | st.text()
)


@settings(max_examples=1000, deadline=None)
@given(st.dictionaries(_names, _values), st.lists(_names, max_size=6))
def test_fuzz_values_equals_val(data: dict[str, str], keys: list[str]) -> None:
    """``_evtxscan.values`` (what event_row uses) gives ``_val`` of each key."""
    _c_or_skip()
    from types import MappingProxyType

    assert _evtxscan is not None
    expected = winevent._vals_py(data, tuple(keys), winevent._EMPTY)
    assert expected == tuple(winevent._val(data, key) for key in keys)
    assert _evtxscan.values(data, tuple(keys), winevent._EMPTY) == expected
    assert _evtxscan.values(MappingProxyType(data), tuple(keys), winevent._EMPTY) == expected


def test_values_odd_inputs() -> None:
    _c_or_skip()
    assert _evtxscan is not None
    values, empty = _evtxscan.values, winevent._EMPTY

    class Upper(dict[str, str]):
        def get(self, key: str, default: Any = None) -> Any:
            return super().get(key, default).upper() if key in self else default

    assert values(Upper(a=" x "), ("a", "b"), empty) == ("X", None)  # its own get(), as data.get
    with pytest.raises(AttributeError):  # not a str: _val's value.strip() fails the same way
        values({"a": 1}, ("a",), empty)  # type: ignore[dict-item]
    with pytest.raises(TypeError):
        values({}, ["a"], empty)  # type: ignore[arg-type]
    assert winevent._vals is values  # event_row uses it


def test_evtx_source_same_with_and_without_c(
    scan: Scan, shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """EvtxSource._rows (which inlines row_from_xml) gives the same events and counters with the
    C scanner and values as with the Python references, on every shared EVTX file."""
    from smbguard.logs.winevent import EvtxSource

    files = sorted((shared_data / "evtx").rglob("*.evtx"))
    events = 0
    for path in files:
        fast = EvtxSource(str(path))
        fast_events = list(fast.events())
        with monkeypatch.context() as patch:
            patch.setattr(winevent, "_c_scan", None)
            patch.setattr(winevent, "_vals", winevent._vals_py)
            slow = EvtxSource(str(path))
            slow_events = list(slow.events())
        assert fast_events == slow_events, path
        assert fast.stats.to_dict() == slow.stats.to_dict(), path
        events += len(fast_events)
    assert events > 500
