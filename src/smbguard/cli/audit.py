"""``smbguard audit``: the credentialed audit, plus anonymous/guest share access.

    smbguard audit TARGETS -u USER [-d DOMAIN] (-p PASSWORD | -H NTHASH | --kerberos)
        [--check-write] [--snapshot-max-age DAYS] [--format table|json|jsonl] [-o FILE]

For each host: the unauthenticated scanner facts (as ``smbguard scan``), then
null/guest share enumeration and access, then with the account: share and root
folder ACLs (SIDs resolved over LSA), password and lockout policy (SAMR),
hardening registry values and patch level (winreg, when the RemoteRegistry
service runs), and previous-version snapshots per share. Every check runs on the
merged facts; the report is the same JSON/table as ``smbguard scan``.

The secret comes from ``-p``/``-H``, else ``SMBGUARD_PASSWORD`` /
``SMBGUARD_NTHASH``, else a prompt. It never reaches the report, the history
database, a log line or an error message, and is overwritten in the process
title. ``add_scan_arguments`` / ``share_collector`` give ``smbguard scan`` its
``--shares`` option (anonymous/guest share enumeration) from this module.

Exit codes: 0 done (findings or not), 1 internal error, 2 bad usage, target or
credentials, 3 the account was refused on every host, 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
from typing import IO, TYPE_CHECKING, Any

from smbguard.auth.credentials import Credentials, scrub_process_title
from smbguard.engine import Collector, EngineOptions
from smbguard.errors import AuthError, StoreError, TargetError
from smbguard.model import HostFacts, PortState, ScanReport, Target
from smbguard.report import REPORTERS, StreamingReporter, get_reporter

if TYPE_CHECKING:  # impacket is imported only when shares or an audit are asked for
    from smbguard.auth.collect import AuditOptions

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_USAGE = 2
EXIT_AUTH = 3
EXIT_INTERRUPTED = 130


def register(sub: Any) -> None:
    parser = sub.add_parser(
        "audit",
        help="credentialed audit: share ACLs, password policy, hardening registry, patch level, snapshots",
        description="Audit SMB hosts with an account (read-only): share-level and folder ACLs, password and "
        "lockout policy, hardening registry values, patch level, snapshots; also anonymous/guest share "
        "access. "
        "Exit codes: 0 done, 1 internal error, 2 bad usage/target/credentials, 3 account refused everywhere, "
        "130 interrupted.",
    )
    tg = parser.add_argument_group("targets")
    tg.add_argument("targets", nargs="*", metavar="TARGET", help="addresses, ranges, CIDR, names, host:port")
    tg.add_argument(
        "-iL", dest="input_files", action="append", default=[], metavar="FILE", help="targets file"
    )
    tg.add_argument("--exclude", action="append", default=[], metavar="TARGETS", help="skip these addresses")
    tg.add_argument(
        "--exclude-file", action="append", default=[], metavar="FILE", help="skip targets in FILE"
    )
    tg.add_argument("--port", type=int, default=445, help="TCP port when a target gives none (default 445)")

    add_credential_arguments(parser, required=True)

    au = parser.add_argument_group("audit")
    au.add_argument(
        "--check-write",
        action="store_true",
        help="test anonymous/guest write access: create an empty uniquely named file and delete it at once",
    )
    au.add_argument(
        "--snapshot-max-age",
        type=_positive_float,
        default=7.0,
        metavar="DAYS",
        help="report shares whose newest snapshot is older than DAYS (default 7)",
    )
    au.add_argument("--no-anonymous", action="store_true", help="skip the null/guest share access tests")
    au.add_argument("--no-registry", action="store_true", help="do not read the remote registry")
    au.add_argument(
        "--no-scan",
        action="store_true",
        help="skip the unauthenticated scanner probes (dialects, signing ...)",
    )
    au.add_argument(
        "--timeout", type=_positive_float, default=10.0, help="seconds per network read (default 10)"
    )
    au.add_argument(
        "--host-timeout",
        type=_positive_float,
        default=300.0,
        help="seconds per host, all steps (default 300)",
    )
    au.add_argument("--concurrency", type=int, default=8, help="hosts in parallel (default 8)")

    out = parser.add_argument_group("output")
    out.add_argument(
        "--format", choices=sorted(REPORTERS), default=None, help="table on a terminal, else json"
    )
    out.add_argument("-o", "--output", metavar="FILE", help="write the report to FILE")
    out.add_argument("--lang", choices=("en", "zh-TW"), default="en", help="report language (default en)")
    from smbguard.store import add_store_arguments

    add_store_arguments(out, no_store=True)
    parser.set_defaults(func=run)


def add_credential_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    """``-u/-d/-p/-H/--kerberos/--kdc-host``. Secrets may also come from the environment."""
    cr = parser.add_argument_group(
        "credentials",
        "the secret may also come from SMBGUARD_PASSWORD / SMBGUARD_NTHASH or a prompt (safer than -p: "
        "command lines are visible to local users and kept in shell history)",
    )
    cr.add_argument("-u", "--user", required=required, help="account name (DOMAIN\\user also accepted)")
    cr.add_argument("-d", "--domain", default="", help="domain or workgroup of the account")
    secret = cr.add_mutually_exclusive_group()
    secret.add_argument("-p", "--password", default=None, help="password ('-' to be prompted)")
    secret.add_argument("-H", "--hashes", dest="nthash", default=None, metavar="NTHASH", help="NT hash")
    secret.add_argument(
        "--kerberos", action="store_true", help="Kerberos (ticket from KRB5CCNAME or password)"
    )
    cr.add_argument("--kdc-host", default=None, help="KDC address for --kerberos")


def credentials_from_args(args: argparse.Namespace) -> Credentials | None:
    """Build the credentials (or None without ``-u``), then hide the secret from ``ps``."""
    if not getattr(args, "user", None):
        return None
    interactive = sys.stdin.isatty()
    creds = Credentials.from_options(
        args.user,
        args.domain,
        password=args.password,
        nthash=args.nthash,
        kerberos=args.kerberos,
        kdc_host=args.kdc_host,
        prompt=None if not interactive else _prompt,
    )
    forms = tuple(f for f in (args.password, args.nthash) if f and f != "-")
    scrub_process_title(forms)
    # Drop the plain values from places that are printed or stored.
    args.password = None if args.password is None else "***"
    args.nthash = None if args.nthash is None else "***"
    sys.argv[:] = [("***" if a in forms else a) for a in sys.argv]
    return creds


def _prompt(text: str) -> str:
    import getpass

    return getpass.getpass(text)


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError("must be > 0")
    return value


def audit_options(args: argparse.Namespace) -> AuditOptions:
    from smbguard.auth.collect import AuditOptions

    return AuditOptions(
        timeout=args.timeout,
        host_timeout=args.host_timeout,
        check_write=bool(getattr(args, "check_write", False)),
        snapshot_max_age_days=getattr(args, "snapshot_max_age", 7.0),
        anonymous=not getattr(args, "no_anonymous", False),
        registry=not getattr(args, "no_registry", False),
    )


def share_collector(base: Collector | None, creds: Credentials | None, options: AuditOptions) -> Collector:
    """A collector: ``base`` (the scanner's probes, or None) then the share
    enumeration / credentialed audit of each reachable host, merged."""
    from smbguard.auth.collect import audit_host, merge_share_facts

    async def collect(target: Target) -> HostFacts:
        facts = await base(target) if base is not None else None
        if facts is not None and facts.port_state is not PortState.OPEN:
            return facts
        extra = await audit_host(target, creds, options)
        return extra if facts is None else merge_share_facts(facts, extra)

    return collect


# -- the hook for `smbguard scan --shares` -------------------------------------------------------
def add_scan_arguments(parser: argparse.ArgumentParser) -> None:
    """``smbguard scan`` options: ``--shares`` (anonymous/guest share enumeration and
    access), ``--check-write`` and, optionally, credentials for a full audit."""
    sh = parser.add_argument_group("shares (anonymous and guest; with -u: the credentialed audit)")
    sh.add_argument(
        "--shares",
        action="store_true",
        help="list shares over null and guest sessions (srvsvc over IPC$, SMB2/3 and SMB1), test read access",
    )
    sh.add_argument(
        "--check-write",
        action="store_true",
        help="with --shares: test anonymous/guest write (creates and at once deletes an empty file)",
    )
    sh.add_argument(
        "--snapshot-max-age", type=_positive_float, default=7.0, metavar="DAYS", help="with -u (default 7)"
    )
    add_credential_arguments(parser, required=False)


def wrap_scan(
    args: argparse.Namespace, collector: Collector, options: EngineOptions
) -> tuple[Collector, EngineOptions]:
    """What ``smbguard scan`` calls: with ``--shares`` or ``-u``, the collector also
    enumerates shares / audits, and each host gets a larger time budget."""
    wrapped = wrap_scan_collector(args, collector)
    if wrapped is collector:
        return collector, options
    budget = options.host_budget + max(args.timeout * 40, 120.0)
    return wrapped, dataclasses.replace(options, host_timeout=budget)


def wrap_scan_collector(args: argparse.Namespace, base: Collector) -> Collector:
    """What ``smbguard scan`` calls with its collector: unchanged unless ``--shares``
    or ``-u`` was given. Raises :class:`AuthError` for unusable credentials."""
    creds = credentials_from_args(args)
    if not getattr(args, "shares", False) and creds is None:
        return base
    from smbguard.auth.collect import AuditOptions

    options = AuditOptions(
        timeout=max(args.timeout, 5.0),
        host_timeout=max(args.timeout * 40, 120.0),
        check_write=bool(getattr(args, "check_write", False)),
        snapshot_max_age_days=getattr(args, "snapshot_max_age", 7.0),
        anonymous=bool(getattr(args, "shares", False)) and not getattr(args, "no_null_session", False),
    )
    return share_collector(base, creds, options)


# -- smbguard audit --------------------------------------------------------------------------------
def run(args: argparse.Namespace) -> int:
    """Entry point of ``smbguard audit``."""
    from smbguard.cli import scan

    try:
        creds = credentials_from_args(args)
    except AuthError as exc:
        print(f"smbguard audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except (EOFError, KeyboardInterrupt):
        print("smbguard audit: no password given", file=sys.stderr)
        return EXIT_USAGE
    try:
        target_set = scan.parse_targets(args)
    except TargetError as exc:
        print(f"smbguard audit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    options = audit_options(args)
    base: Collector | None = None
    if not args.no_scan:
        args.no_null_session = args.no_anonymous
        args.ms17_010 = True
        args.doublepulsar = True
        scan_args = argparse.Namespace(**vars(args))
        scan_args.timeout = min(args.timeout, 5.0)
        base = scan.default_collector(scan_args)
    collector = share_collector(base, creds, options)
    engine_options = EngineOptions(
        concurrency=max(1, args.concurrency),
        timeout=args.timeout,
        preconnect=False,
        host_timeout=args.host_timeout + 60,
    )
    fmt = args.format or ("table" if args.output is None and sys.stdout.isatty() else "json")
    reporter = get_reporter(fmt)
    try:
        out_stream: IO[str] = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    except OSError as exc:
        print(f"smbguard audit: cannot write {args.output}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    try:
        on_host = None
        if isinstance(reporter, StreamingReporter):
            streaming = reporter

            def on_host(host: Any) -> None:
                out_stream.write(streaming.render_host(host, args.lang))
                out_stream.flush()

        report = asyncio.run(
            scan.run_scan(
                target_set,
                engine_options,
                collector,
                evaluate=scan.make_evaluator(args),
                arguments=scan.redact(getattr(args, "argv", sys.argv[1:])),
                on_host=on_host,
            )
        )
        out_stream.write(reporter.render(report, args.lang))
        if fmt == "table":
            out_stream.write(findings_table(report, args.lang))
        out_stream.flush()
    finally:
        if out_stream is not sys.stdout:
            out_stream.close()
    _store(report, args)
    return _exit_code(report, creds)


def _store(report: ScanReport, args: argparse.Namespace) -> None:
    if getattr(args, "no_store", True):
        return
    try:
        from smbguard.store import db_path_from_args, save_scan

        save_scan(report, db_path_from_args(args))
    except (ImportError, StoreError, OSError) as exc:
        print(f"smbguard audit: history not saved: {exc}", file=sys.stderr)


def _exit_code(report: ScanReport, creds: Credentials | None) -> int:
    if report.info.interrupted:
        return EXIT_INTERRUPTED
    audited = [h.facts.audit for h in report.hosts if h.facts.audit is not None]
    if creds is not None and audited and not any(a.authenticated for a in audited):
        for host in report.hosts:
            audit = host.facts.audit
            if audit is not None:
                reasons = "; ".join(e.message for e in audit.errors) or "not authenticated"
                print(f"smbguard audit: {host.facts.target}: {reasons}", file=sys.stderr)
        return EXIT_AUTH
    return EXIT_OK


def findings_table(report: ScanReport, lang: str = "en") -> str:
    """One line per finding: host, severity, id, share, confidence and title, worst first.
    Server-supplied share names are cleaned of control characters."""
    from smbguard.catalog import load_catalog
    from smbguard.report.table import clean

    catalog = load_catalog()
    rows: list[tuple[str, ...]] = []
    for host in sorted(report.hosts, key=lambda h: (h.facts.target.address, h.facts.target.port)):
        for f in host.findings:
            entry = catalog.get(f.id)
            title = entry.title(lang) if entry is not None else f.id
            rows.append(
                (
                    str(host.facts.target),
                    f.severity.label,
                    f.id,
                    clean(f.share or "-", 24),
                    f.confidence.value,
                    title,
                )
            )
    if not rows:
        return "\nno findings\n"
    headers = ("HOST", "SEVERITY", "FINDING", "SHARE", "CONFIDENCE", "TITLE")
    widths = [max(len(r[i]) for r in [headers, *rows]) for i in range(5)]
    lines = ["", "  ".join(h.ljust(w) for h, w in zip(headers, [*widths, 0], strict=False)).rstrip()]
    for row in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, [*widths, 0], strict=False)).rstrip())
    return "\n".join(lines) + "\n"
