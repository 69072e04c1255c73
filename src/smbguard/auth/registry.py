"""The registry values the audit reads, as data.

Result names are the full ``HKLM\\...\\Value`` paths that land in
``AuditFacts.registry``; checks read them by those names. Sources:
LanmanServer parameters (SMB1, signing, compression, SMB1 auditing, null-session
restrictions) per Microsoft's "Detect, enable and disable SMBv1, SMBv2 and SMBv3"
and "Overview of Server Message Block signing"; CVE-2020-0796 workaround
(DisableCompression); Lsa values per the "Network security: LAN Manager
authentication level" and "Network access" security-policy settings reference.
"""

from __future__ import annotations

LANMAN = r"SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
MRXSMB10 = r"SYSTEM\CurrentControlSet\Services\mrxsmb10"
LSA = r"SYSTEM\CurrentControlSet\Control\Lsa"
CURRENT_VERSION = r"SOFTWARE\Microsoft\Windows NT\CurrentVersion"

_VALUES: tuple[tuple[str, str], ...] = (
    (LANMAN, "SMB1"),
    (LANMAN, "SMB2"),
    (LANMAN, "RequireSecuritySignature"),
    (LANMAN, "EnableSecuritySignature"),
    (LANMAN, "DisableCompression"),
    (LANMAN, "AuditSmb1Access"),
    (LANMAN, "RestrictNullSessAccess"),
    (LANMAN, "NullSessionShares"),
    (LANMAN, "NullSessionPipes"),
    (MRXSMB10, "Start"),
    (LSA, "RestrictAnonymous"),
    (LSA, "RestrictAnonymousSAM"),
    (LSA, "EveryoneIncludesAnonymous"),
    (LSA, "LmCompatibilityLevel"),
    (CURRENT_VERSION, "CurrentBuild"),
    (CURRENT_VERSION, "CurrentBuildNumber"),
    (CURRENT_VERSION, "UBR"),
    (CURRENT_VERSION, "ProductName"),
    (CURRENT_VERSION, "DisplayVersion"),
)


def value_path(subkey: str, value: str) -> str:
    """The name a value gets in ``AuditFacts.registry``: ``HKLM\\<subkey>\\<value>``."""
    return f"HKLM\\{subkey}\\{value}"


REGISTRY_VALUES: dict[str, tuple[str, str]] = {value_path(k, v): (k, v) for k, v in _VALUES}
