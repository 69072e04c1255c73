"""``smbguard audit`` command line: credential sources, usage errors, the findings table."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from smbguard.cli import audit, build_parser
from smbguard.model import (
    Confidence,
    Finding,
    HostFacts,
    HostResult,
    PortState,
    ScanInfo,
    ScanReport,
    Severity,
    Status,
    Target,
)

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("SMBGUARD_")}
    base["PYTHONPATH"] = SRC
    return subprocess.run(
        [sys.executable, "-m", "smbguard", *args],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**base, **(env or {})},
    )


def test_missing_secret_without_a_terminal_is_a_usage_error() -> None:
    proc = _cli("audit", "127.0.0.1:4617", "-u", "admin", "--no-store")
    assert proc.returncode == 2
    assert "no password given" in proc.stderr


def test_user_is_required() -> None:
    proc = _cli("audit", "127.0.0.1:4617")
    assert proc.returncode == 2 and "-u" in proc.stderr


def test_bad_hash_is_rejected_without_echoing_it() -> None:
    proc = _cli("audit", "127.0.0.1:4617", "-u", "admin", "-H", "not-a-hash-Zq81", "--no-store")
    assert proc.returncode == 2
    assert "not-a-hash-Zq81" not in proc.stderr + proc.stdout


def test_credentials_from_args_hides_the_values() -> None:
    args = build_parser().parse_args(["audit", "h", "-u", "CORP\\auditor", "-p", "S3cret-Val"])
    creds = audit.credentials_from_args(args)
    assert creds is not None and creds.account == "CORP\\auditor" and creds.password() == "S3cret-Val"
    assert args.password == "***"
    assert "S3cret-Val" not in repr(vars(args))


def test_scan_without_shares_or_user_keeps_its_collector() -> None:
    args = build_parser().parse_args(["scan", "127.0.0.1"])

    async def collector(target: Target) -> HostFacts:
        return HostFacts(target=target, port_state=PortState.CLOSED)

    from smbguard.engine import EngineOptions

    options = EngineOptions()
    assert audit.wrap_scan(args, collector, options) == (collector, options)
    args = build_parser().parse_args(["scan", "127.0.0.1", "--shares"])
    wrapped, more = audit.wrap_scan(args, collector, options)
    assert wrapped is not collector and more.host_budget > options.host_budget


def test_findings_table_cleans_share_names() -> None:
    facts = HostFacts(target=Target("192.0.2.9"), port_state=PortState.OPEN)
    finding = Finding(
        id="share-readable-without-credentials",
        severity=Severity.HIGH,
        address="192.0.2.9",
        port=445,
        status=Status.AFFECTED,
        confidence=Confidence.CONFIRMED,
        evidence={"share": "evil\x1b[31m\nname"},
        share="evil\x1b[31m\nname",
    )
    report = ScanReport(
        info=ScanInfo(started=datetime.now(UTC), finished=None, arguments=(), version="t"),
        hosts=(HostResult(facts=facts, findings=(finding,)),),
    )
    text = audit.findings_table(report, "zh-TW")
    assert "\x1b" not in text and "evil" in text
    assert "共用資料夾未經驗證即可讀取" in text
    assert audit.findings_table(ScanReport(report.info, ()), "en").strip() == "no findings"


def test_parser_accepts_every_documented_option() -> None:
    args = build_parser().parse_args(
        [
            "audit", "10.0.0.1", "-u", "a", "-d", "D", "-H", "8846f7eaee8fb117ad06bdd830b7586c",
            "--check-write", "--snapshot-max-age", "3", "--no-anonymous", "--no-registry", "--no-scan",
            "--timeout", "5", "--host-timeout", "60", "--concurrency", "4", "--format", "json",
            "-o", "x.json", "--lang", "zh-TW", "--no-store",
        ]
    )  # fmt: skip
    assert isinstance(args, argparse.Namespace)
    assert args.snapshot_max_age == 3.0 and args.check_write and args.no_scan
