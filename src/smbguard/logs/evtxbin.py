"""A sans-I/O reader of EVTX chunks that takes event fields straight from the BinXML
substitution values, without rendering XML.

References: libyal, "Windows XML Event Log (EVTX) format" (sections 3 "Chunk",
4 "Event record", 5 "Binary XML": 5.x tokens, template instance, value types) and the
Rust ``evtx`` crate (omerbenamram/evtx), whose XML rendering
:mod:`smbguard.logs.winevent` reads otherwise.

A record's BinXML is almost always a fragment header, one *template instance* (a
template id and the chunk offset of the template definition, the definition itself
inline the first time a chunk uses it) and the instance's substitution array: a count,
``count`` descriptors (u16 size, u8 value type, u8 zero) and the values. A template
definition is parsed once per chunk into a :class:`Layout`: which substitution (or
which literal text of the template) gives the EventID, System/TimeCreated@SystemTime,
System/Channel, System/Computer and the EventData/UserData fields that
:func:`smbguard.logs.winevent.event_row` reads. A record then costs a few slices and the
checks that make the result certain. (Used only with ``EvtxSource.fast``: in CPython it
measured no faster than the Rust parser's XML; docs/evtx-binary.md has the numbers.)

The layout reproduces what :func:`smbguard.logs.winevent.row_from_xml` finds in the
rendered XML (its ``str.find`` and regular expressions), and only for shapes where that
is certain. Anything else (another token, a nested BinXML or array value, a value that
would render differently, a template used before its definition, a checksum that does
not match, odd sizes, ...) raises :class:`~smbguard.errors.DecodeError`: the caller
then reads the whole chunk with the Rust parser. See docs/evtx-binary.md.
"""

from __future__ import annotations

import codecs
import re
import struct
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import accumulate, count
from typing import Any, NamedTuple

from smbguard.errors import DecodeError

CHUNK_MAGIC = b"ElfChnk\x00"
CHUNK_SIZE = 65536
CHUNK_HEADER_SIZE = 512
RECORD_MAGIC = 0x00002A2A  # "**\0\0" as a little-endian u32

# libyal 3.1 "Chunk header": signature, first/last event record number, first/last event
# record identifier, header size, last event record data offset, free space offset,
# event records checksum, 64 reserved bytes, flags, header checksum.
_CHUNK_HEADER = struct.Struct("<8sQQQQIIII64xII")
# libyal 4 "Event record" header (signature, size, identifier, written time) and the
# BinXML fragment header (5.2: 0x0f 01 01 00) that starts the record's data.
_RECORD = struct.Struct("<IIQQI")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")
_INSTANCE = struct.Struct("<B5xII")  # libyal 5.4.x template instance, then a u32
_NAME = struct.Struct("<IHH")  # libyal 5.3.x "Name": next offset, hash, character count
_ELEMENT = struct.Struct("<BHII")  # token, dependency identifier, data size, name offset
_SUBST = struct.Struct("<BHB")  # token, substitution identifier, value type
_FRAGMENT = 0x0001010F  # fragment header 0x0f 01 01 00 as a little-endian u32
_TEMPLATE_INSTANCE = 0x0C

# value types (libyal 5.5 "Value types")
T_NULL, T_STRING, T_UINT8, T_UINT16, T_UINT32, T_UINT64 = 0x00, 0x01, 0x04, 0x06, 0x08, 0x0A
T_INT8, T_INT16, T_INT32, T_INT64 = 0x03, 0x05, 0x07, 0x09
T_GUID, T_FILETIME, T_SID, T_HEX32, T_HEX64, T_BINARY = 0x0F, 0x11, 0x13, 0x14, 0x15, 0x0E
T_BINXML = 0x21

#: fixed sizes of the value types any (also unread) substitution may have on the fast path
_FIXED = {
    T_INT8: 1, T_UINT8: 1, T_INT16: 2, T_UINT16: 2, T_INT32: 4, T_UINT32: 4, T_INT64: 8,
    T_UINT64: 8, T_GUID: 16, T_FILETIME: 8, T_HEX32: 4, T_HEX64: 8, T_NULL: 0,
}  # fmt: skip
_VARIABLE = frozenset({T_STRING, T_SID, T_BINARY, T_BINXML})
_UNSIGNED = {T_UINT8: 1, T_UINT16: 2, T_UINT32: 4, T_UINT64: 8}
#: every value type libyal 5.5 (and the Rust parser) knows
_KNOWN_TYPES = frozenset([*range(0x00, 0x16), 0x20, 0x21, 0x23, *range(0x81, 0x96)])

_EPOCH_1601 = datetime(1601, 1, 1, tzinfo=UTC)
_FILETIME_MIN = 116444736000000000  # 1970-01-01
_FILETIME_MAX = 2650467744000000000  # 2440-01-01: beyond it, the rendering is not checked

# Characters whose XML rendering and html.unescape might not give them back (controls,
# C1 controls, non-characters, surrogates): a value holding one is left to the Rust path.
_ODD_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
_XML_SPECIAL = re.compile("[&<>\"']")
_WORD = re.compile(r"\w+")


@dataclass(frozen=True, slots=True)
class ChunkHeader:
    """libyal 3.1 "Chunk header" (the fields this reader uses)."""

    first_record_number: int
    last_record_number: int
    first_record_id: int
    last_record_id: int
    header_size: int
    last_record_offset: int
    free_space_offset: int
    events_checksum: int
    flags: int
    header_checksum: int


