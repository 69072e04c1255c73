"""Throughput of the log and capture sources, with tshark as the reference for pcaps.

    python benchmarks/logs_bench.py                     # defaults below
    python benchmarks/logs_bench.py --evtx-records 60000 --lines 1000000 --pcap-mb 300

Every input is generated at run time in a temporary directory from the real
samples in ../shared/data (nothing is committed):

* EVTX: the file header of a real log followed by its 64 KiB chunks repeated.
  "relevant" = DonPAPI extraction (93 % of records are 4624/5140/5145 the
  detectors read); "mixed" = every chunk of every EVTX sample in the data set.
* text: Samba vfs_full_audit lines (write/rename/delete/open from 200 clients),
  a level-10 log.smbd repeated, Zeek smb_files TSV and smb_mapping JSON.
* pcap: the SMB captures repeated with the client port shifted per copy (so
  every copy is a new TCP connection, not a retransmission), written once as
  classic pcap and once as pcapng (the format Wireshark and dumpcap write).

For each input the script reports the source alone (parse + normalise) and the
whole ``analyze`` path (sources + all detectors). For the pcap it also runs the
analyzer's reference path (``CaptureAnalyzer(reference=True)``: the per-packet code
the fast path is tested against, i.e. "before") and then
``tshark -r big.pcap -Y smb2 -q -z io,stat,0`` on the same file, in the same run.
Numbers are wall-clock, best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from smbguard.logs import pcapfile, zeek  # noqa: E402
from smbguard.logs.analyze import analyze  # noqa: E402
from smbguard.logs.capture import CaptureAnalyzer  # noqa: E402
from smbguard.logs.events import SourceStats  # noqa: E402
from smbguard.logs.pcapfile import ip_of_frame, read_packets  # noqa: E402
from smbguard.logs.samba import SambaSource  # noqa: E402
from smbguard.logs.winevent import EvtxSource  # noqa: E402
from smbguard.logs.zeek import ZeekSource  # noqa: E402

DATA = ROOT.parent / "shared" / "data"


class Timing:
    """Best wall-clock and best CPU seconds (this process + waited-for children) of a run.

    On a shared machine the wall clock depends on what else runs; CPU seconds much less."""

    def __init__(self, wall: float, cpu: float) -> None:
        self.wall = wall
        self.cpu = cpu

    def rate(self, amount: float, unit: str) -> str:
        return f"{amount / self.wall:11,.0f} {unit}/s wall {amount / self.cpu:11,.0f} {unit}/s CPU"


def _cpu() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def best(rounds: int, fn: Callable[[], int]) -> tuple[Timing, int]:
    """(best timing, result of fn) over ``rounds`` runs."""
    walls, cpus = [], []
    result = 0
    for _ in range(rounds):
        start, start_cpu = time.perf_counter(), _cpu()
        result = fn()
        walls.append(time.perf_counter() - start)
        cpus.append(max(_cpu() - start_cpu, 1e-9))
    return Timing(min(walls), min(cpus)), result


# ---------------------------------------------------------------------------------- EVTX
def make_evtx(path: Path, sources: list[Path], records_wanted: int) -> int:
    header = sources[0].read_bytes()[:4096]
    chunks: list[bytes] = []
    records = 0
    import evtx

    for src in sources:
        data = src.read_bytes()
        body = data[4096:]
        for i in range(0, len(body) - len(body) % 65536, 65536):
            chunk = body[i : i + 65536]
            if chunk[:8] == b"ElfChnk\x00":
                chunks.append(chunk)
        records += sum(1 for _ in evtx.PyEvtxParser(str(src)).records())
    copies = max(1, -(-records_wanted // max(records, 1)))
    path.write_bytes(header + b"".join(chunks) * copies)
    return records * copies


def compare_evtx_apis(path: Path, rounds: int) -> None:
    """Which evtx API is fastest for the same work: every record normalised to an Event?"""
    import json

    import evtx

    from smbguard.logs.winevent import (
        INTERESTING,
        _flatten_json_event,
        event_from_fields,
        event_from_xml,
        parse_time,
    )

    def xml_api(threads: int) -> Callable[[], int]:
        def run() -> int:
            n = 0
            for record in evtx.PyEvtxParser(str(path), number_of_threads=threads).records():
                event_from_xml(record["data"], "x")
                n += 1
            return n

        return run

    def json_api(threads: int) -> Callable[[], int]:
        def run() -> int:
            n = 0
            for record in evtx.PyEvtxParser(str(path), number_of_threads=threads).records_json():
                eid, data, when, computer, channel = _flatten_json_event(json.loads(record["data"]))
                if eid in INTERESTING:
                    event_from_fields(
                        eid, data, source="x", when=parse_time(when), computer=computer, channel=channel
                    )
                n += 1
            return n

        return run

    for name, make in (("records() XML + regex", xml_api), ("records_json() + json.loads", json_api)):
        for threads in (1, 0):
            timing, n = best(rounds, make(threads))
            print(f"EVTX api {name:28} threads={threads}: {timing.rate(n, 'rec')}")


def bench_evtx(tmp: Path, rounds: int, records_wanted: int) -> None:
    import evtx

    donpapi = DATA / "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"
    every = sorted((DATA / "evtx").rglob("*.evtx"))
    for label, sources in (("relevant", [donpapi]), ("mixed", every)):
        path = tmp / f"{label}.evtx"
        make_evtx(path, sources, records_wanted)
        size = path.stat().st_size

        def raw(path: Path = path) -> int:
            return sum(1 for _ in evtx.PyEvtxParser(str(path), number_of_threads=1).records())

        def source(path: Path = path) -> int:
            src = EvtxSource(str(path))
            for _ in src.events():
                pass
            return src.stats.records

        def frames(
            path: Path = path, workers: int | None = None, fast: bool | None = None, sink: bool = True
        ) -> int:
            src = EvtxSource(str(path), workers=workers)
            if fast is not None:  # False: every chunk through the Rust parser's XML (the path before)
                src.fast = fast
            src.sink = src.sink and sink  # False: rows as Python tuples + rows_to_frame (the path before)
            for _ in src.frames():
                pass
            return src.stats.records

        def per_event(path: Path = path) -> int:  # what analyze did before frames: one Event at a time
            from smbguard.logs.detectors import DetectorSet, default_detectors

            src = EvtxSource(str(path))
            dispatcher = DetectorSet(default_detectors())
            for event in src.events():
                dispatcher.feed(event)
            dispatcher.findings()
            return src.stats.records

        def full(path: Path = path) -> int:
            result = analyze([str(path)])
            return result.sources[0].records

        if label == "relevant":
            compare_evtx_apis(path, rounds)
        t_raw, n = best(rounds, raw)
        t_src, _ = best(rounds, source)
        t_here, _ = best(rounds, lambda: frames(workers=0))
        t_nosink, _ = best(rounds, lambda: frames(workers=0, sink=False))
        t_xml, _ = best(rounds, lambda: frames(workers=0, fast=False))
        t_frames, _ = best(rounds, frames)
        t_before, _ = best(rounds, per_event)
        t_full, _ = best(rounds, full)
        print(f"EVTX {label} ({n} records, {size / 1e6:.1f} MB)")
        print(f"  evtx parser alone      {t_raw.rate(n, 'rec')}")
        print(f"  EvtxSource (normalise) {t_src.rate(n, 'rec')}")
        print(f"  frames, one process    {t_here.rate(n, 'rec')}")
        print(f"  same, no C sink        {t_nosink.rate(n, 'rec')}  (Python rows, rows_to_frame: A/B)")
        print(f"  same, Rust XML path    {t_xml.rate(n, 'rec')}  (no BinXML reader: A/B in this run)")
        print(f"  frames (workers if big){t_frames.rate(n, 'rec')}")
        print(f"  analyze per event (old){t_before.rate(n, 'rec')}")
        print(f"  analyze (+ detectors)  {t_full.rate(n, 'rec')}")


# ---------------------------------------------------------------------------------- text
def make_full_audit(path: Path, lines: int) -> None:
    ops = (
        "pwrite|ok|{d}/file{n}.docx",
        "renameat|ok|{d}/file{n}.docx|{d}/file{n}.docx.bak",
        "openat|ok|r|{d}/file{n}.xlsx",
        "unlinkat|ok|{d}/tmp{n}.tmp",
        "close|ok|{d}/file{n}.docx",
    )
    with path.open("w") as out:
        for i in range(lines):
            sec = i // 2000
            stamp = f"Sep 23 {10 + sec // 3600 % 12:02d}:{sec // 60 % 60:02d}:{sec % 60:02d}"
            client = f"10.0.{i % 200 // 250}.{i % 200 + 1}"
            op = ops[i % len(ops)].format(d=f"dept{i % 7}", n=i % 5000)
            out.write(f"{stamp} fs smbd_audit[5841]: user{i % 200}|{client}|data|{op}\n")


MASKED_TS = b"XXXXXXXXXX.XXXXXX"  # Zeek's test baselines mask the ts column


def repeat_file(src: Path, dst: Path, lines: int, keep_header: bool = False, stamp: bool = False) -> int:
    """``src`` repeated to about ``lines`` lines. ``stamp``: a masked Zeek ``ts`` becomes a real,
    increasing time (10 ms apart), as in a production log; otherwise lines are copied verbatim
    (masked times stay masked, so events have no time)."""
    raw = src.read_bytes().splitlines(keepends=True)
    header = [x for x in raw if x.startswith(b"#")] if keep_header else []
    body = [x for x in raw if not x.startswith(b"#")]
    copies = max(1, lines // max(len(body), 1))
    with dst.open("wb") as out:
        out.writelines(header)
        for copy in range(copies):
            if not stamp:
                out.writelines(body)
                continue
            for i, line in enumerate(body):
                when = 1_600_000_000 + (copy * len(body) + i) / 100
                out.write(line.replace(MASKED_TS, f"{when:.6f}".encode(), 1))
    return copies * len(body)


def bench_text(tmp: Path, rounds: int, lines: int) -> None:
    audit = tmp / "full_audit.log"
    make_full_audit(audit, lines)
    smbd = tmp / "log.smbd"
    repeat_file(DATA / "logs/samba/journeymidnight-samba-4.7.1_log.smbd", smbd, lines)
    tsv = tmp / "smb_files.log"
    repeat_file(DATA / "logs/zeek-btest-baselines/smb.smb3-multichannel__smb_files.log", tsv, lines, True)
    tsv_ts = tmp / "smb_files_ts.log"
    repeat_file(
        DATA / "logs/zeek-btest-baselines/smb.smb3-multichannel__smb_files.log", tsv_ts, lines, True, True
    )
    js = tmp / "smb_mapping.log"
    repeat_file(DATA / "logs/zeek-maccdc2012-cyberspatiallabs/smb_mapping.log", js, lines)
    cases: list[tuple[str, Path, Callable[[str], object]]] = [
        ("samba full_audit", audit, lambda p: SambaSource(p, year=2019)),
        ("samba log.smbd", smbd, lambda p: SambaSource(p, year=2019)),
        ("zeek TSV smb_files (ts masked)", tsv, ZeekSource),
        ("zeek TSV smb_files (ts set)", tsv_ts, ZeekSource),
        ("zeek JSON mapping", js, ZeekSource),
    ]
    for label, path, make in cases:

        def source(path: Path = path, make: Callable[[str], object] = make) -> int:
            src = make(str(path))
            for _ in src.events():  # type: ignore[attr-defined]
                pass
            return int(src.stats.records)  # type: ignore[attr-defined]

        def frames(path: Path = path, make: Callable[[str], object] = make) -> int:
            src = make(str(path))
            for _ in src.frames():  # type: ignore[attr-defined]
                pass
            return int(src.stats.records)  # type: ignore[attr-defined]

        def full(path: Path = path) -> int:
            return analyze([str(path)]).sources[0].records

        def line_runs(fn: Callable[[], int]) -> Callable[[], int]:
            """fn with Zeek TSV segments not read by polars' CSV reader (the line runs only,
            as before that reader): an A/B in the same run."""

            def run() -> int:
                ready = zeek._tsv_ready
                zeek._tsv_ready = lambda source: False
                try:
                    return fn()
                finally:
                    zeek._tsv_ready = ready

            return run

        t_src, n = best(rounds, source)
        t_frames = best(rounds, frames)[0] if hasattr(make(str(path)), "frames") else None
        t_full, _ = best(rounds, full)
        zeek_tsv = make is ZeekSource and "TSV" in label
        size = path.stat().st_size
        print(f"TEXT {label} ({n} lines, {size / 1e6:.1f} MB)")
        print(f"  source                 {t_src.rate(n, 'lines')}")
        if t_frames is not None:  # the same source read as event frames (what analyze uses)
            print(f"  source frames()        {t_frames.rate(n, 'lines')}")
        if zeek_tsv:
            print(f"  frames(), line runs    {best(rounds, line_runs(frames))[0].rate(n, 'lines')}")
        print(f"  analyze (+ detectors)  {t_full.rate(n, 'lines')}")
        if zeek_tsv:
            print(f"  analyze, line runs     {best(rounds, line_runs(full))[0].rate(n, 'lines')}")


# ---------------------------------------------------------------------------------- pcap
PCAP_SOURCES = (
    "zeek/smb2.pcap",
    "suricata-verify/smb2-01/smb2-peter.pcap",
    "zeek/smb2_100_small_files.pcap",
    "suricata-verify/smb2-07/20171220_smb_psexec_add_user.pcap",
    "suricata-verify/smb2-09-trunc-file-logging/input.pcap",
)


def _shift_port(frame: bytes, shift: int) -> bytes:
    """Move the client port of an Ethernet/IPv4/TCP frame by ``shift`` (server port 445/139 kept)."""
    ip = ip_of_frame(1, frame)
    if ip is None or ip[0] >> 4 != 4 or ip[9] != 6:
        return frame
    base = len(frame) - len(ip)
    tcp = base + (ip[0] & 0x0F) * 4
    sport, dport = struct.unpack_from(">HH", frame, tcp)
    buf = bytearray(frame)
    if dport in (445, 139):
        struct.pack_into(">H", buf, tcp, (sport + shift) % 60000 + 1024)
    elif sport in (445, 139):
        struct.pack_into(">H", buf, tcp + 2, (dport + shift) % 60000 + 1024)
    return bytes(buf)


def make_pcap(path: Path, megabytes: int, ng_path: Path | None = None) -> None:
    """``path``: a classic pcap of the SMB captures repeated; ``ng_path`` (if given): the
    same packets as pcapng (one section, one Ethernet interface, Enhanced Packet Blocks
    with microsecond timestamps, as dumpcap writes them)."""
    frames: list[tuple[float, bytes]] = []
    for name in PCAP_SOURCES:
        stats = SourceStats(name, "pcap")
        with (DATA / "pcaps" / name).open("rb") as handle:
            frames += [(ts, f) for ts, lt, f in read_packets(handle, stats) if lt == 1]
    target = megabytes * 1_000_000
    written = 24
    copy = 0
    with path.open("wb") as out, (ng_path or Path(os.devnull)).open("wb") as ng:
        out.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        ng.write(struct.pack("<IIIHHqI", 0x0A0D0D0A, 28, 0x1A2B3C4D, 1, 0, -1, 28))  # section header
        ng.write(struct.pack("<IIHHII", 1, 20, 1, 0, 262144, 20))  # interface: Ethernet, microseconds
        while written < target:
            copy += 1
            for ts, frame in frames:
                data = _shift_port(frame, copy * 7)
                sec, usec = int(ts) + copy, int((ts % 1) * 1e6)
                record = struct.pack("<IIII", sec, usec, len(data), len(data))
                out.write(record + data)
                written += 16 + len(data)
                if ng_path is not None:
                    stamp = sec * 1_000_000 + usec
                    pad = -len(data) % 4
                    length = 32 + len(data) + pad
                    head = (6, length, 0, stamp >> 32, stamp & 0xFFFFFFFF, len(data), len(data))
                    ng.write(
                        struct.pack("<IIIIIII", *head)
                        + data
                        + bytes(pad)
                        + struct.pack("<I", length)
                    )


def bench_pcap(tmp: Path, rounds: int, megabytes: int) -> None:
    make_pcap(tmp / "big.pcap", megabytes, tmp / "big.pcapng")
    for path in (tmp / "big.pcap", tmp / "big.pcapng"):
        size = path.stat().st_size

        def ours(path: Path = path) -> int:
            analyzer = CaptureAnalyzer(str(path))
            for _ in analyzer.events():
                pass
            analyzer.hosts()
            return analyzer.smb_messages

        def plain(path: Path = path) -> int:
            analyzer = CaptureAnalyzer(str(path), reference=True)
            for _ in analyzer.events():
                pass
            analyzer.hosts()
            return analyzer.smb_messages

        t_ours, messages = best(rounds, ours)
        kind = "PCAPNG" if path.suffix == ".pcapng" else "PCAP"
        print(f"{kind} {size / 1e6:.1f} MB, {messages} SMB messages")
        print(f"  smbguard               {t_ours.rate(size / 1e6, 'MB')}  ({t_ours.wall:.2f} s wall)")
        if pcapfile._pcapscan is not None:  # the same fast path with its Python loops (C off)
            c_loops = pcapfile._pcapscan
            pcapfile._pcapscan = None
            try:
                t_python, python_messages = best(rounds, ours)
            finally:
                pcapfile._pcapscan = c_loops
            assert python_messages == messages
            print(f"  smbguard, no C loops   {t_python.rate(size / 1e6, 'MB')}  ({t_python.wall:.2f} s wall)")
        t_plain, plain_messages = best(rounds, plain)
        assert plain_messages == messages
        print(f"  smbguard, reference path {t_plain.rate(size / 1e6, 'MB')}  ({t_plain.wall:.2f} s wall)")
        tshark = shutil.which("tshark")
        if tshark is None:
            print("  tshark not installed: no reference run")
            continue

        def reference(path: Path = path, tshark: str = tshark) -> int:
            command = [tshark, "-r", str(path), "-Y", "smb2", "-q", "-z", "io,stat,0"]
            subprocess.run(command, check=True, capture_output=True)
            return 0

        t_ref, _ = best(rounds, reference)
        print(f"  tshark -Y smb2 -q -z io,stat,0 {t_ref.rate(size / 1e6, 'MB')}  ({t_ref.wall:.2f} s wall)")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--evtx-records", type=int, default=30_000)
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--pcap-mb", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", choices=("evtx", "text", "pcap"))
    args = parser.parse_args()
    if not DATA.is_dir():
        print(f"{DATA} not found", file=sys.stderr)
        return 2
    start = time.perf_counter()
    sum(range(10**7))
    calibration = time.perf_counter() - start
    load = os.getloadavg()
    print(
        f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, best of {args.rounds}, "
        f"load average at start {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
        f"sum(range(10**7)) took {calibration:.2f} s (a measure of how busy the CPUs are)"
    )
    with tempfile.TemporaryDirectory(prefix="smbguard-logs-bench-") as tmp:
        if args.only in (None, "evtx"):
            bench_evtx(Path(tmp), args.rounds, args.evtx_records)
        if args.only in (None, "text"):
            bench_text(Path(tmp), args.rounds, args.lines)
        if args.only in (None, "pcap"):
            bench_pcap(Path(tmp), args.rounds, args.pcap_mb)
    load = os.getloadavg()
    print(f"load average at end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
