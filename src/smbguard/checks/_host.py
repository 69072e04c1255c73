"""Small helpers shared by the vulnerability checks: what kind of server a
host is and which Windows build it reports, from the facts alone."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime

from smbguard.model import HostFacts

_BUILD_IN_NATIVE_OS = re.compile(r"\b(\d{4,5})\b")


def scan_day(facts: HostFacts) -> date:
    """The day the facts were collected (today when the facts carry no time)."""
    when = facts.started or facts.finished
    if when is None:
        return datetime.now(UTC).date()
    return when.date()


def is_samba(facts: HostFacts) -> bool:
    """True when the host says it is Samba (SMB1 LAN manager string or NTLM fingerprint)."""
    if facts.smb1 is not None:
        for text in (facts.smb1.native_lan_manager, facts.smb1.native_os):
            if text and "samba" in text.lower():
                return True
    ntlm = facts.ntlm
    if ntlm is not None:
        if ntlm.product and "samba" in ntlm.product.lower():
            return True
        # Samba's NTLMSSP VERSION is 6.1 with build 0; Windows always sends its build.
        if ntlm.os_major == 6 and ntlm.os_minor == 1 and ntlm.os_build == 0:
            return True
    return False


def is_windows(facts: HostFacts) -> bool:
    """True when the host reports a Windows build or a Windows SMB1 LAN manager string."""
    if is_samba(facts):
        return False
    if facts.audit is not None and facts.audit.current_build:
        return True
    if facts.ntlm is not None and facts.ntlm.os_build:
        return True
    if facts.smb1 is not None:
        lanman = facts.smb1.native_lan_manager or ""
        native = facts.smb1.native_os or ""
        if lanman.lower().startswith("windows") or native.lower().startswith("windows"):
            return True
    return False


@dataclass(frozen=True, slots=True)
class Build:
    """A Windows build number and where it was read."""

    number: int
    source: str  # "audit" | "ntlm" | "smb1-native-os"
    major: int | None = None
    minor: int | None = None


def windows_build(facts: HostFacts) -> Build | None:
    """The Windows build the host reports, best source first (None when unknown or Samba)."""
    if is_samba(facts):
        return None
    audit = facts.audit
    if audit is not None and audit.current_build:
        return Build(audit.current_build, "audit")
    ntlm = facts.ntlm
    if ntlm is not None and ntlm.os_build:
        return Build(ntlm.os_build, "ntlm", ntlm.os_major, ntlm.os_minor)
    if facts.smb1 is not None and facts.smb1.native_os:
        match = _BUILD_IN_NATIVE_OS.search(facts.smb1.native_os)
        if match is not None:
            return Build(int(match.group(1)), "smb1-native-os")
    return None


def registry_value(facts: HostFacts, path: str) -> object | None:
    """A value from the credentialed audit's registry snapshot (case-insensitive path)."""
    if facts.audit is None:
        return None
    wanted = path.lower()
    for key, value in facts.audit.registry.items():
        if key.lower() == wanted:
            return value
    return None


DISABLE_COMPRESSION = r"HKLM\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters\DisableCompression"


def smb1_off(facts: HostFacts) -> bool:
    """True when the scan found SMB1 disabled (negotiate refused), from the SMB1 facts
    or from a vulnerability probe that could not start for that reason."""
    if facts.smb1 is not None and facts.smb1.enabled is False:
        return True
    for probe in (facts.ms17_010, facts.doublepulsar):
        if probe is not None and probe.state == "not_run" and probe.evidence.get("smb1_enabled") is False:
            return facts.smb1 is None or facts.smb1.enabled is not True
    return False