def parse_chunk_header(chunk: bytes) -> ChunkHeader:
    """The header of a 64 KiB chunk; DecodeError unless magic, sizes and both CRC32
    checksums (libyal 3.1: header bytes 0-120 and 128-512; records 512..free space) hold."""
    if len(chunk) != CHUNK_SIZE:
        raise DecodeError(f"chunk of {len(chunk)} bytes")
    (magic, first_num, last_num, first_id, last_id, header_size, last_offset, free, events_crc,
     flags, header_crc) = _CHUNK_HEADER.unpack_from(chunk)  # fmt: skip
    if magic != CHUNK_MAGIC:
        raise DecodeError("bad chunk magic")
    if header_size != 128 or not CHUNK_HEADER_SIZE < free <= CHUNK_SIZE:
        raise DecodeError("bad chunk header sizes")
    if not CHUNK_HEADER_SIZE <= last_offset < free:
        raise DecodeError("bad last record offset")
    if zlib.crc32(chunk[128:CHUNK_HEADER_SIZE], zlib.crc32(chunk[:120])) != header_crc:
        raise DecodeError("chunk header checksum mismatch")
    if zlib.crc32(chunk[CHUNK_HEADER_SIZE:free]) != events_crc:
        raise DecodeError("chunk records checksum mismatch")
    if last_id < first_id or last_num - first_num != last_id - first_id:
        raise DecodeError("inconsistent record numbers")
    return ChunkHeader(
        first_num, last_num, first_id, last_id, header_size, last_offset, free, events_crc,
        flags, header_crc,
    )  # fmt: skip


_TABLES = struct.Struct("<64I32I")  # libyal 3.1: common string offsets, template pointers


def check_tables(chunk: bytes) -> None:
    """The chunk header's string table and template table (libyal 3.1), which the Rust
    parser reads in full when it loads a chunk (a bad entry fails the whole chunk there,
    whether a record uses it or not): every string chain must hold well-formed names and
    every template chain templates this reader parses; else DecodeError."""
    offsets = _TABLES.unpack_from(chunk, 128)
    seen: set[int] = set()
    for offset in offsets[:64]:
        while offset:
            if offset in seen or len(seen) > 4096:
                raise DecodeError("string table chain loops or is too long")
            seen.add(offset)
            _read_name(chunk, offset)
            (offset,) = _U32.unpack_from(chunk, offset)
    seen.clear()
    for offset in offsets[64:]:
        while offset:
            if offset in seen or len(seen) > 1024:
                raise DecodeError("template table chain loops or is too long")
            seen.add(offset)
            parse_template(chunk, offset)
            (offset,) = _U32.unpack_from(chunk, offset)


# ---------------------------------------------------------------------------- templates
@dataclass(frozen=True, slots=True)
class Subst:
    """A substitution token in a template (libyal 5.4.x "Normal/Optional substitution")."""

    index: int
    optional: bool


#: a piece of element or attribute content: literal text or a substitution
Piece = str | Subst


@dataclass(slots=True)
class _Element:
    name: str
    attributes: list[tuple[str, list[Piece]]]
    children: list[_Element | Piece]
    order: int  # position in document order (pre-order)


@dataclass(frozen=True, slots=True)
class Layout:
    """Where a template puts the fields the event mapping reads.

    Each slot is a substitution index (int), literal text (str) or None (absent).
    ``data``: field name -> slot, as ``row_from_xml`` would build its dict (EventData
    ``Data[@Name]`` first, then UserData leaf elements); only names in the wanted set.
    An empty element is left out: for the mapping an empty value and an absent one are the
    same (both become None)."""

    event_id: int | str
    time: int | None
    channel: int | str | None
    computer: int | str | None
    data: tuple[tuple[str, int | str], ...]
    max_index: int
    before_event_id: frozenset[int]  # substitutions rendered before the EventID's text
    plan: tuple[tuple[str, int, int], ...] = ()  # data from substitutions: (name, owner, index)
    literals: tuple[tuple[str, str], ...] = ()  # data from the template's own text


def _read_name(chunk: bytes, offset: int) -> tuple[str, int]:
    """The name at ``offset`` (libyal 5.3.x: next offset, hash, character count, UTF-16
    characters, NUL) and the offset after it."""
    if not CHUNK_HEADER_SIZE <= offset <= CHUNK_SIZE - 10:
        raise DecodeError("name offset out of the chunk")
    _next, _hash, count = _NAME.unpack_from(chunk, offset)
    start = offset + 8
    stop = start + 2 * count
    if stop + 2 > len(chunk) or chunk[stop : stop + 2] != b"\x00\x00" or count == 0:
        raise DecodeError("bad name")
    try:
        return chunk[start:stop].decode("utf-16-le"), stop + 2
    except UnicodeDecodeError as exc:
        raise DecodeError("bad name text") from exc


