"""``anonymous-share-listing``: the share list (srvsvc NetShareEnumAll over IPC$) was
returned to a null session or to a guest session, over SMB2/3 or SMB1.

Reads ``HostFacts.share_listing`` ("null/smb2" -> "listed" | "denied: ..." | ...).
Not affected only when every anonymous attempt was refused (or the dialect is not
spoken); any other failure leaves the question open (UNKNOWN)."""

from __future__ import annotations

from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable, result, unknown
from smbguard.model import CheckResult, HostFacts, JsonValue, Status

ID = "anonymous-share-listing"
_IDENTITIES = ("null", "guest")


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    attempts = {k: v for k, v in facts.share_listing.items() if k.split("/")[0] in _IDENTITIES}
    if not attempts:
        return unknown(ID, "anonymous share enumeration was not run (smbguard scan --shares, smbguard audit)")
    listed = sorted(k for k, v in attempts.items() if v == "listed")
    evidence: dict[str, JsonValue] = {"attempts": dict(sorted(attempts.items()))}
    if listed:
        who = {k.split("/")[0] for k in listed}
        names = sorted(s.name for s in facts.shares or () if s.listed_by in who)
        evidence.update({"listed_by": list(listed), "shares": list(names)})
        return result(ID, Status.AFFECTED, evidence=evidence)
    refused = {k.split("/")[0] for k, v in attempts.items() if v.startswith("denied")}
    settled = all(v.startswith(("denied", "unsupported")) for v in attempts.values())
    if settled and refused == set(_IDENTITIES):
        return result(ID, Status.NOT_AFFECTED, evidence=evidence)
    return unknown(ID, "; ".join(f"{k}: {v}" for k, v in sorted(attempts.items())), evidence)


CHECK = Check(id=ID, run=run, needs=("share_listing", "shares"))
