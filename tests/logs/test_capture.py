"""Passive SMB analysis of the real captures in ../shared/data/pcaps.

Expected values were checked with tshark (e.g. ``-Y "smb.cmd==0x25"`` for the
MS17-010 check, ``smb.dialect.name`` for offered dialects, ``smb2.sec_mode``)
and against the per-file notes in SOURCES.md."""

from __future__ import annotations

import contextlib
import struct
from collections import Counter
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.errors import DecodeError
from smbguard.logs.capture import CaptureAnalyzer
from smbguard.logs.pcapreport import analyze_pcap, render_html, render_table
from smbguard.model import HostFacts
from smbguard.proto import smb2

PCAPS = "pcaps"


def _run(path: Path) -> tuple[CaptureAnalyzer, list, dict[str, HostFacts]]:  # type: ignore[type-arg]
    analyzer = CaptureAnalyzer(str(path))
    events = list(analyzer.events())
    return analyzer, events, {h.target.address: h for h in analyzer.hosts()}


def test_ms17_010_check_and_eternalblue(shared_data: Path) -> None:
    report = analyze_pcap(str(shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap"))
    (host,) = report.hosts
    facts = host.facts
    assert facts.target.address == "10.7.9.6"
    assert facts.ms17_010 is not None and facts.ms17_010.state == "vulnerable"
    assert facts.smb1 is not None and facts.smb1.enabled and facts.smb1.signing_required is True
    assert facts.smb1.native_os == "Windows Server 2008 R2 Standard 7601 Service Pack 1"
    assert facts.smb2 is not None and facts.smb2.dialects == ("2.1",)
    assert facts.signing.required is True
    # the scanner's checks ran on the passively observed server
    assert {"ms17-010", "smb1-enabled"} <= {f.id for f in host.findings}
    by_id = {f.id: f for f in report.findings}
    exploit = by_id["ms17-010-exploit-traffic"]
    assert exploit.key == "ms17-010-exploit-traffic|10.7.9.103|10.7.9.6"
    assert set(exploit.evidence["indicators"]) == {  # type: ignore[arg-type]
        "MS17-010 check: TRANS PeekNamedPipe on FID 0",
        "MS17-010 check answered STATUS_INSUFF_SERVER_RESOURCES (unpatched)",
        "NT_TRANSACT continued by TRANSACTION2_SECONDARY (EternalBlue pattern)",
    }
    assert exploit.evidence["first_seen"] == "2018-07-09T18:55:05.676110+00:00"  # frame 115 (tshark)


def test_valid_fid_peek_is_not_the_ms17_010_check(shared_data: Path) -> None:
    _, events, hosts = _run(shared_data / PCAPS / "zeek-eternalsafety/eternalromance-success-2008r2.pcap")
    ids = {e.event_id for e in events}
    assert "pcap:ms17-010:peek-fid0" not in ids  # PeekNamedPipe on FID 0x4000
    assert hosts["172.23.33.10"].ms17_010 is None  # not decided by this capture


def test_doublepulsar_implant_answers(shared_data: Path) -> None:
    _, _, hosts = _run(shared_data / PCAPS / "zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap")
    implant = hosts["192.168.198.203"].doublepulsar
    assert implant is not None and implant.state == "infected"
    assert implant.evidence["request_mid"] == 65 and implant.evidence["reply_mid"] == 81
    _, _, hosts2 = _run(shared_data / PCAPS / "zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap")
    # tshark: frame 566 answers MID 66 with MID 82 after the implant was installed
    after = hosts2["192.168.198.203"].doublepulsar
    assert after is not None and after.state == "infected" and after.evidence["reply_mid"] == 82


def test_smb1_only_client_and_sll_link(shared_data: Path) -> None:
    analyzer, events, _ = _run(shared_data / PCAPS / "ndpi/smbv1.pcap")
    client = analyzer.clients["172.16.156.130"]
    assert client.smb1_only and "NT LM 0.12" in client.smb1_dialects and not client.smb2_dialects
    assert ("pcap:smb1-negotiate", "172.16.156.130") in {(e.event_id, e.src_ip) for e in events}
    assert "pcap:ms17-010:doublepulsar-ping" in {e.event_id for e in events}
    _, _, hosts = _run(shared_data / PCAPS / "suricata-verify/output-eve-smb-01/input.pcap")  # Linux SLL
    host = hosts["192.168.1.3"]
    assert host.smb1 is not None and host.smb1.native_os == "Windows Server 2019 Standard 17763"
    assert host.ntlm is not None and host.ntlm.os_version == "10.0.17763"
    assert host.signing.required is False


def test_smb2_signing_and_ntlm_build(shared_data: Path) -> None:
    _, _, hosts = _run(shared_data / PCAPS / "zeek/smb311.pcap")
    host = hosts["10.160.67.244"]
    assert host.smb2 is not None and host.smb2.dialects == ("3.1.1",)
    assert host.smb2.security_modes == {"3.1.1": 3}  # SIGNING_ENABLED | SIGNING_REQUIRED
    assert host.signing.required is True
    assert host.ntlm is not None and host.ntlm.os_build == 14393
    assert host.smb2.preauth_integrity == ("SHA_512",)
    _, _, hosts = _run(shared_data / PCAPS / "suricata-verify/smb-version-keyword/input.pcap")
    assert hosts["172.31.222.157"].signing.required is False


def test_client_compression_offer_is_not_server_compression(shared_data: Path) -> None:
    analyzer, events, hosts = _run(shared_data / PCAPS / "suricata-verify/dcerpc_dcerpc-smb-ctxid/input.pcap")
    client = analyzer.clients["192.168.56.102"]
    assert client.compression_offered == {"PATTERN_V1", "LZ77", "LZ77_HUFFMAN", "LZNT1"}
    assert client.smb2_dialects == {"2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"}
    (host,) = hosts.values()
    assert host.smb2 is not None and host.smb2.compression_algorithms == ()
    assert not any("smbghost" in e.event_id for e in events)


def test_guest_and_null_sessions(shared_data: Path) -> None:
    _, _, hosts = _run(shared_data / PCAPS / "suricata-verify/smb2-delete/input.pcap")
    assert hosts["192.168.1.51"].sessions.guest is True
    _, events, hosts = _run(shared_data / PCAPS / "suricata-verify/dcerpc_zerologon/input.pcap")
    assert hosts["172.16.5.58"].sessions.null is True
    assert sum(1 for e in events if e.user == "ANONYMOUS LOGON") >= 10  # SOURCES: 10 anonymous setups


def test_admin_share_from_capture(shared_data: Path) -> None:
    report = analyze_pcap(str(shared_data / PCAPS / "pcap-attack/LM_psexec_smb_dcerpc_epm_svcctl.pcapng"))
    admin = [f for f in report.findings if f.id == "admin-share-access"]
    assert len(admin) == 1
    # tree connect to ADMIN$ + CREATE of PSEXESVC.exe on it
    assert admin[0].evidence["targets"] == {"ADMIN$": 2}
    assert admin[0].evidence["servers"] == ["172.16.66.36"]
    assert admin[0].evidence["accounts"] == {"3B\\backdoor": 2}  # tshark: ntlmssp.auth.domain, .username


def _pcap(packets: list[bytes]) -> bytes:
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    for i, data in enumerate(packets):
        out.append(struct.pack("<IIII", 1_600_000_000 + i, 0, len(data), len(data)) + data)
    return b"".join(out)


def _ipv4_tcp(src: bytes, dst: bytes, sport: int, dport: int, seq: int, flags: int, payload: bytes) -> bytes:
    tcp = struct.pack(">HHIIBBHHH", sport, dport, seq, 0, 5 << 4, flags, 65535, 0, 0) + payload
    return struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst) + tcp


def test_smbghost_compression_header(tmp_path: Path) -> None:
    header = smb2.encode_compression_transform_header(0xFFFFFFFF, smb2.CompressionAlgorithm.LZNT1, 0x10)
    message = header + b"\x00" * 48
    nbss = b"\x00" + len(message).to_bytes(3, "big") + message
    client, server = bytes([192, 0, 2, 10]), bytes([192, 0, 2, 20])
    path = tmp_path / "ghost.pcap"
    path.write_bytes(
        _pcap(
            [
                _ipv4_tcp(client, server, 50000, 445, 100, 0x02, b""),
                _ipv4_tcp(client, server, 50000, 445, 101, 0x18, nbss),
            ]
        )
    )
    report = analyze_pcap(str(path))
    (finding,) = report.findings
    assert finding.id == "smbghost-exploit-traffic"
    assert finding.key == "smbghost-exploit-traffic|192.0.2.10|192.0.2.20"
    # a legitimate-looking header does not fire
    ok_header = smb2.encode_compression_transform_header(4096, smb2.CompressionAlgorithm.LZNT1, 0)
    ok = ok_header + b"\x00" * 48
    path.write_bytes(
        _pcap(
            [
                _ipv4_tcp(client, server, 50000, 445, 100, 0x02, b""),
                _ipv4_tcp(client, server, 50000, 445, 101, 0x18, b"\x00" + len(ok).to_bytes(3, "big") + ok),
            ]
        )
    )
    assert analyze_pcap(str(path)).findings == ()


def test_renderings_escape_untrusted_names(shared_data: Path) -> None:
    report = analyze_pcap(str(shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap"))
    page = render_html(report)
    assert "<script" not in page.lower() and "10.7.9.6" in page
    table = render_table(report)
    assert "ms17-010-exploit-traffic" in table
    doc = report.to_dict()
    assert doc["hosts"][0]["address"] == "10.7.9.6"
    assert doc["hosts"][0]["observed"]["clients"] == ["10.7.9.103"]
    assert {f["id"] for f in doc["findings"]} >= {"ms17-010-exploit-traffic", "smb1-client-activity"}


def test_eternalblue_and_eternalchampion_markers(shared_data: Path) -> None:
    # tshark -Y "smb.cmd==0xa0 || smb.cmd==0x33": NT_TRANSACT MID 65 (frame 14) continued by
    # TRANSACTION2_SECONDARY MID 65 (frames 16...), after a TRANS2 ping with the same MID (frame 12)
    _, events, _ = _run(shared_data / PCAPS / "zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap")
    blue = [e for e in events if e.event_id == "pcap:ms17-010:eternalblue"]
    # two TCP connections carry the pattern
    assert [(e.src_ip, e.server) for e in blue] == [("192.168.198.204", "192.168.198.203")] * 2
    # tshark -Y "smb.cmd==0xa0 && smb.flags.response==0" -e smb.nt.function: 74 x function 5
    _, events, _ = _run(shared_data / PCAPS / "zeek-eternalsafety/eternalchampion.pcap")
    rename = [e for e in events if e.event_id == "pcap:ms17-010:nt-rename"]
    assert {(e.src_ip, e.server) for e in rename} == {("10.1.75.167", "10.1.75.4")}
    assert not [e for e in events if e.event_id == "pcap:ms17-010:eternalblue"]


def test_client_that_also_offers_smb2_is_not_smb1_only(shared_data: Path) -> None:
    # tshark -Y "smb.cmd==0x72" -e smb.dialect.name: the exploit tool's negotiate offers only
    # SMB1 dialects, the same client's Windows negotiate also offers "SMB 2.002"
    analyzer, _, _ = _run(shared_data / PCAPS / "suricata-verify/smb2-09-trunc-file-logging/input.pcap")
    client = analyzer.clients["10.7.9.103"]
    assert client.smb1_only_negotiations >= 1
    assert "SMB 2.002" in client.smb1_dialects
    assert client.smb1_only is False


def test_garbage_timestamps_do_not_crash() -> None:
    from smbguard.proto import smb1

    request = smb1.encode_negotiate_request(("NT LM 0.12",))
    client, server = bytes([192, 0, 2, 1]), bytes([192, 0, 2, 2])
    analyzer = CaptureAnalyzer("synthetic")
    analyzer._packet(1e20, 101, _ipv4_tcp(client, server, 40000, 445, 1, 0x02, b""))
    analyzer._packet(
        1e20,
        101,
        _ipv4_tcp(client, server, 40000, 445, 2, 0x18, b"\x00" + len(request).to_bytes(3, "big") + request),
    )
    (event,) = list(analyzer._out)
    assert event.event_id == "pcap:smb1-negotiate" and event.time is None
    assert analyzer.clients["192.0.2.1"].smb1_only


def test_anonymous_sessions_in_capture(shared_data: Path) -> None:
    # tshark -Y "ntlmssp.messagetype==3" -e ntlmssp.auth.username: 10 x NULL from 172.16.0.10
    report = analyze_pcap(str(shared_data / PCAPS / "suricata-verify/dcerpc_zerologon/input.pcap"))
    (anon,) = [f for f in report.findings if f.id == "anonymous-logon"]
    assert anon.key == "anonymous-logon|172.16.0.10|172.16.5.58"
    assert anon.evidence["count"] == 10
    assert anon.evidence["logon_kinds"] == {"anonymous SMB2 session setup (capture)": 10}


def test_file_operations_in_captures(shared_data: Path) -> None:
    def ops(name: str) -> list[tuple[str, str | None, str | None, str | None]]:
        _, events, _ = _run(shared_data / PCAPS / name)
        return [
            (e.event_id, e.share, e.path, e.new_path)
            for e in events
            if e.event_id.startswith(("pcap:write", "pcap:create", "pcap:rename", "pcap:delete"))
        ]

    # tshark -V: Delete On Close in the CREATEs of frames 36, 48, 60, 68, 92; 36 and 60 fail
    # (0xc00000ba, 0xc0000034): test_dir once (frame 68), test_create.dat twice (48, 92)
    assert Counter(ops("zeek/smb2.delete-on-close-perms-delete-existing.pcap")) == {
        ("pcap:delete-on-close", "tmp", "test_dir", None): 1,
        ("pcap:delete-on-close", "tmp", "test_dir\\test_create.dat", None): 2,
    }
    # tshark: SetInfo FILE_DISPOSITION_INFO with FileId ffff... compounded after a CREATE
    assert ops("ndpi/smb_deletefile.pcap") == [
        ("pcap:delete", None, "Luca\\Downloads\\innosetup-5.6.1.exe", None)
    ]
    # GandCrab (UNAVARRA dataset): rename to the .hdcjuh extension
    (rename,) = ops("suricata-verify/smb2-async/input.pcap")
    assert rename[0] == "pcap:rename" and rename[3] is not None and rename[3].endswith("F9768.pdf.hdcjuh")
    # PsExec: service binary written to ADMIN$ and deleted afterwards
    psexec = ops("suricata-verify/smb2-07/20171220_smb_psexec_add_user.pcap")
    assert ("pcap:create", "ADMIN$", "PSEXESVC.exe", None) in psexec
    assert ("pcap:delete", "ADMIN$", "PSEXESVC.exe", None) in psexec


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200), st.sampled_from([5, 9, 17]), st.booleans())
def test_fuzz_file_operation_decoders(body: bytes, command: int, response: bool) -> None:
    header = smb2.encode_header(smb2.Header(command=command, flags=1 if response else 0))
    message = header + body
    decoders = {5: smb2.decode_create_request, 9: smb2.decode_write_request, 17: smb2.decode_set_info_request}
    for decode in (decoders[command], smb2.decode_create_response):
        try:
            result = decode(message)
        except DecodeError:
            continue
        if isinstance(result, smb2.SetInfoRequest):
            with contextlib.suppress(DecodeError):
                _ = result.rename_target, result.deletes