class _TemplateParser:
    """Parses one template definition's BinXML (libyal 5.x tokens) into an element tree."""

    def __init__(self, chunk: bytes, start: int, end: int) -> None:
        self.chunk = chunk
        self.pos = start
        self.end = end
        self.order = 0
        self.max_index = -1
        self.external: list[tuple[int, bytes]] = []  # names read from before the template

    def byte(self) -> int:
        if self.pos >= self.end:
            raise DecodeError("template runs past its end")
        return self.chunk[self.pos]

    def unpack(self, fmt: struct.Struct) -> tuple[Any, ...]:
        if self.pos + fmt.size > self.end:
            raise DecodeError("template runs past its end")
        values = fmt.unpack_from(self.chunk, self.pos)
        self.pos += fmt.size
        return values

    def name(self, offset: int) -> str:
        """libyal 5.3.x name: inline when its offset is where we are, else elsewhere in the
        chunk (before: a name defined earlier, which a cached template checks again)."""
        text, stop = _read_name(self.chunk, offset)
        if offset == self.pos:
            self.pos = stop
            if self.pos > self.end:
                raise DecodeError("inline name runs past the template")
        elif offset > self.pos:
            raise DecodeError("name defined after its use")  # Rust may read it; not us
        else:
            self.external.append((offset + 6, self.chunk[offset + 6 : stop]))
        if not _WORD.fullmatch(text):
            raise DecodeError("element or attribute name is not a plain word")
        return text

    def pieces(self, stops: bytes) -> list[Piece]:
        """Value text and substitutions until a token in ``stops``."""
        out: list[Piece] = []
        while True:
            token = self.byte()
            if token in stops:
                return out
            if token in (0x05, 0x45):  # value text: string type, u16 length-prefixed
                self.pos += 1
                (value_type,) = self.unpack(_B)
                if value_type != T_STRING:
                    raise DecodeError("non-string value text in template")
                (count,) = self.unpack(_U16)
                stop = self.pos + 2 * count
                if stop > self.end:
                    raise DecodeError("value text runs past the template")
                try:
                    text = self.chunk[self.pos : stop].decode("utf-16-le")
                except UnicodeDecodeError as exc:
                    raise DecodeError("bad value text") from exc
                self.pos = stop
                if _ODD_TEXT.search(text) or _XML_SPECIAL.search(text):
                    raise DecodeError("template text that renders escaped")
                out.append(text)
            elif token in (0x0D, 0x0E):
                _token, index, declared = self.unpack(_SUBST)
                if declared not in _KNOWN_TYPES:  # the Rust parser fails on an unknown one
                    raise DecodeError(f"substitution of unknown value type 0x{declared:02x}")
                self.max_index = max(self.max_index, index)
                out.append(Subst(index, token == 0x0E))
            else:
                raise DecodeError(f"unsupported token 0x{token:02x} in content")

    def element(self) -> _Element:
        token, _dependency, size, name_offset = self.unpack(_ELEMENT)
        if token not in (0x01, 0x41):
            raise DecodeError(f"expected an element, got token 0x{token:02x}")
        end = self.pos - 4 + size  # the data size counts from the name offset on
        if end > self.end:
            raise DecodeError("element runs past the template")
        element = _Element(self.name(name_offset), [], [], self.order)
        self.order += 1
        if token == 0x41:
            (attributes_size,) = self.unpack(_U32)
            attributes_end = self.pos + attributes_size
            while self.byte() in (0x06, 0x46):
                self.pos += 1
                (offset,) = self.unpack(_U32)
                name = self.name(offset)
                element.attributes.append((name, self.pieces(b"\x06\x46\x02\x03")))
            if self.pos != attributes_end:
                raise DecodeError("attribute list size mismatch")
        close = self.byte()
        self.pos += 1
        if close == 0x02:  # close start element: content, then end element
            while True:
                token = self.byte()
                if token == 0x04:
                    self.pos += 1
                    break
                if token in (0x01, 0x41):
                    element.children.append(self.element())
                else:
                    element.children.extend(self.pieces(b"\x04\x01\x41"))
        elif close != 0x03:  # close empty element
            raise DecodeError(f"unexpected token 0x{close:02x} after start element")
        if self.pos != end:
            raise DecodeError("element data size mismatch")
        return element


