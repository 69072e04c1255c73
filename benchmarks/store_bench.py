"""Benchmark: how long does storing one scan of N hosts in the history take?

    python benchmarks/store_bench.py [--hosts 100000] [--open-ratio 0.1] [--db PATH]

Builds N evaluated hosts in memory first (not timed): a share ``--open-ratio``
of them reachable SMB servers in four realistic configurations (Windows 7 with
SMB1, a Samba NAS with guest access, a hardened Windows Server, an SMB1-only
device), the rest closed ports as in a subnet sweep. Findings come from the real
checks (``evaluate``). Then times ``Store.save_scan`` (one transaction, WAL) into
a fresh database file and prints hosts/s, findings stored and the file size.
No network traffic at all.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from smbguard.checks.evaluate import evaluate
from smbguard.model import (
    HostFacts,
    NtlmInfo,
    PortState,
    ScanInfo,
    ScanReport,
    SessionFacts,
    SigningFacts,
    Smb1Facts,
    Smb2Facts,
    Target,
)
from smbguard.store import Store

MODERN = ("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1")


def templates() -> list[HostFacts]:
    t = Target("0.0.0.0")
    return [
        HostFacts(
            target=t,
            port_state=PortState.OPEN,
            netbios_session=True,
            smb1=Smb1Facts(enabled=True, dialect="NT LM 0.12", native_os="Windows 7 Professional 7601"),
            smb2=Smb2Facts(
                dialects=("2.0.2", "2.1"), decided=True, highest="2.1", security_modes={"2.0.2": 1, "2.1": 1}
            ),
            signing=SigningFacts(enabled=True, required=False, smb1_required=False, smb2_required=False),
            ntlm=NtlmInfo(netbios_computer="PC-0001", os_major=6, os_minor=1, os_build=7601),
            os="Windows 7 SP1",
            sessions=SessionFacts(null=True, guest=False),
        ),
        HostFacts(
            target=t,
            port_state=PortState.OPEN,
            smb1=Smb1Facts(enabled=True, native_os="Unix", native_lan_manager="Samba 4.9.5-Debian"),
            smb2=Smb2Facts(
                dialects=MODERN,
                decided=True,
                highest="3.1.1",
                encryption_ciphers=("AES_128_GCM",),
                security_modes={d: 1 for d in MODERN},
            ),
            signing=SigningFacts(enabled=True, required=False),
            ntlm=NtlmInfo(netbios_computer="NAS", product="Samba"),
            os="Samba 4.9.5",
            sessions=SessionFacts(null=False, guest=True),
        ),
        HostFacts(
            target=t,
            port_state=PortState.OPEN,
            netbios_session=False,
            smb1=Smb1Facts(enabled=False),
            smb2=Smb2Facts(
                dialects=MODERN,
                decided=True,
                highest="3.1.1",
                encryption_ciphers=("AES_128_GCM", "AES_256_GCM"),
                security_modes={d: 3 for d in MODERN},
            ),
            signing=SigningFacts(enabled=True, required=True, smb2_required=True),
            ntlm=NtlmInfo(netbios_computer="SRV", os_major=10, os_minor=0, os_build=20348),
            os="Windows Server 2022",
            sessions=SessionFacts(null=False, guest=False),
        ),
        HostFacts(
            target=t,
            port_state=PortState.OPEN,
            smb1=Smb1Facts(enabled=True, native_os="Windows 5.1"),
            smb2=Smb2Facts(dialects=(), decided=True),
            signing=SigningFacts(enabled=False, required=False),
            os="Windows XP",
            sessions=SessionFacts(null=True, guest=True),
        ),
    ]


def build(n: int, open_ratio: float) -> ScanReport:
    base = [evaluate(f) for f in templates()]
    closed = evaluate(HostFacts(target=Target("0.0.0.0"), port_state=PortState.CLOSED))
    net = ipaddress.IPv4Network("10.0.0.0/8")
    every = max(1, round(1 / open_ratio)) if open_ratio > 0 else 0
    hosts = []
    for i in range(n):
        addr = str(net[i + 1])
        template = base[(i // every) % len(base)] if every and i % every == 0 else closed
        target = Target(addr)
        hosts.append(
            replace(
                template,
                facts=replace(template.facts, target=target),
                findings=tuple(replace(f, address=addr) for f in template.findings),
            )
        )
    now = datetime.now(UTC)
    info = ScanInfo(
        started=now,
        finished=now,
        arguments=("scan", "10.0.0.0/15"),
        version="bench",
        targets=("10.0.0.0/15",),
    )
    return ScanReport(info=info, hosts=tuple(hosts))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hosts", type=int, default=100_000)
    ap.add_argument("--open-ratio", type=float, default=0.1)
    ap.add_argument("--db", type=Path, default=None)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    report = build(args.hosts, args.open_ratio)
    t_build = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = args.db or Path(tmp) / "bench.sqlite3"
        with Store(path) as store:
            t1, c1 = time.perf_counter(), time.process_time()
            scan_id = store.save_scan(report)
            elapsed, cpu = time.perf_counter() - t1, time.process_time() - c1
            row = store.scan(scan_id)
        size = path.stat().st_size + (
            path.with_name(path.name + "-wal").stat().st_size
            if path.with_name(path.name + "-wal").exists()
            else 0
        )
    print(f"python {sys.version.split()[0]}; built {args.hosts} hosts in {t_build:.2f} s (not timed)")
    print(
        f"stored {row.host_count} hosts ({row.open_count} open, {row.finding_count} findings) "
        f"in {elapsed:.2f} s = {row.host_count / elapsed:,.0f} hosts/s (CPU {cpu:.2f} s); "
        f"database {size / 1e6:.1f} MB; load average {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
