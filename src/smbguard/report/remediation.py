"""Per-host remediation scripts: an idempotent PowerShell script or an smb.conf snippet.

smbguard only *writes* these files; it never runs them. The PowerShell script:

* checks each setting first and changes only what is not compliant (idempotent:
  a second run reports "[ok]" for everything),
* supports ``-WhatIf`` (dry run: prints what it would change, changes nothing),
* re-checks after each change and reports ``[fixed]`` or ``[failed]``,
* ``-Rollback`` puts the settings it manages back to the Windows defaults
  (not necessarily the values the host had before: say so in change tickets),
* refuses to run on another computer than the one it was generated for unless
  ``-Force`` is given,
* runs on Windows 7 / Server 2008 R2 (PowerShell 2.0) too: steps that need the
  SmbShare cmdlets have registry / WMI variants chosen at run time (``$Legacy``),
  or are skipped with the reason (SMB encryption needs SMB 3).

Findings that need a human (an OS upgrade, a missing security update, an implant)
become warnings with the advice, never silent no-ops. If the host speaks only
SMB1 the script never disables SMB1: that would cut every client off.

Every value that came from the network (host names, OS strings) is reduced to a
safe character set before it is written into a script or a comment.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from smbguard.model import HostResult

LANMAN = r"HKLM:\SYSTEM\CurrentControlSet\Services\LanmanServer\Parameters"
LSA = r"HKLM:\SYSTEM\CurrentControlSet\Control\Lsa"

_SAFE = re.compile(r"[^A-Za-z0-9._:,\-\[\]%/ ]")


def safe_token(value: object, limit: int = 64) -> str:
    """Network-supplied text reduced to ``[A-Za-z0-9._:,-[]%/ ]`` (others become ``?``)."""
    return _SAFE.sub("?", str(value))[:limit]


@dataclass(frozen=True, slots=True)
class FixHost:
    """What a script generator needs to know about one host."""

    address: str
    port: int
    name: str | None
    os: str | None
    samba: bool
    findings: tuple[tuple[str, str | None], ...]  # (finding id, share)

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(fid for fid, _ in self.findings)


def _is_samba(*texts: object) -> bool:
    return any(isinstance(t, str) and "samba" in t.lower() for t in texts)


def from_host_result(host: HostResult) -> FixHost:
    f = host.facts
    name = None
    if f.ntlm is not None:
        name = f.ntlm.netbios_computer or f.ntlm.dns_computer
    samba = _is_samba(
        f.os,
        f.smb1.native_lan_manager if f.smb1 else None,
        f.smb1.native_os if f.smb1 else None,
        f.ntlm.product if f.ntlm else None,
    )
    return FixHost(
        address=f.target.address,
        port=f.target.port,
        name=name,
        os=f.os,
        samba=samba,
        findings=tuple((x.id, x.share) for x in host.findings),
    )


def from_host_object(obj: Mapping[str, Any]) -> FixHost:
    """From a host object of ``smbguard scan --format json``/``jsonl`` or the history store."""
    smb1 = obj.get("smb1") or {}
    ntlm = obj.get("ntlm") or {}
    name = ntlm.get("netbios_computer") or ntlm.get("dns_computer")
    samba = _is_samba(
        obj.get("os"), smb1.get("native_lan_manager"), smb1.get("native_os"), ntlm.get("product")
    )
    findings = tuple((str(x["id"]), x.get("share")) for x in obj.get("findings") or [])
    return FixHost(
        address=str(obj["address"]),
        port=int(obj.get("port") or 445),
        name=name if isinstance(name, str) else None,
        os=obj.get("os") if isinstance(obj.get("os"), str) else None,
        samba=samba,
        findings=findings,
    )


# -- PowerShell -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PsStep:
    """One idempotent change: ``test`` is an expression that is $true when compliant."""

    key: str
    description: str
    test: str
    apply: str
    undo: str
    #: variant for Windows 7 / Server 2008 R2 and older (no SmbShare cmdlets, PowerShell 2.0)
    legacy: PsStep | None = None
    #: when set and ``legacy`` is None: the step does not apply to old systems, for this reason
    legacy_note: str | None = None


def _reg_step(key: str, path: str, name: str, value: int, default: int, why: str) -> PsStep:
    return PsStep(
        key=key,
        description=f"set {name} = {value} ({why})",
        test=f"Test-RegDword '{path}' '{name}' {value}",
        apply=f"Set-ItemProperty -Path '{path}' -Name '{name}' -Type DWord -Value {value}",
        undo=f"Set-ItemProperty -Path '{path}' -Name '{name}' -Type DWord -Value {default}",
    )


_LEGACY_SMB1 = _reg_step("smb1-server", LANMAN, "SMB1", 0, 1, "SMB1 server off, restart needed")
SMB1_SERVER = PsStep(
    key="smb1-server",
    description="stop the SMB1 server (Set-SmbServerConfiguration -EnableSMB1Protocol $false)",
    test="-not (Get-SmbServerConfiguration).EnableSMB1Protocol",
    apply="Set-SmbServerConfiguration -EnableSMB1Protocol $false -Force",
    undo="Set-SmbServerConfiguration -EnableSMB1Protocol $true -Force",
    legacy=PsStep(
        key=_LEGACY_SMB1.key,
        description=_LEGACY_SMB1.description,
        test=_LEGACY_SMB1.test,
        apply=_LEGACY_SMB1.apply + "; $script:RestartNeeded = $true",
        undo=_LEGACY_SMB1.undo,
    ),
)
SMB1_FEATURE = PsStep(
    key="smb1-feature",
    description="remove the SMB 1.0/CIFS File Sharing Support feature (restart needed)",
    test=(
        "$f = Get-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -ErrorAction SilentlyContinue; "
        "($null -eq $f) -or ($f.State -ne 'Enabled')"
    ),
    apply=(
        "Disable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -NoRestart | Out-Null; "
        "$script:RestartNeeded = $true"
    ),
    undo="Enable-WindowsOptionalFeature -Online -FeatureName SMB1Protocol -NoRestart | Out-Null",
    legacy_note="no SMB1 optional feature before Windows 8.1: the SMB1 registry value does the job",
)
SMB2_ON = PsStep(
    key="smb2-enabled",
    description="make sure SMB2/3 is enabled (Set-SmbServerConfiguration -EnableSMB2Protocol $true)",
    test="(Get-SmbServerConfiguration).EnableSMB2Protocol",
    apply="Set-SmbServerConfiguration -EnableSMB2Protocol $true -Force",
    undo="Write-Host '  (SMB2/3 stays enabled: disabling it is never advisable)'",
    legacy=PsStep(
        key="smb2-enabled",
        description="make sure SMB2 is enabled (registry SMB2 absent or 1)",
        test=f"$v = Get-ItemProperty -Path '{LANMAN}' -Name 'SMB2' -ErrorAction SilentlyContinue; "
        "($null -eq $v) -or ($v.SMB2 -ne 0)",
        apply=f"Set-ItemProperty -Path '{LANMAN}' -Name 'SMB2' -Type DWord -Value 1; "
        "$script:RestartNeeded = $true",
        undo="Write-Host '  (SMB2 stays enabled: disabling it is never advisable)'",
    ),
)
SIGNING = PsStep(
    key="signing",
    description="require SMB signing (-RequireSecuritySignature $true -EnableSecuritySignature $true)",
    test="$c = Get-SmbServerConfiguration; $c.RequireSecuritySignature -and $c.EnableSecuritySignature",
    apply="Set-SmbServerConfiguration -RequireSecuritySignature $true -EnableSecuritySignature $true -Force",
    undo="Set-SmbServerConfiguration -RequireSecuritySignature $false -Force",
    legacy=PsStep(
        key="signing",
        description="require SMB signing (registry RequireSecuritySignature and EnableSecuritySignature = 1)",
        test=f"(Test-RegDword '{LANMAN}' 'RequireSecuritySignature' 1) -and "
        f"(Test-RegDword '{LANMAN}' 'EnableSecuritySignature' 1)",
        apply=f"Set-ItemProperty -Path '{LANMAN}' -Name 'RequireSecuritySignature' -Type DWord -Value 1; "
        f"Set-ItemProperty -Path '{LANMAN}' -Name 'EnableSecuritySignature' -Type DWord -Value 1; "
        "$script:RestartNeeded = $true",
        undo=f"Set-ItemProperty -Path '{LANMAN}' -Name 'RequireSecuritySignature' -Type DWord -Value 0",
    ),
)
ENCRYPTION = PsStep(
    key="encryption",
    description="encrypt SMB traffic (Set-SmbServerConfiguration -EncryptData $true)",
    test="(Get-SmbServerConfiguration).EncryptData",
    apply="Set-SmbServerConfiguration -EncryptData $true -Force",
    undo="Set-SmbServerConfiguration -EncryptData $false -Force",
    legacy_note="SMB encryption needs SMB 3 (Windows 8 / Server 2012 or later)",
)
NULL_SESSION = (
    _reg_step("null-pipes-shares", LANMAN, "RestrictNullSessAccess", 1, 1, "no anonymous pipes/shares"),
    _reg_step("null-enum-shares", LSA, "RestrictAnonymous", 1, 0, "no anonymous enumeration of shares"),
    _reg_step("null-enum-sam", LSA, "RestrictAnonymousSAM", 1, 1, "no anonymous enumeration of accounts"),
    _reg_step("null-everyone", LSA, "EveryoneIncludesAnonymous", 0, 0, "Everyone excludes anonymous"),
)
_GUEST = "Get-LocalUser | Where-Object { $_.SID.Value -like '*-501' }"
_WMI_GUEST = "Get-WmiObject Win32_UserAccount -Filter \"LocalAccount = True AND SID LIKE '%-501'\""
GUEST = (
    PsStep(
        key="guest-account",
        description="disable the built-in Guest account (RID 501)",
        test=f"$g = {_GUEST}; ($null -eq $g) -or (-not $g.Enabled)",
        apply=f"{_GUEST} | Disable-LocalUser",
        undo=f"{_GUEST} | Enable-LocalUser",
        legacy=PsStep(
            key="guest-account",
            description="disable the built-in Guest account (RID 501, through WMI)",
            test=f"$g = {_WMI_GUEST}; ($null -eq $g) -or $g.Disabled",
            apply=f"{_WMI_GUEST} | ForEach-Object {{ $_.Disabled = $true; $_.Put() | Out-Null }}",
            undo=f"{_WMI_GUEST} | ForEach-Object {{ $_.Disabled = $false; $_.Put() | Out-Null }}",
        ),
    ),
    _reg_step("guest-forceguest", LSA, "ForceGuest", 0, 0, "classic sharing model, no Guest only"),
)
_NICS = "Get-CimInstance Win32_NetworkAdapterConfiguration -Filter 'IPEnabled = True'"
_WMI_NICS = "Get-WmiObject Win32_NetworkAdapterConfiguration -Filter 'IPEnabled = True'"
NETBIOS = PsStep(
    key="netbios",
    description="disable NetBIOS over TCP/IP on every active adapter",
    test=f"@({_NICS} | Where-Object {{ $_.TcpipNetbiosOptions -ne 2 }}).Count -eq 0",
    apply=(
        f"{_NICS} | Invoke-CimMethod -MethodName SetTcpipNetbios "
        "-Arguments @{ TcpipNetbiosOptions = [uint32]2 } | Out-Null"
    ),
    undo=(
        f"{_NICS} | Invoke-CimMethod -MethodName SetTcpipNetbios "
        "-Arguments @{ TcpipNetbiosOptions = [uint32]0 } | Out-Null"
    ),
    legacy=PsStep(
        key="netbios",
        description="disable NetBIOS over TCP/IP on every active adapter (through WMI)",
        test=f"@({_WMI_NICS} | Where-Object {{ $_.TcpipNetbiosOptions -ne 2 }}).Count -eq 0",
        apply=f"{_WMI_NICS} | ForEach-Object {{ $_.SetTcpipNetbios(2) | Out-Null }}",
        undo=f"{_WMI_NICS} | ForEach-Object {{ $_.SetTcpipNetbios(0) | Out-Null }}",
    ),
)
COMPRESSION = _reg_step(
    "disable-compression", LANMAN, "DisableCompression", 1, 0, "SMBv3 compression workaround, ADV200005"
)

NTLMV1 = _reg_step("lmcompatibility", LSA, "LmCompatibilityLevel", 5, 3, "NTLMv2 only, refuse LM and NTLMv1")
AUDIT_SMB1 = PsStep(
    key="audit-smb1",
    description="log SMB1 clients (Set-SmbServerConfiguration -AuditSmb1Access $true, event 3000)",
    test="(Get-SmbServerConfiguration).AuditSmb1Access",
    apply="Set-SmbServerConfiguration -AuditSmb1Access $true -Force",
    undo="Set-SmbServerConfiguration -AuditSmb1Access $false -Force",
    legacy_note="AuditSmb1Access needs Windows 8.1 / Server 2012 R2 or later",
)
_MRXSMB10 = r"HKLM:\SYSTEM\CurrentControlSet\Services\mrxsmb10"
SMB1_CLIENT = PsStep(
    key="smb1-client",
    description="disable the SMB1 client driver (mrxsmb10), as documented by Microsoft",
    test=f"$s = Get-ItemProperty -Path '{_MRXSMB10}' -Name 'Start' -ErrorAction SilentlyContinue; "
    "($null -eq $s) -or ($s.Start -eq 4)",
    apply="sc.exe config lanmanworkstation depend= bowser/mrxsmb20/nsi | Out-Null; "
    "sc.exe config mrxsmb10 start= disabled | Out-Null; $script:RestartNeeded = $true",
    undo="sc.exe config lanmanworkstation depend= bowser/mrxsmb10/mrxsmb20/nsi | Out-Null; "
    "sc.exe config mrxsmb10 start= auto | Out-Null",
)

#: finding id -> steps (in order). SMB1-disabling steps are dropped for SMB1-only hosts.
PS_STEPS: dict[str, tuple[PsStep, ...]] = {
    "smb1-enabled": (SMB1_SERVER, SMB1_FEATURE),
    "ms17-010": (SMB1_SERVER, SMB1_FEATURE),
    "smb1-only": (SMB2_ON,),
    "smb3-not-supported": (SMB2_ON,),
    "smb-signing-not-required": (SIGNING,),
    "smb-signing-disabled": (SIGNING,),
    "smb-encryption-unavailable": (ENCRYPTION,),
    "null-session-allowed": NULL_SESSION,
    "guest-access-allowed": GUEST,
    "netbios-session-exposed": (NETBIOS,),
    "cve-2020-0796": (COMPRESSION,),
    "cve-2020-1206": (COMPRESSION,),
    "anonymous-access-not-restricted": NULL_SESSION,
    "anonymous-share-listing": NULL_SESSION,
    "ntlmv1-allowed": (NTLMV1,),
    "smb1-audit-disabled": (AUDIT_SMB1,),
    "smb1-client-enabled": (SMB1_CLIENT,),
}

#: finding id -> what a person must do (written as a warning in the script).
ADVICE: dict[str, str] = {
    "smb1-only": "This host speaks only SMB1: SMB1 is NOT disabled by this script "
    "(every client would be cut off). Upgrade or replace the system, then generate a new script.",
    "smb3-not-supported": "No SMB 3 dialect: if SMB2 was already enabled, the operating system "
    "itself is too old. Upgrade to a supported Windows release.",
    "ms17-010": "Install the MS17-010 security update for this Windows version (e.g. KB4012212 / "
    "KB4012215 for Windows 7 / Server 2008 R2, or any later cumulative update), then rescan.",
    "cve-2020-0796": "Install KB4551762 (or a later cumulative update) for Windows 10 / Server 1903-1909; "
    "DisableCompression is only a workaround.",
    "cve-2020-1206": "Install the June 2020 (or later) cumulative update; "
    "DisableCompression is only a workaround.",
    "doublepulsar": "A DoublePulsar implant answered: isolate this host from the network now, "
    "investigate, and rebuild it from clean media. No script can clean it.",
    "os-end-of-support": "The operating system no longer receives security updates: plan an upgrade.",
    "samba-outdated": "Not applicable to Windows (the host looked like Samba): use --format smb.conf.",
    "share-everyone-write": "A share grants write to Everyone / Authenticated Users / Domain Users: review "
    "Get-SmbShareAccess -Name SHARE, then Revoke-SmbShareAccess -Name SHARE -AccountName Everyone -Force "
    "and grant only the groups that need it (shares are named in the report's evidence).",
    "share-everyone-full-control": "A share grants Full Control to a broad group: review Get-SmbShareAccess "
    "-Name SHARE and replace it with Change or Read for the groups that need it.",
    "share-readable-without-credentials": "A share is readable without an account: remove Guest / Everyone / "
    "ANONYMOUS LOGON from its share and NTFS permissions.",
    "share-writable-without-credentials": "A share is WRITABLE without an account: remove Guest / Everyone / "
    "ANONYMOUS LOGON from its share and NTFS permissions now.",
    "admin-share-exposed": "Administrative shares are reachable by non-administrators: check who is in the "
    "local Administrators group and remove accounts that should not be there.",
    "weak-password-policy": "Raise the password policy to the baseline in the report (domain: Default Domain "
    "Policy > Account Policies; standalone: net accounts /minpwlen:14).",
    "no-account-lockout": "Set an account lockout threshold (domain: Account Lockout Policy; standalone: "
    "net accounts /lockoutthreshold:10 /lockoutwindow:15 /lockoutduration:15).",
    "share-without-snapshots": "Enable Shadow Copies of Shared Folders on the volume (or back the share up) "
    "so files can be restored after ransomware.",
    "snapshots-stale": "The newest snapshot is old: check the Shadow Copies schedule and the backup job.",
}

_PS_HEADER = r"""<#
.SYNOPSIS
  smbguard remediation for {target}{name}. Generated {generated} by smbguard.
  smbguard never runs this script: review it, then run it on that computer in an elevated PowerShell.

