"""The vulnerability probes and checks against real Samba (smbd) on loopback.

Samba is not affected by MS17-010 or SMBGhost: the probes must say so without
crashing anything, and the Samba version check must read the real version
string when SMB1 shows it (and say "unknown" when only SMB2 is spoken).
"""

from __future__ import annotations

import asyncio

import pytest

from smbguard.checks.evaluate import evaluate
from smbguard.model import HostResult, Status, Target
from smbguard.net.transport import Limits
from smbguard.probes import doublepulsar, ms17_010
from smbguard.probes.base import ProbeOptions
from smbguard.probes.host import collect
from tests.helpers.samba import SambaConfig, SambaLab, samba_fixture

pytestmark = pytest.mark.integration

CONFIGS = [
    SambaConfig(
        name="smb1",
        address="127.0.30.201",
        options={"server min protocol": "NT1", "map to guest": "Bad User"},
        shares={"public": {"path": "{dir}/public", "guest ok": "yes", "read only": "yes"}},
    ),
    SambaConfig(name="smb2only", address="127.0.30.202", options={"server min protocol": "SMB2_02"}),
]
samba = samba_fixture(CONFIGS, scope="module")


def _scan(lab: SambaLab) -> dict[str, HostResult]:
    opts = ProbeOptions(limits=Limits(connect_timeout=3, read_timeout=3), ms17_010=True, doublepulsar=True)

    async def run() -> dict[str, HostResult]:
        out = {}
        for inst in lab:
            out[inst.name] = evaluate(await collect(Target(inst.address, inst.port), opts))
        return out

    return asyncio.run(run())


def test_probes_and_checks_on_real_samba(samba: SambaLab) -> None:
    results = _scan(samba)
    smb1 = results["smb1"]
    assert smb1.facts.ms17_010 is not None and smb1.facts.doublepulsar is not None
    # smbd answers PeekNamedPipe(FID 0) with STATUS_INVALID_HANDLE (as the lab's Samba persona
    # does) and the DoublePulsar ping with STATUS_ACCESS_DENIED, echoing the Multiplex ID.
    assert smb1.facts.ms17_010.state == "patched", smb1.facts.ms17_010
    assert smb1.facts.ms17_010.evidence["status"] == "STATUS_INVALID_HANDLE"
    assert smb1.facts.doublepulsar.state == "clean", smb1.facts.doublepulsar
    assert smb1.facts.doublepulsar.evidence["multiplex_id"] == "0x41"
    status = {r.check_id: r for r in smb1.results}
    assert status["ms17-010"].status is not Status.AFFECTED
    assert status["doublepulsar"].status is not Status.AFFECTED
    assert status["cve-2020-0796"].status is Status.NOT_AFFECTED
    assert status["os-end-of-support"].status is Status.NOT_APPLICABLE
    # The real version string ("Samba 4.17.12-Debian" here) is read and judged.
    assert smb1.facts.smb1 is not None and (smb1.facts.smb1.native_lan_manager or "").startswith("Samba ")
    outdated = status["samba-outdated"]
    assert outdated.status in (Status.AFFECTED, Status.NOT_AFFECTED)
    assert outdated.evidence["native_lan_manager"] == smb1.facts.smb1.native_lan_manager
    if outdated.status is Status.AFFECTED:
        assert outdated.confidence.value == "likely"  # distributions backport fixes

    smb2 = results["smb2only"]
    assert smb2.facts.ms17_010 is not None and smb2.facts.ms17_010.state == "not_run"
    status2 = {r.check_id: r.status for r in smb2.results}
    assert status2["ms17-010"] is Status.NOT_AFFECTED  # SMB1 refused
    assert status2["samba-outdated"] is Status.UNKNOWN  # version hidden over SMB2


def test_probes_leave_samba_running(samba: SambaLab) -> None:
    """Read-only and harmless: after many probes the servers still answer normally."""

    async def hammer() -> list[str]:
        inst = samba["smb1"]
        states = []
        for _ in range(10):
            states.append((await ms17_010.probe(Target(inst.address, inst.port))).state)
            states.append((await doublepulsar.probe(Target(inst.address, inst.port))).state)
        return states

    states = asyncio.run(hammer())
    assert "vulnerable" not in states and "infected" not in states
    again = _scan(samba)["smb1"]
    assert again.facts.smb1 is not None and again.facts.smb1.enabled is True


def test_lab_samba_persona_answers_like_real_smbd(samba: SambaLab) -> None:
    """The lab's NAS persona against the real smbd, field by field (the version
    string differs on purpose: the persona plays an old release)."""
    from smbguard.lab import Lab, personas

    opts = ProbeOptions(limits=Limits(connect_timeout=3, read_timeout=3), ms17_010=True, doublepulsar=True)
    inst = samba["smb1"]

    async def both() -> tuple[HostResult, HostResult]:
        real = evaluate(await collect(Target(inst.address, inst.port), opts))
        async with Lab({"127.0.30.203": personas.SAMBA_NAS}, port=45451).running():
            fake = evaluate(await collect(Target("127.0.30.203", 45451), opts))
        return real, fake

    real, fake = asyncio.run(both())
    r, f = real.facts, fake.facts
    assert r.smb1 is not None and f.smb1 is not None and r.ntlm is not None and f.ntlm is not None
    assert r.smb2 is not None and f.smb2 is not None
    assert (f.smb1.enabled, f.smb1.native_os) == (r.smb1.enabled, r.smb1.native_os) == (True, "Windows 6.1")
    assert f.smb1.native_lan_manager != r.smb1.native_lan_manager  # 4.5.16 vs the installed release
    assert (f.ntlm.os_major, f.ntlm.os_minor, f.ntlm.os_build) == (r.ntlm.os_major, r.ntlm.os_minor, 0)
    assert r.ntlm.os_build == 0
    assert f.smb2.dialects == r.smb2.dialects
    assert (f.sessions.null, f.sessions.guest) == (r.sessions.null, r.sessions.guest)
    for name in ("ms17_010", "doublepulsar"):
        fv, rv = getattr(f, name), getattr(r, name)
        assert (fv.state, fv.evidence["status"]) == (rv.state, rv.evidence["status"]), name
