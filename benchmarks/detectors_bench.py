"""CPU cost of the detectors in ``logs analyze`` (after the source), per event row.

    python benchmarks/detectors_bench.py                          # this tree
    python benchmarks/detectors_bench.py --baseline /tmp/old/src  # A/B against another tree
    git worktree add --detach /tmp/old HEAD~3                      # (e.g. an older commit)
    python benchmarks/detectors_bench.py --tree /tmp/new/src --baseline /tmp/old/src

Inputs are generated at run time exactly as ``benchmarks/logs_bench.py`` makes them (Samba
full_audit where every line is a file operation, Zeek smb_files TSV with the sample's masked
``ts`` and with real increasing times, Zeek smb_mapping JSON; EVTX "relevant", the DonPAPI
5145/4624 sample repeated, and "mixed", every shared .evtx sample's chunks repeated). Each input
is read once into event frames (``source.frames()``, not timed); then, per round, a fresh
``DetectorSet(default_detectors())`` is fed those frames (``DetectorSet.feed_frame``, what
``analyze`` does) and, separately, each detector its rows (``feed_frame`` on the rows of
its kinds). Reported: CPU microseconds (``time.process_time``, polars' threads included)
per event row of the input, best of ``--rounds``, and the whole set's first round in a fresh
process ("1st round": polars builds each kind of query once per process, which a single
``analyze`` of a small file pays in full). With ``--baseline`` each tree runs in
its own process, alternately, so both see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def worker(src: str, inputs: list[str], rounds: int) -> None:
    """Measure in this process with the smbguard package found in ``src``; print JSON."""
    sys.path.insert(0, src)
    import polars as pl

    from smbguard.logs.detect import open_source
    from smbguard.logs.detectors import DetectorSet, default_detectors
    from smbguard.logs.findings import severity_of

    severity_of("ransomware-like-activity")  # the finding catalog is read once per process: not timed

    out: dict[str, dict[str, float]] = {}
    for path in inputs:
        source = open_source(path)
        frames = list(source.frames())  # type: ignore[attr-defined]
        rows = sum(frame.height for frame in frames)
        records = getattr(source.stats, "records", 0) or rows  # EVTX: records read (some are no event)
        best: dict[str, float] = {}
        for round_ in range(rounds):
            dispatcher = DetectorSet(default_detectors())
            start = time.process_time()
            for frame in frames:
                dispatcher.feed_frame(frame)
            spent = time.process_time() - start
            if round_ == 0:  # this process's first use of these frames' queries (as `analyze` pays it)
                best["DetectorSet, 1st round"] = spent
            best["DetectorSet"] = min(best.get("DetectorSet", 1e9), spent)
            for detector in default_detectors():
                marker = getattr(detector, "marker", None)
                name = type(detector).__name__ + (f"({marker})" if marker else "")
                kinds = [kind.value for kind in detector.kinds]
                parts = [frame.filter(pl.col("kind").is_in(kinds)) for frame in frames]
                feed_frame = getattr(detector, "feed_frame", None)
                start = time.process_time()
                for part in parts:
                    if part.height and feed_frame is not None:
                        feed_frame(part)
                best[name] = min(best.get(name, 1e9), time.process_time() - start)
        out[path] = {"rows": rows, "records": records, **{k: v * 1e6 / max(rows, 1) for k, v in best.items()}}
    print(json.dumps(out))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lines", type=int, default=500_000)
    parser.add_argument("--evtx-records", type=int, default=30_000, help="as logs_bench.py's default")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--passes", type=int, default=2, help="alternating runs per tree (best kept)")
    parser.add_argument("--baseline", help="the src/ directory of another tree to compare with")
    parser.add_argument("--tree", default=str(ROOT / "src"), help="the src/ directory to measure")
    parser.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args.worker[0], args.worker[1:], args.rounds)
        return 0

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from logs_bench import DATA, make_evtx, make_full_audit, repeat_file

    trees = {"this tree": args.tree}
    if args.baseline:
        trees = {"baseline": args.baseline, **trees}
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        files = DATA / "logs/zeek-btest-baselines/smb.smb3-multichannel__smb_files.log"
        inputs = {
            "samba full_audit": tmp / "full_audit.log",
            "zeek TSV smb_files (ts masked)": tmp / "smb_files.log",
            "zeek TSV smb_files (ts set)": tmp / "smb_files_ts.log",
            "zeek JSON mapping": tmp / "smb_mapping.log",
            "evtx relevant (DonPAPI 5145/4624)": tmp / "relevant.evtx",
            "evtx mixed (every sample)": tmp / "mixed.evtx",
        }
        make_full_audit(inputs["samba full_audit"], args.lines)
        repeat_file(files, inputs["zeek TSV smb_files (ts masked)"], args.lines, True)
        repeat_file(files, inputs["zeek TSV smb_files (ts set)"], args.lines, True, True)
        repeat_file(
            DATA / "logs/zeek-maccdc2012-cyberspatiallabs/smb_mapping.log",
            inputs["zeek JSON mapping"],
            args.lines,
        )
        donpapi = DATA / "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"
        make_evtx(inputs["evtx relevant (DonPAPI 5145/4624)"], [donpapi], args.evtx_records)
        every = sorted((DATA / "evtx").rglob("*.evtx"))
        make_evtx(inputs["evtx mixed (every sample)"], every, args.evtx_records)
        paths = [str(p) for p in inputs.values()]
        results: dict[str, dict[str, dict[str, float]]] = {}
        for _ in range(args.passes):
            for tree, src in trees.items():
                command = [sys.executable, __file__, "--rounds", str(args.rounds), "--worker", src, *paths]
                found = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
                mine = results.setdefault(tree, {})
                for path, costs in found.items():
                    kept = mine.setdefault(path, costs)
                    for name, value in costs.items():
                        kept[name] = min(kept[name], value)
    for label, path in inputs.items():
        per_tree = {tree: results[tree][str(path)] for tree in trees}
        rows = int(next(iter(per_tree.values()))["rows"])
        records = int(next(iter(per_tree.values()))["records"])
        read = f" of {records:,} records" if records != rows else ""
        best = f"best of {args.rounds} x {args.passes}"
        print(f"{label}: {rows:,} event rows{read}; CPU us per event row ({best})")
        names = [n for n in next(iter(per_tree.values())) if n not in ("rows", "records")]
        print("  " + f"{'':30s}" + "".join(f"{tree:>12s}" for tree in trees))
        for name in names:
            print("  " + f"{name:30s}" + "".join(f"{per_tree[tree][name]:12.3f}" for tree in trees))
    return 0


if __name__ == "__main__":
    sys.exit(main())
