"""``smbguard scan``: unauthenticated SMB fingerprinting of hosts and networks.

    smbguard scan 127.0.9.1-20 10.0.0.0/24 host.example.com -iL targets.txt \\
        --exclude 10.0.0.1 --port 445 --timeout 3 --concurrency 256 --rate 0 \\
        --retries 0 --no-null-session --format table|json|jsonl -o FILE

Every target and exclude is validated (and host names resolved) before the first
packet is sent. Exit codes: 0 scan finished; 1 internal error (or the scan could
not be saved in the history); 2 bad usage or bad target; 3 a finding at or above
``--fail-on``; 130 interrupted by Ctrl-C (what was found is still written, with
``scan.interrupted`` true). See ``smbguard.report.exitcodes``.

Extension points for other sub-systems, all in this module:
``add_arguments`` (argument groups), ``probe_options`` (what the probes are told),
``make_evaluator`` (checks), ``after_scan`` (history store) and ``exit_code``
(``--fail-on``). Output formats are registered in ``smbguard.report.REPORTERS``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

from smbguard import __version__
from smbguard.catalog.loader import default_lang
from smbguard.cli import audit as _audit
from smbguard.engine import Collector, Engine, EngineOptions, Evaluator, Progress, plain_result
from smbguard.errors import AuthError, TargetError
from smbguard.model import HostFacts, HostResult, ScanInfo, ScanReport, Target
from smbguard.redact import redact_arguments
from smbguard.report import REPORTERS, StreamingReporter, get_reporter
from smbguard.report.json import JsonStreamWriter
from smbguard.targets import TargetSet, parse

if TYPE_CHECKING:
    from smbguard.probes.base import ProbeOptions

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

# Options whose value is a secret: replaced in scan.arguments (credentials are
# never written to reports).

CollectorFactory = Callable[[argparse.Namespace], Collector]


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "scan",
        help="fingerprint SMB servers: SMB1, dialects, signing, OS, null/guest sessions",
        description="Unauthenticated SMB fingerprinting of hosts and networks. "
        "Exit codes: 0 done, 1 internal error (or history not saved), 2 bad usage or target, "
        "3 a finding at or above --fail-on, 130 interrupted.",
    )
    add_arguments(parser)
    parser.set_defaults(func=run, intermixed_positionals="targets")


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _non_negative_float(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("must be >= 0")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("must be 1-65535")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Every ``scan`` option, by group. Other sub-systems add their own groups here."""
    tg = parser.add_argument_group("targets")
    tg.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="IPv4/IPv6 address (fe80::1%%eth0), CIDR, range (a.b.c.d-e or a.b.c.d-w.x.y.z), "
        "host name, host:port, [v6]:port",
    )
    tg.add_argument(
        "-iL",
        dest="input_files",
        action="append",
        default=[],
        metavar="FILE",
        help="read targets from FILE (one or more per line, # comments; - for stdin)",
    )
    tg.add_argument(
        "--exclude",
        action="append",
        default=[],
        metavar="TARGETS",
        help="skip these addresses (comma-separated targets; repeatable)",
    )
    tg.add_argument(
        "--exclude-file", action="append", default=[], metavar="FILE", help="skip the targets listed in FILE"
    )
    tg.add_argument("--port", type=_port, default=445, help="TCP port when a target gives none (default 445)")

    tm = parser.add_argument_group("timing")
    tm.add_argument(
        "--timeout",
        type=_positive_float,
        default=3.0,
        help="seconds for each connect and each reply (default 3)",
    )
    tm.add_argument("--concurrency", type=_positive_int, default=256, help="hosts in parallel (default 256)")
    tm.add_argument(
        "--rate",
        type=_non_negative_float,
        default=0.0,
        help="new hosts (connection attempts) per second, 0 = unlimited (default 0)",
    )
    tm.add_argument(
        "--retries",
        type=int,
        default=0,
        choices=range(0, 11),
        metavar="N",
        help="retry a host whose connection timed out or failed N times (default 0)",
    )
    tm.add_argument(
        "--sweep",
        choices=("auto", "on", "off"),
        default="auto",
        help="connect-sweep all targets before probing open ports (auto: when there are 512 targets or more)",
    )

    pr = parser.add_argument_group("probes")
    pr.add_argument(
        "--no-null-session",
        action="store_true",
        help="do not try null or guest sessions (some networks alert on them)",
    )
    pr.add_argument(
        "--ms17-010",
        dest="ms17_010",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read-only MS17-010 check (PeekNamedPipe on FID 0) where SMB1 answers (default on)",
    )
    pr.add_argument(
        "--doublepulsar",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read-only DoublePulsar implant ping where SMB1 answers (default on)",
    )

    _audit.add_scan_arguments(parser)  # --shares, --check-write, -u/-d/-p/-H/--kerberos

    out = parser.add_argument_group("output")
    out.add_argument(
        "--format",
        choices=sorted(REPORTERS),
        default=None,
        help="output format (default: table on a terminal, json otherwise)",
    )
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE instead of stdout")
    out.add_argument(
        "--open",
        dest="open_only",
        action="store_true",
        help="report only hosts whose port accepted a connection",
    )
    out.add_argument(
        "--lang",
        choices=("en", "zh-TW"),
        default=default_lang(),
        help="report language (default: from the locale, zh-TW for zh_TW/zh_HK/zh_Hant, else en)",
    )
    out.add_argument(
        "--fail-on",
        type=_severity,
        default=None,
        metavar="SEVERITY",
        help="exit with 3 when a finding has this severity or worse (info, low, medium, high, critical)",
    )
    hist = parser.add_argument_group("history")
    hist.add_argument("--db", metavar="PATH", default=None, help="scan history database (default: per-user)")
    hist.add_argument("--no-store", action="store_true", help="do not record this scan in the history")
    out.add_argument(
        "--progress",
        choices=("auto", "on", "off"),
        default="auto",
        help="progress line on stderr (auto: when stderr is a terminal)",
    )


