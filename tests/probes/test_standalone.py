"""The single-purpose probe entry points against real Samba."""

from __future__ import annotations

import asyncio

import pytest

from smbguard.model import Target
from smbguard.probes.base import ProbeFailure, ProbeOptions
from smbguard.probes.netbios import probe_netbios
from smbguard.probes.ntlm import probe_ntlm
from smbguard.probes.smb1 import probe_smb1
from smbguard.probes.smb2 import probe_smb2
from tests.helpers.samba import SambaLab

pytestmark = pytest.mark.integration


def test_probe_smb2(samba: SambaLab) -> None:
    facts = asyncio.run(probe_smb2(Target(samba["smb3sign"].address), ProbeOptions()))
    assert facts.dialects == ("3.1.1",) and facts.decided and facts.security_modes == {"3.1.1": 3}


def test_probe_smb2_closed_port_raises() -> None:
    with pytest.raises(ProbeFailure) as info:
        asyncio.run(probe_smb2(Target("127.0.11.20", 4519), ProbeOptions()))
    assert info.value.error.kind == "refused"


def test_probe_ntlm(samba: SambaLab) -> None:
    info = asyncio.run(probe_ntlm(Target(samba["default"].address), ProbeOptions()))
    assert info.netbios_computer == "PRDEFAULT" and info.product == "Samba"


def test_probe_smb1(samba: SambaLab) -> None:
    on = asyncio.run(probe_smb1(Target(samba["nt1only"].address), ProbeOptions()))
    assert on.enabled is True and (on.native_lan_manager or "").startswith("Samba")
    off = asyncio.run(probe_smb1(Target(samba["default"].address), ProbeOptions()))
    assert off.enabled is False


def test_probe_netbios(samba: SambaLab) -> None:
    inst = samba["nbss"]
    answer = asyncio.run(probe_netbios(Target(inst.address), ProbeOptions(), port=inst.port))
    assert answer.positive
