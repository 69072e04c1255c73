"""The real ``smbguard scan`` CLI against real Samba servers, one per configuration.

Eight ``smbd`` instances, on 127.0.12.1-7 and [::1]:4530 (this suite's ranges),
each configured differently; one scan of all of them (JSON, and once more as JSONL), then every
fact is checked against the configuration that produced it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.helpers.samba import SMBD, SambaConfig, SambaInstance, SambaLab, samba_fixture
from tests.report.test_json import HOST_VALIDATOR, VALIDATOR

pytestmark = pytest.mark.integration

# Run the CLI from this checkout, whatever `pip install -e` points at.
SRC_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2] / "src")}

ALL = ["2.0.2", "2.1", "3.0", "3.0.2", "3.1.1"]

# Debian's shipped smb.conf [global] (what `apt install samba` gives), minus paths.
DEBIAN_DEFAULTS = {
    "workgroup": "WORKGROUP",
    "server role": "standalone server",
    "obey pam restrictions": "yes",
    "map to guest": "bad user",
    "usershare allow guests": "yes",
}


@dataclass(frozen=True)
class Expect:
    smb1: bool
    dialects: list[str]
    signing_required: bool
    null: bool | None
    guest: bool | None
    signing_enabled: bool = True  # any spoken dialect supports signing
    smb1_signing_enabled: bool | None = None  # Samba's SMB1 default is "disabled"


CASES: list[tuple[SambaConfig, Expect]] = [
    (
        SambaConfig(
            "smb1-guest",
            "127.0.12.1",
            netbios_name="SMB1GUEST",
            # also on 139: direct SMB after a NetBIOS session request
            options={"server min protocol": "NT1", "map to guest": "Bad User", "smb ports": "445 139"},
            shares={"public": {"guest ok": "yes", "read only": "yes"}},
        ),
        Expect(
            smb1=True, dialects=ALL, signing_required=False, null=True, guest=True, smb1_signing_enabled=False
        ),
    ),
    (
        SambaConfig(
            "smb3-signing",
            "127.0.12.2",
            netbios_name="SMB3SIGN",
            options={
                "server min protocol": "SMB3_00",
                "server signing": "mandatory",
                "map to guest": "Never",
            },
        ),
        Expect(smb1=False, dialects=["3.0", "3.0.2", "3.1.1"], signing_required=True, null=True, guest=False),
    ),
    (
        SambaConfig("debian", "127.0.12.3", netbios_name="DEBIANDEF", options=DEBIAN_DEFAULTS),
        Expect(smb1=False, dialects=ALL, signing_required=False, null=True, guest=True),
    ),
    (
        SambaConfig(
            "smb1-only",
            "127.0.12.4",
            netbios_name="SMB1ONLY",
            options={"server min protocol": "NT1", "server max protocol": "NT1", "map to guest": "Never"},
        ),
        Expect(
            smb1=True,
            dialects=[],
            signing_required=False,
            null=True,
            guest=False,
            signing_enabled=False,
            smb1_signing_enabled=False,
        ),
    ),
    (
        SambaConfig(
            "anon-shares",
            "127.0.12.5",
            netbios_name="ANONSHARES",
            options={
                "map to guest": "Bad User",
                "restrict anonymous": "0",
                "server min protocol": "SMB2_10",
                "server max protocol": "SMB3_00",
            },
            shares={
                "pub": {"guest ok": "yes", "read only": "no"},
                "drop": {"guest ok": "yes", "read only": "no", "browseable": "no"},
            },
            files={"pub/readme.txt": b"hello\n"},
        ),
        Expect(smb1=False, dialects=["2.1", "3.0"], signing_required=False, null=True, guest=True),
    ),
    (
        SambaConfig(
            "smb2-only-signing",
            "127.0.12.6",
            netbios_name="SMB2SIGN",
            options={
                "server min protocol": "SMB2_02",
                "server max protocol": "SMB2_10",
                "server signing": "mandatory",
                "map to guest": "Never",
            },
        ),
        Expect(smb1=False, dialects=["2.0.2", "2.1"], signing_required=True, null=True, guest=False),
    ),
    (
        SambaConfig(
            "smb1-signing",
            "127.0.12.7",
            netbios_name="SMB1SIGN",
            options={"server min protocol": "NT1", "server signing": "mandatory", "map to guest": "Never"},
        ),
        Expect(
            smb1=True, dialects=ALL, signing_required=True, null=True, guest=False, smb1_signing_enabled=True
        ),
    ),
]

# IPv6: a default Samba on [::1]:4530 (this suite's port range).
CASES.append(
    (
        SambaConfig("ipv6", "::1", port=4530, netbios_name="SIXSMB"),
        Expect(smb1=False, dialects=ALL, signing_required=False, null=True, guest=False),
    )
)

CONFIGS = [c for c, _ in CASES]
TARGETS = {c.address: SambaInstance(c, Path("/nonexistent")).target for c in CONFIGS}
EXPECT = {c.address: e for c, e in CASES}
NAMES = {c.address: c.netbios_name for c, _ in CASES}

lab = samba_fixture(CONFIGS, scope="module")


def _scan(lab: SambaLab, tmp: Path, fmt: str, *extra: str) -> subprocess.CompletedProcess[str]:
    out = tmp / f"scan.{fmt}"
    targets = [inst.target for inst in lab]
    return _run_scan(*targets, "127.0.12.40", "--timeout", "5", "--format", fmt, "-o", str(out), *extra)


def _run_scan(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m smbguard scan --no-store ARGS`` in a child process running this checkout."""
    return subprocess.run(
        [sys.executable, "-m", "smbguard", "scan", "--no-store", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=SRC_ENV,
    )


@pytest.fixture(scope="module")
def scan_doc(lab: SambaLab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("scan")
    proc = _scan(lab, tmp, "json")
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    doc = json.loads((tmp / "scan.json").read_text())
    assert isinstance(doc, dict)
    return doc


def _host(doc: dict[str, Any], address: str) -> dict[str, Any]:
    hosts = [h for h in doc["hosts"] if h["address"] == address]
    assert len(hosts) == 1, f"{address}: {len(hosts)} entries"
    return hosts[0]


def test_output_validates_against_the_schema(scan_doc: dict[str, Any]) -> None:
    VALIDATOR.validate(scan_doc)
    assert scan_doc["scan"]["interrupted"] is False
    assert len(scan_doc["hosts"]) == len(CASES) + 1


def test_closed_address_is_reported_closed(scan_doc: dict[str, Any]) -> None:
    h = _host(scan_doc, "127.0.12.40")
    assert h["reachable"] is False and h["port_state"] == "closed"
    assert h["smb1"]["enabled"] is None and h["smb2"]["dialects"] == []


@pytest.mark.parametrize("address", sorted(EXPECT))
def test_smb1(scan_doc: dict[str, Any], address: str) -> None:
    h = _host(scan_doc, address)
    assert h["reachable"] is True
    assert h["smb1"]["enabled"] is EXPECT[address].smb1, h["smb1"]
    if EXPECT[address].smb1:
        assert h["smb1"]["dialect"] == "NT LM 0.12"
        assert h["smb1"]["signing_required"] is EXPECT[address].signing_required
        assert h["smb1"]["signing_enabled"] is EXPECT[address].smb1_signing_enabled
        # a standalone Samba server's domain is its own NetBIOS name
        assert h["smb1"]["primary_domain"] == NAMES[address]


@pytest.mark.parametrize("address", sorted(EXPECT))
def test_dialects(scan_doc: dict[str, Any], address: str) -> None:
    smb2 = _host(scan_doc, address)["smb2"]
    assert smb2["dialects"] == EXPECT[address].dialects, smb2
    assert smb2["decided"] is True
    assert smb2["highest"] == (EXPECT[address].dialects[-1] if EXPECT[address].dialects else None)
    assert set(smb2["security_modes"]) == set(EXPECT[address].dialects)
    if "3.1.1" in smb2["dialects"]:
        assert "SHA_512" in smb2["preauth_integrity"]
        assert smb2["encryption_ciphers"], smb2


@pytest.mark.parametrize("address", sorted(EXPECT))
def test_signing(scan_doc: dict[str, Any], address: str) -> None:
    exp = EXPECT[address]
    signing = _host(scan_doc, address)["signing"]
    assert signing["required"] is exp.signing_required, signing
    assert signing["enabled"] is exp.signing_enabled, signing
    if exp.dialects:
        assert signing["smb2_required"] is exp.signing_required
        # raw SecurityMode: bit 0x2 = signing required ([MS-SMB2] 2.2.4)
        modes = _host(scan_doc, address)["smb2"]["security_modes"]
        assert {bool(m & 2) for m in modes.values()} == {exp.signing_required}


@pytest.mark.parametrize("address", sorted(EXPECT))
def test_ntlm_names_and_samba_version(scan_doc: dict[str, Any], address: str) -> None:
    h = _host(scan_doc, address)
    ntlm = h["ntlm"]
    assert ntlm["netbios_computer"] == NAMES[address]
    # a standalone Samba server's (local SAM) domain is its own NetBIOS name
    assert ntlm["netbios_domain"] == NAMES[address]
    assert ntlm["product"] == "Samba"
    # Samba announces NTLM version 6.1 build 0
    assert ntlm["version"] == "6.1.0"
    if EXPECT[address].smb1:
        # the exact version shows through SMB1's anonymous session setup
        samba_version = subprocess.run([SMBD, "--version"], capture_output=True, text=True).stdout.split()[
            -1
        ]
        assert h["smb1"]["native_lan_manager"] == f"Samba {samba_version}"
        assert h["os"] == f"Samba {samba_version}"
    else:
        assert h["os"] == "Samba"


@pytest.mark.parametrize("address", sorted(EXPECT))
def test_null_and_guest_sessions(scan_doc: dict[str, Any], address: str) -> None:
    sessions = _host(scan_doc, address)["sessions"]
    assert sessions["skipped"] is False
    assert sessions["null"] is EXPECT[address].null, sessions
    assert sessions["guest"] is EXPECT[address].guest, sessions


def test_no_null_session_skips_the_session_probes(lab: SambaLab, tmp_path: Path) -> None:
    proc = _scan(lab, tmp_path, "jsonl", "--no-null-session", "--open")
    assert proc.returncode == 0, proc.stderr
    lines = (tmp_path / "scan.jsonl").read_text().splitlines()
    assert len(lines) == len(CASES)  # --open drops the closed address
    for line in lines:
        host = json.loads(line)
        HOST_VALIDATOR.validate(host)
        assert host["sessions"]["skipped"] is True
        assert host["sessions"]["null"] is None and host["sessions"]["guest"] is None
        # the rest is still collected
        assert host["smb1"]["enabled"] is EXPECT[host["address"]].smb1


def test_table_has_one_line_per_host(lab: SambaLab, tmp_path: Path) -> None:
    proc = _scan(lab, tmp_path, "table")
    assert proc.returncode == 0, proc.stderr
    text = (tmp_path / "scan.table").read_text()
    for address, name in NAMES.items():
        line = next(ln for ln in text.splitlines() if ln.startswith(TARGETS[address] + " "))
        assert name and name in line


def test_schema_validator_is_not_vacuous(scan_doc: dict[str, Any]) -> None:
    broken = json.loads(json.dumps(scan_doc))
    broken["hosts"][0]["smb1"]["enabled"] = "yes"
    with pytest.raises(jsonschema.ValidationError):
        VALIDATOR.validate(broken)


def test_sweep_path_and_direct_path_agree(lab: SambaLab, tmp_path: Path) -> None:
    """--sweep on (raw connect phase first) and off (collector only) give the same facts."""
    docs = {}
    for mode in ("on", "off"):
        out = tmp_path / f"{mode}.json"
        proc = _run_scan("127.0.12.1-7", "127.0.12.40", "--sweep", mode, "--format", "json", "-o", str(out))
        assert proc.returncode == 0, proc.stderr
        docs[mode] = {h["address"]: h for h in json.loads(out.read_text())["hosts"]}
    assert docs["on"].keys() == docs["off"].keys()
    for address, on in docs["on"].items():
        off = docs["off"][address]
        for key in ("reachable", "port_state", "errors", "findings", "checks"):
            assert on[key] == off[key], (address, key)
        assert on["smb1"]["enabled"] == off["smb1"]["enabled"]
        assert on["smb2"]["dialects"] == off["smb2"]["dialects"]
        assert on["signing"] == off["signing"]


def test_port_139_with_netbios_session_request(lab: SambaLab, tmp_path: Path) -> None:
    out = tmp_path / "nb.jsonl"
    proc = _run_scan("127.0.12.1", "--port", "139", "127.0.12.2:139", "--format", "jsonl", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    hosts = {h["address"]: h for h in map(json.loads, out.read_text().splitlines())}
    nb = hosts["127.0.12.1"]
    HOST_VALIDATOR.validate(nb)
    assert (nb["port"], nb["port_state"], nb["netbios_session"]) == (139, "open", True)
    assert nb["smb1"]["enabled"] is True and nb["smb2"]["dialects"] == ALL
    assert nb["ntlm"]["netbios_computer"] == "SMB1GUEST"
    # the SMB3-only server does not listen on 139
    assert hosts["127.0.12.2"]["port_state"] == "closed"
