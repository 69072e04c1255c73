"""A /20 of emulated SMB hosts: smbguard scan vs nmap, side by side, in one run.

    python benchmarks/lab_sweep.py                       # 127.1.0.0/20, 300 emulated hosts
    python benchmarks/lab_sweep.py --hosts 500 --rounds 3 --json results.json

Starts the emulator (``python -m smbguard.lab --layout sweep``) in its own
process: N emulated hosts (the seven personas in turn) spread evenly over
the 4096 addresses of the network, every other address closed. Then times,
whole process against whole process, alternating which goes first:

    smbguard scan NET --format json -o FILE                       (all probes, incl. MS17-010/DoublePulsar)
    smbguard scan NET --no-ms17-010 --no-doublepulsar ...          (fingerprint only)
    nmap -Pn -n -p445 --script smb-protocols -oX FILE NET         (dialects only)
    nmap ... --script smb-protocols,smb-vuln-ms17-010,smb-double-pulsar-backdoor

and reports total time, addresses/second, SMB hosts/second and the peak RSS
of each process (``wait4`` rusage), then checks that both found the same open
hosts, the same SMB1 state and the same SMB2/3 dialects, and that smbguard's
MS17-010 and DoublePulsar verdicts match nmap's scripts host by host. The emulator's CPU
time is shared by both tools (2 cores here), as a real network's would not be.
Needs root for port 445 (use ``--port`` otherwise; nmap then needs
``--script-args smbport=PORT``, passed automatically). Loopback only.
"""

from __future__ import annotations

import argparse
import ipaddress
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

# Child processes run this checkout's code, whatever the installed package points at.
SRC = Path(__file__).resolve().parent.parent / "src"
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH", "")])))


