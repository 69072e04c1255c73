"""Language-neutral summary of a scan report, shared by the csv, markdown and html reporters."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from smbguard.catalog.loader import Catalog, Entry
from smbguard.model import Finding, HostFacts, HostResult, ScanReport, Severity


@dataclass(frozen=True, slots=True)
class Affected:
    """One host (and share) where a finding applies."""

    host: HostResult
    finding: Finding


@dataclass(frozen=True, slots=True)
class FindingGroup:
    """Every occurrence of one finding id, with its catalog entry (None if missing)."""

    id: str
    severity: Severity
    entry: Entry | None
    affected: tuple[Affected, ...]

    @property
    def host_count(self) -> int:
        return len({(a.host.facts.target.address, a.host.facts.target.port) for a in self.affected})


@dataclass(frozen=True, slots=True)
class Summary:
    hosts: int
    reachable: int
    affected_hosts: int
    findings: int
    by_severity: dict[Severity, int]  # number of findings per severity, worst first
    hosts_by_worst: dict[Severity, int]  # number of hosts whose worst finding has this severity
    groups: tuple[FindingGroup, ...]  # worst first, then most hosts


def host_name(facts: HostFacts) -> str | None:
    """Best name for a host: NTLM DNS/NetBIOS computer name, SMB1 server name, or the given name."""
    if facts.ntlm is not None and (facts.ntlm.dns_computer or facts.ntlm.netbios_computer):
        return facts.ntlm.dns_computer or facts.ntlm.netbios_computer
    if facts.smb1 is not None and facts.smb1.server_name:
        return facts.smb1.server_name
    return facts.target.hostname


def host_os(facts: HostFacts) -> str | None:
    if facts.os:
        return facts.os
    if facts.ntlm is not None and (facts.ntlm.product or facts.ntlm.os_version):
        return facts.ntlm.product or facts.ntlm.os_version
    if facts.smb1 is not None:
        return facts.smb1.native_os or facts.smb1.native_lan_manager
    return None


def worst(host: HostResult) -> Severity | None:
    return max((f.severity for f in host.findings), default=None)


def summarize(report: ScanReport, catalog: Catalog) -> Summary:
    by_id: dict[str, list[Affected]] = {}
    for host in report.hosts:
        for finding in host.findings:
            by_id.setdefault(finding.id, []).append(Affected(host, finding))
    groups = []
    for fid, affected in by_id.items():
        entry = catalog.get(fid)
        severity = entry.severity if entry else max(a.finding.severity for a in affected)
        groups.append(FindingGroup(fid, severity, entry, tuple(affected)))
    groups.sort(key=lambda g: (-int(g.severity), -g.host_count, g.id))
    counts = Counter(f.severity for h in report.hosts for f in h.findings)
    worst_counts = Counter(w for w in (worst(h) for h in report.hosts) if w is not None)
    order = sorted(Severity, reverse=True)
    return Summary(
        hosts=len(report.hosts),
        reachable=sum(1 for h in report.hosts if h.facts.reachable),
        affected_hosts=sum(1 for h in report.hosts if h.findings),
        findings=sum(counts.values()),
        by_severity={s: counts.get(s, 0) for s in order},
        hosts_by_worst={s: worst_counts.get(s, 0) for s in order},
        groups=tuple(groups),
    )


def yes_no(value: bool | None) -> str:
    """ "yes" / "no" / "unknown" keys of :mod:`smbguard.report.i18n`."""
    return "unknown" if value is None else ("yes" if value else "no")


def signing_key(facts: HostFacts) -> str:
    s = facts.signing
    if s.enabled is False:
        return "disabled"
    if s.required is None:
        return "unknown"
    return "required" if s.required else "not_required"
