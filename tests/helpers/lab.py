"""Run the SMB emulator (``python -m smbguard.lab``) as a child process for tests.

Usage, in a module-scoped fixture (each test module uses its own address range)::

    from tests.helpers.lab import lab_process

    @pytest.fixture(scope="module")
    def lab() -> Iterator[dict[str, personas.Persona]]:
        with lab_process("127.0.44", 45544) as layout:   # address -> persona
            yield layout
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from smbguard.lab import personas

SRC = Path(__file__).resolve().parents[2] / "src"


def checkout_env() -> dict[str, str]:
    """The environment with this checkout's ``src`` first on PYTHONPATH, so child
    processes run this code, whatever the installed package points at."""
    path = os.pathsep.join(filter(None, [str(SRC), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "PYTHONPATH": path}


@contextmanager
def lab_process(base: str, port: int) -> Iterator[dict[str, personas.Persona]]:
    """The lab's default layout on ``{base}.x:port``: yields address -> persona once the
    child prints READY, and terminates the child (by its own handle) on exit."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "smbguard.lab", "--base", f"{base}.0", "--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env=checkout_env(),
    )
    try:
        assert proc.stdout is not None
        layout: dict[str, personas.Persona] = {}
        for line in proc.stdout:
            if line.strip() == "READY":
                break
            hostport, key = line.split()
            layout[hostport.rsplit(":", 1)[0]] = personas.BY_KEY[key]
        yield layout
    finally:
        proc.terminate()
        proc.wait(10)
