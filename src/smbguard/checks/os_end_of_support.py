"""``os-end-of-support``: the host runs a Windows release that no longer gets security updates.

The Windows build comes from a credentialed audit (CurrentBuild), the NTLMSSP
CHALLENGE VERSION ([MS-NLMP] 2.2.2.10) or the SMB1 NativeOS string, and is
looked up in ``catalog/data/lifecycle.toml``. Client and server releases often
share a build (7601 is Windows 7 and Server 2008 R2; 17763 is Windows 10 1809
and Server 2019): the SMB1 NativeOS string or the audit's product name narrows
the candidates. When the remaining candidates disagree (one supported, one
not), the result is ``unknown`` with both named, never a guess.
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks._host import is_samba, scan_day, windows_build
from smbguard.checks._vulndata import WindowsRelease, releases_for_build, releases_for_native_os
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

ID = "os-end-of-support"


def _describe(release: WindowsRelease) -> dict[str, JsonValue]:
    out: dict[str, JsonValue] = {
        "product": release.name,
        "end_of_support": release.end_of_support.isoformat(),
        "source": release.source,
    }
    if release.esu_end is not None:
        out["paid_esu_until"] = release.esu_end.isoformat()
    if release.note:
        out["note"] = release.note
    return out


def _narrow_by_product_name(
    candidates: tuple[WindowsRelease, ...], product: str
) -> tuple[WindowsRelease, ...]:
    wants_server = "server" in product.lower()
    kept = tuple(r for r in candidates if r.kind == "both" or (r.kind == "server") == wants_server)
    return kept or candidates


def run(facts: HostFacts) -> Iterable[CheckResult]:
    closed = not_reachable(ID, facts)
    if closed is not None:
        return closed
    if is_samba(facts):
        return [
            CheckResult(
                ID, Status.NOT_APPLICABLE, reason="Samba server: its version is judged by samba-outdated"
            )
        ]
    build = windows_build(facts)
    native_os = facts.smb1.native_os if facts.smb1 is not None else None
    evidence: dict[str, JsonValue] = {}
    candidates: tuple[WindowsRelease, ...] = ()
    if build is not None:
        evidence["build"] = build.number
        evidence["build_source"] = build.source
        candidates = releases_for_build(build.number)
        if build.major is not None:
            candidates = tuple(r for r in candidates if r.major == build.major and r.minor == build.minor)
    if native_os:
        evidence["smb1_native_os"] = native_os
        narrowed = releases_for_native_os(native_os, candidates or None)
        candidates = narrowed or candidates
    if facts.audit is not None and facts.audit.product_name:
        evidence["product_name"] = facts.audit.product_name
        candidates = _narrow_by_product_name(candidates, facts.audit.product_name)

    if not candidates:
        reason = (
            f"build {build.number} is not in the lifecycle table"
            if build is not None
            else "the operating system version is not visible (no NTLM version, no SMB1 NativeOS)"
        )
        return [CheckResult(ID, Status.UNKNOWN, Confidence.POSSIBLE, evidence, reason=reason)]

    day = scan_day(facts)
    evidence["checked_on"] = day.isoformat()
    ended = [r for r in candidates if not r.supported_on(day)]
    supported = [r for r in candidates if r.supported_on(day)]
    evidence["candidates"] = [_describe(r) for r in candidates]
    if ended and not supported:
        confidence = Confidence.CONFIRMED if len(candidates) == 1 or build is not None else Confidence.LIKELY
        evidence["os"] = " / ".join(r.name for r in ended)
        evidence["end_of_support"] = max(r.end_of_support for r in ended).isoformat()
        return [CheckResult(ID, Status.AFFECTED, confidence, evidence)]
    if supported and not ended:
        evidence["os"] = " / ".join(r.name for r in supported)
        evidence["supported_until"] = min(r.end_of_support for r in supported).isoformat()
        return [
            CheckResult(ID, Status.NOT_AFFECTED, Confidence.CONFIRMED, evidence, reason="still supported")
        ]
    reason = (
        "the build is shared by releases with different support: "
        + ", ".join(f"{r.name} (ended {r.end_of_support})" for r in ended)
        + " vs "
        + ", ".join(f"{r.name} (supported until {r.end_of_support})" for r in supported)
        + "; the remote answer does not say which one this host runs"
    )
    return [CheckResult(ID, Status.UNKNOWN, Confidence.POSSIBLE, evidence, reason=reason)]


CHECK = Check(id=ID, run=run, needs=("ntlm", "smb1", "audit"))
