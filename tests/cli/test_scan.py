"""``smbguard scan`` end to end with a stand-in collector (no network): target
errors, formats, files, --open, redaction, Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from smbguard.cli import build_parser
from smbguard.cli import scan as scan_cli
from smbguard.engine import Collector
from smbguard.model import HostFacts, PortState, Target
from tests.report.samples import samba_smb1_guest
from tests.report.test_json import HOST_VALIDATOR, VALIDATOR


def fake_factory(
    calls: list[Target], delay: float = 0.0, on_call: Callable[[int], None] | None = None
) -> Callable[[argparse.Namespace], Collector]:
    def factory(_args: argparse.Namespace) -> Collector:
        async def collect(target: Target) -> HostFacts:
            calls.append(target)
            if on_call is not None:
                on_call(len(calls))
            await asyncio.sleep(delay)
            last = int(target.address.rsplit(".", 1)[1])
            if last % 2 == 0:
                return HostFacts(target=target, port_state=PortState.CLOSED)
            facts = samba_smb1_guest(target.address, name=f"HOST{last}")
            return dataclasses.replace(facts, target=target)

        return collect

    return factory


def run(argv: list[str], factory: Callable[[argparse.Namespace], Collector]) -> int:
    # --no-store: tests never write the user's scan history
    args = build_parser().parse_args(["scan", *argv, "--no-store"])
    return scan_cli.run(args, collector_factory=factory, argv=["scan", *argv])


def test_bad_target_exits_2_naming_it_and_sends_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[Target] = []
    made: list[bool] = []

    def factory(args: argparse.Namespace) -> Collector:
        made.append(True)
        return fake_factory(calls)(args)

    assert run(["127.0.12.1", "127.0.12.300"], factory) == 2
    err = capsys.readouterr().err
    assert "'127.0.12.300'" in err and err.count("\n") == 1
    assert calls == [] and made == []


def test_json_to_file_validates_against_schema(tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    calls: list[Target] = []
    code = run(
        ["127.0.12.1-4", "--exclude", "127.0.12.3", "--format", "json", "-o", str(out)], fake_factory(calls)
    )
    assert code == 0
    doc = json.loads(out.read_text())
    VALIDATOR.validate(doc)
    assert sorted(h["address"] for h in doc["hosts"]) == ["127.0.12.1", "127.0.12.2", "127.0.12.4"]
    assert doc["scan"]["targets"] == ["127.0.12.1-4"]
    assert doc["scan"]["arguments"][:2] == ["scan", "127.0.12.1-4"]
    assert doc["scan"]["interrupted"] is False
    one = next(h for h in doc["hosts"] if h["address"] == "127.0.12.1")
    assert one["ntlm"]["netbios_computer"] == "HOST1"
    assert {c.address for c in calls} == {"127.0.12.1", "127.0.12.2", "127.0.12.4"}


def test_jsonl_streams_hosts_and_open_filters(capsys: pytest.CaptureFixture[str]) -> None:
    code = run(["127.0.12.1-6", "--format", "jsonl", "--open"], fake_factory([]))
    assert code == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    for line in lines:
        obj = json.loads(line)
        HOST_VALIDATOR.validate(obj)
        assert obj["reachable"] is True


def test_target_file_and_exclude_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "t.txt").write_text("127.0.12.1\n127.0.12.3 # comment\n127.0.12.5\n")
    (tmp_path / "x.txt").write_text("127.0.12.3\n")
    calls: list[Target] = []
    code = run(
        ["-iL", str(tmp_path / "t.txt"), "--exclude-file", str(tmp_path / "x.txt"), "--format", "table"],
        fake_factory(calls),
    )
    assert code == 0
    out = capsys.readouterr().out
    assert "HOST1" in out and "HOST5" in out and "127.0.12.3" not in out
    assert sorted(c.address for c in calls) == ["127.0.12.1", "127.0.12.5"]


def test_missing_target_file_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["-iL", str(tmp_path / "missing.txt")], fake_factory([])) == 2
    assert "missing.txt" in capsys.readouterr().err


def test_no_targets_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert run([], fake_factory([])) == 2
    assert "no targets" in capsys.readouterr().err


def test_port_option_and_host_port_token(capsys: pytest.CaptureFixture[str]) -> None:
    calls: list[Target] = []
    assert (
        run(["127.0.12.1", "127.0.12.3:4455", "--port", "139", "--format", "json"], fake_factory(calls)) == 0
    )
    assert sorted((c.address, c.port) for c in calls) == [("127.0.12.1", 139), ("127.0.12.3", 4455)]


def test_redact_hides_secret_values() -> None:
    assert scan_cli.redact(["scan", "-u", "bob", "-p", "hunter2", "--hashes=aa:bb", "-H", "x"]) == (
        "scan",
        "-u",
        "bob",
        "-p",
        "***",
        "--hashes=***",
        "-H",
        "***",
    )


def test_ctrl_c_writes_what_was_found(tmp_path: Path) -> None:
    out = tmp_path / "partial.json"
    calls: list[Target] = []

    def interrupt(n: int) -> None:
        if n == 6:
            os.kill(os.getpid(), signal.SIGINT)

    code = run(
        ["127.0.12.1-40", "--concurrency", "2", "--format", "json", "-o", str(out)],
        fake_factory(calls, delay=0.05, on_call=interrupt),
    )
    assert code == 130
    doc = json.loads(out.read_text())
    VALIDATOR.validate(doc)
    assert doc["scan"]["interrupted"] is True
    assert 3 <= len(doc["hosts"]) < 40
    assert len(calls) < 40


def test_progress_line_format() -> None:
    import io

    from smbguard.engine import Progress

    buf = io.StringIO()
    bar = scan_cli.ProgressLine(buf)
    bar(Progress(done=50, total=100, open=3, elapsed=2.0))
    text = buf.getvalue()
    assert "50/100 hosts" in text and "3 open" in text and "25/s" in text and "ETA 0:02" in text
    bar.clear()


def test_probe_options_follow_the_command_line() -> None:
    args = build_parser().parse_args(["scan", "127.0.0.1", "--timeout", "1.5", "--no-null-session"])
    opts = scan_cli.probe_options(args)
    assert opts.limits.connect_timeout == 1.5 and opts.limits.read_timeout == 1.5
    assert opts.null_sessions is False
    assert scan_cli.probe_options(build_parser().parse_args(["scan", "x"])).null_sessions is True


def test_streamed_json_keeps_memory_bounded_but_writes_every_host(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scan_cli, "RETAIN_ALL_MAX", 2)
    seen: list[int] = []
    monkeypatch.setattr(scan_cli, "after_scan", lambda report, _args: seen.append(len(report.hosts)))
    out = tmp_path / "big.json"
    assert run(["127.0.12.1-10", "--format", "json", "-o", str(out)], fake_factory([])) == 0
    doc = json.loads(out.read_text())
    VALIDATOR.validate(doc)
    assert len(doc["hosts"]) == 10 and doc["scan"]["host_count"] == 10
    # 2 kept unconditionally, then only the (odd-numbered) open hosts
    assert 2 < seen[0] < 10


def test_targets_may_follow_options(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from smbguard import cli

    calls: list[Target] = []
    monkeypatch.setattr(scan_cli, "default_collector", fake_factory(calls))
    code = cli.main(
        [
            "scan",
            "127.0.12.1",
            "--port",
            "4455",
            "127.0.12.3",
            "--format",
            "jsonl",
            "127.0.12.5",
            "--no-store",
        ]
    )
    assert code == 0
    assert sorted((c.address, c.port) for c in calls) == [
        ("127.0.12.1", 4455),
        ("127.0.12.3", 4455),
        ("127.0.12.5", 4455),
    ]
    with pytest.raises(SystemExit):
        cli.main(["scan", "127.0.12.1", "--bogus-option"])
    assert "unrecognized arguments: --bogus-option" in capsys.readouterr().err
