"""The check interface: a check is a pure function of :class:`HostFacts`.

Each check lives in its own module under ``smbguard.checks`` and exposes a
module-level ``CHECK = Check(id=..., run=...)``. The module list in
``smbguard.checks.registry`` registers them explicitly (no discovery by import
side effects). ``run`` returns one or more :class:`CheckResult` (several when a
check judges each share separately); it never performs I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from smbguard.model import CheckResult, HostFacts

CheckFn = Callable[[HostFacts], Iterable[CheckResult]]


@dataclass(frozen=True, slots=True)
class Check:
    """A registered check. ``id`` equals the catalog entry's id."""

    id: str
    run: CheckFn
    needs: tuple[str, ...] = ()  # documentation only: which facts it reads
