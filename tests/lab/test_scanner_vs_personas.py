"""The real scanner (probes.host.collect + checks) against every persona of the lab.

Each persona is an assertion about what smbguard must conclude: the facts it
collects must match the persona's configuration, and the vulnerability checks
must give the verdict the persona was built to provoke.
"""

from __future__ import annotations

import asyncio

import pytest

from smbguard.checks.evaluate import evaluate
from smbguard.lab import Lab, demo_layout, personas
from smbguard.model import HostResult, Status, Target
from smbguard.net.transport import Limits
from smbguard.probes.base import ProbeOptions
from smbguard.probes.host import collect

PORT = 45448
BASE = "127.0.30.0"
DIALECT_NAMES = {0x0202: "2.0.2", 0x0210: "2.1", 0x0300: "3.0", 0x0302: "3.0.2", 0x0311: "3.1.1"}


@pytest.fixture(scope="module")
def results() -> dict[str, HostResult]:
    layout = demo_layout(BASE)
    opts = ProbeOptions(limits=Limits(connect_timeout=3, read_timeout=3), ms17_010=True, doublepulsar=True)

    async def scan() -> dict[str, HostResult]:
        async with Lab(layout, port=PORT).running():
            facts = await asyncio.gather(*(collect(Target(a, PORT), opts) for a in layout))
        return {layout[f.target.address].key: evaluate(f) for f in facts}

    return asyncio.run(scan())


@pytest.mark.parametrize("persona", personas.ALL, ids=lambda p: p.key)
def test_facts_match_the_persona(results: dict[str, HostResult], persona: personas.Persona) -> None:
    facts = results[persona.key].facts
    assert facts.reachable
    assert facts.errors == () or all(e.kind != "internal" for e in facts.errors), facts.errors
    assert facts.smb1 is not None and facts.smb1.enabled is (persona.smb1 is not None)
    assert facts.smb2 is not None and persona.smb2 is not None
    assert set(facts.smb2.dialects) == {DIALECT_NAMES[d] for d in persona.smb2.dialects}
    assert facts.signing.required is bool(persona.smb2.security_mode & 0x02)
    assert facts.ntlm is not None
    assert (facts.ntlm.os_major, facts.ntlm.os_minor, facts.ntlm.os_build) == persona.ntlm_version
    assert facts.ntlm.netbios_computer == persona.netbios_name
    offered = set(facts.smb2.compression_algorithms) - {"NONE"}
    assert bool(offered) is bool(persona.smb2.compression)
    if persona.smb1 is not None:
        assert facts.smb1.native_lan_manager == persona.smb1.native_lan_man
    assert facts.sessions.null is persona.null_session
    assert facts.sessions.guest is persona.guest


EXPECTED = {
    # persona: {check id: status}
    "win7-unpatched": {
        "ms17-010": Status.AFFECTED,
        "doublepulsar": Status.NOT_AFFECTED,
        "cve-2020-0796": Status.NOT_AFFECTED,
        "os-end-of-support": Status.AFFECTED,
    },
    "win2008r2-patched": {
        "ms17-010": Status.NOT_AFFECTED,
        "doublepulsar": Status.NOT_AFFECTED,
        "os-end-of-support": Status.AFFECTED,
    },
    "win10-1909": {
        "ms17-010": Status.NOT_AFFECTED,
        "cve-2020-0796": Status.AFFECTED,
        "cve-2020-1206": Status.AFFECTED,
        "os-end-of-support": Status.AFFECTED,
    },
    "win10-1909-mitigated": {"cve-2020-0796": Status.MITIGATED, "cve-2020-1206": Status.MITIGATED},
    "win2019-hardened": {
        "ms17-010": Status.NOT_AFFECTED,
        "cve-2020-0796": Status.NOT_AFFECTED,
        "os-end-of-support": Status.UNKNOWN,
    },  # 17763 = Win10 1809 or Server 2019
    "samba-nas": {
        "ms17-010": Status.NOT_AFFECTED,
        "samba-outdated": Status.AFFECTED,
        "cve-2020-0796": Status.NOT_AFFECTED,
        "os-end-of-support": Status.NOT_APPLICABLE,
    },
    "win7-doublepulsar": {"ms17-010": Status.AFFECTED, "doublepulsar": Status.AFFECTED},
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_vulnerability_verdicts(results: dict[str, HostResult], key: str) -> None:
    host = results[key]
    statuses = {r.check_id: r.status for r in host.results}
    for check_id, status in EXPECTED[key].items():
        assert statuses[check_id] is status, (check_id, statuses[check_id], status)
    smbghost = next(r for r in host.results if r.check_id == "cve-2020-0796")
    if smbghost.status is Status.AFFECTED:
        assert smbghost.confidence.value == "possible"  # never "confirmed" without credentials
        assert "cannot tell a patched host" in str(smbghost.evidence["note"])
