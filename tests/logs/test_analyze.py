"""``analyze`` end to end: content sniffing, mixed inputs, bounded memory on large inputs."""

from __future__ import annotations

import tracemalloc
from pathlib import Path

from smbguard.logs.analyze import analyze
from smbguard.logs.detect import sniff


def test_sniffing_real_files(shared_data: Path) -> None:
    expected = {
        "evtx/evtx-attack-samples/spoolsample_5145.evtx": "evtx",
        "pcaps/zeek/smb2.pcap": "pcap",
        "pcaps/pcap-attack/DCSync_krbtgt_dcerpc_smb.pcapng": "pcap",
        "logs/samba/crowdsec-hub_smb-logs.log": "samba",
        "logs/samba/udmo-learn1_log.smbd": "samba",
        "logs/samba/timlok-otus-linux_full_audit_journal_excerpt.log": "samba",
        "logs/zeek-maccdc2012-cyberspatiallabs/smb_files.log": "zeek",
        "logs/zeek-btest-baselines/dce-rpc.mapi__ntlm.log": "zeek",
        "logs/zeek-btest-baselines/ldap.sasl-ntlm__ntlm.log": "zeek",
        "logs/samba/timlok-otus-linux_smb.conf": "unknown",
        "logs/zeek-maccdc2012-cyberspatiallabs/README.md": "unknown",
    }
    assert {name: sniff(str(shared_data / name)) for name in expected} == expected


def test_capture_through_logs_analyze(shared_data: Path) -> None:
    result = analyze([str(shared_data / "pcaps/suricata-verify/smb2-09-trunc-file-logging/input.pcap")])
    # the MS17-010 check runs over an anonymous (null) session, hence anonymous-logon
    assert {f.id for f in result.findings} == {
        "ms17-010-exploit-traffic",
        "smb1-client-activity",
        "anonymous-logon",
    }
    (source,) = result.sources
    assert source.type == "pcap" and source.records == 782  # capinfos -c


def _full_audit(path: Path, lines: int) -> None:
    with path.open("w") as out:
        for i in range(lines):
            sec = i // 50
            out.write(
                f"Jan  1 {sec // 3600 % 24:02d}:{sec // 60 % 60:02d}:{sec % 60:02d} fs smbd_audit[1]: "
                f"u{i % 300}|10.1.{i % 300 // 250}.{i % 250 + 1}|data|pwrite|ok|dir{i % 9}/f{i % 997}.txt\n"
            )


def _peak(path: Path) -> int:
    tracemalloc.start()
    analyze([str(path)])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_stays_flat_on_larger_input(tmp_path: Path) -> None:
    small, large = tmp_path / "small.log", tmp_path / "large.log"
    _full_audit(small, 3_000)
    _full_audit(large, 18_000)
    peak_small, peak_large = _peak(small), _peak(large)
    # six times the input, bounded state: the peak grows far less than the input
    assert peak_large < peak_small * 2, (peak_small, peak_large)
    assert large.stat().st_size > 5 * small.stat().st_size
