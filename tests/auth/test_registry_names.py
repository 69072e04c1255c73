"""The registry value names the checks read are exactly names the audit reads."""

from __future__ import annotations

from smbguard.auth.registry import REGISTRY_VALUES
from smbguard.checks import anonymous_access_not_restricted, ntlmv1_allowed, smb1_audit_disabled


def test_checks_read_only_collected_values() -> None:
    used = {
        ntlmv1_allowed.NAME,
        smb1_audit_disabled.AUDIT,
        smb1_audit_disabled.SMB1,
        *anonymous_access_not_restricted.DWORDS,
        *anonymous_access_not_restricted.LISTS,
    }
    assert used <= set(REGISTRY_VALUES)


def test_patch_level_values_are_collected() -> None:
    base = "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\"
    assert {base + "CurrentBuild", base + "UBR", base + "ProductName"} <= set(REGISTRY_VALUES)
