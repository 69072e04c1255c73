"""SMB1 codec: recorded Samba replies, Windows replies from shared captures, round trips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import smb1
from smbguard.proto.ntstatus import NTStatus
from tests.helpers.pcap import SmbMessage
from tests.proto.conftest import recorded

Pcap = Callable[[str], list[SmbMessage]]


def _server(messages: list[SmbMessage], command: int) -> list[bytes]:
    return [
        m.payload
        for m in messages
        if m.from_server and m.protocol == smb1.PROTOCOL_ID and m.payload[4] == command
    ]


def test_samba_nt1_negotiate_non_extended() -> None:
    resp = smb1.decode_negotiate_response(recorded("nt1-smb1-negotiate"))
    assert resp.accepted and resp.form == "nt" and resp.dialect_index == 0
    assert resp.security_mode == smb1.SecurityMode.USER_SECURITY | smb1.SecurityMode.ENCRYPT_PASSWORDS
    assert not resp.signing_enabled and not resp.signing_required
    assert resp.domain_name == "SMBGUARDLAB" and resp.server_name == "SGNT1"
    assert len(resp.challenge) == 8 and not resp.extended_security
    assert resp.capabilities & smb1.Capabilities.UNIX and resp.capabilities & smb1.Capabilities.NT_SMBS


def test_samba_nt1_negotiate_extended() -> None:
    resp = smb1.decode_negotiate_response(recorded("nt1-smb1-negotiate-extsec"))
    assert resp.extended_security and resp.capabilities & smb1.Capabilities.EXTENDED_SECURITY
    assert resp.server_guid == "746e6773-0031-0000-0000-000000000000"
    assert b"not_defined_in_RFC4178@please_ignore" in resp.security_blob


def test_samba_without_smb1_answers_no_dialect() -> None:
    resp = smb1.decode_negotiate_response(recorded("default-smb1-ntlm012"))
    assert resp.dialect_index == smb1.NO_DIALECT and not resp.accepted and resp.form == "none"


def test_samba_null_session_reveals_version() -> None:
    resp = smb1.decode_session_setup_response(recorded("nt1-smb1-sessionsetup-null"))
    assert resp.status == 0 and not resp.is_guest and not resp.extended
    assert resp.native_os == "Windows 6.1"
    assert resp.native_lan_man == "Samba 4.17.12-Debian"
    assert resp.primary_domain == "SMBGUARDLAB"
    ext = smb1.decode_session_setup_response(recorded("nt1-smb1-sessionsetup-challenge"))
    assert ext.status == NTStatus.MORE_PROCESSING_REQUIRED and ext.extended
    assert ext.native_lan_man == "Samba 4.17.12-Debian" and ext.security_blob.startswith(b"\xa1")


def test_samba_tree_connect_and_transactions() -> None:
    tree = smb1.decode_tree_connect_response(recorded("nt1-smb1-treeconnect-ipc"))
    assert tree.status == 0 and tree.service == "IPC" and tree.tid != 0
    peek = smb1.decode_transaction_response(recorded("nt1-smb1-peeknamedpipe"))
    assert peek.status == NTStatus.INVALID_HANDLE  # Samba is not MS17-010 vulnerable
    trans2 = smb1.decode_transaction_response(recorded("nt1-smb1-trans2-sessionsetup"))
    assert trans2.status == NTStatus.ACCESS_DENIED and trans2.header.mid == 0x41
    assert smb1.decode_logoff(recorded("nt1-smb1-logoff")).is_reply


def test_windows7_non_extended_negotiate_and_session(pcap: Pcap) -> None:
    msgs = pcap("ndpi/smbv1.pcap")
    (neg,) = _server(msgs, smb1.Command.NEGOTIATE)
    resp = smb1.decode_negotiate_response(neg)
    assert resp.dialect_index == 5 and resp.security_mode == 3 and not resp.signing_enabled
    assert resp.domain_name == "WORKGROUP" and resp.server_name == "JOHN-PC"
    assert resp.system_time == datetime(2017, 4, 14, 17, 30, 35, 984800, tzinfo=UTC)
    assert resp.server_time_zone == 240
    setups = [smb1.decode_session_setup_response(b) for b in _server(msgs, smb1.Command.SESSION_SETUP_ANDX)]
    assert setups[0].native_os == "Windows 7 Ultimate 7601 Service Pack 1"
    assert setups[0].native_lan_man == "Windows 7 Ultimate 6.1"
    assert setups[0].primary_domain == "WORKGROUP"


def test_server_2016_extended_negotiate_signing_required(pcap: Pcap) -> None:
    (neg,) = _server(pcap("ndpi/smb_frags.pcap"), smb1.Command.NEGOTIATE)
    resp = smb1.decode_negotiate_response(neg)
    assert resp.extended_security and resp.signing_required and resp.security_mode == 0x0F
    assert resp.server_guid == "479d463a-0d62-4e58-a2d2-9a4727a4af0a"
    assert resp.server_time_zone == -240


def test_lanman21_negotiate(pcap: Pcap) -> None:
    (neg,) = _server(pcap("zeek/cifs_negotiate_lanman.pcap"), smb1.Command.NEGOTIATE)
    resp = smb1.decode_negotiate_response(neg)
    assert resp.form == "lanman" and resp.dialect_index == 3
    assert resp.challenge == bytes.fromhex("1122334455667788") and resp.domain_name == "WORKGROUP"


def test_ms17_010_peek_reply_from_unpatched_2008r2(pcap: Pcap) -> None:
    msgs = pcap("suricata-verify/smb2-09-trunc-file-logging/input.pcap")
    statuses = [smb1.decode_transaction_response(b).status for b in _server(msgs, smb1.Command.TRANSACTION)]
    assert NTStatus.INSUFF_SERVER_RESOURCES in statuses
    requests = [
        m.payload
        for m in msgs
        if not m.from_server and m.protocol == smb1.PROTOCOL_ID and m.payload[4] == smb1.Command.TRANSACTION
    ]
    peeks = [smb1.decode_transaction_request(r) for r in requests]
    assert any(p.setup == (smb1.TRANS_PEEK_NMPIPE, 0) and p.name == "\\PIPE\\" for p in peeks)


def test_negotiate_request_round_trip_and_multiprotocol() -> None:
    dialects = (smb1.NT_LM_0_12, smb1.SMB_2_002, smb1.SMB_2_WILDCARD)
    assert smb1.decode_negotiate_request(smb1.encode_negotiate_request(dialects)).dialects == dialects


@pytest.mark.parametrize("unicode", [True, False])
def test_negotiate_response_round_trips(unicode: bool) -> None:
    flags2 = smb1.CLIENT_FLAGS2 if unicode else smb1.Flags2.NT_STATUS
    hdr = smb1.Header(command=smb1.Command.NEGOTIATE, flags2=int(flags2))
    plain = smb1.NegotiateResponse(
        dialect_index=0,
        security_mode=3,
        max_mpx_count=50,
        max_number_vcs=1,
        max_buffer_size=16644,
        max_raw_size=65536,
        capabilities=0xF3FC,
        system_time=datetime(2017, 4, 14, 17, 30, tzinfo=UTC),
        server_time_zone=-60,
        challenge=b"12345678",
        domain_name="WORKGROUP",
        server_name="JOHN-PC",
    )
    assert smb1.decode_negotiate_response(smb1.encode_negotiate_response(plain, hdr)) == plain
    ext = smb1.NegotiateResponse(
        dialect_index=0,
        security_mode=0x0F,
        capabilities=0x8000F3FC,
        server_guid="479d463a-0d62-4e58-a2d2-9a4727a4af0a",
        security_blob=b"\x60\x01\x00",
        extended_security=True,
    )
    assert smb1.decode_negotiate_response(smb1.encode_negotiate_response(ext, hdr)) == ext
    none = smb1.decode_negotiate_response(
        smb1.encode_negotiate_response(smb1.NegotiateResponse(dialect_index=smb1.NO_DIALECT, form="none"))
    )
    assert not none.accepted
    lanman = smb1.NegotiateResponse(
        dialect_index=3,
        form="lanman",
        security_mode=3,
        max_buffer_size=4356,
        max_mpx_count=32,
        max_number_vcs=1,
        system_time=datetime(2025, 9, 26, 5, 1, 38, tzinfo=UTC),
        server_time_zone=330,
        challenge=b"\x11\x22\x33\x44\x55\x66\x77\x88",
        domain_name="WORKGROUP",
    )
    assert smb1.decode_negotiate_response(smb1.encode_negotiate_response(lanman)) == lanman


@pytest.mark.parametrize("unicode", [True, False])
def test_session_setup_round_trips(unicode: bool) -> None:
    flags2 = int(smb1.CLIENT_FLAGS2 if unicode else smb1.Flags2.NT_STATUS)
    hdr = smb1.Header(command=smb1.Command.SESSION_SETUP_ANDX, flags2=flags2, uid=0x800)
    null = smb1.SessionSetupRequest(
        native_os="Unix", native_lan_man="smbguard", account="", primary_domain=""
    )
    assert smb1.decode_session_setup_request(smb1.encode_session_setup_request(null, hdr)) == null
    guest = smb1.SessionSetupRequest(
        account="zz",
        oem_password=b"a" * 24,
        unicode_password=b"b" * 24,
        native_os="Unix",
        native_lan_man="x",
        primary_domain="WG",
    )
    assert smb1.decode_session_setup_request(smb1.encode_session_setup_request(guest, hdr)) == guest
    ext = smb1.SessionSetupRequest(
        extended=True,
        security_blob=b"\x60\x03abc",
        native_os="Unix",
        native_lan_man="smbguard",
        capabilities=0x800000D4,
    )
    assert smb1.decode_session_setup_request(smb1.encode_session_setup_request(ext, hdr)) == ext
    resp = smb1.SessionSetupResponse(
        status=0,
        uid=0x800,
        action=1,
        native_os="Windows 6.1",
        native_lan_man="Samba 4.17",
        primary_domain="WG",
    )
    assert smb1.decode_session_setup_response(smb1.encode_session_setup_response(resp, hdr)) == resp
    ext_resp = smb1.SessionSetupResponse(
        status=NTStatus.MORE_PROCESSING_REQUIRED,
        uid=0x800,
        security_blob=b"xyz",
        native_os="Windows 6.1",
        native_lan_man="Samba",
        extended=True,
    )
    assert smb1.decode_session_setup_response(smb1.encode_session_setup_response(ext_resp, hdr)) == ext_resp
    denied = smb1.encode_session_setup_response(smb1.SessionSetupResponse(status=NTStatus.LOGON_FAILURE), hdr)
    assert smb1.decode_session_setup_response(denied).status == NTStatus.LOGON_FAILURE


def test_tree_connect_and_transaction_round_trips() -> None:
    req = smb1.TreeConnectRequest("\\\\10.0.0.1\\IPC$")
    assert smb1.decode_tree_connect_request(smb1.encode_tree_connect_request(req)) == req
    resp = smb1.TreeConnectResponse(
        status=0,
        tid=7,
        optional_support=1,
        maximal_access=0x1F01FF,
        guest_maximal_access=0,
        service="IPC",
        native_file_system="",
    )
    assert smb1.decode_tree_connect_response(smb1.encode_tree_connect_response(resp)) == resp
    hdr = smb1.Header(command=smb1.Command.TRANSACTION, uid=1, tid=7, mid=0x41)
    peek = smb1.decode_transaction_request(smb1.peek_named_pipe_request(hdr))
    assert peek.setup == (0x23, 0) and peek.name == "\\PIPE\\"
    t2 = smb1.decode_transaction_request(smb1.trans2_session_setup_request(hdr))
    assert t2.command == smb1.Command.TRANSACTION2 and t2.setup == (0x0E,) and t2.parameters == bytes(12)
    assert t2.timeout == 0x0134EE00
    out = smb1.TransactionResponse(
        status=0,
        header=hdr,
        setup=(1,),
        parameters=b"pp",
        data=b"dddd",
        total_parameter_count=2,
        total_data_count=4,
    )
    back = smb1.decode_transaction_response(smb1.encode_transaction_response(out))
    assert (back.setup, back.parameters, back.data) == ((1,), b"pp", b"dddd")
    err = smb1.decode_transaction_response(
        smb1.encode_transaction_response(
            smb1.TransactionResponse(status=NTStatus.NOT_IMPLEMENTED, header=hdr)
        )
    )
    assert err.status == NTStatus.NOT_IMPLEMENTED and err.header.mid == 0x41


def test_dos_error_status_mapping() -> None:
    hdr = smb1.Header(command=smb1.Command.NEGOTIATE, flags2=0, status=0x00020002)  # ERRSRV/ERRbadpw
    decoded = smb1.decode_header(smb1.encode_header(hdr))
    assert decoded.nt_status == NTStatus.WRONG_PASSWORD


@pytest.mark.parametrize("cut", [0, 4, 31, 32, 34])
def test_truncated_raises_decode_error(cut: int) -> None:
    with pytest.raises(DecodeError):
        smb1.decode_negotiate_response(recorded("nt1-smb1-negotiate")[:cut])
