"""Helpers for codec tests: recorded Samba replies (ours) and shared Windows captures (read in place)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.helpers.pcap import SmbMessage, smb_messages

RECORDED = Path(__file__).resolve().parent / "recorded"


def recorded(name: str) -> bytes:
    """A reply recorded from our own Samba by tests/proto/record_samba.py."""
    return (RECORDED / f"samba-{name}.bin").read_bytes()


@pytest.fixture(scope="session")
def pcap(shared_data: Path) -> Callable[[str], list[SmbMessage]]:
    """``pcap("zeek/smb311.pcap")`` -> SMB messages of a capture under ../shared/data/pcaps."""
    cache: dict[str, list[SmbMessage]] = {}

    def load(rel: str) -> list[SmbMessage]:
        if rel not in cache:
            cache[rel] = smb_messages(shared_data / "pcaps" / rel)
        return cache[rel]

    return load
