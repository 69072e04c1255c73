"""Remediation scripts: exactly the right commands per finding, idempotent structure,
-WhatIf/-Rollback, SMB1-only safety, hostile names sanitised (no PowerShell here:
structural tests)."""

from __future__ import annotations

import re

import pytest

from smbguard.report.remediation import (
    PS_STEPS,
    SMBCONF,
    FixHost,
    from_host_object,
    from_host_result,
    powershell_script,
    powershell_steps,
    safe_token,
    smbconf_snippet,
)
from tests.report.sample import HOSTILE_NAME, sample_report


def fh(*ids: str, name: str | None = "PC1", samba: bool = False) -> FixHost:
    return FixHost("192.0.2.9", 445, name, None, samba, tuple((i, None) for i in ids))


def _apply_lines(script: str, legacy: bool = False) -> list[str]:
    """-Apply commands run on a modern (or, with ``legacy``, a Windows 7 era) system."""
    out: list[str] = []
    branch = None  # None: both, "legacy", "modern"
    for line in script.splitlines():
        if line == "if ($Legacy) {":
            branch = "legacy"
        elif line == "} else {":
            branch = "modern"
        elif line == "}" and branch is not None:
            branch = None
        m = re.search(r"-Apply \{ (.*) \} `", line)
        if m and branch in (None, "legacy" if legacy else "modern"):
            out.append(m.group(1))
    return out


EXPECTED_APPLY = {
    "ntlmv1-allowed": [
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -Name 'LmCompatibilityLevel' "
        "-Type DWord -Value 5"
    ],
    "smb1-audit-disabled": ["Set-SmbServerConfiguration -AuditSmb1Access $true -Force"],
    "smb1-client-enabled": [
        "sc.exe config lanmanworkstation depend= bowser/mrxsmb20/nsi | Out-Null; "
        "sc.exe config mrxsmb10 start= disabled | Out-Null; $script:RestartNeeded = $true"
    ],
    "smb1-enabled": [
        "Set-SmbServerConfiguration -EnableSMB1Protocol $false -Force",
        "Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -NoRestart | Out-Null; "
        "$script:RestartNeeded = $true",
    ],
    "smb-signing-not-required": [
        "Set-SmbServerConfiguration -RequireSecuritySignature $true -EnableSecuritySignature $true -Force"
    ],
    "smb-encryption-unavailable": ["Set-SmbServerConfiguration -EncryptData $true -Force"],
    "smb3-not-supported": ["Set-SmbServerConfiguration -EnableSMB2Protocol $true -Force"],
    "null-session-allowed": [
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters' "
        "-Name 'RestrictNullSessAccess' -Type DWord -Value 1",
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -Name 'RestrictAnonymous' "
        "-Type DWord -Value 1",
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -Name 'RestrictAnonymousSAM' "
        "-Type DWord -Value 1",
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' "
        "-Name 'EveryoneIncludesAnonymous' -Type DWord -Value 0",
    ],
    "guest-access-allowed": [
        "Get-LocalUser | Where-Object { $_.SID.Value -like '*-501' } | Disable-LocalUser",
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Lsa' -Name 'ForceGuest' "
        "-Type DWord -Value 0",
    ],
    "netbios-session-exposed": [
        "Get-CimInstance Win32_NetworkAdapterConfiguration -Filter 'IPEnabled = True' | Invoke-CimMethod "
        "-MethodName SetTcpipNetbios -Arguments @{ TcpipNetbiosOptions = [uint32]2 } | Out-Null"
    ],
    "cve-2020-0796": [
        r"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters' "
        "-Name 'DisableCompression' -Type DWord -Value 1"
    ],
}


LANMAN = r"'HKLM:\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters'"
EXPECTED_LEGACY = {
    "smb1-enabled": [
        f"Set-ItemProperty -Path {LANMAN} -Name 'SMB1' -Type DWord -Value 0; $script:RestartNeeded = $true"
    ],
    "smb-signing-not-required": [
        f"Set-ItemProperty -Path {LANMAN} -Name 'RequireSecuritySignature' -Type DWord -Value 1; "
        f"Set-ItemProperty -Path {LANMAN} -Name 'EnableSecuritySignature' -Type DWord -Value 1; "
        "$script:RestartNeeded = $true"
    ],
    "smb-encryption-unavailable": [],
    "smb3-not-supported": [
        f"Set-ItemProperty -Path {LANMAN} -Name 'SMB2' -Type DWord -Value 1; $script:RestartNeeded = $true"
    ],
    "netbios-session-exposed": [
        "Get-WmiObject Win32_NetworkAdapterConfiguration -Filter 'IPEnabled = True' | "
        "ForEach-Object { $_.SetTcpipNetbios(2) | Out-Null }"
    ],
}


@pytest.mark.parametrize("finding", sorted(EXPECTED_APPLY))
def test_exact_commands_per_finding(finding: str) -> None:
    assert _apply_lines(powershell_script(fh(finding))) == EXPECTED_APPLY[finding]


@pytest.mark.parametrize("finding", sorted(EXPECTED_LEGACY))
def test_windows7_variants(finding: str) -> None:
    script = powershell_script(fh(finding))
    assert _apply_lines(script, legacy=True) == EXPECTED_LEGACY[finding]
    assert "$Legacy = -not (Get-Command Set-SmbServerConfiguration" in script
    assert "#Requires" not in script  # PowerShell 2.0 cannot parse -RunAsAdministrator
    if not EXPECTED_LEGACY[finding]:
        assert "[skipped] encryption - SMB encryption needs SMB 3" in script


