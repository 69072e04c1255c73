"""Hand-built facts for reporter and CLI tests (shapes as the probes produce them)."""

from __future__ import annotations

from datetime import UTC, datetime

from smbguard.model import (
    Confidence,
    Finding,
    HostFacts,
    HostResult,
    NtlmInfo,
    PortState,
    ProbeError,
    SessionFacts,
    Severity,
    SigningFacts,
    Smb1Facts,
    Smb2Facts,
    Status,
    Target,
)

T0 = datetime(2026, 11, 28, 8, 0, 0, tzinfo=UTC)


def samba_smb1_guest(address: str = "127.0.12.1", name: str = "LABSMB1") -> HostFacts:
    return HostFacts(
        target=Target(address, 445),
        port_state=PortState.OPEN,
        connect_ms=0.2,
        smb1=Smb1Facts(
            enabled=True,
            dialect="NT LM 0.12",
            signing_enabled=True,
            signing_required=False,
            capabilities=("UNICODE", "NT_STATUS", "EXTENDED_SECURITY"),
            native_os="Windows 6.1",
            native_lan_manager="Samba 4.17.12-Debian",
            primary_domain="SMBGUARDLAB",
            server_name=name,
        ),
        smb2=Smb2Facts(
            dialects=("2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"),
            decided=True,
            highest="3.1.1",
            server_guid="6e4f5a2c-0000-4000-8000-000000000001",
            capabilities=("DFS", "LEASING", "LARGE_MTU"),
            security_modes={"2.0.2": 1, "2.1": 1, "3.0": 1, "3.0.2": 1, "3.1.1": 1},
            max_transact_size=8388608,
            max_read_size=8388608,
            max_write_size=8388608,
            system_time=T0,
            preauth_integrity=("SHA_512",),
            encryption_ciphers=("AES_128_GCM", "AES_128_CCM"),
            signing_algorithms=("AES_CMAC",),
        ),
        signing=SigningFacts(enabled=True, required=False, smb1_required=False, smb2_required=False),
        ntlm=NtlmInfo(
            netbios_computer=name,
            netbios_domain="SMBGUARDLAB",
            dns_computer=name.lower(),
            os_major=6,
            os_minor=1,
            os_build=0,
            ntlm_revision=15,
            product="Samba",
        ),
        os="Samba 4.17.12-Debian",
        sessions=SessionFacts(null=True, guest=True),
        started=T0,
        finished=T0,
    )


def hostile(address: str = "127.0.12.9") -> HostFacts:
    return HostFacts(
        target=Target(address, 4531),
        port_state=PortState.OPEN,
        smb1=Smb1Facts(enabled=None, server_name="EVIL\x1b[2J\x07name", reason="garbage"),
        errors=(ProbeError("smb2", "protocol", "not an SMB2 header"),),
    )


def closed(address: str = "127.0.12.30") -> HostFacts:
    return HostFacts(target=Target(address, 445), port_state=PortState.CLOSED, connect_ms=0.05)


def with_finding(facts: HostFacts) -> HostResult:
    f = Finding(
        id="smb1-enabled",
        severity=Severity.HIGH,
        address=facts.target.address,
        port=facts.target.port,
        status=Status.AFFECTED,
        confidence=Confidence.CONFIRMED,
        evidence={"dialect": "NT LM 0.12", "native_os": facts.smb1.native_os if facts.smb1 else None},
    )
    return HostResult(facts=facts, findings=(f,))
