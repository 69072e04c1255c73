"""Every argparse form of a secret option is hidden, and nothing else is touched."""

from __future__ import annotations

import pytest

from smbguard.cli import build_parser
from smbguard.redact import redact_arguments

SECRET = "hunter2-Zq9"


@pytest.mark.parametrize(
    "argv",
    [
        ["audit", "h", "-u", "a", "-p", SECRET],
        ["audit", "h", "-u", "a", f"-p{SECRET}"],
        ["audit", "h", "-u", "a", "--password", SECRET],
        ["audit", "h", "-u", "a", f"--password={SECRET}"],
        ["audit", "h", "-u", "a", "--passw", SECRET],
        ["audit", "h", "-u", "a", f"--pas={SECRET}"],
        ["audit", "h", "-u", "a", "-H", SECRET],
        ["audit", "h", "-u", "a", f"-H{SECRET}"],
        ["audit", "h", "-u", "a", "--hashes", SECRET],
        ["audit", "h", "-u", "a", "--hash", SECRET],
        ["scan", "h", "-u", "a", "--nthash", SECRET],
    ],
)
def test_secret_value_hidden_in_every_form(argv: list[str]) -> None:
    redacted = redact_arguments(argv)
    assert len(redacted) == len(argv)
    assert not any(SECRET in arg for arg in redacted), redacted
    assert redacted[:4] == argv[:4]


def test_forms_the_real_parser_accepts_are_the_forms_hidden() -> None:
    parser = build_parser()
    for form in (["-p", SECRET], [f"-p{SECRET}"], ["--passw", SECRET], [f"--password={SECRET}"]):
        args = parser.parse_args(["audit", "127.0.0.1", "-u", "a", *form])
        assert args.password == SECRET
        assert SECRET not in " ".join(redact_arguments(["audit", "127.0.0.1", "-u", "a", *form]))


def test_other_arguments_untouched() -> None:
    argv = ["scan", "10.0.0.0/24", "--port", "445", "--progress", "off", "-o", "out.json", "--pa"]
    # "--pa" abbreviates --password: the value after it (none here) would be hidden
    assert redact_arguments(argv[:-1]) == argv[:-1]
    assert redact_arguments(["-u", "admin", "-d", "CORP"]) == ["-u", "admin", "-d", "CORP"]
