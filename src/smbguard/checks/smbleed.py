"""``cve-2020-1206``: SMBleed, SMBv3.1.1 decompression memory disclosure.

Same component as SMBGhost. Affected: Windows 10 / Server 1903 (18362), 1909
(18363) and 2004 (19041) before the June 2020 updates (KB4560960: 18362.900 /
18363.900; KB4557957: 19041.329).
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks._compression import judge
from smbguard.checks.base import Check
from smbguard.model import CheckResult, HostFacts

ID = "cve-2020-1206"
FIXED_UBR = {18362: 900, 18363: 900, 19041: 329}


def run(facts: HostFacts) -> Iterable[CheckResult]:
    return judge(ID, facts, FIXED_UBR, "KB4560960 / KB4557957")


CHECK = Check(id=ID, run=run, needs=("smb2", "ntlm", "audit"))
