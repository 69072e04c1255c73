"""NetBIOS session service ([RFC 1002]) codec."""

from __future__ import annotations

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import netbios


def test_first_level_encoding_matches_rfc1001_example() -> None:
    # [RFC 1001] 14.1: "FRED" padded with spaces -> "EGFCEFEECACACACACACACACACACACACA"
    encoded = netbios.encode_name("FRED", suffix=0x20)
    assert encoded[1:33] == b"EGFCEFEECACACACACACACACACACACACA"
    assert netbios.decode_name(encoded) == ("FRED", 0x20)


def test_session_request_round_trip() -> None:
    raw = netbios.encode_session_request("*SMBSERVER", "SMBGUARD")
    assert raw[0] == netbios.SESSION_REQUEST and int.from_bytes(raw[2:4], "big") == 68
    assert netbios.decode_session_request(raw) == ("*SMBSERVER", "SMBGUARD")


def test_responses() -> None:
    pos = netbios.decode_session_response(netbios.encode_session_response(True))
    assert pos.positive and pos.error_code is None
    neg = netbios.decode_session_response(netbios.encode_session_response(False, 0x82))
    assert not neg.positive and neg.error_name == "CALLED_NAME_NOT_PRESENT"
    for bad in (b"", b"\x83\x00\x00\x01", b"\x00\x00\x00\x00", b"\x82\x00"):
        with pytest.raises(DecodeError):
            netbios.decode_session_response(bad)