_B = struct.Struct("<B")


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed template definition (libyal 5.4.x): its element tree, the highest
    substitution index it uses, the substitutions before its EventID and where it ends."""

    root: _Element
    max_index: int
    end: int
    external: tuple[tuple[int, bytes], ...]  # names read from outside it: (offset, bytes)
    serial: int  # identifies the template in layout caches


_SERIALS = count()
#: templates by (definition offset, definition bytes): the same bytes at the same offset are
#: the same template when the names it reads from outside itself are the same too
_TEMPLATES: dict[tuple[int, bytes], Template] = {}
_CACHE_LIMIT = 4096


def parse_template(chunk: bytes, offset: int, limit: int = CHUNK_SIZE) -> Template:
    """The template definition at ``offset`` (libyal 5.4.x "Template definition": next
    offset, GUID, data size, then a BinXML fragment ending in end-of-file), which must
    end by ``limit``. Parsed once per distinct (offset, bytes, outside names)."""
    if not CHUNK_HEADER_SIZE <= offset <= limit - 24:
        raise DecodeError("template offset out of the chunk")
    (size,) = _U32.unpack_from(chunk, offset + 20)
    start = offset + 24
    end = start + size
    if end > limit or size < 6:
        raise DecodeError("template size out of the chunk")
    key = (offset, chunk[start:end])
    cached = _TEMPLATES.get(key)
    if cached is not None:
        for at, raw in cached.external:  # the same names (count, characters, NUL) there
            if chunk[at : at + len(raw)] != raw:
                break
        else:
            return cached
    if _U32.unpack_from(chunk, start)[0] != _FRAGMENT or chunk[end - 1] != 0x00:
        raise DecodeError("template is not one fragment")
    parser = _TemplateParser(chunk, start + 4, end - 1)
    root = parser.element()
    if parser.pos != end - 1:
        raise DecodeError("trailing tokens in template")
    template = Template(root, parser.max_index, end, tuple(parser.external), next(_SERIALS))
    if len(_TEMPLATES) >= _CACHE_LIMIT:
        _TEMPLATES.clear()
    _TEMPLATES[key] = template
    return template


def layout(template: Template, wanted: frozenset[str]) -> Layout:
    """Where ``template`` puts the EventID, time, channel, computer and the ``wanted`` fields."""
    return _layout(template.root, wanted, template.max_index)


def _content(element: _Element) -> int | str | None:
    """An element's text as one slot: None when empty; DecodeError for child elements or
    several pieces (their rendering is not reproduced here)."""
    children = element.children
    if not children:
        return None
    if len(children) > 1 or isinstance(children[0], _Element):
        raise DecodeError(f"<{element.name}> content is not a single value")
    piece = children[0]
    return piece if isinstance(piece, str) else piece.index


def _walk(element: _Element, parents: tuple[str, ...]) -> list[tuple[_Element, tuple[str, ...]]]:
    out = [(element, parents)]
    inner = (*parents, element.name)
    for child in element.children:
        if isinstance(child, _Element):
            out.extend(_walk(child, inner))
    return out


def _layout(root: _Element, wanted: frozenset[str], max_index: int) -> Layout:
    """Reproduce ``row_from_xml`` on the template (see the module docstring). Document
    order matters: that code searches after the first ``<EventID``."""
    if root.name != "Event":
        raise DecodeError("template root is not <Event>")
    elements = _walk(root, ())
    ids = [(e, p) for e, p in elements if e.name.startswith("EventID")]
    if len(ids) != 1 or ids[0][0].name != "EventID" or ids[0][1] != ("Event", "System"):
        raise DecodeError("not exactly one System/EventID")
    eid_element = ids[0][0]
    if any(name != "Qualifiers" for name, _ in eid_element.attributes):
        raise DecodeError("EventID attributes")
    event_id = _content(eid_element)
    if event_id is None:
        raise DecodeError("empty EventID")
    if isinstance(event_id, str) and not (event_id.strip(" \t\r\n").isdigit() and event_id.isascii()):
        raise DecodeError("EventID text is not a number")
    if isinstance(event_id, str):
        event_id = event_id.strip(" \t\r\n")
        if str(int(event_id)) != event_id:  # the XML path keeps "0042" as it is written
            raise DecodeError("EventID text with leading zeros")
    after = [(e, p) for e, p in elements if e.order > eid_element.order and not _inside(e, eid_element)]
    # TimeCreated@SystemTime: the first 'SystemTime="' after the EventID
    times = [(e, pieces) for e, _ in after for name, pieces in e.attributes if name.endswith("SystemTime")]
    time: int | None = None
    if len(times) > 1:
        raise DecodeError("several SystemTime attributes")
    if times:
        element, pieces = times[0]
        if [name for name, _ in element.attributes if name.endswith("SystemTime")] != ["SystemTime"]:
            raise DecodeError("SystemTime attribute name")
        if len(pieces) != 1 or not isinstance(pieces[0], Subst):
            raise DecodeError("SystemTime is not one substitution")
        time = pieces[0].index
    channel = _single(after, "Channel")
    computer = _single(after, "Computer")
    if isinstance(channel, str) and _XML_SPECIAL.search(channel):
        raise DecodeError("Channel text that renders escaped")
    # EventData/Data[@Name]: after the first "<EventData", else after the EventID
    starts = [e.order for e, _ in after if e.name.startswith("EventData")]
    data_from = starts[0] if starts else eid_element.order
    data: dict[str, int | str] = {}
    seen: set[str] = set()
    for element, _ in elements:
        if element.name != "Data" or not element.attributes:
            continue
        first, pieces = element.attributes[0]
        if first != "Name":
            if any(name == "Name" for name, _ in element.attributes):
                raise DecodeError("Data with Name after another attribute")
            continue
        if len(pieces) != 1 or not isinstance(pieces[0], str):
            raise DecodeError("Data Name is not literal text")
        name = pieces[0]
        if name not in wanted:
            continue
        if element.order < data_from:
            raise DecodeError("Data before EventData")
        if len(element.attributes) != 1 or name in seen:
            raise DecodeError(f"Data {name}: other attributes or repeated")
        seen.add(name)
        slot = _content(element)
        if slot is not None:
            data[name] = slot
    # UserData leaf elements (``_USERDATA`` / ``_ELEMENT``), EventData taking precedence
    user = [(e, p) for e, p in elements if e.name == "UserData"]
    if user:
        if len(user) > 1 or user[0][0].attributes or user[0][0].order < eid_element.order:
            raise DecodeError("UserData shape")
        for element, _ in _walk(user[0][0], ())[1:]:
            if element.name not in wanted:
                continue
            if element.attributes or element.name in seen:
                raise DecodeError(f"UserData {element.name}: attributes or repeated")
            seen.add(element.name)
            if any(isinstance(child, _Element) for child in element.children):
                continue  # not a leaf: the regular expression does not match it
            slot = _content(element)
            if slot is not None:
                data.setdefault(element.name, slot)
    before = frozenset(_substs_before(root, eid_element))
    plan = tuple(
        (name, slot >> _OWNER, slot & 0xFFFF) for name, slot in data.items() if isinstance(slot, int)
    )
    literals = tuple((name, slot) for name, slot in data.items() if isinstance(slot, str))
    return Layout(event_id, time, channel, computer, tuple(data.items()), max_index, before, plan, literals)


def _substs_before(root: _Element, target: _Element) -> list[int]:
    """Substitution indexes rendered before ``target``'s content (its attributes included)."""
    out: list[int] = []
    for item in _document_order(root):
        if item is target:
            out.extend(p.index for _, pieces in target.attributes for p in pieces if isinstance(p, Subst))
            return out
        if isinstance(item, Subst):
            out.append(item.index)
    raise DecodeError("EventID element not in the template")


def _document_order(element: _Element) -> Iterator[_Element | Subst]:
    yield element
    for _, pieces in element.attributes:
        yield from (p for p in pieces if isinstance(p, Subst))
    for child in element.children:
        if isinstance(child, _Element):
            yield from _document_order(child)
        elif isinstance(child, Subst):
            yield child


def _inside(element: _Element, parent: _Element) -> bool:
    return any(child is element or (isinstance(child, _Element) and _inside(element, child))
               for child in parent.children)  # fmt: skip


def _single(after: list[tuple[_Element, tuple[str, ...]]], name: str) -> int | str | None:
    """The text of the one ``<name>`` element after the EventID (``str.find`` of
    ``<name>``), None when there is none; DecodeError for shapes not reproduced."""
    found = [e for e, _ in after if e.name == name]
    if not found:
        return None
    if len(found) > 1 or found[0].attributes:
        raise DecodeError(f"<{name}> repeated or with attributes")
    slot = _content(found[0])
    if slot is None:
        raise DecodeError(f"empty <{name}>")
    return slot


