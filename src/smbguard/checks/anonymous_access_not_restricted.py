"""``anonymous-access-not-restricted``: registry settings that let anonymous (null
session) users enumerate or reach things, versus the CIS "Network access" settings:

- Lsa RestrictAnonymous = 0 (default): anonymous enumeration of shares allowed
- Lsa RestrictAnonymousSAM = 0: anonymous enumeration of SAM accounts allowed
- Lsa EveryoneIncludesAnonymous = 1: Everyone permissions apply to anonymous users
- LanmanServer RestrictNullSessAccess = 0: null sessions reach any pipe and share
- LanmanServer NullSessionShares / NullSessionPipes not empty
"""

from __future__ import annotations

from smbguard.checks._audit import LANMAN, LSA, registry_reason
from smbguard.checks._regcheck import dword, registry_audit, value
from smbguard.checks.base import Check
from smbguard.checks.common import result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "anonymous-access-not-restricted"

# name -> (default when not set, predicate "is weak")
DWORDS: dict[str, tuple[int, int]] = {
    LSA + "RestrictAnonymous": (0, 0),
    LSA + "RestrictAnonymousSAM": (1, 0),
    LSA + "EveryoneIncludesAnonymous": (0, 1),
    LANMAN + "RestrictNullSessAccess": (1, 0),
}
LISTS = (LANMAN + "NullSessionShares", LANMAN + "NullSessionPipes")


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    audit = registry_audit(facts, ID)
    if isinstance(audit, tuple):
        return audit
    weak: list[str] = []
    unread: list[str] = []
    evidence: dict[str, JsonValue] = {}
    for name, (default, bad) in DWORDS.items():
        number = dword(audit, name, default)
        if number is None:
            unread.append(registry_reason(audit, name))
            continue
        evidence[name] = number
        if number == bad:
            weak.append(f"{name.rsplit(chr(92), 1)[-1]} = {number}")
    for name in LISTS:
        read, raw = value(audit, name)
        if not read:
            unread.append(registry_reason(audit, name))
            continue
        items = [x for x in str(raw or "").splitlines() if x.strip()]
        evidence[name] = list(items)
        if items:
            weak.append(f"{name.rsplit(chr(92), 1)[-1]} = {', '.join(items)}")
    if weak:
        evidence["weak"] = list(weak)
        return result(ID, Status.AFFECTED, evidence=evidence)
    if unread:
        return unknown(ID, "; ".join(unread), evidence)
    return result(ID, Status.NOT_AFFECTED, evidence=evidence)


CHECK = Check(id=ID, run=run, needs=("audit.registry",))
