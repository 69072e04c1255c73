"""Build -> product table and the best-OS-string rule."""

from __future__ import annotations

import pytest

from smbguard import osinfo


@pytest.mark.parametrize(
    ("version", "name", "ambiguous"),
    [
        ((5, 1, 2600), "Windows XP", False),
        ((5, 2, 3790), "Windows Server 2003 / XP x64", True),
        ((6, 0, 6001), "Windows Vista SP1 / Server 2008", True),
        ((6, 1, 7601), "Windows 7 SP1 / Server 2008 R2 SP1", True),
        ((6, 2, 9200), "Windows 8 / Server 2012", True),
        ((6, 3, 9600), "Windows 8.1 / Server 2012 R2", True),
        ((10, 0, 10240), "Windows 10 1507", False),
        ((10, 0, 14393), "Windows 10 1607 / Server 2016", True),
        ((10, 0, 17763), "Windows 10 1809 / Server 2019", True),
        ((10, 0, 18362), "Windows 10 1903 / Server 1903", True),
        ((10, 0, 18363), "Windows 10 1909 / Server 1909", True),
        ((10, 0, 19045), "Windows 10 22H2", False),
        ((10, 0, 20348), "Windows Server 2022", False),
        ((10, 0, 22000), "Windows 11 21H2", False),
        ((10, 0, 22631), "Windows 11 23H2", False),
        ((10, 0, 26100), "Windows 11 24H2 / Server 2025", True),
        ((6, 1, 0), "Samba", False),
    ],
)
def test_products(version: tuple[int, int, int], name: str, ambiguous: bool) -> None:
    found = osinfo.product(*version)
    assert found is not None and found.name == name and found.ambiguous is ambiguous


def test_unknown_builds() -> None:
    assert osinfo.product(6, 4, 1) is None
    later = osinfo.product(10, 0, 27000)
    assert later is not None and later.ambiguous and "27000" in later.name
    assert osinfo.product_name(None, 0, 1) is None


def test_best_os_string() -> None:
    assert (
        osinfo.best_os_string("Windows 6.1", "Samba 4.17.12-Debian", "Samba", "6.1.0")
        == "Samba 4.17.12-Debian"
    )
    assert (
        osinfo.best_os_string(
            "Windows Server 2016 Standard 14393", "Windows Server 2016 Standard 6.3", None, None
        )
        == "Windows Server 2016 Standard 14393"
    )
    assert osinfo.best_os_string(None, None, "Windows 10 1809 / Server 2019", "10.0.17763") == (
        "Windows 10 1809 / Server 2019 (10.0.17763)"
    )
    assert osinfo.best_os_string("Windows 5.1", "Windows 2000 LAN Manager", "Windows XP", "5.1.2600") == (
        "Windows XP (5.1.2600)"
    )
    assert osinfo.best_os_string(None, None, None, "6.4.1") == "NTLM version 6.4.1"
    assert osinfo.best_os_string(None, None, None, None) is None
