"""Findings raised by log and capture detectors.

A :class:`LogFinding` is the log-side sibling of :class:`smbguard.model.Finding`:
the same catalog id and severity, but its subject is a client, an account or a
share seen in logs rather than one scanned ``address:port``. Its evidence always
carries ``sources``, ``count``, ``first_seen`` and ``last_seen``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from smbguard.catalog.loader import load_catalog
from smbguard.model import Confidence, JsonValue, Severity, jsonable

# Every catalog id a log/capture detector can raise (kind = "log" in the catalog).
LOG_FINDING_IDS: tuple[str, ...] = (
    "smb1-client-activity",
    "smb-brute-force",
    "password-spraying",
    "anonymous-logon",
    "ntlmv1-logon",
    "admin-share-access",
    "share-created",
    "share-permissions-changed",
    "ransomware-like-activity",
    "ms17-010-exploit-traffic",
    "smbghost-exploit-traffic",
)


def severity_of(finding_id: str) -> Severity:
    """Severity of a finding id, from its catalog entry (raises CatalogError when missing)."""
    return load_catalog().entry(finding_id).severity


def title_of(finding_id: str, lang: str = "en") -> str:
    """Catalog title of a finding in ``lang``, or the id when the entry is missing."""
    entry = load_catalog().get(finding_id)
    return entry.title(lang) if entry is not None else finding_id


@dataclass(frozen=True, slots=True)
class LogFinding:
    """One detection over events. ``key`` identifies the subject (used to avoid
    alerting twice in ``logs watch``); ``summary`` is a one-line English sentence."""

    id: str
    key: str
    summary: str
    severity: Severity
    confidence: Confidence = Confidence.LIKELY
    evidence: Mapping[str, JsonValue] = field(default_factory=dict)

    def to_dict(self) -> dict[str, JsonValue]:
        return {
            "id": self.id,
            "severity": self.severity.label,
            "confidence": self.confidence.value,
            "key": self.key,
            "summary": self.summary,
            "evidence": jsonable(dict(self.evidence)),
        }


def iso(when: datetime | None) -> str | None:
    return when.isoformat() if when is not None else None
