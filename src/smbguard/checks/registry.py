"""Explicit registry of every check. Add a module here when you add a check.

A test enforces: one catalog entry per check id (and vice versa, except for
catalog entries that log detectors use, listed in ``smbguard.logs.detectors``),
and paired vulnerable/clean/unknown fixtures per check under ``tests/checks``.
"""

from __future__ import annotations

from smbguard.checks import (
    encryption_unavailable,
    guest_access,
    netbios_exposed,
    null_session,
    signing_disabled,
    signing_not_required,
    smb1_enabled,
    smb1_only,
    smb3_not_supported,
)
from smbguard.checks.base import Check

# Scanner configuration checks (issue 4).
SCANNER_CHECKS: tuple[Check, ...] = (
    smb1_enabled.CHECK,
    smb1_only.CHECK,
    signing_not_required.CHECK,
    signing_disabled.CHECK,
    smb3_not_supported.CHECK,
    encryption_unavailable.CHECK,
    null_session.CHECK,
    guest_access.CHECK,
    netbios_exposed.CHECK,
)

# WannaCry / SMBGhost / end-of-support / Samba version checks (issue 3).
VULN_CHECKS: tuple[Check, ...] = ()

# Share and credentialed-audit checks (issue 5).
AUDIT_CHECKS: tuple[Check, ...] = ()

ALL_CHECKS: tuple[Check, ...] = SCANNER_CHECKS + VULN_CHECKS + AUDIT_CHECKS


def by_id() -> dict[str, Check]:
    """Every registered check by id; raises on duplicate ids."""
    out: dict[str, Check] = {}
    for check in ALL_CHECKS:
        if check.id in out:
            raise ValueError(f"duplicate check id {check.id!r}")
        out[check.id] = check
    return out
