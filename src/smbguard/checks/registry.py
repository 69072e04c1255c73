"""Explicit registry of every check. Add a module here when you add a check.

A test enforces: one catalog entry per check id (and vice versa, except for
catalog entries that log detectors use, listed in ``smbguard.logs.detectors``),
and paired vulnerable/clean/unknown fixtures per check under ``tests/checks``.
"""

from __future__ import annotations

from smbguard.checks import (
    admin_share_exposed,
    anonymous_access_not_restricted,
    anonymous_share_listing,
    doublepulsar,
    encryption_unavailable,
    guest_access,
    ms17_010,
    netbios_exposed,
    no_account_lockout,
    ntlmv1_allowed,
    null_session,
    os_end_of_support,
    samba_outdated,
    share_everyone_full,
    share_everyone_write,
    share_readable_anon,
    share_without_snapshots,
    share_writable_anon,
    signing_disabled,
    signing_not_required,
    smb1_audit_disabled,
    smb1_client_enabled,
    smb1_enabled,
    smb1_only,
    smb3_not_supported,
    smbghost,
    smbleed,
    snapshots_stale,
    weak_password_policy,
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
VULN_CHECKS: tuple[Check, ...] = (
    ms17_010.CHECK,
    doublepulsar.CHECK,
    smbghost.CHECK,
    smbleed.CHECK,
    os_end_of_support.CHECK,
    samba_outdated.CHECK,
)

# Share and credentialed-audit checks (issue 5).
AUDIT_CHECKS: tuple[Check, ...] = (
    anonymous_share_listing.CHECK,
    share_readable_anon.CHECK,
    share_writable_anon.CHECK,
    share_everyone_write.CHECK,
    share_everyone_full.CHECK,
    admin_share_exposed.CHECK,
    weak_password_policy.CHECK,
    no_account_lockout.CHECK,
    ntlmv1_allowed.CHECK,
    smb1_audit_disabled.CHECK,
    smb1_client_enabled.CHECK,
    anonymous_access_not_restricted.CHECK,
    share_without_snapshots.CHECK,
    snapshots_stale.CHECK,
)

ALL_CHECKS: tuple[Check, ...] = SCANNER_CHECKS + VULN_CHECKS + AUDIT_CHECKS


def by_id() -> dict[str, Check]:
    """Every registered check by id; raises on duplicate ids."""
    out: dict[str, Check] = {}
    for check in ALL_CHECKS:
        if check.id in out:
            raise ValueError(f"duplicate check id {check.id!r}")
        out[check.id] = check
    return out
