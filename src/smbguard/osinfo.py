"""Windows build numbers -> product names, from the NTLM VERSION structure
([MS-NLMP] 2.2.2.10) a server sends in its CHALLENGE.

Windows 10 / 11 and Server 2016 / 2019 / 2022 / 2025 all report 10.0: only the
build tells them apart, and several builds are shared by a client and a server
release (17763 is both Windows 10 1809 and Server 2019): those names say so
("Windows 10 1809 / Server 2019"), they never guess one side. Samba (and
Samba-based NAS firmware) reports the fixed version 6.1.0, which no Windows
release uses (Windows 7 is 6.1.7600/7601).
"""

from __future__ import annotations

from dataclasses import dataclass

SAMBA = "Samba"


@dataclass(frozen=True, slots=True)
class Product:
    """What a build number means. ``ambiguous`` when a client and a server share it."""

    name: str
    ambiguous: bool = False


# (major, minor, build) -> product; builds from Microsoft's release information.
_BUILDS: dict[tuple[int, int, int], Product] = {
    (5, 0, 2195): Product("Windows 2000"),
    (5, 1, 2600): Product("Windows XP"),
    (5, 2, 3790): Product("Windows Server 2003 / XP x64", ambiguous=True),
    (6, 0, 6000): Product("Windows Vista"),
    (6, 0, 6001): Product("Windows Vista SP1 / Server 2008", ambiguous=True),
    (6, 0, 6002): Product("Windows Vista SP2 / Server 2008 SP2", ambiguous=True),
    (6, 0, 6003): Product("Windows Server 2008 SP2"),
    (6, 1, 7600): Product("Windows 7 / Server 2008 R2", ambiguous=True),
    (6, 1, 7601): Product("Windows 7 SP1 / Server 2008 R2 SP1", ambiguous=True),
    (6, 2, 9200): Product("Windows 8 / Server 2012", ambiguous=True),
    (6, 3, 9600): Product("Windows 8.1 / Server 2012 R2", ambiguous=True),
    (10, 0, 10240): Product("Windows 10 1507"),
    (10, 0, 10586): Product("Windows 10 1511"),
    (10, 0, 14393): Product("Windows 10 1607 / Server 2016", ambiguous=True),
    (10, 0, 15063): Product("Windows 10 1703"),
    (10, 0, 16299): Product("Windows 10 1709 / Server 1709", ambiguous=True),
    (10, 0, 17134): Product("Windows 10 1803 / Server 1803", ambiguous=True),
    (10, 0, 17763): Product("Windows 10 1809 / Server 2019", ambiguous=True),
    (10, 0, 18362): Product("Windows 10 1903 / Server 1903", ambiguous=True),
    (10, 0, 18363): Product("Windows 10 1909 / Server 1909", ambiguous=True),
    (10, 0, 19041): Product("Windows 10 2004 / Server 2004", ambiguous=True),
    (10, 0, 19042): Product("Windows 10 20H2 / Server 20H2", ambiguous=True),
    (10, 0, 19043): Product("Windows 10 21H1"),
    (10, 0, 19044): Product("Windows 10 21H2"),
    (10, 0, 19045): Product("Windows 10 22H2"),
    (10, 0, 20348): Product("Windows Server 2022"),
    (10, 0, 22000): Product("Windows 11 21H2"),
    (10, 0, 22621): Product("Windows 11 22H2"),
    (10, 0, 22631): Product("Windows 11 23H2"),
    (10, 0, 25398): Product("Windows Server 23H2"),
    (10, 0, 26100): Product("Windows 11 24H2 / Server 2025", ambiguous=True),
}


def is_samba_version(major: int, minor: int, build: int) -> bool:
    """Samba's NTLM VERSION is always 6.1.0 (seen from Samba 4.x here and in captured
    QNAP / Samba traffic), a version no Windows release sends."""
    return (major, minor, build) == (6, 1, 0)


def product(major: int, minor: int, build: int) -> Product | None:
    """Product for an NTLM version; None for an unknown Windows build or no version."""
    if is_samba_version(major, minor, build):
        return Product(SAMBA)
    known = _BUILDS.get((major, minor, build))
    if known is not None:
        return known
    if major == 10 and minor == 0 and build > 0:
        # Unknown 10.0 build: name the family by range, marked as a guess of range only.
        if build >= 22000:
            return Product(f"Windows 11 / Server (build {build})", ambiguous=True)
        return Product(f"Windows 10 / Server (build {build})", ambiguous=True)
    return None


def product_name(major: int | None, minor: int | None, build: int | None) -> str | None:
    """Convenience: the product name or None."""
    if major is None or minor is None or build is None:
        return None
    found = product(major, minor, build)
    return found.name if found is not None else None


def best_os_string(native_os: str | None, native_lan_manager: str | None, ntlm_product: str | None,
                   ntlm_version: str | None) -> str | None:
    """The most specific OS description available.

    1. Samba's SMB1 NativeLanMan ("Samba 4.17.12-Debian") names the exact version.
    2. A Windows SMB1 NativeOS with a build ("Windows Server 2016 Standard 14393").
    3. The NTLM product with its version ("Windows 10 1809 / Server 2019 (10.0.17763)").
    """
    if native_lan_manager and native_lan_manager.startswith("Samba"):
        return native_lan_manager
    if native_os and any(ch.isdigit() for ch in native_os) and native_os not in _GENERIC_NATIVE_OS:
        return native_os
    if ntlm_product == SAMBA:
        return SAMBA
    if ntlm_product:
        return f"{ntlm_product} ({ntlm_version})" if ntlm_version else ntlm_product
    if ntlm_version:
        return f"NTLM version {ntlm_version}"
    return None


# NativeOS strings that are placeholders, not versions (Samba says "Windows 6.1").
_GENERIC_NATIVE_OS = frozenset({"Windows 6.1", "Windows 5.0", "Windows 5.1", "Unix"})