.DESCRIPTION
  Findings addressed: {ids}
  Each step checks the current setting first and changes only what is not compliant, then checks again.
  Running the script twice is safe: the second run reports "[ok]" for every step.

.PARAMETER WhatIf
  Dry run: show what would change, change nothing.
.PARAMETER Rollback
  Put every setting this script manages back to the Windows default (not necessarily the value it had before).
.PARAMETER Force
  Run even if this computer's name differs from the one the script was generated for.

.EXAMPLE
  .\fix.ps1 -WhatIf
  .\fix.ps1
  .\fix.ps1 -Rollback
#>
[CmdletBinding(SupportsShouldProcess = $true)]
param([switch]$Rollback, [switch]$Force)

$ErrorActionPreference = 'Stop'
$script:Failed = 0
$script:RestartNeeded = $false
$ExpectedName = '{ps_name}'

if ($ExpectedName -and ($env:COMPUTERNAME -ne $ExpectedName) -and -not $Force) {{
    Write-Error ("This script was generated for $ExpectedName ({target}); " +
                 "this computer is $env:COMPUTERNAME. Use -Force to run it anyway.")
    exit 2
}}
$Identity = [Security.Principal.WindowsIdentity]::GetCurrent()
$Principal = New-Object Security.Principal.WindowsPrincipal($Identity)
if (-not $Principal.IsInRole([Security.Principal.WindowsBuiltInRole]::Administrator)) {{
    Write-Error 'Run this script from an elevated PowerShell (Run as administrator).'
    exit 2
}}
# Windows 7 / Server 2008 R2 and older have no SmbShare cmdlets: registry and WMI variants are used.
$Legacy = -not (Get-Command Set-SmbServerConfiguration -ErrorAction SilentlyContinue)

