"""``cve-2020-0796``: SMBGhost, SMBv3.1.1 compression buffer overflow (wormable RCE).

Affected: Windows 10 / Server version 1903 (build 18362) and 1909 (18363)
before KB4551762 (UBR 720). See :mod:`smbguard.checks._compression` for what
a remote check can and cannot know.
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks._compression import judge
from smbguard.checks.base import Check
from smbguard.model import CheckResult, HostFacts

ID = "cve-2020-0796"
#: Affected build -> first fixed UBR (KB4551762, 2020-03-12: 18362.720 / 18363.720).
FIXED_UBR = {18362: 720, 18363: 720}


def run(facts: HostFacts) -> Iterable[CheckResult]:
    return judge(ID, facts, FIXED_UBR, "KB4551762")


CHECK = Check(id=ID, run=run, needs=("smb2", "ntlm", "audit"))
