"""``share-everyone-write``: Everyone / Authenticated Users / Domain Users / Guests /
Anonymous (or BUILTIN\\Users) may write to a share, per the share-level and root
folder ACLs. See :mod:`smbguard.checks._share_acl`."""

from __future__ import annotations

from smbguard.checks._share_acl import run_for
from smbguard.checks.base import Check
from smbguard.model import CheckResult, HostFacts

ID = "share-everyone-write"


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    return run_for(ID, "write", facts)


CHECK = Check(id=ID, run=run, needs=("shares", "audit"))
