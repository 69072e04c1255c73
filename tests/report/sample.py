"""Sample scan reports built from real check evaluation (no hand-written findings).

``sample_report()`` gives a small office network including hostile server-supplied
strings (``<script>``, quotes, control and RTL characters) for escaping tests.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from smbguard.checks.evaluate import evaluate
from smbguard.model import (
    HostFacts,
    HostResult,
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
from tests.checks.fixtures import host, modern_windows

HOSTILE_NAME = '<script>alert("x")</script>'
HOSTILE_OS = "Windows \"7\" <b>&amp; 'SP1'\x07\u202egnp.exe"


def win7(address: str) -> HostFacts:
    return host(
        address,
        netbios_session=True,
        smb1=Smb1Facts(
            enabled=True,
            dialect="NT LM 0.12",
            signing_enabled=True,
            signing_required=False,
            native_os="Windows 7 Professional 7601 Service Pack 1",
        ),
        smb2=Smb2Facts(dialects=("2.0.2", "2.1"), decided=True, highest="2.1", security_modes={"2.1": 1}),
        signing=SigningFacts(enabled=True, required=False, smb1_required=False, smb2_required=False),
        ntlm=NtlmInfo(netbios_computer="PC-ACCT01", os_major=6, os_minor=1, os_build=7601),
        os="Windows 7 SP1",
        sessions=SessionFacts(null=True, guest=False),
    )


def samba_nas(address: str) -> HostFacts:
    return host(
        address,
        smb1=Smb1Facts(
            enabled=True,
            dialect="NT LM 0.12",
            signing_enabled=True,
            signing_required=False,
            native_os="Unix",
            native_lan_manager="Samba 4.9.5-Debian",
        ),
        smb2=Smb2Facts(
            dialects=("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"),
            decided=True,
            highest="3.1.1",
            encryption_ciphers=("AES_128_GCM",),
        ),
        signing=SigningFacts(enabled=True, required=False, smb1_required=False, smb2_required=False),
        ntlm=NtlmInfo(netbios_computer="NAS01", os_major=6, os_minor=1, os_build=0, product="Samba"),
        os="Samba 4.9.5-Debian",
        sessions=SessionFacts(null=False, guest=True),
    )


def hostile(address: str) -> HostFacts:
    return host(
        address,
        smb1=Smb1Facts(
            enabled=True, native_os=HOSTILE_OS, native_lan_manager=HOSTILE_NAME, server_name=HOSTILE_NAME
        ),
        smb2=Smb2Facts(dialects=("2.1",), decided=True),
        signing=SigningFacts(enabled=True, required=False),
        ntlm=NtlmInfo(netbios_computer=HOSTILE_NAME, dns_domain="evil\u202e.example"),
        os=HOSTILE_OS,
        sessions=SessionFacts(null=False, guest=False),
    )


def info(targets: tuple[str, ...] = ("192.0.2.0/28",), minutes: int = 0) -> ScanInfo:
    start = datetime(2026, 11, 28, 8, 0, tzinfo=UTC) + timedelta(minutes=minutes)
    return ScanInfo(
        started=start,
        finished=start + timedelta(seconds=3),
        arguments=("scan", *targets, "-u", "admin", "-p", "S3cret!"),
        version="0.1.0",
        targets=targets,
    )


def evaluated(facts: list[HostFacts]) -> tuple[HostResult, ...]:
    return tuple(evaluate(f, strict=True) for f in facts)


def sample_report(minutes: int = 0) -> ScanReport:
    hosts = [
        win7("192.0.2.1"),
        samba_nas("192.0.2.2"),
        modern_windows(
            target=Target("192.0.2.3"),
            ntlm=NtlmInfo(netbios_computer="SRV2022", os_build=20348),
            os="Windows Server 2022",
        ),
        hostile("192.0.2.4"),
        host("192.0.2.5", port_state=PortState.CLOSED),
    ]
    return ScanReport(info=info(minutes=minutes), hosts=evaluated(hosts))


def fixed_report(minutes: int = 60) -> ScanReport:
    """The sample network a while later: PC-ACCT01 got SMB1 removed, NAS01 went offline, a new host."""
    fixed_pc = replace(
        win7("192.0.2.1"),
        smb1=Smb1Facts(enabled=False),
        netbios_session=False,
        signing=SigningFacts(enabled=True, required=False, smb1_required=None, smb2_required=False),
    )
    hosts = [
        fixed_pc,
        host("192.0.2.2", port_state=PortState.FILTERED),
        modern_windows(target=Target("192.0.2.3")),
        hostile("192.0.2.4"),
        win7("192.0.2.5"),
    ]
    return ScanReport(info=info(minutes=minutes), hosts=evaluated(hosts))