function Test-RegDword([string]$Path, [string]$Name, [int]$Expected) {{
    $item = Get-ItemProperty -Path $Path -Name $Name -ErrorAction SilentlyContinue
    return ($null -ne $item) -and ($item.$Name -eq $Expected)
}}

function Invoke-Step {{
    [CmdletBinding(SupportsShouldProcess = $true)]
    param([string]$Id, [string]$Description, [scriptblock]$Test, [scriptblock]$Apply, [scriptblock]$Undo)
    if ($Rollback) {{
        if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, "roll back ${{Id}}: $Description")) {{
            & $Undo
            Write-Host "[rolled back] $Id"
        }}
        return
    }}
    if (& $Test) {{ Write-Host "[ok]      $Id - already compliant"; return }}
    if ($PSCmdlet.ShouldProcess($env:COMPUTERNAME, $Description)) {{
        & $Apply
        if (& $Test) {{ Write-Host "[fixed]   $Id" }}
        else {{ Write-Warning "[failed]  $Id - still not compliant after the change"; $script:Failed++ }}
    }}
}}
"""

_PS_FOOTER = r"""
if ($script:RestartNeeded -and -not $Rollback) {{
    Write-Warning 'Restart the computer: SMB1 removal and registry changes need a restart.'
}}
Write-Host ''
Write-Host 'Verify from another machine: smbguard scan {address} --port {port}'
if ($script:Failed -gt 0) {{ exit 1 }}
exit 0
"""


def _ps_block(script: str) -> str:
    return "{ " + script + " }"


def _invoke(step: PsStep) -> str:
    description = step.description.replace("'", "''")
    return (
        f"Invoke-Step -Id '{step.key}' -Description '{description}' `\n"
        f"    -Test {_ps_block(step.test)} `\n"
        f"    -Apply {_ps_block(step.apply)} `\n"
        f"    -Undo {_ps_block(step.undo)}"
    )


def _indent(text: str) -> str:
    return "\n".join("    " + line for line in text.split("\n"))


def powershell_steps(host: FixHost) -> list[PsStep]:
    """The ordered, de-duplicated steps for a host's findings."""
    ids = host.ids
    steps: list[PsStep] = []
    seen: set[str] = set()
    for fid, _ in host.findings:
        for step in PS_STEPS.get(fid, ()):
            if "smb1-only" in ids and step.key in ("smb1-server", "smb1-feature"):
                continue
            if step.key not in seen:
                seen.add(step.key)
                steps.append(step)
    return steps


