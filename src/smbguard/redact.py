"""Removing secrets from command lines before they are stored or reported.

One function serves every place that records a command line (the scan report's
``scan.arguments``, the history database), so a secret hidden in one is hidden
in all. It hides the value of every secret option in each form argparse accepts:
``-p X``, ``-pX``, ``--password X``, ``--password=X`` and unambiguous
abbreviations such as ``--passw X``. Over-hiding is harmless; a leak is not.
"""

from __future__ import annotations

from collections.abc import Sequence

SECRET_LONG_OPTIONS = ("--password", "--pass", "--hashes", "--nthash", "--aes-key")
SECRET_SHORT_OPTIONS = ("-p", "-H")
MASK = "***"


def _is_secret_long(name: str) -> bool:
    # argparse accepts any unambiguous prefix of a long option ("--passw"); "--p" alone is
    # ambiguous with --port/--progress and rejected by argparse, so two letters are needed.
    return len(name) > 3 and any(option.startswith(name) for option in SECRET_LONG_OPTIONS)


def redact_arguments(argv: Sequence[str]) -> list[str]:
    """``argv`` with the value of every secret option replaced by ``***``."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(MASK)
            hide_next = False
            continue
        if arg.startswith("--"):
            name, eq, _value = arg.partition("=")
            if _is_secret_long(name):
                if eq:
                    out.append(f"{name}={MASK}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        elif arg[:2] in SECRET_SHORT_OPTIONS:
            if len(arg) == 2:
                out.append(arg)
                hide_next = True
            else:
                out.append(arg[:2] + MASK)  # -pSECRET, -p=SECRET
            continue
        out.append(arg)
    return out
