"""--fail-on exit codes."""

from __future__ import annotations

import argparse
from dataclasses import replace

import pytest

from smbguard.model import Severity
from smbguard.report.exitcodes import EXIT_FINDINGS, EXIT_INTERRUPTED, add_fail_on_argument, exit_code, worst
from tests.report.sample import sample_report


def test_worst_severity_of_sample_is_high() -> None:
    assert worst(sample_report().hosts) is Severity.HIGH
    assert worst(()) is None


@pytest.mark.parametrize(
    ("level", "code"),
    [(None, 0), (Severity.INFO, EXIT_FINDINGS), (Severity.HIGH, EXIT_FINDINGS), (Severity.CRITICAL, 0)],
)
def test_exit_code(level: Severity | None, code: int) -> None:
    assert exit_code(sample_report(), level) == code


def test_clean_report_exits_zero_and_interrupted_wins() -> None:
    report = sample_report()
    clean = replace(report, hosts=tuple(replace(h, findings=()) for h in report.hosts))
    assert exit_code(clean, Severity.INFO) == 0
    interrupted = replace(report, info=replace(report.info, interrupted=True))
    assert exit_code(interrupted, Severity.INFO) == EXIT_INTERRUPTED


def test_argument_parsing() -> None:
    parser = argparse.ArgumentParser()
    add_fail_on_argument(parser)
    assert parser.parse_args(["--fail-on", "High"]).fail_on is Severity.HIGH
    assert parser.parse_args([]).fail_on is None
    with pytest.raises(SystemExit):
        parser.parse_args(["--fail-on", "urgent"])