def redact(argv: Sequence[str]) -> tuple[str, ...]:
    """The command line with secret option values replaced by ``***``."""
    return tuple(redact_arguments(argv))


def probe_options(args: argparse.Namespace) -> ProbeOptions:
    """What the probes are told, from the command line (``--ms17-010`` etc. add here)."""
    from smbguard.net.transport import Limits
    from smbguard.probes.base import ProbeOptions

    return ProbeOptions(
        limits=Limits(connect_timeout=args.timeout, read_timeout=args.timeout),
        null_sessions=not args.no_null_session,
        ms17_010=getattr(args, "ms17_010", True),
        doublepulsar=getattr(args, "doublepulsar", True),
    )


def default_collector(args: argparse.Namespace) -> Collector:
    """``smbguard.probes.host.collect`` bound to this command line's options.

    The probes are imported when the first open port needs them: a sweep that
    finds nothing open never pays for them."""
    bound: Collector | None = None

    async def collect(target: Target) -> HostFacts:
        nonlocal bound
        if bound is None:
            from smbguard.probes.host import collect as collect_host

            opts = probe_options(args)

            async def run(t: Target) -> HostFacts:
                return await collect_host(t, opts)

            bound = run
        return await bound(target)

    return collect


def make_evaluator(args: argparse.Namespace) -> Evaluator:
    """Every registered check (``smbguard.checks.evaluate``), catalog loaded once,
    on first use (hosts whose port did not accept are not evaluated)."""
    bound: Evaluator | None = None

    def run(facts: HostFacts) -> HostResult:
        nonlocal bound
        if bound is None:
            from smbguard.catalog.loader import load_catalog
            from smbguard.checks.evaluate import evaluate

            catalog = load_catalog()

            def evaluate_one(f: HostFacts) -> HostResult:
                return evaluate(f, catalog=catalog)

            bound = evaluate_one
        return bound(facts)

    return run


def _severity(text: str) -> Any:
    from smbguard.model import Severity

    try:
        return Severity.parse(text)
    except ValueError:
        raise argparse.ArgumentTypeError("choose one of: info, low, medium, high, critical") from None


