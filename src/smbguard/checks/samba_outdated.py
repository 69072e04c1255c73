"""``samba-outdated``: a Samba server whose version has known security flaws or is past end of life.

Samba shows its version only in the SMB1 SESSION_SETUP_ANDX NativeLanMan string
("Samba 4.5.16-Debian"); over SMB2 it is hidden, and then the result is
``unknown``. The version is compared with ``catalog/data/samba_releases.toml``.
Distributions backport fixes without changing the upstream version, so a match
is "likely", never "confirmed".
"""

from __future__ import annotations

from collections.abc import Iterable

from smbguard.checks._host import is_samba, is_windows, scan_day
from smbguard.checks._vulndata import newest_listed_series, parse_version, samba_series, samba_vulns
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

ID = "samba-outdated"
BACKPORT_NOTE = (
    "Linux distributions and NAS vendors backport security fixes without changing the upstream "
    "version number: confirm with the vendor's advisories or the package changelog."
)


def _version_string(facts: HostFacts) -> str | None:
    if facts.smb1 is None:
        return None
    for text in (facts.smb1.native_lan_manager, facts.smb1.native_os):
        if text and "samba" in text.lower() and parse_version(text) is not None:
            return text
    return None


def run(facts: HostFacts) -> Iterable[CheckResult]:
    closed = not_reachable(ID, facts)
    if closed is not None:
        return closed
    text = _version_string(facts)
    if text is None:
        if is_windows(facts):
            return [CheckResult(ID, Status.NOT_APPLICABLE, reason="not a Samba server")]
        reason = (
            "Samba does not reveal its version over SMB2 (only in an SMB1 session setup)"
            if is_samba(facts)
            else "server type and version not visible"
        )
        return [CheckResult(ID, Status.UNKNOWN, Confidence.POSSIBLE, {}, reason=reason)]
    version = parse_version(text)
    assert version is not None  # _version_string checked it
    shown = ".".join(str(p) for p in version)
    evidence: dict[str, JsonValue] = {"native_lan_manager": text, "version": shown}
    day = scan_day(facts)
    vulns = [v for v in samba_vulns() if v.affects(version)]
    series = samba_series().get(version[:2])
    oldest = min(samba_series())
    eol = (series is not None and series.eol < day) or version[:2] < oldest
    if version[:2] > newest_listed_series():
        eol = False
    if vulns:
        evidence["cves"] = [
            {
                "cve": v.cve,
                "title": v.title,
                "severity": v.severity,
                "fixed_in": ", ".join(".".join(str(p) for p in f) for f in v.fixed),
                "condition": v.condition or "none: default configuration",
                "source": v.source,
            }
            for v in vulns
        ]
    if eol:
        evidence["series_end_of_life"] = series.eol.isoformat() if series is not None else "before 3.0"
    if vulns or eol:
        evidence["note"] = BACKPORT_NOTE
        return [CheckResult(ID, Status.AFFECTED, Confidence.LIKELY, evidence)]
    return [
        CheckResult(
            ID,
            Status.NOT_AFFECTED,
            Confidence.LIKELY,
            evidence,
            reason=f"no listed security flaw affects Samba {shown} and its series is supported",
        )
    ]


CHECK = Check(id=ID, run=run, needs=("smb1",))
