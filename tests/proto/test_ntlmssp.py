"""NTLMSSP codec on Samba and Windows CHALLENGE messages, AV pair robustness, round trips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import ntlmssp, smb1, smb2, spnego
from tests.helpers.pcap import SmbMessage
from tests.proto.conftest import recorded

Pcap = Callable[[str], list[SmbMessage]]


def _challenges(messages: list[SmbMessage]) -> list[ntlmssp.Challenge]:
    out = []
    for m in messages:
        if not m.from_server:
            continue
        blob = b""
        if (
            m.protocol == smb2.PROTOCOL_ID
            and smb2.decode_header(m.payload).command == smb2.Command.SESSION_SETUP
        ):
            blob = smb2.decode_session_setup_response(m.payload).security_buffer
        elif m.protocol == smb1.PROTOCOL_ID and m.payload[4] == smb1.Command.SESSION_SETUP_ANDX:
            blob = smb1.decode_session_setup_response(m.payload).security_blob
        inner = spnego.extract_ntlmssp(blob) if blob else None
        if inner and ntlmssp.parse_message_type(inner) == ntlmssp.MessageType.CHALLENGE:
            out.append(ntlmssp.decode_challenge(inner))
    return out


def test_samba_challenge() -> None:
    setup = smb2.decode_session_setup_response(recorded("default-sessionsetup-challenge"))
    inner = spnego.extract_ntlmssp(setup.security_buffer)
    assert inner is not None
    chal = ntlmssp.decode_challenge(inner)
    assert str(chal.version) == "6.1.0" and chal.version is not None and chal.version.revision == 15
    assert chal.target_name == "SGDEFAULT"
    assert chal.nb_computer_name == "SGDEFAULT" and chal.nb_domain_name == "SGDEFAULT"
    assert chal.dns_domain_name == "" and chal.dns_tree_name is None
    assert chal.timestamp is not None and chal.timestamp.year >= 2024
    assert chal.av_pairs_terminated


@pytest.mark.parametrize(
    ("capture", "version", "nb_computer", "dns_domain"),
    [
        ("zeek/raw_ntlm_in_smb.pcap", "5.1.2600", "TEST-F7DFBC3FE9", "test-f7dfbc3fe9"),
        ("zeek/smb2.pcap", "6.0.6001", "SERVER002", "contoso.com"),
        ("zeek-eternalsafety/eternalchampion.pcap", "6.1.7601", "PIXELSHINE-DC", "pixelshine.net"),
        ("suricata-verify/smb2-ntlmssp-negotiateflags/input.pcap", "6.3.9600", "SCV", "SCV"),
        ("zeek/smb311.pcap", "10.0.14393", "AD", "foo.test"),
        ("suricata-verify/smb2-delete/input.pcap", "10.0.15063", "DESKTOP-LIVQI8B", "DESKTOP-LIVQI8B"),
        ("suricata-verify/dcerpc_zerologon/input.pcap", "10.0.17763", "BAS-AD-01", "lab.local"),
        ("suricata-verify/smb2-named-pipe-unicode/input.pcap", "10.0.19041", "WS02", "contoso.local"),
        ("suricata-verify/dcerpc_dcerpc-bind-no-frag-flag/input.pcap", "10.0.20348", "DC1", "dom189.local"),
        ("suricata-verify/smb1-02/smb1_osx.pcap", "6.1.0", "TS412", ""),
    ],
)
def test_windows_and_nas_challenges(
    pcap: Pcap, capture: str, version: str, nb_computer: str, dns_domain: str
) -> None:
    chal = _challenges(pcap(capture))[0]
    assert str(chal.version) == version
    assert chal.nb_computer_name == nb_computer
    assert chal.dns_domain_name == dns_domain


def test_server_2022_challenge_timestamp(pcap: Pcap) -> None:
    chal = _challenges(pcap("suricata-verify/dcerpc_dcerpc-bind-no-frag-flag/input.pcap"))[0]
    assert chal.timestamp == datetime(2026, 3, 27, 22, 45, 39, 98496, tzinfo=UTC)
    assert chal.dns_tree_name == "dom189.local" and chal.nb_domain_name == "DOM189"


def test_av_pairs_empty_and_unterminated() -> None:
    assert ntlmssp.decode_av_pairs(b"") == ({}, False)
    pairs, terminated = ntlmssp.decode_av_pairs(b"\x01\x00\x04\x00P\x00C\x00")
    assert pairs == {ntlmssp.AvId.NB_COMPUTER_NAME: b"P\x00C\x00"} and not terminated
    pairs, terminated = ntlmssp.decode_av_pairs(b"\x01\x00\x04\x00P\x00C\x00\x02\x00\xff\x00ab")
    assert list(pairs) == [ntlmssp.AvId.NB_COMPUTER_NAME] and not terminated
    # a CHALLENGE whose target info is empty still decodes
    raw = ntlmssp.encode_challenge(b"12345678", "X", av_pairs=None)
    assert ntlmssp.decode_challenge(raw).av_pairs == {}


def test_challenge_round_trip() -> None:
    stamp = datetime(2022, 2, 25, 16, 33, 47, 252320, tzinfo=UTC)
    pairs = ntlmssp.string_av_pairs(
        "DC", "WINDOMAIN", "dc.windomain.local", "windomain.local", "windomain.local", stamp
    )
    raw = ntlmssp.encode_challenge(b"\x01" * 8, "WINDOMAIN", pairs, version=ntlmssp.Version(10, 0, 14393))
    chal = ntlmssp.decode_challenge(raw)
    assert chal.server_challenge == b"\x01" * 8 and chal.target_name == "WINDOMAIN"
    assert chal.dns_computer_name == "dc.windomain.local" and chal.timestamp == stamp
    assert chal.version == ntlmssp.Version(10, 0, 14393)


def test_negotiate_and_authenticate_round_trips() -> None:
    neg = ntlmssp.decode_negotiate(
        ntlmssp.encode_negotiate(domain="WG", workstation="PC", version=ntlmssp.Version(10, 0, 1))
    )
    assert (neg.domain, neg.workstation, str(neg.version)) == ("WG", "PC", "10.0.1")
    anon = ntlmssp.decode_authenticate(ntlmssp.encode_anonymous_authenticate())
    assert anon.is_anonymous and anon.user == "" and anon.nt_response == b"" and anon.lm_response == b"\x00"
    chal = ntlmssp.decode_challenge(
        ntlmssp.encode_challenge(b"12345678", "S", ntlmssp.string_av_pairs("S", "W"))
    )
    guest = ntlmssp.decode_authenticate(ntlmssp.encode_guest_authenticate(chal, "qwxzyuser", "SCANNER"))
    assert guest.user == "qwxzyuser" and guest.workstation == "SCANNER" and not guest.is_anonymous
    assert len(guest.nt_response) > 48 and guest.nt_response[16:18] == b"\x01\x01"
    oem = ntlmssp.decode_authenticate(
        ntlmssp.encode_authenticate(user="bob", domain="D", flags=ntlmssp.NegotiateFlags.OEM)
    )
    assert (oem.user, oem.domain) == ("bob", "D")


def test_bad_messages() -> None:
    with pytest.raises(DecodeError):
        ntlmssp.decode_challenge(b"NTLMSSP\x00\x01\x00\x00\x00" + bytes(40))
    with pytest.raises(DecodeError):
        ntlmssp.decode_challenge(
            b"NTLMSSP\x00\x02\x00\x00\x00" + b"\xff\x00\xff\x00\xf0\x00\x00\x00" + bytes(40)
        )
    with pytest.raises(DecodeError):
        ntlmssp.parse_message_type(b"NTLMSSP\x00\x09\x00\x00\x00")
