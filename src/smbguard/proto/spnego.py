"""Minimal SPNEGO ([RFC 4178], [MS-SPNG]) DER codec for wrapping NTLMSSP in SMB.

GSS-API InitialContextToken ([RFC 2743] 3.1): ``[APPLICATION 0] { thisMech
OID 1.3.6.1.5.5.2, NegotiationToken }``; NegotiationToken is ``[0]
NegTokenInit`` (or NegTokenInit2 with negHints, [MS-SPNG] 2.2.1, sent by
servers in the SMB NEGOTIATE response) or ``[1] NegTokenResp``. Only the DER
subset these tokens use is implemented; lengths are bounded by the buffer and
nesting depth is bounded.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from smbguard.errors import DecodeError

OID_SPNEGO = "1.3.6.1.5.5.2"
OID_NTLMSSP = "1.3.6.1.4.1.311.2.2.10"
OID_KERBEROS = "1.2.840.113554.1.2.2"
OID_MS_KERBEROS = "1.2.840.48018.1.2.2"
OID_NEGOEX = "1.3.6.1.4.1.311.2.2.30"
#: The hint name Windows and Samba put in NegTokenInit2 ([MS-SPNG] 3.2.5.2).
HINT_IGNORE = "not_defined_in_RFC4178@please_ignore"

_NTLMSSP_SIGNATURE = b"NTLMSSP\x00"
_MAX_DEPTH = 8

# DER tags
_SEQUENCE = 0x30
_OID = 0x06
_OCTET_STRING = 0x04
_ENUMERATED = 0x0A
_BIT_STRING = 0x03
_GENERAL_STRING = 0x1B
_APPLICATION_0 = 0x60


def _ctx(n: int) -> int:
    return 0xA0 | n


class NegState(enum.IntEnum):
    """[RFC 4178] 4.2.2 negState."""

    ACCEPT_COMPLETED = 0
    ACCEPT_INCOMPLETE = 1
    REJECT = 2
    REQUEST_MIC = 3


# ----------------------------------------------------------------------------- DER


def _der_len(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    raw = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(raw)]) + raw


def _tlv(tag: int, value: bytes) -> bytes:
    return bytes([tag]) + _der_len(len(value)) + value


def _read_tlv(buf: bytes, off: int) -> tuple[int, bytes, int]:
    """(tag, value, next offset). Single-byte tags; definite lengths of up to 4 bytes."""
    if off + 2 > len(buf):
        raise DecodeError("DER: truncated TLV header")
    tag = buf[off]
    first = buf[off + 1]
    pos = off + 2
    if first < 0x80:
        length = first
    else:
        n = first & 0x7F
        if n == 0 or n > 4:
            raise DecodeError("DER: unsupported length form")
        if pos + n > len(buf):
            raise DecodeError("DER: truncated length")
        length = int.from_bytes(buf[pos : pos + n], "big")
        pos += n
    if pos + length > len(buf):
        raise DecodeError(f"DER: value of {length} bytes overruns the buffer")
    return tag, bytes(buf[pos : pos + length]), pos + length


def _children(value: bytes) -> list[tuple[int, bytes]]:
    out: list[tuple[int, bytes]] = []
    off = 0
    while off < len(value):
        if len(out) > 64:
            raise DecodeError("DER: too many elements")
        tag, child, off = _read_tlv(value, off)
        out.append((tag, child))
    return out


def _expect(buf: bytes, tag: int, what: str) -> bytes:
    got, value, _end = _read_tlv(buf, 0)
    if got != tag:
        raise DecodeError(f"DER: {what}: tag 0x{got:02x}, expected 0x{tag:02x}")
    return value


def encode_oid(oid: str) -> bytes:
    """DER OBJECT IDENTIFIER (tag included)."""
    parts = [int(p) for p in oid.split(".")]
    if len(parts) < 2:
        raise ValueError("OID needs at least two arcs")
    body = bytearray([parts[0] * 40 + parts[1]])
    for arc in parts[2:]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(_OID, bytes(body))


def decode_oid(value: bytes) -> str:
    """OID value bytes (without tag/length) to dotted text."""
    if not value or len(value) > 64:
        raise DecodeError("DER: bad OID length")
    arcs = [value[0] // 40 if value[0] < 80 else 2, value[0] % 40 if value[0] < 80 else value[0] - 80]
    acc = 0
    for byte in value[1:]:
        acc = (acc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(acc)
            acc = 0
    if value[-1] & 0x80:
        raise DecodeError("DER: truncated OID arc")
    return ".".join(str(a) for a in arcs)


# ----------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class NegTokenInit:
    """[RFC 4178] 4.2.1 NegTokenInit / [MS-SPNG] 2.2.1 NegTokenInit2 (``hint_name``)."""

    mech_types: tuple[str, ...] = (OID_NTLMSSP,)
    mech_token: bytes | None = None
    hint_name: str | None = None
    mech_list_mic: bytes | None = None


@dataclass(frozen=True, slots=True)
class NegTokenResp:
    """[RFC 4178] 4.2.2 NegTokenResp."""

    neg_state: int | None = None
    supported_mech: str | None = None
    response_token: bytes | None = None
    mech_list_mic: bytes | None = None


def encode_neg_token_init(token: NegTokenInit) -> bytes:
    """InitialContextToken carrying a NegTokenInit (NegTokenInit2 if ``hint_name``)."""
    fields = _tlv(_ctx(0), _tlv(_SEQUENCE, b"".join(encode_oid(o) for o in token.mech_types)))
    if token.mech_token is not None:
        fields += _tlv(_ctx(2), _tlv(_OCTET_STRING, token.mech_token))
    if token.hint_name is not None:
        hint = _tlv(_ctx(0), _tlv(_GENERAL_STRING, token.hint_name.encode("ascii")))
        fields += _tlv(_ctx(3), _tlv(_SEQUENCE, hint))
    if token.mech_list_mic is not None:
        mic_tag = _ctx(4 if token.hint_name is not None else 3)
        fields += _tlv(mic_tag, _tlv(_OCTET_STRING, token.mech_list_mic))
    inner = _tlv(_ctx(0), _tlv(_SEQUENCE, fields))
    return _tlv(_APPLICATION_0, encode_oid(OID_SPNEGO) + inner)


def encode_neg_token_resp(token: NegTokenResp) -> bytes:
    """``[1] NegTokenResp`` (no GSS application header, as in [RFC 4178] 4.2)."""
    fields = b""
    if token.neg_state is not None:
        fields += _tlv(_ctx(0), _tlv(_ENUMERATED, bytes([token.neg_state])))
    if token.supported_mech is not None:
        fields += _tlv(_ctx(1), encode_oid(token.supported_mech))
    if token.response_token is not None:
        fields += _tlv(_ctx(2), _tlv(_OCTET_STRING, token.response_token))
    if token.mech_list_mic is not None:
        fields += _tlv(_ctx(3), _tlv(_OCTET_STRING, token.mech_list_mic))
    return _tlv(_ctx(1), _tlv(_SEQUENCE, fields))


def _decode_init_fields(seq: bytes) -> NegTokenInit:
    mechs: list[str] = []
    mech_token = hint = mic = None
    for tag, value in _children(seq):
        if tag == _ctx(0):
            for t, oid in _children(_expect(value, _SEQUENCE, "mechTypes")):
                if t != _OID:
                    raise DecodeError("DER: mechTypes holds a non-OID")
                mechs.append(decode_oid(oid))
        elif tag == _ctx(2):
            mech_token = _expect(value, _OCTET_STRING, "mechToken")
        elif tag == _ctx(3):
            # NegTokenInit2 negHints (SEQUENCE) or RFC 4178 mechListMIC (OCTET STRING)
            inner_tag = value[0] if value else 0
            if inner_tag == _SEQUENCE:
                for t, hv in _children(_expect(value, _SEQUENCE, "negHints")):
                    if t == _ctx(0):
                        hint = _expect(hv, _GENERAL_STRING, "hintName").decode("latin-1")
            else:
                mic = _expect(value, _OCTET_STRING, "mechListMIC")
        elif tag == _ctx(4):
            mic = _expect(value, _OCTET_STRING, "mechListMIC")
    return NegTokenInit(tuple(mechs), mech_token, hint, mic)


def _decode_resp_fields(seq: bytes) -> NegTokenResp:
    state = mech = token = mic = None
    for tag, value in _children(seq):
        if tag == _ctx(0):
            raw = _expect(value, _ENUMERATED, "negState")
            if len(raw) != 1:
                raise DecodeError("DER: negState must be one byte")
            state = raw[0]
        elif tag == _ctx(1):
            mech = decode_oid(_expect(value, _OID, "supportedMech"))
        elif tag == _ctx(2):
            token = _expect(value, _OCTET_STRING, "responseToken")
        elif tag == _ctx(3):
            mic = _expect(value, _OCTET_STRING, "mechListMIC")
    return NegTokenResp(state, mech, token, mic)


def decode_spnego(buf: bytes) -> NegTokenInit | NegTokenResp:
    """Decode an InitialContextToken (``0x60``), a bare ``[0]`` NegTokenInit or a ``[1]`` NegTokenResp."""
    tag, value, _ = _read_tlv(buf, 0)
    if tag == _APPLICATION_0:
        oid_tag, oid, end = _read_tlv(value, 0)
        if oid_tag != _OID or decode_oid(oid) != OID_SPNEGO:
            raise DecodeError("GSS token is not SPNEGO")
        tag, value, _ = _read_tlv(value, end)
    if tag == _ctx(0):
        return _decode_init_fields(_expect(value, _SEQUENCE, "NegTokenInit"))
    if tag == _ctx(1):
        return _decode_resp_fields(_expect(value, _SEQUENCE, "NegTokenResp"))
    raise DecodeError(f"not a SPNEGO token (tag 0x{tag:02x})")


def decode_neg_token_init(buf: bytes) -> NegTokenInit:
    token = decode_spnego(buf)
    if not isinstance(token, NegTokenInit):
        raise DecodeError("expected NegTokenInit, got NegTokenResp")
    return token


def decode_neg_token_resp(buf: bytes) -> NegTokenResp:
    token = decode_spnego(buf)
    if not isinstance(token, NegTokenResp):
        raise DecodeError("expected NegTokenResp, got NegTokenInit")
    return token


# ----------------------------------------------------------------------------- NTLMSSP helpers


def wrap_ntlmssp_negotiate(ntlm_negotiate: bytes) -> bytes:
    """First client token: NegTokenInit offering only NTLMSSP, carrying NTLM NEGOTIATE."""
    return encode_neg_token_init(NegTokenInit((OID_NTLMSSP,), ntlm_negotiate))


def wrap_ntlmssp_authenticate(ntlm_authenticate: bytes) -> bytes:
    """Second client token: NegTokenResp carrying NTLM AUTHENTICATE."""
    return encode_neg_token_resp(NegTokenResp(response_token=ntlm_authenticate))


def wrap_ntlmssp_challenge(ntlm_challenge: bytes) -> bytes:
    """Server token: NegTokenResp accept-incomplete, supportedMech NTLMSSP, CHALLENGE."""
    return encode_neg_token_resp(NegTokenResp(NegState.ACCEPT_INCOMPLETE, OID_NTLMSSP, ntlm_challenge))


def wrap_accept_completed() -> bytes:
    """Final server token after a successful AUTHENTICATE."""
    return encode_neg_token_resp(NegTokenResp(NegState.ACCEPT_COMPLETED))


def negotiate_hint_token(mech_types: tuple[str, ...] = (OID_NTLMSSP,)) -> bytes:
    """The NegTokenInit2 hint a server puts in its NEGOTIATE response ([MS-SPNG] 3.2.5.2)."""
    return encode_neg_token_init(NegTokenInit(mech_types, hint_name=HINT_IGNORE))


def unwrap(buf: bytes) -> bytes | None:
    """The mechanism token inside a SPNEGO token (mechToken or responseToken), or None."""
    token = decode_spnego(buf)
    return token.mech_token if isinstance(token, NegTokenInit) else token.response_token


def extract_ntlmssp(blob: bytes) -> bytes | None:
    """The NTLMSSP message in a security blob: raw NTLMSSP, or inside SPNEGO.

    Falls back to locating the NTLMSSP signature when the DER is not parseable
    (some stacks emit non-canonical DER). Returns None when there is none."""
    if blob[:8] == _NTLMSSP_SIGNATURE:
        return blob
    try:
        inner = unwrap(blob)
    except DecodeError:
        inner = None
    if inner is not None and inner[:8] == _NTLMSSP_SIGNATURE:
        return inner
    pos = blob.find(_NTLMSSP_SIGNATURE)
    return blob[pos:] if pos >= 0 else None
