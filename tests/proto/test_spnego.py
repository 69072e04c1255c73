"""SPNEGO DER codec on Samba and Windows tokens."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import smb2, spnego
from tests.helpers.pcap import SmbMessage
from tests.proto.conftest import recorded

Pcap = Callable[[str], list[SmbMessage]]


def test_samba_negotiate_hint_token() -> None:
    hint = smb2.decode_negotiate_response(recorded("default-negotiate-3.0")).security_buffer
    token = spnego.decode_neg_token_init(hint)
    assert token.mech_types == (spnego.OID_NTLMSSP,) and token.hint_name == spnego.HINT_IGNORE
    assert spnego.negotiate_hint_token() == hint  # byte-identical to what Samba sends


def test_windows_negotiate_hint_token(pcap: Pcap) -> None:
    msgs = [m for m in pcap("zeek/smb311.pcap") if m.from_server and m.protocol == smb2.PROTOCOL_ID]
    blob = smb2.decode_negotiate_response(msgs[0].payload).security_buffer
    token = spnego.decode_neg_token_init(blob)
    assert token.mech_types == (
        spnego.OID_NEGOEX,
        spnego.OID_MS_KERBEROS,
        spnego.OID_KERBEROS,
        "1.2.840.113554.1.2.2.3",
        spnego.OID_NTLMSSP,
    )
    assert spnego.negotiate_hint_token(token.mech_types) == blob  # our encoder is byte-exact


def test_samba_challenge_and_accept_tokens() -> None:
    blob = smb2.decode_session_setup_response(recorded("default-sessionsetup-challenge")).security_buffer
    resp = spnego.decode_neg_token_resp(blob)
    assert resp.neg_state == spnego.NegState.ACCEPT_INCOMPLETE and resp.supported_mech == spnego.OID_NTLMSSP
    assert resp.response_token is not None and resp.response_token.startswith(b"NTLMSSP\x00\x02")
    done = smb2.decode_session_setup_response(recorded("default-sessionsetup-anonymous")).security_buffer
    assert spnego.decode_neg_token_resp(done).neg_state == spnego.NegState.ACCEPT_COMPLETED
    assert done == spnego.wrap_accept_completed()


def test_round_trips_and_extract() -> None:
    ntlm = b"NTLMSSP\x00\x01\x00\x00\x00" + bytes(20)
    init = spnego.wrap_ntlmssp_negotiate(ntlm)
    assert spnego.extract_ntlmssp(init) == ntlm and spnego.unwrap(init) == ntlm
    assert spnego.extract_ntlmssp(spnego.wrap_ntlmssp_authenticate(ntlm * 20)) == ntlm * 20
    chal = spnego.decode_neg_token_resp(spnego.wrap_ntlmssp_challenge(ntlm))
    assert chal.response_token == ntlm and chal.supported_mech == spnego.OID_NTLMSSP
    assert spnego.extract_ntlmssp(ntlm) == ntlm  # raw NTLMSSP (no SPNEGO)
    assert spnego.extract_ntlmssp(b"\x30\x03\x02\x01\x00") is None
    full = spnego.NegTokenInit((spnego.OID_NTLMSSP,), b"tok", spnego.HINT_IGNORE, b"mic")
    assert spnego.decode_neg_token_init(spnego.encode_neg_token_init(full)) == full
    assert spnego.decode_oid(spnego.encode_oid("1.2.840.113554.1.2.2")[2:]) == "1.2.840.113554.1.2.2"


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"\x60",
        b"\x60\x84\xff\xff\xff\xff",
        b"\x60\x85\x01\x01\x01\x01\x01",
        b"\xa1\x03\x30\x01",
        b"\x04\x00",
    ],
)
def test_bad_der_raises_decode_error(raw: bytes) -> None:
    with pytest.raises(DecodeError):
        spnego.decode_spnego(raw)
