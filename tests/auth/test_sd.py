"""Security descriptors and snapshot arrays recorded from Samba 4.17 (our own lab)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from smbguard.auth.sd import FULL_CONTROL, parse_security_descriptor, rights, sid_to_str, to_ace_facts
from smbguard.auth.session import parse_snapshot_array
from smbguard.errors import DecodeError

# srvsvc NetShareGetInfo 502 of a share set with `sharesec SHARE -R S-1-1-0:ALLOWED/0/FULL` / .../READ
SHARE_FULL = bytes.fromhex(
    "010004800000000000000000000000001400000002001c000100000000001400ff011f00010100000000000100000000"
)
SHARE_READ = bytes.fromhex(
    "010004800000000000000000000000001400000002001c000100000000001400a9001200010100000000000100000000"
)
# SMB2 QUERY_INFO (security) of a 0777 share root: owner, Unix group root, Everyone, all full control.
ROOT_0777 = bytes.fromhex(
    "01000490140000003000000000000000400000000105000000000005150000004b45981488318fc5e345c657e9030000"
    "01020000000000160200000000000000020058000300000000002400ff011f000105000000000005150000004b459814"
    "88318fc5e345c657e903000000001800ff011f000102000000000016020000000000000000001400ff011f0001010000"
    "0000000100000000"
)
# FSCTL_SRV_ENUMERATE_SNAPSHOTS answers (first the 16-byte size probe, then the full array).
SNAP_PROBE = bytes.fromhex("01000000000000003400000000000000")
SNAP_FULL = bytes.fromhex(
    "010000000100000034000000400047004d0054002d0032003000320036002e00310031002e00320037002d00310030002e00"
    "300030002e003000300000000000"
)


def test_share_descriptor_everyone_full() -> None:
    sd = parse_security_descriptor(SHARE_FULL)
    assert sd.owner is None and sd.group is None
    assert sd.dacl is not None and len(sd.dacl) == 1
    ace = sd.dacl[0]
    assert (ace.sid, ace.ace_type, ace.mask) == ("S-1-1-0", "allow", FULL_CONTROL)
    facts = to_ace_facts(sd, {"S-1-1-0": "Everyone"})
    assert facts[0].name == "Everyone" and facts[0].rights == ("full", "read", "write")


def test_share_descriptor_everyone_read() -> None:
    sd = parse_security_descriptor(SHARE_READ)
    assert sd.dacl is not None
    assert sd.dacl[0].mask == 0x001200A9
    assert rights(sd.dacl[0].mask) == ("read",)


def test_root_descriptor_from_samba() -> None:
    sd = parse_security_descriptor(ROOT_0777)
    assert sd.owner == "S-1-5-21-345523531-3314495880-1472611811-1001"
    assert sd.group == "S-1-22-2-0"
    assert sd.dacl is not None
    assert [a.sid for a in sd.dacl] == [
        "S-1-5-21-345523531-3314495880-1472611811-1001",
        "S-1-22-2-0",
        "S-1-1-0",
    ]
    assert all(a.mask == FULL_CONTROL for a in sd.dacl)


def test_null_dacl_means_everyone_full() -> None:
    header_only = bytes.fromhex("0100008000000000000000000000000000000000")  # SE_SELF_RELATIVE, no DACL
    sd = parse_security_descriptor(header_only)
    assert sd.dacl is None
    (ace,) = to_ace_facts(sd, {})
    assert ace.sid == "S-1-1-0" and "full" in ace.rights


def test_inherit_only_entries_are_skipped() -> None:
    # Same as SHARE_READ but with AceFlags = INHERIT_ONLY (0x08).
    data = bytearray(SHARE_READ)
    data[0x14 + 8 + 1] = 0x08
    sd = parse_security_descriptor(bytes(data))
    assert to_ace_facts(sd, {}) == ()
    assert len(to_ace_facts(sd, {}, include_inherit_only=True)) == 1


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (0x001F01FF, ("full", "read", "write")),
        (0x10000000, ("full", "read", "write")),
        (0x001301BF, ("read", "write")),
        (0x001200A9, ("read",)),
        (0x00000004, ("write",)),
        (0x00040000, ("write",)),  # WRITE_DAC
        (0x00100000, ()),
    ],
)
def test_rights(mask: int, expected: tuple[str, ...]) -> None:
    assert rights(mask) == expected


def test_sid_decoding() -> None:
    assert sid_to_str(bytes.fromhex("010100000000000100000000")) == ("S-1-1-0", 12)
    with pytest.raises(DecodeError):
        sid_to_str(bytes.fromhex("0101000000"))
    with pytest.raises(DecodeError):
        sid_to_str(bytes.fromhex("02010000000000010000000000"))


@pytest.mark.parametrize("cut", [0, 10, 19, 21, 30, 47])
def test_truncated_descriptors_raise_decode_error(cut: int) -> None:
    with pytest.raises(DecodeError):
        parse_security_descriptor(SHARE_FULL[:cut])


def test_snapshot_arrays() -> None:
    assert parse_snapshot_array(SNAP_PROBE) == []
    assert parse_snapshot_array(SNAP_FULL) == ["@GMT-2026.11.27-10.00.00"]
    with pytest.raises(DecodeError):
        parse_snapshot_array(SNAP_FULL[:20])
    with pytest.raises(DecodeError):
        parse_snapshot_array(b"\x01\x00")


@given(st.binary(max_size=300))
def test_descriptor_fuzz(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_security_descriptor(data)


@given(st.binary(max_size=48), st.integers(0, 47), st.integers(0, 255))
def test_descriptor_mutations(prefix: bytes, index: int, value: int) -> None:
    data = bytearray(ROOT_0777)
    data[index] = value
    with contextlib.suppress(DecodeError):
        parse_security_descriptor(bytes(data) + prefix)


@given(st.binary(max_size=200))
def test_snapshot_fuzz(data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        parse_snapshot_array(data)
