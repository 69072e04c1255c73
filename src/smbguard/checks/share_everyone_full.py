"""``share-everyone-full-control``: a broad principal holds Full Control (it can also
change permissions and take ownership) in both the share-level and root folder ACLs.
See :mod:`smbguard.checks._share_acl`."""

from __future__ import annotations

from smbguard.checks._share_acl import run_for
from smbguard.checks.base import Check
from smbguard.model import CheckResult, HostFacts

ID = "share-everyone-full-control"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    return run_for(ID, "full", facts)


CHECK = Check(id=ID, run=run, needs=("shares", "audit"))
