"""Anonymous share enumeration: ``smbguard scan --shares`` vs nmap's smb-enum-shares.

    python benchmarks/shares_vs_nmap.py               # 10 hosts, 3 rounds
    python benchmarks/shares_vs_nmap.py --hosts 5 --rounds 5

Starts N ``smbd`` instances (tests/helpers/samba.py) on 127.0.20.11 upward, each
with SMB1 on, bad users mapped to guest and four shares (a guest-writable one, a
guest-readable one, two restricted), then times whole process against whole
process, alternating which goes first:

    smbguard scan HOSTS --shares --check-write --format json -o FILE
    nmap -Pn -n -p445 --script smb-enum-shares -oX FILE HOSTS

and checks each tool's share names and anonymous read/write verdicts against the
configuration (the ground truth: dropbox read/write, public read-only, finance and
hr closed). (smbguard additionally runs every scanner probe
and check; nmap only this script.) Needs root (loopback addresses) and Samba.
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.helpers.samba import SambaConfig, SambaLab

SHARES = {
    "dropbox": {"guest ok": "yes", "read only": "no", "comment": "anyone may write"},
    "public": {"guest ok": "yes", "read only": "yes", "comment": "anyone may read"},
    "finance": {"valid users": "nobodyhere", "comment": "restricted"},
    "hr": {"valid users": "nobodyhere", "comment": "restricted"},
}


def lab_configs(n: int) -> list[SambaConfig]:
    return [
        SambaConfig(
            f"shares{i}",
            f"127.0.20.{11 + i}",
            netbios_name=f"SHARES{i}",
            options={"server min protocol": "NT1", "map to guest": "Bad User", "restrict anonymous": "0"},
            shares=SHARES,
        )
        for i in range(n)
    ]


def run_smbguard(hosts: list[str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "smbguard",
            "scan",
            *hosts,
            "--shares",
            "--check-write",
            "--format",
            "json",
            "-o",
            str(out),
        ],
        check=True,
        capture_output=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent / "src")},
    )
    return time.perf_counter() - start


def run_nmap(hosts: list[str], out: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        ["nmap", "-Pn", "-n", "-p445", "--script", "smb-enum-shares", "-oX", str(out), *hosts],
        check=True,
        capture_output=True,
    )
    return time.perf_counter() - start


def smbguard_shares(path: Path) -> dict[str, dict[str, tuple[bool | None, bool | None]]]:
    out: dict[str, dict[str, tuple[bool | None, bool | None]]] = {}
    for host in json.loads(path.read_text())["hosts"]:
        shares: dict[str, tuple[bool | None, bool | None]] = {}
        for s in host["shares"] or []:
            if s["name"] == "IPC$":
                continue
            read = bool(s["anonymous_read"] or s["guest_read"])
            write = bool(s["anonymous_write"] or s["guest_write"])
            shares[s["name"]] = (read, write)
        out[host["address"]] = shares
    return out


def nmap_shares(path: Path) -> dict[str, dict[str, tuple[bool | None, bool | None]]]:
    out: dict[str, dict[str, tuple[bool | None, bool | None]]] = {}
    for host in ET.parse(path).getroot().iter("host"):
        address = host.find("address").get("addr")  # type: ignore[union-attr]
        shares: dict[str, tuple[bool | None, bool | None]] = {}
        for script in host.iter("script"):
            if script.get("id") != "smb-enum-shares":
                continue
            for table in script.iter("table"):
                key = table.get("key") or ""
                if not key.startswith("\\\\"):
                    continue
                name = key.rsplit("\\", 1)[-1]
                if name == "IPC$":
                    continue
                fields = {e.get("key"): (e.text or "") for e in table.findall("elem")}
                access = (
                    fields.get("Anonymous access", "") + " " + fields.get("Current user access", "")
                ).upper()
                shares[name] = ("READ" in access, "WRITE" in access)
        out[address] = shares
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hosts", type=int, default=10, choices=range(1, 11))
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("nmap") is None:
        print("nmap is not installed", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="smbguard-shares-bench-"))
    work.chmod(0o755)  # null/guest sessions run as "nobody" and must reach the shares
    times: dict[str, list[float]] = {"smbguard": [], "nmap": []}
    try:
        (work / "lab").mkdir()
        with SambaLab(lab_configs(args.hosts), work / "lab") as lab:
            hosts = [inst.address for inst in lab]

            for r in range(args.rounds):
                order = ("smbguard", "nmap") if r % 2 == 0 else ("nmap", "smbguard")
                for tool in order:
                    out = work / f"{tool}-{r}.{'json' if tool == 'smbguard' else 'xml'}"
                    elapsed = run_smbguard(hosts, out) if tool == "smbguard" else run_nmap(hosts, out)
                    times[tool].append(elapsed)
            ours = smbguard_shares(work / "smbguard-0.json")
            theirs = nmap_shares(work / "nmap-0.xml")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    # Ground truth is the configuration: dropbox read/write, public read-only, the rest closed.
    truth = {
        "dropbox": (True, True),
        "public": (True, False),
        "finance": (False, False),
        "hr": (False, False),
    }
    disagreements = []
    for tool, found in (("smbguard", ours), ("nmap", theirs)):
        for host in hosts:
            shares = found.get(host, {})
            if set(shares) != set(truth):
                disagreements.append(f"{tool} {host}: share names {sorted(shares)}, expected {sorted(truth)}")
                continue
            for name, expected in truth.items():
                if shares[name] != expected:
                    disagreements.append(
                        f"{tool} {host} {name}: (read, write) = {shares[name]}, configured {expected}"
                    )
    med = {tool: statistics.median(v) for tool, v in times.items()}
    print(f"hosts: {args.hosts}, rounds: {args.rounds}")
    for tool in ("smbguard", "nmap"):
        runs = ", ".join(f"{t:.2f}" for t in times[tool])
        print(f"{tool:9s} median {med[tool]:6.2f} s   runs: {runs}")
    print(f"ratio nmap/smbguard: {med['nmap'] / med['smbguard']:.2f}x")
    print("versus the configuration:", "both tools right on every share" if not disagreements else "")
    for line in disagreements:
        print("  WRONG", line)
    return 0 if not any(line.startswith("smbguard") for line in disagreements) else 1


if __name__ == "__main__":
    raise SystemExit(main())