# ---------------------------------------------------------------------------- values
def _string(chunk: bytes, start: int, size: int) -> str:
    """A UTF-16LE string value as the XML path gives it back. A NUL (or another control
    character) is not reproduced: DecodeError, the chunk goes to the Rust parser."""
    try:
        text = chunk[start : start + size].decode("utf-16-le")
    except UnicodeDecodeError as exc:
        raise DecodeError("bad UTF-16 string value") from exc
    if _ODD_TEXT.search(text):
        raise DecodeError("string value with characters not reproduced")
    return text


def value_text(chunk: bytes, start: int, size: int, value_type: int) -> str:
    """A substitution value as ``row_from_xml`` reads it from the rendered XML."""
    if value_type == T_STRING:
        return _string(chunk, start, size)
    if value_type in _UNSIGNED and size == _UNSIGNED[value_type]:
        return str(int.from_bytes(chunk[start : start + size], "little"))
    if value_type == T_HEX32 and size == 4:
        return f"0x{int.from_bytes(chunk[start : start + 4], 'little'):x}"
    if value_type == T_HEX64 and size == 8:
        return f"0x{int.from_bytes(chunk[start : start + 8], 'little'):x}"
    if value_type == T_NULL and size == 0:
        return ""
    raise DecodeError(f"value type 0x{value_type:02x} of size {size} not reproduced")