def test_every_step_checks_then_applies_then_has_an_undo() -> None:
    script = powershell_script(fh(*PS_STEPS))
    calls = re.findall(
        r"Invoke-Step -Id '([a-z0-9-]+)' .*?`\n\s+-Test \{ .+ \} `\n\s+-Apply \{ .+ \} `\n"
        r"\s+-Undo \{ .+ \}",
        script,
    )
    steps = powershell_steps(fh(*PS_STEPS))
    with_legacy = sum(1 for st in steps if st.legacy is not None)
    assert sorted(set(calls)) == sorted(st.key for st in steps)
    assert len(calls) == len(steps) + with_legacy
    assert "[CmdletBinding(SupportsShouldProcess = $true)]" in script  # -WhatIf
    assert "param([switch]$Rollback, [switch]$Force)" in script
    assert script.count("$PSCmdlet.ShouldProcess(") == 2  # apply and rollback both honour -WhatIf
    assert script.count("{") == script.count("}")
    assert script.count("(") == script.count(")")


def test_shared_steps_are_not_repeated() -> None:
    script = powershell_script(
        fh("smb-signing-not-required", "smb-signing-disabled", "smb1-enabled", "ms17-010")
    )
    assert script.count("Invoke-Step -Id 'signing'") == 2  # modern + Windows 7 variant
    assert script.count("Invoke-Step -Id 'smb1-server'") == 2
    assert "KB4012212" in script  # ms17-010: update advice


def test_smb1_only_host_never_gets_smb1_disabled() -> None:
    script = powershell_script(fh("smb1-only", "smb1-enabled", "ms17-010"))
    assert "EnableSMB1Protocol $false" not in script
    assert "Disable-WindowsOptionalFeature" not in script
    assert "Set-SmbServerConfiguration -EnableSMB2Protocol $true -Force" in script
    assert "SMB1 is NOT disabled" in script
    conf = smbconf_snippet(fh("smb1-only", "smb1-enabled", samba=True))
    assert "    # server min protocol = SMB2_10" in conf and "    server max protocol = SMB3" in conf


def test_advice_only_findings_and_unknown_ids() -> None:
    script = powershell_script(fh("doublepulsar", "some-future-check"))
    assert "isolate this host" in script and "No automatic fix for: some-future-check" in script
    assert "Nothing to change automatically" in script


def test_hostile_name_is_sanitised() -> None:
    host = FixHost(
        "192.0.2.4",
        445,
        "x'; Remove-Item C:\\ -Recurse #\n" + HOSTILE_NAME,
        None,
        False,
        (("smb1-enabled", None),),
    )
    script = powershell_script(host)
    assert "Remove-Item C:\\" not in script and "<script>" not in script
    expected = re.search(r"\$ExpectedName = '([^']*)'", script)
    assert expected and re.fullmatch(r"[A-Z0-9_-]*", expected.group(1))
    conf = smbconf_snippet(host)
    assert "\n" not in conf.splitlines()[0] and "<" not in conf and "'" not in conf.splitlines()[0]
    assert safe_token("a\u2019b$(x)`\n") == "a?b??x???"


def test_smbconf_exact_lines() -> None:
    ids = [i for i in SMBCONF if i != "smb1-only"]
    conf = smbconf_snippet(fh(*ids, samba=True))
    lines = [line.strip() for line in conf.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert lines == [
        "[global]",
        "server min protocol = SMB2_10",
        "server max protocol = SMB3",
        "server signing = mandatory",
        "server smb encrypt = desired",
        "restrict anonymous = 2",
        "map to guest = Never",
        "disable netbios = yes",
        "smb ports = 445",
        "ntlm auth = ntlmv2-only",
        "client min protocol = SMB2_10",
    ]
    assert "samba-outdated" not in conf
    assert "upgrade Samba" in smbconf_snippet(fh("samba-outdated", samba=True))


def test_from_scan_objects_and_results_agree() -> None:
    from smbguard.report.json import host_to_dict

    for host in sample_report().hosts:
        a, b = from_host_result(host), from_host_object(host_to_dict(host))
        assert (a.address, a.port, a.samba, a.findings) == (b.address, b.port, b.samba, b.findings)
    nas = from_host_result(sample_report().hosts[1])
    assert nas.samba and not from_host_result(sample_report().hosts[0]).samba


def test_scripts_are_ascii_for_windows_powershell_5() -> None:
    """Windows PowerShell 5.1 reads a BOM-less .ps1 in the ANSI code page: keep scripts ASCII."""
    host = FixHost(
        "192.0.2.4", 445, "會計室電腦\u202e", "Windows 7 專業版", False, tuple((i, None) for i in PS_STEPS)
    )
    powershell_script(host).encode("ascii")
    smbconf_snippet(host).encode("ascii")


def test_share_findings_get_advice_not_changes() -> None:
    script = powershell_script(fh("share-everyone-write", "share-writable-without-credentials"))
    assert "Revoke-SmbShareAccess -Name SHARE -AccountName Everyone -Force" in script
    assert "Invoke-Step" not in script.split("function Invoke-Step", 1)[1].split("\n}\n", 1)[1]