def proc_cpu(pid: int) -> float:
    """utime + stime of a running process, seconds (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed(cmd: list[str], lab_pid: int) -> dict[str, Any]:
    """Run ``cmd``; wall time, CPU time and peak RSS (MiB) of the child, and the CPU
    the emulator spent answering it (the load the tool puts on the "network")."""
    lab_before = proc_cpu(lab_pid)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{cmd[0]} failed ({code}): {stderr[-500:]}")
    return {
        "wall_s": wall,
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "peak_rss_mib": usage.ru_maxrss / 1024,
        "lab_cpu_s": proc_cpu(lab_pid) - lab_before,
    }


def start_lab(network: str, hosts: int, port: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smbguard.lab",
            "--layout",
            "sweep",
            "--network",
            network,
            "--hosts",
            str(hosts),
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        text=True,
        env=ENV,
    )
    layout: dict[str, str] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.strip() == "READY":
            return proc, layout
        hostport, key = line.split()
        layout[hostport.rsplit(":", 1)[0]] = key
    raise SystemExit("the lab did not start")


def smbguard_hosts(path: Path) -> dict[str, dict[str, Any]]:
    data = json.loads(path.read_text())
    out = {}
    for host in data["hosts"]:
        if host.get("reachable"):
            out[host["address"]] = {
                "smb1": (host.get("smb1") or {}).get("enabled"),
                "dialects": sorted((host.get("smb2") or {}).get("dialects") or []),
            }
    return out


def nmap_vulns(path: Path) -> dict[str, tuple[bool, bool]]:
    """address -> (smb-vuln-ms17-010 VULNERABLE, smb-double-pulsar-backdoor VULNERABLE)."""
    out = {}
    for host in ET.parse(path).getroot().iter("host"):
        addr_el = host.find("address")
        if addr_el is None:
            continue
        outputs = {s.get("id"): s.get("output") or "" for s in host.iter("script")}
        out[addr_el.get("addr", "")] = (
            "State: VULNERABLE" in outputs.get("smb-vuln-ms17-010", ""),
            "VULNERABLE" in outputs.get("smb-double-pulsar-backdoor", ""),
        )
    return out


def smbguard_vulns(path: Path) -> dict[str, tuple[bool, bool]]:
    data = json.loads(path.read_text())
    return {
        h["address"]: (
            (h.get("ms17_010") or {}).get("state") == "vulnerable",
            (h.get("doublepulsar") or {}).get("state") == "infected",
        )
        for h in data["hosts"]
        if h.get("reachable")
    }


def nmap_hosts(path: Path, port: int) -> dict[str, dict[str, Any]]:
    out = {}
    for host in ET.parse(path).getroot().iter("host"):
        addr_el = host.find("address")
        state = host.find(f"ports/port[@portid='{port}']/state")
        if addr_el is None or state is None or state.get("state") != "open":
            continue
        listed = [
            e.text or ""
            for s in host.iter("script")
            if s.get("id") == "smb-protocols"
            for e in s.iter("elem")
        ]
        out[addr_el.get("addr", "")] = {
            "smb1": any("NT LM 0.12" in d for d in listed),
            "dialects": sorted(NMAP_DIALECTS[d] for d in listed if d in NMAP_DIALECTS),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--network", default="127.1.0.0/20")
    parser.add_argument("--hosts", type=int, default=300)
    parser.add_argument("--port", type=int, default=445)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--json", metavar="FILE", help="write the measurements as JSON")
    args = parser.parse_args()
    net = ipaddress.ip_network(args.network)
    if not net.network_address.is_loopback:
        raise SystemExit("loopback networks only")
    if shutil.which("nmap") is None:
        raise SystemExit("nmap is not installed")
    smbguard = [
        sys.executable,
        "-m",
        "smbguard",
        "scan",
        args.network,
        "--port",
        str(args.port),
        "--format",
        "json",
        "--progress",
        "off",
        "--no-store",
    ]
    tmp = Path(tempfile.mkdtemp(prefix="smbguard-bench-"))
    tools: dict[str, list[str]] = {
        "smbguard (all probes)": [*smbguard, "-o", str(tmp / "full.json")],
        "smbguard (fingerprint)": [
            *smbguard,
            "--no-ms17-010",
            "--no-doublepulsar",
            "-o",
            str(tmp / "fp.json"),
        ],
        "nmap smb-protocols": [
            "nmap",
            "-Pn",
            "-n",
            f"-p{args.port}",
            "--script",
            "smb-protocols",
            "--script-args",
            f"smbport={args.port}",
            "-oX",
            str(tmp / "nmap.xml"),
            args.network,
        ],
        "nmap +ms17-010 +doublepulsar": [
            "nmap",
            "-Pn",
            "-n",
            f"-p{args.port}",
            "--script",
            "smb-protocols,smb-vuln-ms17-010,smb-double-pulsar-backdoor",
            "--script-args",
            f"smbport={args.port}",
            "-oX",
            str(tmp / "nmapv.xml"),
            args.network,
        ],
    }
    load_before = os.getloadavg()
    lab, layout = start_lab(args.network, args.hosts, args.port)
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in tools}
    try:
        for r in range(args.rounds):
            order = list(tools) if r % 2 == 0 else list(reversed(tools))
            for name in order:
                runs[name].append(timed(tools[name], lab.pid))
        ours = smbguard_hosts(tmp / "fp.json")
        full = smbguard_hosts(tmp / "full.json")
        theirs = nmap_hosts(tmp / "nmap.xml", args.port)
        vulns_ours = smbguard_vulns(tmp / "full.json")
        vulns_theirs = nmap_vulns(tmp / "nmapv.xml")
    finally:
        lab.terminate()
        lab.wait(10)
    addresses = net.num_addresses
    load_after = os.getloadavg()
    print(
        f"load average (1/5/15 min) before {load_before[0]:.1f}/{load_before[1]:.1f}/{load_before[2]:.1f}, "
        f"after {load_after[0]:.1f}/{load_after[1]:.1f}/{load_after[2]:.1f} on {os.cpu_count()} CPUs"
    )
    print(
        f"{args.network}: {addresses} addresses, {len(layout)} emulated SMB hosts, {args.rounds} rounds "
        f"(median; alternating order)"
    )
    print(
        f"{'tool':<24} {'wall s':>8} {'addr/s':>9} {'SMB hosts/s':>12} {'CPU s':>7} {'peak RSS MiB':>13} "
        f"{'lab CPU s':>10}"
    )
    summary: dict[str, Any] = {
        "network": args.network,
        "addresses": addresses,
        "smb_hosts": len(layout),
        "rounds": args.rounds,
        "load_before": load_before,
        "load_after": load_after,
        "tools": {},
    }
    for name, samples in runs.items():
        wall = statistics.median(s["wall_s"] for s in samples)
        cpu = statistics.median(s["cpu_s"] for s in samples)
        rss = max(s["peak_rss_mib"] for s in samples)
        lab_cpu = statistics.median(s["lab_cpu_s"] for s in samples)
        summary["tools"][name] = {
            "wall_s": wall,
            "cpu_s": cpu,
            "peak_rss_mib": rss,
            "lab_cpu_s": lab_cpu,
            "samples": samples,
        }
        print(
            f"{name:<24} {wall:>8.2f} {addresses / wall:>9.0f} {len(layout) / wall:>12.0f} {cpu:>7.2f} "
            f"{rss:>13.1f} {lab_cpu:>10.2f}"
        )
    for mine, theirs_name in (
        ("smbguard (fingerprint)", "nmap smb-protocols"),
        ("smbguard (all probes)", "nmap +ms17-010 +doublepulsar"),
    ):
        ratio = summary["tools"][theirs_name]["wall_s"] / summary["tools"][mine]["wall_s"]
        print(f"speed-up of {mine} over {theirs_name}: {ratio:.1f}x")
    # Agreement.
    expected = set(layout)
    problems = []
    for label, found in (("smbguard", ours), ("smbguard-full", full), ("nmap", theirs)):
        if set(found) != expected:
            problems.append(f"{label}: {len(found)} open hosts, expected {len(expected)}")
    for address in sorted(expected & set(ours) & set(theirs)):
        if ours[address] != theirs[address]:
            problems.append(f"{address}: smbguard {ours[address]} vs nmap {theirs[address]}")
    for address in sorted(expected):
        mine, nmaps = vulns_ours.get(address), vulns_theirs.get(address, (False, False))
        if mine != nmaps:
            problems.append(f"{address}: MS17-010/DoublePulsar smbguard {mine} vs nmap {nmaps}")
    vulnerable = sum(1 for v in vulns_ours.values() if v[0])
    infected = sum(1 for v in vulns_ours.values() if v[1])
    summary["ms17_010_vulnerable"], summary["doublepulsar_infected"] = vulnerable, infected
    print(f"MS17-010 vulnerable: {vulnerable} hosts, DoublePulsar: {infected} hosts (smbguard)")
    summary["agreement_problems"] = problems
    print(
        "agreement: "
        + (
            "smbguard and nmap agree on every host (open, SMB1, dialects, MS17-010, DoublePulsar)"
            if not problems
            else f"{len(problems)} differences:\n  " + "\n  ".join(problems[:20])
        )
    )
    if args.json:
        Path(args.json).write_text(json.dumps(summary, indent=2))
    shutil.rmtree(tmp, ignore_errors=True)
    return 0 if not problems else 1


if __name__ == "__main__":
    raise SystemExit(main())