def before_render(reporter: Any, report: ScanReport, args: argparse.Namespace) -> None:
    """Called before a whole-report format renders: the HTML report gets a "since the previous
    scan of the same targets" section from the history (read only; nothing when there is none)."""
    if not hasattr(reporter, "diff"):
        return
    from smbguard.store.diff import diff_with_previous

    reporter.diff = diff_with_previous(report, getattr(args, "db", None))


def after_scan(report: ScanReport, args: argparse.Namespace) -> None:
    """Called once with the finished report: records it in the scan history (unless --no-store)."""
    if getattr(args, "no_store", False):
        return
    from smbguard.errors import StoreError
    from smbguard.store import save_scan

    try:
        scan_id = save_scan(report, getattr(args, "db", None))
    except StoreError as exc:
        print(f"smbguard scan: the scan was not saved in the history: {exc}", file=sys.stderr)
        args.store_failed = True
        return
    args.scan_id = scan_id


def exit_code(report: ScanReport, args: argparse.Namespace) -> int:
    """See ``smbguard.report.exitcodes``: 0 done, 1 history not saved, 3 --fail-on hit, 130 interrupted."""
    from smbguard.report.exitcodes import exit_code as scan_exit_code

    code = scan_exit_code(report, getattr(args, "fail_on", None))
    if code == EXIT_OK and getattr(args, "store_failed", False):
        return EXIT_ERROR
    return code


