"""CPU time of the two windowed detectors, row by row (``feed``) vs on frames (``feed_frame``).

    python benchmarks/windows_bench.py                       # inputs below, generated if missing
    python benchmarks/windows_bench.py --audit /tmp/lb/full_audit.log --evtx /tmp/lb/relevant.evtx

Inputs (the same generators as benchmarks/logs_bench.py, from the real samples in
../shared/data; nothing is committed): a Samba vfs_full_audit log (60 % of its lines
are writes/renames/deletes of 200 clients) and an EVTX file made of the DonPAPI
extraction's chunks repeated (4624/5140/5145). The events are read once, turned into
frames of ``--rows`` rows (``events_to_frame``), and then, per detector, timed with
``time.process_time`` (CPU of this process, all threads: polars' worker threads count):

* rows:   ``detector.feed(event)`` for every event the detector's kinds select;
* frames: ``detector.feed_frame(frame)`` with each frame filtered to those kinds
  (what ``DetectorSet.feed_frame`` does; the filter is timed too).

Both end states are compared (findings must be equal) before the numbers are printed.
The rates are events of the detector's kinds per CPU second; best of ``--rounds``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "benchmarks"))

import polars as pl  # noqa: E402

from smbguard.logs.detectors import FailedLogonDetector, RansomwareDetector, Thresholds  # noqa: E402
from smbguard.logs.events import Event, EventKind, events_to_frame  # noqa: E402
from smbguard.logs.samba import SambaSource  # noqa: E402
from smbguard.logs.winevent import EvtxSource  # noqa: E402

Windowed = RansomwareDetector | FailedLogonDetector


def _failures(n: int) -> list[Event]:
    """Failed logons (no real sample has many): 200 sources, one every 2 ms in all, each
    trying 1-40 accounts, plus a successful logon every 50 events (synthetic)."""
    start = datetime(2024, 1, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        source = i % 200
        out.append(
            Event(
                kind=EventKind.LOGON if i % 50 == 49 else EventKind.LOGON_FAILURE,
                source="Security",
                event_id="4625",
                time=start + timedelta(milliseconds=2 * i),
                src_ip=f"10.1.{source // 256}.{source % 256}",
                workstation=f"WS{source}",
                server="dc1",
                user=f"user{(i // 200) % (1 + source % 40)}",
                domain="CORP",
                status="0xc000006d",
                detail="0xc000006a",
            )
        )
    return out


def _frames(events: list[Event], rows: int) -> list[pl.DataFrame]:
    return [events_to_frame(events[i : i + rows]) for i in range(0, len(events), rows)]


def _time_rows(make: Callable[[], Windowed], events: list[Event]) -> tuple[float, Windowed]:
    detector = make()
    kinds = detector.kinds
    mine = [e for e in events if e.kind in kinds]
    feed = detector.feed
    start = time.process_time()
    for event in mine:
        feed(event)
    return time.process_time() - start, detector


def _time_frames(make: Callable[[], Windowed], frames: list[pl.DataFrame]) -> tuple[float, Windowed]:
    detector = make()
    values = [kind.value for kind in detector.kinds]
    start = time.process_time()
    for frame in frames:
        part = frame.filter(pl.col("kind").is_in(values))
        if part.height:
            detector.feed_frame(part)
    return time.process_time() - start, detector


def run(name: str, events: list[Event], rows: int, rounds: int) -> None:
    frames = _frames(events, rows)
    for label, make in (
        ("ransomware", lambda: RansomwareDetector(Thresholds())),
        ("failed-logon", lambda: FailedLogonDetector(Thresholds())),
    ):
        n = sum(1 for e in events if e.kind in make().kinds)
        if n == 0:
            print(f"{name:<22} {label:<13} no events of its kinds")
            continue
        best_rows = best_frames = float("inf")
        for _ in range(rounds):
            cpu, one = _time_rows(make, events)
            best_rows = min(best_rows, cpu)
            cpu, two = _time_frames(make, frames)
            best_frames = min(best_frames, cpu)
            if [f.to_dict() for f in one.findings()] != [f.to_dict() for f in two.findings()]:
                raise SystemExit(f"{name} {label}: frame and row findings differ")
        print(
            f"{name:<22} {label:<13} {n:>8} events  rows {best_rows:6.3f} s CPU "
            f"({n / best_rows / 1e3:7.1f}k ev/s, {best_rows / n * 1e6:5.2f} us/ev)  "
            f"frames {best_frames:6.3f} s CPU ({n / best_frames / 1e3:7.1f}k ev/s, "
            f"{best_frames / n * 1e6:5.2f} us/ev)  x{best_rows / best_frames:4.1f}"
        )


def run_analyze(name: str, path: Path, rounds: int) -> None:
    """The whole ``analyze`` (source frames + every detector), with the two windowed
    detectors' ``feed_frame`` and without it (``DetectorSet`` then feeds them row by row)."""
    from smbguard.logs.analyze import analyze

    saved = {cls: cls.feed_frame for cls in (RansomwareDetector, FailedLogonDetector)}
    best: dict[str, float] = {}
    results: dict[str, object] = {}
    for _ in range(rounds):
        for label in ("rows", "frames"):
            if label == "rows":
                for cls in saved:
                    delattr(cls, "feed_frame")
            try:
                start = time.process_time()
                results[label] = analyze([str(path)]).to_dict()["findings"]
                best[label] = min(best.get(label, float("inf")), time.process_time() - start)
            finally:
                for cls, method in saved.items():
                    setattr(cls, "feed_frame", method)  # noqa: B010
    if results["rows"] != results["frames"]:
        raise SystemExit(f"{name}: analyze findings differ with and without feed_frame")
    with path.open("rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
    unit = "lines" if path.suffix != ".evtx" else "bytes"
    size = lines if unit == "lines" else path.stat().st_size
    print(
        f"{name:<22} analyze       {size:>8} {unit}  windowed detectors row by row {best['rows']:6.3f} s CPU "
        f"({size / best['rows'] / 1e3:7.1f}k/s)  with feed_frame {best['frames']:6.3f} s CPU "
        f"({size / best['frames'] / 1e3:7.1f}k/s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--audit", type=Path, default=Path("/tmp/lb/full_audit.log"))
    parser.add_argument("--evtx", type=Path, default=Path("/tmp/lb/relevant.evtx"))
    parser.add_argument("--lines", type=int, default=500_000, help="full_audit lines if generated")
    parser.add_argument("--evtx-records", type=int, default=30_000, help="EVTX records if generated")
    parser.add_argument("--rows", type=int, default=131_072, help="rows per frame")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import logs_bench

    with tempfile.TemporaryDirectory() as tmp:
        audit, evtx = args.audit, args.evtx
        if not audit.exists():
            audit = Path(tmp) / "full_audit.log"
            logs_bench.make_full_audit(audit, args.lines)
        if not evtx.exists():
            evtx = Path(tmp) / "relevant.evtx"
            logs_bench.make_evtx(
                evtx,
                [logs_bench.DATA / "evtx/evtx-to-mitre-attack/ID5145-4624-DonPAPI_full_extraction.evtx"],
                args.evtx_records,
            )
        with open("/proc/loadavg") as f:
            print(f"load average: {f.read().split()[:3]}; frames of {args.rows} rows; best of {args.rounds}")
        run("samba full_audit", list(SambaSource(str(audit), year=2019).events()), args.rows, args.rounds)
        run("evtx relevant", list(EvtxSource(str(evtx)).events()), args.rows, args.rounds)
        run("synthetic 4625", _failures(args.lines), args.rows, args.rounds)
        run_analyze("samba full_audit", audit, args.rounds)


if __name__ == "__main__":
    main()