def powershell_script(host: FixHost, generated: datetime | None = None) -> str:
    """An idempotent PowerShell script for one Windows host (see the module docstring)."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    target = safe_token(f"{host.address}:{host.port}")
    name = safe_token(host.name) if host.name else ""
    ps_name = re.sub(r"[^A-Za-z0-9_-]", "", host.name or "")[:15].upper()
    ids = ", ".join(sorted(host.ids)) or "(none)"
    out = [
        _PS_HEADER.format(
            target=target,
            name=f" ({name})" if name else "",
            generated=when,
            ids=safe_token(ids, 2000),
            ps_name=ps_name,
        )
    ]
    advice = [ADVICE[fid] for fid in sorted(host.ids) if fid in ADVICE]
    unknown = sorted(fid for fid in host.ids if fid not in PS_STEPS and fid not in ADVICE)
    if unknown:
        advice.append(
            "No automatic fix for: "
            + ", ".join(safe_token(u) for u in unknown)
            + ". See the smbguard report."
        )
    if advice:
        out.append("if (-not $Rollback) {")
        out += [f"    Write-Warning '{a.replace(chr(39), chr(39) * 2)}'" for a in advice]
        out.append("}")
    steps = powershell_steps(host)
    if not steps:
        out.append("Write-Host 'Nothing to change automatically on this host.'")
    for step in steps:
        out.append(f"\n# {step.key}: {step.description}")
        if step.legacy is None and step.legacy_note is None:
            out.append(_invoke(step))
            continue
        if step.legacy is not None:
            old_systems = _indent(_invoke(step.legacy))
        else:
            note = (step.legacy_note or "").replace("'", "''")
            old_systems = f"    Write-Host '[skipped] {step.key} - {note}'"
        out.append(f"if ($Legacy) {{\n{old_systems}\n}} else {{\n{_indent(_invoke(step))}\n}}")
    out.append(_PS_FOOTER.format(address=safe_token(host.address), port=host.port))
    return "\n".join(out)


# -- smb.conf ---------------------------------------------------------------------

#: finding id -> [global] parameters (name, value, comment).
SMBCONF: dict[str, tuple[tuple[str, str, str], ...]] = {
    "smb1-enabled": (("server min protocol", "SMB2_10", "smb1-enabled: refuse SMB1"),),
    "ms17-010": (("server min protocol", "SMB2_10", "ms17-010: refuse SMB1"),),
    "smb1-only": (("server max protocol", "SMB3", "smb1-only: allow SMB2/3 (needs Samba 3.6 or later)"),),
    "smb3-not-supported": (("server max protocol", "SMB3", "smb3-not-supported: allow SMB 3"),),
    "smb-signing-not-required": (("server signing", "mandatory", "smb-signing-not-required"),),
    "smb-signing-disabled": (("server signing", "mandatory", "smb-signing-disabled"),),
    "smb-encryption-unavailable": (
        ("server smb encrypt", "desired", "smb-encryption-unavailable (Samba < 4.14: smb encrypt = desired)"),
    ),
    "null-session-allowed": (("restrict anonymous", "2", "null-session-allowed"),),
    "guest-access-allowed": (
        ("map to guest", "Never", "guest-access-allowed; also remove 'guest ok = yes' from the shares"),
        ("restrict anonymous", "2", "guest-access-allowed"),
    ),
    "netbios-session-exposed": (
        ("disable netbios", "yes", "netbios-session-exposed; then: systemctl disable --now nmbd"),
        ("smb ports", "445", "netbios-session-exposed: stop listening on 139"),
    ),
    "anonymous-share-listing": (("restrict anonymous", "2", "anonymous-share-listing"),),
    "share-readable-without-credentials": (("map to guest", "Never", "share-readable-without-credentials"),),
    "share-writable-without-credentials": (("map to guest", "Never", "share-writable-without-credentials"),),
    "ntlmv1-allowed": (("ntlm auth", "ntlmv2-only", "ntlmv1-allowed"),),
    "smb1-client-enabled": (("client min protocol", "SMB2_10", "smb1-client-enabled"),),
}

SMBCONF_ADVICE: dict[str, str] = {
    "samba-outdated": "samba-outdated: upgrade Samba (or the NAS firmware) to a supported release",
    "smb1-only": "smb1-only: 'server min protocol = SMB2_10' stays commented out "
    "until every client speaks SMB2",
    "os-end-of-support": "os-end-of-support: reported for Samba? check the NAS vendor's support status",
    "share-everyone-write": "share-everyone-write: tighten the share ('write list', 'valid users') and the "
    "file system permissions",
    "share-everyone-full-control": "share-everyone-full-control: tighten the share ACL (sharesec) and the "
    "file system permissions",
    "share-readable-without-credentials": "share-readable-without-credentials: remove 'guest ok = yes' / "
    "'public = yes' from that share",
    "share-writable-without-credentials": "share-writable-without-credentials: remove 'guest ok = yes' / "
    "'public = yes' from that share NOW",
    "weak-password-policy": "weak-password-policy: pdbedit -P 'min password length' -C 14",
    "no-account-lockout": "no-account-lockout: pdbedit -P 'bad lockout attempt' -C 10",
    "share-without-snapshots": "share-without-snapshots: snapshots (vfs objects = shadow_copy2) or backups",
    "snapshots-stale": "snapshots-stale: check the snapshot schedule and the backup job",
}


def smbconf_snippet(host: FixHost, generated: datetime | None = None) -> str:
    """A ``[global]`` snippet for a Samba host; commented lines explain each setting."""
    when = (generated or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M UTC")
    params: dict[str, tuple[str, list[str]]] = {}
    for fid, _ in host.findings:
        for name, value, why in SMBCONF.get(fid, ()):
            if name in params:
                params[name][1].append(why)
            else:
                params[name] = (value, [why])
    smb1_only = "smb1-only" in host.ids
    lines = [
        f"# smbguard remediation for {safe_token(host.address)}:{host.port}"
        + (f" ({safe_token(host.name)})" if host.name else "")
        + f", generated {when}. smbguard never applies it.",
        "# Merge these lines into the [global] section of smb.conf, then:",
        "#   testparm -s                     (check the syntax)",
        "#   smbcontrol smbd reload-config   (or: systemctl restart smbd)",
        f"#   smbguard scan {safe_token(host.address)} --port {host.port}   (verify from another machine)",
    ]
    for fid in sorted(host.ids):
        if fid in SMBCONF_ADVICE:
            lines.append(f"# NOTE {SMBCONF_ADVICE[fid]}")
    unknown = sorted(fid for fid in host.ids if fid not in SMBCONF and fid not in SMBCONF_ADVICE)
    if unknown:
        lines.append("# NOTE no smb.conf setting for: " + ", ".join(safe_token(u) for u in unknown))
    lines.append("[global]")
    if not params:
        lines.append("# (no setting to change)")
    for name, (value, reasons) in params.items():
        lines.append(f"    # {'; '.join(reasons)}")
        prefix = "# " if smb1_only and name == "server min protocol" else ""
        lines.append(f"    {prefix}{name} = {value}")
    return "\n".join(lines) + "\n"


def scripts_for(hosts: Iterable[FixHost], fmt: str) -> dict[FixHost, str]:
    """Render each host in ``fmt`` ("powershell", "smb.conf" or "auto": by detected platform)."""
    out: dict[FixHost, str] = {}
    for host in hosts:
        kind = ("smb.conf" if host.samba else "powershell") if fmt == "auto" else fmt
        out[host] = smbconf_snippet(host) if kind == "smb.conf" else powershell_script(host)
    return out
