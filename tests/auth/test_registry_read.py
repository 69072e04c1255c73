"""Remote registry reading and patch level. Samba's winreg serves none of these keys,
so a fake winreg answers the way impacket's rrp helpers do against Windows (values
as Windows stores them: REG_SZ builds, REG_DWORD UBR and flags, Win32 error codes)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import pytest
from impacket.dcerpc.v5 import rrp

from smbguard.auth import session as session_mod
from smbguard.auth.collect import patch_level
from smbguard.auth.credentials import Credentials
from smbguard.auth.registry import CURRENT_VERSION, LANMAN, LSA, REGISTRY_VALUES, value_path
from smbguard.auth.session import SmbSession
from smbguard.checks.evaluate import run_check
from smbguard.checks.registry import by_id
from smbguard.model import AuditFacts, Status
from tests.checks.fixtures import modern_windows

# How a Windows 10 1909 registry holds them (CurrentBuild REG_SZ, UBR REG_DWORD): 18363.719 is the
# build before KB4551762 (SMBGhost fix, 18363.720 per Microsoft's 1909 update history), 18363.720 after.
WIN10_1909_UNPATCHED = {
    value_path(CURRENT_VERSION, "CurrentBuild"): "18363",
    value_path(CURRENT_VERSION, "CurrentBuildNumber"): "18363",
    value_path(CURRENT_VERSION, "UBR"): 719,
    value_path(CURRENT_VERSION, "ProductName"): "Windows 10 Pro",
    value_path(CURRENT_VERSION, "DisplayVersion"): None,
}
WIN10_1909_PATCHED = {**WIN10_1909_UNPATCHED, value_path(CURRENT_VERSION, "UBR"): 720}


class FakeWinreg:
    """Answers like impacket's rrp helpers: a tree of keys -> {value: data}."""

    def __init__(self, tree: dict[str, dict[str, Any]], denied: set[str] = frozenset()) -> None:
        self.tree = tree
        self.denied = denied
        self.closed: list[str] = []

    def open_local_machine(self, dce: Any, access: int) -> dict[str, Any]:
        return {"phKey": "HKLM"}

    def open_key(self, dce: Any, handle: Any, subkey: str, samDesired: int = 0) -> dict[str, Any]:
        if subkey not in self.tree:
            raise rrp.DCERPCSessionError(error_code=2)  # ERROR_FILE_NOT_FOUND
        return {"phkResult": subkey}

    def query(self, dce: Any, handle: str, value: str, size: int = 512) -> tuple[int, Any]:
        if f"{handle}\\{value}" in self.denied:
            raise rrp.DCERPCSessionError(error_code=5)  # ERROR_ACCESS_DENIED
        values = self.tree[handle]
        if value not in values:
            raise rrp.DCERPCSessionError(error_code=2)
        data = values[value]
        return (rrp.REG_DWORD if isinstance(data, int) else rrp.REG_SZ), data

    def close(self, dce: Any, handle: str) -> None:
        self.closed.append(handle)


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeWinreg:
    reg = FakeWinreg(
        {
            LANMAN: {"SMB1": 0, "AuditSmb1Access": 1, "NullSessionPipes": "\x00"},
            LSA: {"LmCompatibilityLevel": 5, "RestrictAnonymous": 1},
            CURRENT_VERSION: {
                "CurrentBuild": "17763",
                "UBR": 1879,
                "ProductName": "Windows Server 2019 Standard",
            },
        },
        denied={f"{LSA}\\RestrictAnonymousSAM"},
    )
    monkeypatch.setattr(session_mod.rrp, "hOpenLocalMachine", reg.open_local_machine)
    monkeypatch.setattr(session_mod.rrp, "hBaseRegOpenKey", reg.open_key)
    monkeypatch.setattr(session_mod.rrp, "hBaseRegQueryValue", reg.query)
    monkeypatch.setattr(session_mod.rrp, "hBaseRegCloseKey", reg.close)

    @contextlib.contextmanager
    def no_rpc(self: SmbSession, pipe: str, uuid: bytes) -> Iterator[None]:
        yield None

    monkeypatch.setattr(SmbSession, "_rpc", no_rpc)
    return reg


def test_read_registry_distinguishes_set_unset_and_unreadable(fake: FakeWinreg) -> None:
    session = SmbSession("192.0.2.1", 445, Credentials.with_password("admin", "x"), "smb2", 1)
    values, missing = session.read_registry(REGISTRY_VALUES)
    assert values[value_path(LANMAN, "SMB1")] == 0
    assert values[value_path(LSA, "LmCompatibilityLevel")] == 5
    assert values[value_path(LANMAN, "RequireSecuritySignature")] is None  # key exists, value not set
    assert values[value_path(LANMAN, "NullSessionPipes")] == ""  # empty REG_MULTI_SZ
    assert values[value_path(CURRENT_VERSION, "CurrentBuild")] == "17763"
    # The mrxsmb10 key does not exist: not read, with the reason.
    assert value_path(r"SYSTEM\CurrentControlSet\Services\mrxsmb10", "Start") in missing
    assert (
        "ERROR_FILE_NOT_FOUND" in missing[value_path(r"SYSTEM\CurrentControlSet\Services\mrxsmb10", "Start")]
    )
    assert "ERROR_ACCESS_DENIED" in missing[value_path(LSA, "RestrictAnonymousSAM")]
    assert value_path(LSA, "RestrictAnonymousSAM") not in values
    assert sorted(fake.closed) == sorted([LANMAN, LSA, CURRENT_VERSION])
    assert patch_level(values) == (17763, 1879, "Windows Server 2019 Standard")


def test_patch_level_from_recorded_values() -> None:
    assert patch_level(WIN10_1909_UNPATCHED) == (18363, 719, "Windows 10 Pro")
    assert patch_level({value_path(CURRENT_VERSION, "CurrentBuildNumber"): "7601"}) == (7601, None, None)
    assert patch_level({}) == (None, None, None)
    assert patch_level({value_path(CURRENT_VERSION, "CurrentBuild"): "garbage"})[0] is None


@pytest.mark.parametrize(
    ("values", "expected"),
    [(WIN10_1909_UNPATCHED, Status.AFFECTED), (WIN10_1909_PATCHED, Status.NOT_AFFECTED)],
)
def test_ubr_feeds_the_smbghost_check(values: dict[str, Any], expected: Status) -> None:
    """KB4551762 = 18362/18363 with UBR >= 720: the audit's patch level decides SMBGhost."""
    build, ubr, product = patch_level(values)
    facts = modern_windows(audit=AuditFacts(True, current_build=build, ubr=ubr, product_name=product))
    assert facts.smb2 is not None
    from dataclasses import replace

    facts = replace(facts, smb2=replace(facts.smb2, compression_algorithms=("LZNT1",)))
    statuses = {r.status for r in run_check(by_id()["cve-2020-0796"], facts, strict=True)}
    assert expected in statuses
