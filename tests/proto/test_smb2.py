"""SMB2 codec: recorded Samba replies, Windows replies from shared captures, round trips."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from smbguard.errors import DecodeError
from smbguard.proto import smb2
from smbguard.proto.ntstatus import NTStatus
from tests.helpers.pcap import SmbMessage
from tests.proto.conftest import recorded

Pcap = Callable[[str], list[SmbMessage]]
SAMBA_GUID = "65646773-6166-6c75-7400-000000000000"  # Samba derives it from the NetBIOS name "SGDEFAULT"


def _negotiates(messages: list[SmbMessage]) -> list[smb2.NegotiateResponse]:
    out = []
    for m in messages:
        if m.from_server and m.protocol == smb2.PROTOCOL_ID and smb2.decode_header(m.payload).command == 0:
            out.append(smb2.decode_negotiate_response(m.payload))
    return out


@pytest.mark.parametrize(
    ("dialect", "capabilities"),
    [("2.0.2", 0x01), ("2.1", 0x07), ("3.0", 0x4F), ("3.0.2", 0x4F), ("3.1.1", 0x0F)],
)
def test_samba_default_negotiate_per_dialect(dialect: str, capabilities: int) -> None:
    resp = smb2.decode_negotiate_response(recorded(f"default-negotiate-{dialect}"))
    assert resp.dialect_name == dialect
    assert resp.security_mode == smb2.SecurityMode.SIGNING_ENABLED
    assert not resp.signing_required
    assert resp.capabilities == capabilities
    assert resp.server_guid == SAMBA_GUID
    # 2.0.2 has no LARGE_MTU: Samba caps sizes at 64 KiB for it.
    assert resp.max_read_size == (65536 if dialect == "2.0.2" else 8 * 1024 * 1024)
    assert resp.system_time is not None and resp.system_time.year >= 2024
    assert resp.server_start_time is None  # Samba sends 0


def test_samba_311_contexts_answer_only_what_it_supports() -> None:
    resp = smb2.decode_negotiate_response(recorded("default-negotiate-3.1.1"))
    preauth = resp.context(smb2.PreauthIntegrityContext)
    assert isinstance(preauth, smb2.PreauthIntegrityContext)
    assert preauth.hash_algorithms == (smb2.HashAlgorithm.SHA_512,) and len(preauth.salt) == 32
    enc = resp.context(smb2.EncryptionCapabilitiesContext)
    assert isinstance(enc, smb2.EncryptionCapabilitiesContext) and enc.ciphers == (smb2.Cipher.AES_128_GCM,)
    sign = resp.context(smb2.SigningCapabilitiesContext)
    assert isinstance(sign, smb2.SigningCapabilitiesContext)
    assert sign.algorithms == (smb2.SigningAlgorithm.AES_GMAC,)
    # Samba 4.17 implements no compression: offered, not echoed.
    assert resp.context(smb2.CompressionCapabilitiesContext) is None


def test_samba_signing_mandatory_and_dialect_refused() -> None:
    resp = smb2.decode_negotiate_response(recorded("smb3sign-negotiate-3.1.1"))
    assert resp.security_mode == 3 and resp.signing_required
    err = smb2.decode_error_response(recorded("smb3sign-negotiate-2.1"))
    assert err.status == NTStatus.NOT_SUPPORTED
    with pytest.raises(DecodeError):
        smb2.decode_negotiate_response(recorded("smb3sign-negotiate-2.1"))


def test_samba_answers_multiprotocol_smb1_negotiate_with_wildcard() -> None:
    resp = smb2.decode_negotiate_response(recorded("default-smb1-multiprotocol"))
    assert resp.dialect == smb2.Dialect.WILDCARD and resp.dialect_name == "2.???"


def test_samba_session_setup_flags() -> None:
    challenge = smb2.decode_session_setup_response(recorded("default-sessionsetup-challenge"))
    assert challenge.status == NTStatus.MORE_PROCESSING_REQUIRED and challenge.session_id != 0
    anonymous = smb2.decode_session_setup_response(recorded("default-sessionsetup-anonymous"))
    assert anonymous.status == 0 and not anonymous.is_guest
    guest = smb2.decode_session_setup_response(recorded("guest-sessionsetup-guest"))
    assert guest.status == 0 and guest.is_guest and guest.session_flags == smb2.SessionFlags.IS_GUEST
    refused = smb2.decode_session_setup_response(recorded("default-sessionsetup-guest"))
    assert refused.status == NTStatus.LOGON_FAILURE and refused.security_buffer == b""


def test_samba_tree_connect_ipc_and_logoff() -> None:
    tree = smb2.decode_tree_connect_response(recorded("default-treeconnect-ipc"))
    assert tree.status == 0 and tree.share_type == smb2.ShareType.PIPE and tree.tree_id != 0
    assert smb2.decode_logoff(recorded("default-logoff")).status == 0


def test_windows_2016_311_negotiate_signing_required(pcap: Pcap) -> None:
    (resp,) = _negotiates(pcap("zeek/smb311.pcap"))
    assert resp.dialect == smb2.Dialect.SMB_3_1_1
    assert resp.security_mode == 3
    assert resp.server_guid == "9cbe294b-dd63-47b6-8d1f-3dce81383e69"
    assert resp.capabilities == 0x27  # DFS | LEASING | LARGE_MTU | DIRECTORY_LEASING
    assert smb2.flag_names(smb2.Capabilities, resp.capabilities) == (
        "DFS",
        "LEASING",
        "LARGE_MTU",
        "DIRECTORY_LEASING",
    )
    assert resp.server_start_time == datetime(2018, 10, 26, 20, 38, 28, 948775, tzinfo=UTC)
    enc = resp.context(smb2.EncryptionCapabilitiesContext)
    assert isinstance(enc, smb2.EncryptionCapabilitiesContext) and enc.ciphers == (smb2.Cipher.AES_128_CCM,)


def test_windows_negotiate_context_capture(pcap: Pcap) -> None:
    wildcard, final = _negotiates(pcap("zeek/smb3_negotiate_context.pcap"))
    assert wildcard.dialect == smb2.Dialect.WILDCARD
    assert final.dialect == smb2.Dialect.SMB_3_1_1 and final.security_mode == 1
    assert [type(c).__name__ for c in final.contexts] == [
        "PreauthIntegrityContext",
        "EncryptionCapabilitiesContext",
    ]


def test_windows_client_offers_compression(pcap: Pcap) -> None:
    requests = [
        smb2.decode_negotiate_request(m.payload)
        for m in pcap("suricata-verify/dcerpc_dcerpc-smb-ctxid/input.pcap")
        if not m.from_server and m.protocol == smb2.PROTOCOL_ID and m.payload[12] == 0
    ]
    comp = [c for r in requests for c in r.contexts if isinstance(c, smb2.CompressionCapabilitiesContext)]
    assert comp and set(comp[0].algorithms) == {
        smb2.CompressionAlgorithm.PATTERN_V1,
        smb2.CompressionAlgorithm.LZ77,
        smb2.CompressionAlgorithm.LZ77_HUFFMAN,
        smb2.CompressionAlgorithm.LZNT1,
    }
    names = [c for r in requests for c in r.contexts if isinstance(c, smb2.NetnameContext)]
    assert names and names[0].name == "192.168.56.101"


def test_server_2022_negotiates_3_0_signing_required(pcap: Pcap) -> None:
    resps = _negotiates(pcap("suricata-verify/dcerpc_dcerpc-bind-no-frag-flag/input.pcap"))
    finals = [r for r in resps if r.dialect == smb2.Dialect.SMB_3_0]
    assert finals and finals[0].signing_required
    assert finals[0].server_guid == "d032b464-6af9-4e94-ac4a-a35857e0d4d7"
    assert finals[0].capabilities & smb2.Capabilities.ENCRYPTION


ALL_CONTEXTS: tuple[smb2.NegotiateContext, ...] = (
    smb2.PreauthIntegrityContext(salt=bytes(range(32))),
    smb2.EncryptionCapabilitiesContext(tuple(smb2.Cipher)),
    smb2.CompressionCapabilitiesContext((1, 2, 3, 4, 5), smb2.CompressionFlags.CHAINED),
    smb2.NetnameContext("fileserver"),
    smb2.TransportCapabilitiesContext(1),
    smb2.RdmaTransformContext((1, 2)),
    smb2.SigningCapabilitiesContext((0, 1, 2)),
    smb2.UnknownContext(0x0100, b"\x01\x02\x03"),
)


def test_negotiate_request_round_trip() -> None:
    req = smb2.NegotiateRequest(
        dialects=smb2.ALL_DIALECTS,
        security_mode=1,
        capabilities=0x7F,
        client_guid="11111111-2222-3333-4444-555555555555",
        contexts=ALL_CONTEXTS,
    )
    raw = smb2.encode_negotiate_request(req, smb2.Header(message_id=7))
    assert smb2.decode_negotiate_request(raw) == req
    assert smb2.decode_header(raw).message_id == 7 and not smb2.decode_header(raw).is_response


def test_negotiate_response_round_trip() -> None:
    resp = smb2.NegotiateResponse(
        dialect=smb2.Dialect.SMB_3_1_1,
        security_mode=3,
        server_guid="9cbe294b-dd63-47b6-8d1f-3dce81383e69",
        capabilities=0x27,
        max_transact_size=1 << 23,
        max_read_size=1 << 23,
        max_write_size=1 << 23,
        system_time=datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        server_start_time=None,
        security_buffer=b"\x60\x00",
        contexts=ALL_CONTEXTS[:3],
    )
    raw = smb2.encode_negotiate_response(resp)
    assert smb2.decode_negotiate_response(raw) == resp
    assert smb2.decode_header(raw).is_response


def test_session_tree_logoff_error_round_trips() -> None:
    req = smb2.SessionSetupRequest(b"token", security_mode=1, previous_session_id=5)
    assert smb2.decode_session_setup_request(smb2.encode_session_setup_request(req)) == req
    resp = smb2.SessionSetupResponse(status=0, session_id=0x1234, session_flags=1, security_buffer=b"x")
    assert smb2.decode_session_setup_response(smb2.encode_session_setup_response(resp)) == resp
    tc = smb2.TreeConnectRequest("\\\\srv\\IPC$")
    assert smb2.decode_tree_connect_request(smb2.encode_tree_connect_request(tc)) == tc
    tr = smb2.TreeConnectResponse(
        status=0, tree_id=9, share_type=smb2.ShareType.DISK, maximal_access=0x1F01FF
    )
    assert smb2.decode_tree_connect_response(smb2.encode_tree_connect_response(tr)) == tr
    err = smb2.encode_error_response(NTStatus.ACCESS_DENIED, command=smb2.Command.TREE_CONNECT)
    assert smb2.decode_tree_connect_response(err).status == NTStatus.ACCESS_DENIED
    assert smb2.decode_error_response(err).status == NTStatus.ACCESS_DENIED
    logoff = smb2.encode_logoff_request(smb2.Header(session_id=3))
    assert smb2.decode_logoff(logoff).session_id == 3
    assert smb2.decode_logoff(smb2.encode_logoff_response()).status == 0


def test_compression_transform_header() -> None:
    ok = smb2.decode_compression_transform_header(
        smb2.encode_compression_transform_header(4096, smb2.CompressionAlgorithm.LZNT1, 0) + bytes(100)
    )
    assert ok.algorithm == smb2.CompressionAlgorithm.LZNT1 and not ok.chained and not ok.suspicious
    ghost = smb2.decode_compression_transform_header(
        smb2.encode_compression_transform_header(0xFFFFFFFF, smb2.CompressionAlgorithm.LZNT1, 0x10)
        + bytes(64)
    )
    assert ghost.suspicious
    with pytest.raises(DecodeError):
        smb2.decode_compression_transform_header(b"\xfeSMB" + bytes(12))


def test_filetime_helpers_and_names() -> None:
    stamp = datetime(2020, 1, 2, 3, 4, 5, 678900, tzinfo=UTC)
    assert smb2.filetime_to_datetime(smb2.datetime_to_filetime(stamp)) == stamp
    assert smb2.filetime_to_datetime(0) is None
    assert smb2.dialect_name(0x0311) == "3.1.1" and smb2.dialect_name(0x0999) == "0x0999"
    assert smb2.enum_name(smb2.Cipher, 4) == "AES_256_GCM" and smb2.enum_name(smb2.Cipher, 9) == "0x0009"


@pytest.mark.parametrize("cut", [0, 10, 63, 64, 70, 100])
def test_truncated_negotiate_response_raises_decode_error(cut: int) -> None:
    raw = recorded("default-negotiate-3.1.1")
    with pytest.raises(DecodeError):
        smb2.decode_negotiate_response(raw[:cut] if cut < 100 else raw[:-30])
