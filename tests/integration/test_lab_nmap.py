"""nmap and smbclient agree with the emulator (and with smbguard) about every persona.

The lab runs in a subprocess (``python -m smbguard.lab``) on 127.1.35.11-17,
port 45450; nmap's own SMB library talks to it (``--script-args smbport``).
Only loopback addresses are ever probed.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest

from smbguard.lab import personas
from smbguard.model import Target
from smbguard.net.transport import Limits
from smbguard.probes.base import ProbeOptions
from smbguard.probes.host import collect
from tests.helpers.lab import lab_process
from tests.helpers.nmap import NMAP_DIALECTS

pytestmark = pytest.mark.integration

PORT = 45450
BASE = "127.1.35"


@pytest.fixture(scope="module")
def lab() -> Iterator[dict[str, personas.Persona]]:
    with lab_process(BASE, PORT) as layout:
        yield layout


@pytest.fixture(scope="module")
def lab445() -> Iterator[dict[str, personas.Persona]]:
    """nmap's smb-os-discovery only works on port 445/139 (it ignores smbport)."""
    if os.geteuid() != 0:
        pytest.skip("port 445 needs root")
    with lab_process("127.1.36", 445) as layout:
        yield layout


def _nmap(addresses: list[str], scripts: str, port: int = PORT) -> dict[str, dict[str, ET.Element]]:
    if shutil.which("nmap") is None:
        pytest.skip("nmap is not installed")
    run = subprocess.run(
        [
            "nmap",
            "-Pn",
            "-n",
            f"-p{port}",
            "--script",
            scripts,
            "--script-args",
            f"smbport={port}",
            "-oX",
            "-",
            *addresses,
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=True,
    )
    out: dict[str, dict[str, ET.Element]] = {}
    for host in ET.fromstring(run.stdout).iter("host"):
        addr = host.find("address")
        assert addr is not None
        out[addr.get("addr", "")] = {s.get("id", ""): s for s in host.iter("script")}
    return out


def _smbguard(layout: dict[str, personas.Persona]) -> dict[str, object]:
    opts = ProbeOptions(limits=Limits(connect_timeout=3, read_timeout=3), ms17_010=True, doublepulsar=True)

    async def run() -> dict[str, object]:
        facts = await asyncio.gather(*(collect(Target(a, PORT), opts) for a in layout))
        return {f.target.address: f for f in facts}

    return asyncio.run(run())


def test_nmap_smb_protocols_and_vuln_scripts_agree(lab: dict[str, personas.Persona]) -> None:
    nmap = _nmap(list(lab), "smb-protocols,smb2-security-mode,smb-vuln-ms17-010,smb-double-pulsar-backdoor")
    ours = _smbguard(lab)
    for address, persona in lab.items():
        scripts = nmap[address]
        facts = ours[address]
        # Dialects: nmap lists "NT LM 0.12 (SMBv1) ..." and "2:0:2"-style SMB2 dialects.
        elems = scripts["smb-protocols"].iter("elem")
        listed = [e.text or "" for e in elems]
        nmap_smb1 = any("NT LM 0.12" in d for d in listed)
        nmap_smb2 = {NMAP_DIALECTS[d] for d in listed if d in NMAP_DIALECTS}
        assert nmap_smb1 is (persona.smb1 is not None), (address, listed)
        assert nmap_smb2 == set(facts.smb2.dialects), (address, listed)  # type: ignore[attr-defined]
        # Signing: nmap's smb2-security-mode says "required" exactly when smbguard does.
        mode = scripts["smb2-security-mode"].iter("elem")
        nmap_required = any(
            "required" in (e.text or "") and "not required" not in (e.text or "") for e in mode
        )
        assert nmap_required is facts.signing.required, address  # type: ignore[attr-defined]
        # MS17-010: nmap reports VULNERABLE exactly where smbguard's probe says vulnerable.
        ms17 = scripts.get("smb-vuln-ms17-010")
        nmap_vuln = ms17 is not None and "State: VULNERABLE" in (ms17.get("output") or "")
        assert nmap_vuln is (facts.ms17_010.state == "vulnerable"), address  # type: ignore[attr-defined]
        dp = scripts.get("smb-double-pulsar-backdoor")
        nmap_dp = dp is not None and "VULNERABLE" in (dp.get("output") or "")
        assert nmap_dp is (facts.doublepulsar.state == "infected"), address  # type: ignore[attr-defined]


def test_nmap_os_discovery_reads_the_persona_strings(lab445: dict[str, personas.Persona]) -> None:
    smb1_hosts = [a for a, p in lab445.items() if p.smb1 is not None]
    nmap = _nmap(smb1_hosts, "smb-os-discovery", port=445)
    for address in smb1_hosts:
        persona = lab445[address]
        assert persona.smb1 is not None
        output = nmap[address]["smb-os-discovery"].get("output") or ""
        assert persona.smb1.native_os in output, output
        assert persona.netbios_name in output, output


def test_smbclient_anonymous_ipc_over_smb1(lab: dict[str, personas.Persona]) -> None:
    if shutil.which("smbclient") is None:
        pytest.skip("smbclient is not installed")
    for address, persona in lab.items():
        run = subprocess.run(
            [
                "smbclient",
                "-N",
                f"//{address}/IPC$",
                "-p",
                str(PORT),
                "-m",
                "NT1",
                "--option=client min protocol=NT1",
                "-c",
                "exit",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        output = run.stdout + run.stderr
        if persona.smb1 is None:
            assert run.returncode != 0, output  # SMB1 disabled: the connection is dropped
        elif persona.null_session:
            assert run.returncode == 0, output
        else:
            assert run.returncode != 0, output
