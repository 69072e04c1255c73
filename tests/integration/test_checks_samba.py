"""The scanner checks against real Samba (127.0.44.101-104, port 445): each configuration
must give exactly the expected status per check, so the checks are right about real
servers, not only about hand-written fixtures."""

from __future__ import annotations

import asyncio

import pytest

from smbguard.checks.evaluate import evaluate
from smbguard.model import HostResult, Status, Target
from smbguard.net.transport import Limits
from smbguard.probes.base import ProbeOptions
from smbguard.probes.host import collect
from tests.helpers.samba import SambaConfig, SambaLab, samba_fixture

pytestmark = pytest.mark.integration

A = Status.AFFECTED
N = Status.NOT_AFFECTED
NA = Status.NOT_APPLICABLE

CONFIGS = [
    SambaConfig(
        name="legacy",
        address="127.0.44.101",
        options={"server min protocol": "NT1", "map to guest": "Bad User", "server signing": "auto"},
        shares={"public": {"path": "{dir}/public", "guest ok": "yes", "read only": "yes"}},
    ),
    SambaConfig(
        name="hardened",
        address="127.0.44.102",
        options={
            "server min protocol": "SMB2_10",
            "server signing": "mandatory",
            "restrict anonymous": "2",
            "map to guest": "Never",
            "server smb encrypt": "desired",
        },
        shares={"data": {"path": "{dir}/data", "read only": "yes"}},
    ),
    SambaConfig(
        name="smb21",
        address="127.0.44.103",
        options={"server min protocol": "SMB2_02", "server max protocol": "SMB2_10"},
    ),
    SambaConfig(
        name="noencrypt",
        address="127.0.44.104",
        options={"server min protocol": "SMB2_10", "server smb encrypt": "off"},
    ),
]

EXPECTED: dict[str, dict[str, Status]] = {
    "legacy": {
        "smb1-enabled": A,
        "smb1-only": N,
        "smb-signing-not-required": A,
        "smb-signing-disabled": N,
        "smb3-not-supported": N,
        "guest-access-allowed": A,
    },
    "hardened": {
        "smb1-enabled": N,
        "smb1-only": N,
        "smb-signing-not-required": N,
        "smb-signing-disabled": N,
        "smb3-not-supported": N,
        "smb-encryption-unavailable": N,
        "null-session-allowed": N,
        "guest-access-allowed": N,
    },
    "smb21": {"smb1-enabled": N, "smb3-not-supported": A, "smb-encryption-unavailable": NA},
    "noencrypt": {"smb1-enabled": N, "smb3-not-supported": N, "smb-encryption-unavailable": A},
}

lab = samba_fixture(CONFIGS, scope="module")


@pytest.fixture(scope="module")
def results(lab: SambaLab) -> dict[str, HostResult]:
    opts = ProbeOptions(limits=Limits(connect_timeout=3, read_timeout=3))

    async def run() -> list[HostResult]:
        facts = await asyncio.gather(*(collect(Target(c.address, c.port), opts) for c in CONFIGS))
        return [evaluate(f, strict=True) for f in facts]

    return {c.name: r for c, r in zip(CONFIGS, asyncio.run(run()), strict=True)}


@pytest.mark.parametrize(
    ("config", "check_id", "expected"),
    [(c, cid, st) for c, checks in EXPECTED.items() for cid, st in checks.items()],
)
def test_check_on_real_samba(
    results: dict[str, HostResult], config: str, check_id: str, expected: Status
) -> None:
    host = results[config]
    got = [r for r in host.results if r.check_id == check_id]
    assert len(got) == 1
    assert got[0].status is expected, (got[0], host.facts.smb2, host.facts.signing, host.facts.sessions)
    finding_ids = {f.id for f in host.findings}
    assert (check_id in finding_ids) == (expected is A)
