"""smbguard scan vs nmap's SMB scripts on N real Samba hosts on loopback.

    python benchmarks/scan_vs_nmap.py                 # 20 hosts, 3 rounds
    python benchmarks/scan_vs_nmap.py --hosts 40 --rounds 5

Starts N ``smbd`` instances (tests/helpers/samba.py) on 127.0.12.11 upward, with
five configurations in turn (SMB1 + guest, SMB3-only + mandatory signing, Debian
defaults, SMB1-only, SMB2.1-3.0 anonymous shares), then times whole process
against whole process, alternating which goes first:

    smbguard scan HOSTS --format json -o FILE --no-store            (default)
    smbguard scan HOSTS ... --no-ms17-010 --no-doublepulsar         (same probes as nmap's)
    nmap -Pn -n -p445 -oX FILE HOSTS \
        --script smb-protocols,smb2-security-mode,smb-security-mode,smb-os-discovery

and checks, host by host, that both agree on SMB1, the SMB2/3 dialects and
signing (SMB2 signing of the highest dialect, which is what smb2-security-mode
reports; SMB1 message signing). Needs root (loopback addresses) and Samba.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.nmap import NMAP_DIALECTS
from tests.helpers.samba import SambaConfig, SambaLab

# Run smbguard from this checkout (python -m, PYTHONPATH=src), whatever is installed.
SRC_ENV = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")}

NMAP_SCRIPTS = "smb-protocols,smb2-security-mode,smb-security-mode,smb-os-discovery"

PROFILES: list[dict[str, Any]] = [
    {
        "options": {"server min protocol": "NT1", "map to guest": "Bad User"},
        "shares": {"public": {"guest ok": "yes", "read only": "yes"}},
    },
    {"options": {"server min protocol": "SMB3_00", "server signing": "mandatory"}},
    {"options": {"workgroup": "WORKGROUP", "map to guest": "bad user", "usershare allow guests": "yes"}},
    {"options": {"server min protocol": "NT1", "server max protocol": "NT1"}},
    {
        "options": {
            "server min protocol": "SMB2_10",
            "server max protocol": "SMB3_00",
            "map to guest": "Bad User",
        },
        "shares": {"pub": {"guest ok": "yes", "read only": "no"}},
    },
]


def lab_configs(n: int) -> list[SambaConfig]:
    if not 1 <= n <= 29:
        raise SystemExit("--hosts must be 1-29 (127.0.12.11-39)")
    out = []
    for i in range(n):
        p = PROFILES[i % len(PROFILES)]
        out.append(
            SambaConfig(
                name=f"bench{i + 1}",
                address=f"127.0.12.{11 + i}",
                netbios_name=f"BENCH{i + 1}",
                options=p.get("options", {}),
                shares=p.get("shares", {}),
            )
        )
    return out


#: smbguard variants timed: its default (SMB1 hosts also get the read-only MS17-010
#: and DoublePulsar probes, two more connections each), and the same facts nmap's
#: four scripts give, without those probes.
VARIANTS = {
    "smbguard": [],
    "smbguard-novuln": ["--no-ms17-010", "--no-doublepulsar"],
}


def run_smbguard(addrs: list[str], out: Path, extra: list[str]) -> float:
    cmd = [sys.executable, "-m", "smbguard"]
    start = time.perf_counter()
    proc = subprocess.run(
        [*cmd, "scan", *addrs, "--format", "json", "-o", str(out), "--progress", "off", "--no-store", *extra],
        capture_output=True,
        text=True,
        env=SRC_ENV,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"smbguard failed ({proc.returncode}): {proc.stderr}")
    return elapsed


def samba_cpu(lab: SambaLab) -> float:
    """CPU seconds used so far by the lab's smbd parents and their reaped children
    (one child per connection): /proc/PID/stat utime+stime+cutime+cstime."""
    ticks = 0
    for inst in lab:
        if inst.process is None:
            continue
        fields = Path(f"/proc/{inst.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += sum(int(x) for x in fields[11:15])
    return ticks / os.sysconf("SC_CLK_TCK")


def run_nmap(addrs: list[str], out: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(
        ["nmap", "-Pn", "-n", "-p445", "--script", NMAP_SCRIPTS, "-oX", str(out), *addrs],
        capture_output=True,
        text=True,
    )
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"nmap failed: {proc.stderr}")
    return elapsed


def parse_nmap(path: Path) -> dict[str, dict[str, Any]]:
    hosts: dict[str, dict[str, Any]] = {}
    for host in ET.parse(path).getroot().iter("host"):
        addr_el = host.find("address")
        if addr_el is None:
            continue
        facts: dict[str, Any] = {"smb1": False, "dialects": [], "smb2_required": None, "smb1_signing": None}
        for script in host.iter("script"):
            sid = script.get("id")
            if sid == "smb-protocols":
                for el in script.iter("elem"):
                    text = (el.text or "").strip()
                    if text.startswith("NT LM 0.12"):
                        facts["smb1"] = True
                    elif text in NMAP_DIALECTS:
                        facts["dialects"].append(NMAP_DIALECTS[text])
            elif sid == "smb2-security-mode":
                for el in script.iter("elem"):
                    text = (el.text or "").lower()
                    if "message signing" in text:
                        facts["smb2_required"] = "not required" not in text and "required" in text
            elif sid == "smb-security-mode":
                for el in script.iter("elem"):
                    if el.get("key") == "message_signing":
                        facts["smb1_signing"] = (el.text or "").strip()
        hosts[addr_el.get("addr", "")] = facts
    return hosts


def parse_smbguard(path: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for h in json.loads(path.read_text())["hosts"]:
        smb1_req = h["smb1"]["signing_required"]
        smb1_en = h["smb1"]["signing_enabled"]
        out[h["address"]] = {
            "smb1": h["smb1"]["enabled"],
            "dialects": h["smb2"]["dialects"],
            "smb2_required": h["signing"]["smb2_required"],
            "smb1_signing": None
            if not h["smb1"]["enabled"]
            else ("required" if smb1_req else ("supported" if smb1_en else "disabled")),
            "facts": sum(v is not None and v != [] for v in _leaves(h)),
        }
    return out


def _leaves(obj: Any) -> list[Any]:
    if isinstance(obj, dict):
        return [leaf for v in obj.values() for leaf in _leaves(v)]
    if isinstance(obj, list):
        return (
            [obj] if not obj or not isinstance(obj[0], dict | list) else [x for v in obj for x in _leaves(v)]
        )
    return [obj]


def compare(sg: dict[str, dict[str, Any]], nm: dict[str, dict[str, Any]], addrs: list[str]) -> list[str]:
    problems = []
    for a in addrs:
        s, n = sg.get(a), nm.get(a)
        if s is None or n is None:
            problems.append(f"{a}: missing from {'smbguard' if s is None else 'nmap'}")
            continue
        for key in ("smb1", "dialects", "smb1_signing"):
            if s[key] != n[key]:
                problems.append(f"{a}: {key} smbguard={s[key]!r} nmap={n[key]!r}")
        if n["dialects"] and s["smb2_required"] != n["smb2_required"]:
            problems.append(
                f"{a}: smb2 signing required smbguard={s['smb2_required']} nmap={n['smb2_required']}"
            )
    return problems


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hosts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    configs = lab_configs(args.hosts)
    addrs = [c.address for c in configs]
    tmp = Path(tempfile.mkdtemp(prefix="smbguard-bench-"))
    times: dict[str, list[float]] = {name: [] for name in [*VARIANTS, "nmap"]}
    server_cpu: dict[str, list[float]] = {name: [] for name in times}
    problems: list[str] = []
    with SambaLab(configs) as lab:
        time.sleep(0.5)
        for r in range(args.rounds):
            order = [*VARIANTS, "nmap"]
            if r % 2:
                order.reverse()
            for tool in order:
                cpu_before = samba_cpu(lab)
                if tool in VARIANTS:
                    out = tmp / f"{tool}{r}.json"
                    times[tool].append(run_smbguard(addrs, out, VARIANTS[tool]))
                else:
                    times[tool].append(run_nmap(addrs, tmp / f"nm{r}.xml"))
                time.sleep(0.3)  # let smbd reap its children (not timed)
                server_cpu[tool].append(samba_cpu(lab) - cpu_before)
            nm = parse_nmap(tmp / f"nm{r}.xml")
            for tool in VARIANTS:
                sg = parse_smbguard(tmp / f"{tool}{r}.json")
                problems += [f"round {r + 1} {tool}: {p}" for p in compare(sg, nm, addrs)]
    med = {tool: statistics.median(t) for tool, t in times.items()}
    facts = statistics.median(v["facts"] for v in sg.values())
    print(
        f"{args.hosts} Samba hosts on loopback, {args.rounds} rounds (median), whole process vs whole process"
    )
    print(f"{'tool':<16} {'seconds':>8} {'vs nmap':>8} {'Samba CPU s':>12}  runs")
    for tool, t in times.items():
        ratio = med["nmap"] / med[tool]
        cpu = statistics.median(server_cpu[tool])
        print(f"{tool:<16} {med[tool]:>8.2f} {ratio:>7.1f}x {cpu:>12.2f}  " + " ".join(f"{x:.2f}" for x in t))
    print(f"non-null facts per host in smbguard's JSON: {facts:.0f}")
    print(f"agreement on SMB1, dialects, signing: {'all hosts agree' if not problems else 'DISAGREE'}")
    for p in problems:
        print("  " + p)
    shutil.rmtree(tmp, ignore_errors=True)
    if problems:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