def filetime(chunk: bytes, start: int, size: int, value_type: int) -> datetime | None:
    """TimeCreated@SystemTime as ``parse_time`` of its rendering: FILETIME truncated to
    microseconds, UTC."""
    if value_type == T_NULL and size == 0:
        return None
    if value_type != T_FILETIME or size != 8:
        raise DecodeError("SystemTime is not a FILETIME")
    ticks = int.from_bytes(chunk[start : start + 8], "little")
    if not _FILETIME_MIN <= ticks < _FILETIME_MAX:
        raise DecodeError("FILETIME out of the checked range")
    return _EPOCH_1601 + timedelta(microseconds=ticks // 10)


# ---------------------------------------------------------------------------- records
class Fields(NamedTuple):
    """What the mapping needs of one interesting record (immutable, one per record)."""

    when: datetime | None
    computer: str | None
    channel: str | None
    data: dict[str, str]


#: (EventRecordID, EventID, Fields or None when the EventID is not wanted); the C reader
#: gives the fields as a plain tuple in the order of :class:`Fields`
Record = tuple[int, int, tuple[datetime | None, str | None, str | None, dict[str, str]] | None]

_DESCRIPTORS: dict[int, struct.Struct] = {}
_SIGNATURES: dict[bytes, _Signature] = {}


def _descriptors(count: int) -> struct.Struct:
    fmt = _DESCRIPTORS.get(count)
    if fmt is None:
        fmt = _DESCRIPTORS[count] = struct.Struct("<" + "Hxx" * count)
    return fmt


@dataclass(frozen=True, slots=True)
class _Signature:
    """What a record's value types (one descriptor array shape) need checked per record.

    ``mask``/``expected`` over the descriptor array read as one little-endian integer:
    every fixed-size value has its size, every string an even size, every padding byte
    is zero (libyal 5.4.x "Substitution array": u16 size, u8 type, u8 zero)."""

    mask: int
    expected: int
    sids: tuple[int, ...]
    nested: tuple[int, ...]
    filetimes: tuple[int, ...]


def _signature(types: bytes) -> _Signature:
    """DecodeError for a value type the fast path does not take (the Rust parser would
    read it differently or not at all: arrays, ANSI strings, SizeT, ...)."""
    mask = expected = 0
    for index, value_type in enumerate(types):
        shift = 32 * index
        mask |= 0xFF << (shift + 24)  # the padding byte
        if value_type in _FIXED:
            mask |= 0xFFFF << shift
            expected |= _FIXED[value_type] << shift
        elif value_type == T_STRING:
            mask |= 1 << shift
        elif value_type not in _VARIABLE:
            raise DecodeError(f"value type 0x{value_type:02x} not read on the fast path")
    sids = tuple(i for i, t in enumerate(types) if t == T_SID)
    nested = tuple(i for i, t in enumerate(types) if t == T_BINXML)
    filetimes = tuple(i for i, t in enumerate(types) if t == T_FILETIME)
    return _Signature(mask, expected, sids, nested, filetimes)


class Instance(NamedTuple):
    """A template instance: its template and definition offset, the value types, sizes
    and offsets, and the nested BinXML instances by value index. (Immutable; a named
    tuple rather than a frozen dataclass: one is built per record, and that is cheaper.)"""

    template: Template
    definition: int
    types: bytes
    sizes: tuple[int, ...]
    offsets: list[int]  # where each value starts; the last item: where the values end
    nested: tuple[tuple[int, Instance], ...]


_new_instance = tuple.__new__  # Instance(...) without the generated __new__ (per record)
_OWNER = 16  # a nested value's substitution k is numbered (k + 1) << _OWNER | its own index


def _expanded(element: _Element, nested: tuple[tuple[int, Instance], ...]) -> _Element:
    """``element`` with each nested-BinXML substitution replaced by the nested template's
    tree, whose substitutions are renumbered (see ``_OWNER``). One level only."""
    by_index = dict(nested)
    for _, pieces in element.attributes:
        if any(isinstance(p, Subst) and p.index in by_index for p in pieces):
            raise DecodeError("nested BinXML in an attribute")
    children: list[_Element | Piece] = []
    for child in element.children:
        if isinstance(child, _Element):
            children.append(_expanded(child, nested))
        elif isinstance(child, Subst) and child.index in by_index:
            inner = by_index[child.index]
            if inner.nested:
                raise DecodeError("nested BinXML inside nested BinXML")
            children.append(_renumbered(inner.template.root, (child.index + 1) << _OWNER))
        else:
            children.append(child)
    return _Element(element.name, element.attributes, children, 0)


def _renumbered(element: _Element, base: int) -> _Element:
    def piece(p: Piece) -> Piece:
        return Subst(base | p.index, p.optional) if isinstance(p, Subst) else p

    return _Element(
        element.name,
        [(name, [piece(p) for p in pieces]) for name, pieces in element.attributes],
        [_renumbered(c, base) if isinstance(c, _Element) else piece(c) for c in element.children],
        0,
    )


def _numbered(root: _Element) -> _Element:
    """Document-order numbers for a tree built by ``_expanded``."""
    for number, item in enumerate(e for e in _document_order(root) if isinstance(e, _Element)):
        item.order = number
    return root


class _Chunk:
    """Templates of one chunk, parsed once each (by definition offset)."""

    __slots__ = ("chunk", "shapes", "templates", "wanted")

    def __init__(self, chunk: bytes, wanted: frozenset[str]) -> None:
        self.chunk = chunk
        self.templates: dict[int, Template] = {}
        self.shapes: dict[Any, Layout] = {}  # layouts by definition offset(s), this chunk
        self.wanted = wanted

    def instance(self, at: int, end: int, depth: int = 0) -> Instance:
        """A template instance whose token is at ``at`` (libyal 5.4.x), inside ``..end``.
        Checks every value's type and size, SIDs and nested BinXML (what the Rust parser
        would read otherwise or refuse; it reads undecodable UTF-16 lossily, no error)."""
        chunk = self.chunk
        if at + 14 > end:
            raise DecodeError("template instance past the data")
        # token 0x0c, one byte, template id, definition offset; then the substitution count
        # when the definition is elsewhere (else the definition, then the count)
        token, definition, count = _INSTANCE.unpack_from(chunk, at)
        if token != _TEMPLATE_INSTANCE:
            raise DecodeError("not a template instance")
        template = self.templates.get(definition)
        if template is not None and definition != at + 10:
            at += 14
        elif definition == at + 10:  # the definition is inline: parse it, skip over it
            if template is not None:
                raise DecodeError("template defined twice at one offset")
            template = self.templates[definition] = parse_template(chunk, definition, end)
            at = template.end
            if at + 4 > end:
                raise DecodeError("substitution count past the data")
            (count,) = _U32.unpack_from(chunk, at)
            at += 4
        else:
            raise DecodeError("template used before its definition")
        values = at + 4 * count
        if count <= template.max_index or values > end:
            raise DecodeError("substitution array does not fit the template or the data")
        descriptors = chunk[at:values]
        types = descriptors[2::4]
        signature = _SIGNATURES.get(types)
        if signature is None:
            signature = _SIGNATURES[types] = _signature(types)
        if int.from_bytes(descriptors, "little") & signature.mask != signature.expected:
            raise DecodeError("value of another size than its type, odd string or padding")
        sizes = (_DESCRIPTORS.get(count) or _descriptors(count)).unpack(descriptors)
        offsets = list(accumulate(sizes, initial=values))
        if offsets[-1] > end:
            raise DecodeError("values run past the data")
        for index in signature.filetimes:  # the Rust parser fails a date it cannot represent
            start = offsets[index]
            if int.from_bytes(chunk[start : start + 8], "little") >= _FILETIME_MAX:
                raise DecodeError("FILETIME value beyond the checked range")
        for index in signature.sids:
            start = offsets[index]
            size = sizes[index]
            if size < 8 or chunk[start] != 1 or size != 8 + 4 * chunk[start + 1]:
                raise DecodeError("malformed SID value")  # the Rust parser reads it by its count
        nested: tuple[tuple[int, Instance], ...] = ()
        if signature.nested:
            if depth >= 4:
                raise DecodeError("nested BinXML too deep")
            found = []
            for i in signature.nested:
                start, stop = offsets[i], offsets[i + 1]
                if stop - start < 5 or _U32.unpack_from(chunk, start)[0] != _FRAGMENT:
                    raise DecodeError("nested BinXML without fragment header")
                inner = self.instance(start + 4, stop, depth + 1)
                if inner.offsets[-1] != stop - 1 or chunk[stop - 1] != 0:
                    raise DecodeError("nested BinXML does not end after its values")
                found.append((i, inner))
            nested = tuple(found)
        return _new_instance(Instance, (template, definition, types, sizes, offsets, nested))

    def layout(self, instance: Instance, expand: bool) -> Layout:
        """The layout of a record's template; ``expand``: with its nested BinXML values in
        place (a nested template per value)."""
        local: Any = instance.definition
        if expand and len(instance.nested) == 1:  # the key read_chunk looks up first
            local = (local, instance.nested[0][0], instance.nested[0][1].definition)
        elif expand and instance.nested:
            local = (local, tuple((i, n.definition) for i, n in instance.nested))
        found = self.shapes.get(local)
        key: Any = (instance.template.serial, self.wanted)
        if expand and instance.nested:
            key = (*key, tuple((i, n.template.serial) for i, n in instance.nested))
        if found is None:
            found = _LAYOUTS.get(key)
        if found is None:
            root = instance.template.root
            if expand and instance.nested:
                root = _numbered(_expanded(root, instance.nested))
            if len(_LAYOUTS) >= _CACHE_LIMIT:
                _LAYOUTS.clear()
                _EXTRACTORS.clear()  # keyed by id() of layouts
            found = _LAYOUTS[key] = _layout(root, self.wanted, instance.template.max_index)
        self.shapes[local] = found
        return found


_LAYOUTS: dict[Any, Layout] = {}
_MISSING: Any = object()


def read_chunk(chunk: bytes, wanted_ids: frozenset[int], wanted_fields: frozenset[str]) -> list[Record]:
    """Every record of a 64 KiB chunk (libyal 4), in order, or DecodeError when the
    chunk is not one this reader reproduces with certainty (the caller then reads
    the chunk with the Rust parser)."""
    if chunk[:8] != CHUNK_MAGIC and len(chunk) == CHUNK_SIZE and chunk.count(0) == CHUNK_SIZE:
        return []  # an empty chunk in a dirty file: the Rust parser skips it, no error
    header = parse_chunk_header(chunk)
    check_tables(chunk)
    free = header.free_space_offset
    state = _Chunk(chunk, wanted_fields)
    shapes = state.shapes
    extractors = _EXTRACTORS
    if len(extractors) >= _CACHE_LIMIT:
        extractors.clear()
    out: list[Record] = []
    expected_id = header.first_record_id
    pos = CHUNK_HEADER_SIZE
    unpack_record = _RECORD.unpack_from
    u32 = _U32.unpack_from
    while pos < free:
        if pos + 28 > free:
            raise DecodeError("record header past the free space offset")
        magic, size, record_id, written, fragment = unpack_record(chunk, pos)
        end = pos + size
        if (
            magic != RECORD_MAGIC
            or written >= _FILETIME_MAX  # the Rust parser turns it into a date too
            or end > free
            or size < 40
            or u32(chunk, end - 4)[0] != size
            or record_id != expected_id
            or fragment != _FRAGMENT
        ):
            raise DecodeError("record is not one fragment this reader handles")
        expected_id += 1
        instance = state.instance(pos + 28, end - 4)
        types, sizes = instance.types, instance.sizes
        # the record's BinXML ends with end-of-file (0x00); what follows up to the size
        # copy is not read (the Rust parser stops at end-of-file too)
        tail = instance.offsets[-1]
        if tail > end - 5 or chunk[tail] != 0:
            raise DecodeError("record data does not end after the values")
        definition = instance.definition
        shape = shapes.get(definition) or state.layout(instance, False)
        slot = shape.event_id
        for index, _inner in instance.nested:
            if index in shape.before_event_id:
                raise DecodeError("nested BinXML before the EventID")
        if isinstance(slot, str):
            event_id = int(slot)
        else:
            value_type = types[slot]
            width = _UNSIGNED.get(value_type)
            if width is None or sizes[slot] != width:
                raise DecodeError("EventID is not an unsigned number")
            start = instance.offsets[slot]
            event_id = int.from_bytes(chunk[start : start + width], "little")
        if event_id not in wanted_ids:
            out.append((record_id, event_id, None))
        else:
            nested = instance.nested
            inner = b""
            if nested:
                if len(nested) == 1:
                    inner = nested[0][1].types
                    shape = shapes.get((definition, nested[0][0], nested[0][1].definition)) or state.layout(
                        instance, True
                    )
                else:
                    shape = state.layout(instance, True)
            key = (id(shape), types, inner)
            extract = extractors.get(key, _MISSING)
            if extract is _MISSING:
                extract = extractors[key] = _extractor(shape, types, inner) if len(nested) <= 1 else None
            if extract is None:
                out.append((record_id, event_id, _fields(chunk, shape, instance)))
            else:
                out.append((record_id, event_id, _checked(extract, chunk, instance)))
        pos = end
        if record_id == header.last_record_id:
            break
    if pos != free or expected_id != header.last_record_id + 1:
        raise DecodeError("records do not end at the free space offset with the last record")
    return out


_utf16 = codecs.utf_16_le_decode


def _fields(chunk: bytes, layout: Layout, instance: Instance) -> Fields:
    """The wanted values of a record, as ``row_from_xml`` would read them (see
    :func:`value_text`; strings inlined here: they are most values)."""
    groups = {0: instance}
    for index, inner in instance.nested:
        groups[index + 1] = inner
    data = dict(layout.literals)
    try:
        for name, owner, index in layout.plan:
            group = groups[owner]
            start = group.offsets[index]
            size = group.sizes[index]
            value_type = group.types[index]
            if value_type == T_STRING:
                data[name] = _utf16(chunk[start : start + size], "strict", True)[0]
            else:
                data[name] = value_text(chunk, start, size, value_type)
    except KeyError as exc:
        raise DecodeError("value of a nested instance the record does not have") from exc
    except UnicodeDecodeError as exc:
        raise DecodeError("bad UTF-16 string value") from exc
    if _ODD_TEXT.search("".join(data.values())):
        raise DecodeError("string value with characters not reproduced")
    when = None
    if layout.time is not None:
        value_type, start, size = _slot(groups, layout.time)
        when = filetime(chunk, start, size, value_type)
    return Fields(
        when, _system(chunk, groups, layout.computer), _system(chunk, groups, layout.channel, True), data
    )


_Extractor = Callable[[bytes, list[int], list[int] | None], tuple[Any, ...]]
_EXTRACTORS: dict[tuple[int, bytes, bytes], _Extractor | None] = {}


def _extractor(layout: Layout, outer: bytes, inner: bytes) -> _Extractor | None:
    """A function specialised to one layout and the value types of the record and of its
    one nested instance, doing what :func:`_fields` does with straight-line code (a
    record costs a fraction of the generic loop). None: a shape it does not cover (the
    caller uses :func:`_fields`). The generated code only slices and converts; every
    check stays in :func:`_checked`."""
    types = {0: outer}
    owners = {slot >> _OWNER for slot in _slots(layout)}
    if len(owners - {0}) > 1:
        return None
    if owners - {0}:
        types[next(iter(owners - {0}))] = inner

    def value(slot: int) -> str | None:
        owner, index = slot >> _OWNER, slot & 0xFFFF
        if owner not in types or index >= len(types[owner]):
            return None
        group = "o0" if owner == 0 else "o1"
        raw = f"c[{group}[{index}]:{group}[{index + 1}]]"
        value_type = types[owner][index]
        if value_type == T_STRING:
            return f"_u({raw}, 'strict', True)[0]"
        if value_type in _UNSIGNED:
            return f"str(_fb({raw}, 'little'))"
        if value_type in (T_HEX32, T_HEX64):
            return f"'0x%x' % _fb({raw}, 'little')"
        if value_type == T_NULL:
            return "''"
        return None

    items = [f"{name!r}: {text!r}" for name, text in layout.literals]
    for name, owner, index in layout.plan:
        code = value((owner << _OWNER) | index)
        if code is None:
            return None
        items.append(f"{name!r}: {code}")
    when = "None"
    if layout.time is not None:
        owner, index = layout.time >> _OWNER, layout.time & 0xFFFF
        if owner not in types or index >= len(types[owner]):
            return None
        group = "o0" if owner == 0 else "o1"
        value_type = types[owner][index]
        if value_type == T_FILETIME:
            when = f"_ft(_fb(c[{group}[{index}]:{group}[{index + 1}]], 'little'))"
        elif value_type != T_NULL:
            return None
    system = []
    for slot in (layout.computer, layout.channel):
        if slot is None or isinstance(slot, str):
            system.append(repr(slot))
            continue
        owner, index = slot >> _OWNER, slot & 0xFFFF
        if owner not in types or index >= len(types[owner]) or types[owner][index] != T_STRING:
            return None
        code = value(slot)
        if code is None:
            return None
        system.append(code)
    source = f"def extract(c, o0, o1):\n    return {{{', '.join(items)}}}, {when}, {system[0]}, {system[1]}\n"
    namespace: dict[str, Any] = {"_u": _utf16, "_fb": int.from_bytes, "_ft": _filetime_ticks}
    exec(compile(source, "<evtxbin extractor>", "exec"), namespace)
    function: _Extractor = namespace["extract"]
    return function


def _slots(layout: Layout) -> list[int]:
    out = [(owner << _OWNER) | index for _, owner, index in layout.plan]
    out.extend(slot for slot in (layout.time, layout.computer, layout.channel) if isinstance(slot, int))
    return out


def _filetime_ticks(ticks: int) -> datetime:
    if not _FILETIME_MIN <= ticks < _FILETIME_MAX:
        raise DecodeError("FILETIME out of the checked range")
    return _EPOCH_1601 + timedelta(microseconds=ticks // 10)


def _checked(extract: _Extractor, chunk: bytes, instance: Instance) -> Fields:
    """Run an extractor and apply the checks of :func:`_fields` to what it read."""
    inner = instance.nested[0][1].offsets if instance.nested else None
    try:
        data, when, computer, channel = extract(chunk, instance.offsets, inner)
    except UnicodeDecodeError as exc:
        raise DecodeError("bad UTF-16 string value") from exc
    if _ODD_TEXT.search("".join(data.values())):
        raise DecodeError("string value with characters not reproduced")
    if computer is not None and (not computer or _ODD_TEXT.search(computer)):
        raise DecodeError("empty Computer or one with characters not reproduced")
    if channel is not None and (not channel or _ODD_TEXT.search(channel) or _XML_SPECIAL.search(channel)):
        raise DecodeError("empty Channel or one that renders escaped")
    return Fields(when, computer, channel, data)


def _slot(groups: dict[int, Instance], slot: int) -> tuple[int, int, int]:
    """(type, offset, size) of a slot (see ``_OWNER``)."""
    group = groups.get(slot >> _OWNER)
    if group is None:
        raise DecodeError("value of a nested instance the record does not have")
    index = slot & 0xFFFF
    return group.types[index], group.offsets[index], group.sizes[index]


def _system(
    chunk: bytes, groups: dict[int, Instance], slot: int | str | None, channel: bool = False
) -> str | None:
    """System/Computer or System/Channel text (the XML path never unescapes Channel)."""
    if slot is None or isinstance(slot, str):
        return slot
    value_type, start, size = _slot(groups, slot)
    if value_type != T_STRING:
        raise DecodeError("Channel/Computer is not a string")
    text = _string(chunk, start, size)
    if not text or (channel and _XML_SPECIAL.search(text)):
        raise DecodeError("empty Channel/Computer or one that renders escaped")
    return text


# ---------------------------------------------------------------------------- the C reader
#: What :func:`c_layout` returns: (EventID is literal, EventID number or slot, time slot or
#: -1, Channel, Computer (None, slot or literal text), plan ((name, owner, index), ...),
#: literals ((name, text), ...), substitutions before the EventID).
CLayout = tuple[
    bool, int, int, int | str | None, int | str | None,
    tuple[tuple[str, int, int], ...], tuple[tuple[str, str], ...], tuple[int, ...],
]  # fmt: skip


def c_layout(
    chunk: bytes, definition: int, index: int, inner_definition: int, expand: int, *, wanted: frozenset[str]
) -> CLayout | None:
    """The layout of a record's template for ``smbguard.logs._evtxbin.read_chunk`` (the C
    version of :func:`read_chunk`, which checks templates and records itself and asks this
    function, once per distinct template or template pair, where the fields are): the
    template at ``definition`` with, when ``index >= 0``, the nested BinXML value ``index``
    an instance of the template at ``inner_definition`` (``expand``: with that nested
    template in place, as :meth:`_Chunk.layout`). None: a shape this reader declines."""
    try:
        template = parse_template(chunk, definition)
        nested: tuple[tuple[int, Instance], ...] = ()
        if index >= 0:
            inner = parse_template(chunk, inner_definition)
            nested = ((index, Instance(inner, inner_definition, b"", (), [], ())),)
        instance = Instance(template, definition, b"", (), [], nested)
        shape = _Chunk(chunk, wanted).layout(instance, bool(expand))
    except DecodeError:
        return None
    event_id = shape.event_id
    literal = isinstance(event_id, str)
    number = int(event_id) if isinstance(event_id, str) else event_id
    time = -1 if shape.time is None else shape.time
    before = tuple(sorted(shape.before_event_id))
    return (literal, number, time, shape.channel, shape.computer, shape.plan, shape.literals, before)