class ProgressLine:
    """``hosts done/total, open, rate, ETA`` on one terminal line, at most 10 times a second."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream
        self._last = 0.0
        self._shown = False

    def __call__(self, p: Progress) -> None:
        now = time.monotonic()
        if now - self._last < 0.1 and p.done != p.total:
            return
        self._last = now
        total = "?" if p.total is None else str(p.total)
        bar = ""
        if p.total:
            filled = int(20 * min(p.done / p.total, 1))
            bar = "[" + "#" * filled + "." * (20 - filled) + "] "
        eta = "" if p.eta is None else f"  ETA {int(p.eta) // 60}:{int(p.eta) % 60:02d}"
        self.stream.write(f"\r{bar}{p.done}/{total} hosts  {p.open} open  {p.rate:,.0f}/s{eta}\x1b[K")
        self.stream.flush()
        self._shown = True

    def clear(self) -> None:
        if self._shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()


async def run_scan(
    target_set: TargetSet,
    options: EngineOptions,
    collector: Collector,
    *,
    evaluate: Evaluator = plain_result,
    arguments: Sequence[str] = (),
    on_host: Callable[[HostResult], None] | None = None,
    progress: Callable[[Progress], None] | None = None,
    keep: Callable[[HostResult], bool] = lambda _h: True,
    retain: Callable[[HostResult, int], bool] = lambda _h, _n: True,
    resolve_timeout: float = 5.0,
    install_signal_handler: bool = True,
) -> ScanReport:
    """Resolve names, scan every target, return the report (also on Ctrl-C).

    ``keep`` selects the hosts that are reported (``--open``); ``on_host`` sees each
    of them as it finishes (streaming output). ``retain(host, n_retained)`` decides
    which of them stay in memory in the returned report: streamed outputs of huge
    scans drop the hosts nothing was learned about."""
    started = datetime.now(UTC)
    resolved = await target_set.resolve(timeout=resolve_timeout)
    total = resolved.count()
    engine = Engine(collector, options, evaluate=evaluate, progress=progress)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    presses = 0

    def on_sigint() -> None:
        nonlocal presses
        presses += 1
        if presses == 1:
            engine.stop()
        elif task is not None:
            task.cancel()

    handler = False
    if install_signal_handler:
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGINT, on_sigint)
            handler = True
    hosts: list[HostResult] = []
    interrupted = False
    try:
        async for result in engine.scan(resolved, total=total):
            if not keep(result):
                continue
            if retain(result, len(hosts)):
                hosts.append(result)
            if on_host is not None:
                on_host(result)
    except asyncio.CancelledError:
        interrupted = True
        if (uncancel := getattr(task, "uncancel", None)) is not None:
            uncancel()
    finally:
        if handler:
            loop.remove_signal_handler(signal.SIGINT)
    info = ScanInfo(
        started=started,
        finished=datetime.now(UTC),
        arguments=tuple(arguments),
        version=__version__,
        targets=target_set.tokens,
        interrupted=interrupted or engine.interrupted,
    )
    return ScanReport(info=info, hosts=tuple(hosts))


#: Streamed scans keep every host in memory up to this many; past it, only hosts
#: that answered, have findings or failed unexpectedly (a /8 sweep stays small).
RETAIN_ALL_MAX = 65536
_UNINTERESTING_ERRORS = frozenset({"refused", "timeout", "unreachable"})


def _retain_all(_host: HostResult, _retained: int) -> bool:
    return True


def _retain_bounded(host: HostResult, retained: int) -> bool:
    if retained < RETAIN_ALL_MAX:
        return True
    facts = host.facts
    return bool(
        facts.reachable or host.findings or any(e.kind not in _UNINTERESTING_ERRORS for e in facts.errors)
    )


def parse_targets(args: argparse.Namespace) -> TargetSet:
    return parse(
        args.targets,
        files=args.input_files,
        excludes=args.exclude,
        exclude_files=args.exclude_file,
        default_port=args.port,
    )


def run(
    args: argparse.Namespace,
    collector_factory: CollectorFactory | None = None,
    argv: Sequence[str] | None = None,
) -> int:
    """Entry point of ``smbguard scan``."""
    try:
        target_set = parse_targets(args)
    except TargetError as exc:
        print(f"smbguard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    out_stream: IO[str] = sys.stdout
    fmt = args.format or ("table" if args.output is None and sys.stdout.isatty() else "json")
    reporter = get_reporter(fmt)
    collector = (collector_factory or default_collector)(args)
    options = EngineOptions(
        concurrency=args.concurrency,
        rate=args.rate,
        timeout=args.timeout,
        retries=args.retries,
        preconnect={"auto": None, "on": True, "off": False}[args.sweep],
    )
    try:  # --shares / -u (share enumeration and credentialed audit, smbguard.cli.audit)
        collector, options = _audit.wrap_scan(args, collector, options)
    except AuthError as exc:
        print(f"smbguard scan: {exc}", file=sys.stderr)
        return EXIT_USAGE
    show_progress = args.progress == "on" or (args.progress == "auto" and sys.stderr.isatty())
    bar = ProgressLine(sys.stderr) if show_progress else None
    own_file = False
    try:
        if args.output:
            out_stream = open(args.output, "w", encoding="utf-8")  # noqa: SIM115 - closed below
            own_file = True
    except OSError as exc:
        print(f"smbguard scan: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        on_host = None
        json_writer: JsonStreamWriter | None = None
        retain: Callable[[HostResult, int], bool] = _retain_all
        if isinstance(reporter, StreamingReporter):
            streaming = reporter

            def on_host(host: HostResult) -> None:
                out_stream.write(streaming.render_host(host, args.lang))
                out_stream.flush()

        elif fmt == "json":
            json_writer = JsonStreamWriter()
            on_host = json_writer.host
        if on_host is not None:
            retain = _retain_bounded

        try:
            report = asyncio.run(
                run_scan(
                    target_set,
                    options,
                    collector,
                    evaluate=make_evaluator(args),
                    arguments=redact(argv if argv is not None else getattr(args, "argv", sys.argv[1:])),
                    on_host=on_host,
                    progress=bar,
                    keep=(lambda h: h.facts.reachable) if args.open_only else (lambda _h: True),
                    retain=retain,
                )
            )
        except TargetError as exc:
            if bar:
                bar.clear()
            print(f"smbguard scan: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if bar:
            bar.clear()
        if json_writer is not None:
            json_writer.finish(report.info, out_stream)
        else:
            before_render(reporter, report, args)
            out_stream.write(reporter.render(report, args.lang))
        out_stream.flush()
    finally:
        if own_file:
            out_stream.close()
    after_scan(report, args)
    if report.info.interrupted:
        written = json_writer.count if json_writer is not None else len(report.hosts)
        print(f"smbguard scan: interrupted; {written} hosts written", file=sys.stderr)
    return exit_code(report, args)
