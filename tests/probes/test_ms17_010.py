"""MS17-010 probe: replayed against real Windows answers from the shared captures,
and live against the emulator (loopback only)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smbguard.lab import Lab, personas
from smbguard.model import Target
from smbguard.net.transport import ReplayTransport
from smbguard.probes import ms17_010
from smbguard.proto import smb1
from tests.helpers.pcap import server_messages

WIN7 = "pcaps/zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap"
VULN_PEEK = "pcaps/suricata-verify/smb2-09-trunc-file-logging/input.pcap"
ROMANCE = "pcaps/zeek-eternalsafety/eternalromance-success-2008r2.pcap"


def _first(path: Path, command: int, pred: object = None) -> bytes:
    for msg in server_messages(path, b"\xffSMB", command):
        if pred is None or pred(msg):  # type: ignore[operator]
            return msg
    raise AssertionError(f"no SMB1 0x{command:02x} reply in {path}")


def _win7_login(shared: Path) -> list[bytes]:
    """Real Windows 7 replies: non-extended NEGOTIATE, anonymous SESSION_SETUP, IPC$ TREE_CONNECT."""
    cap = shared / WIN7
    neg = _first(cap, 0x72, lambda m: not smb1.decode_negotiate_response(m).extended_security)
    setup = _first(cap, 0x73, lambda m: smb1.decode_session_setup_response(m).status == 0)
    tree = _first(cap, 0x75)
    return [neg, setup, tree]


def _run(replies: list[bytes]) -> tuple[object, ReplayTransport]:
    transport = ReplayTransport(replies)
    facts = asyncio.run(ms17_010.run_on(transport, "192.0.2.1"))
    return facts, transport


def test_real_unpatched_answer_is_vulnerable(shared_data: Path) -> None:
    peek = _first(shared_data / VULN_PEEK, 0x25, lambda m: smb1.decode_header(m).status == 0xC0000205)
    facts, transport = _run([*_win7_login(shared_data), peek])
    assert facts.state == "vulnerable"  # type: ignore[attr-defined]
    assert facts.evidence["status"] == "STATUS_INSUFF_SERVER_RESOURCES"  # type: ignore[attr-defined]
    # What was sent: NEGOTIATE, SESSION_SETUP, TREE_CONNECT, the PeekNamedPipe, LOGOFF; all small, plain.
    commands = [smb1.decode_header(m).command for m in transport.sent]
    assert commands[:4] == [0x72, 0x73, 0x75, 0x25]
    peek_req = smb1.decode_transaction_request(transport.sent[3])
    assert peek_req.setup == (smb1.TRANS_PEEK_NMPIPE, 0)
    assert peek_req.parameters == b"" and peek_req.data == b""
    assert all(len(m) < 200 for m in transport.sent)


def test_valid_fid_success_is_not_called_patched(shared_data: Path) -> None:
    """EternalRomance's PeekNamedPipe on a valid FID got STATUS_SUCCESS: that proves nothing."""
    peek = _first(shared_data / ROMANCE, 0x25, lambda m: smb1.decode_header(m).status == 0)
    facts, _ = _run([*_win7_login(shared_data), peek])
    assert facts.state == "unknown"  # type: ignore[attr-defined]
    assert facts.reason  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("status", "state"),
    [
        (0xC0000205, "vulnerable"),
        (0xC0000022, "patched"),
        (0xC0000008, "patched"),
        (0xC00000BB, "unknown"),
        (0x00000000, "unknown"),
    ],
)
def test_status_table(status: int, state: str) -> None:
    assert ms17_010.judge_peek_status(status).state == state


def test_ipc_refused_is_unknown_not_safe(shared_data: Path) -> None:
    neg, setup, tree = _win7_login(shared_data)
    refused = smb1.encode_error(smb1.decode_header(tree), 0xC0000022)
    facts, _ = _run([neg, setup, refused])
    assert facts.state == "unknown"  # type: ignore[attr-defined]
    assert facts.evidence["stage"] == "tree connect to IPC$"  # type: ignore[attr-defined]


def test_garbage_and_silence_are_unknown(shared_data: Path) -> None:
    neg, setup, _ = _win7_login(shared_data)
    garbage, _ = _run([neg, setup, b"\xffSMB\x75garbage"])
    assert garbage.state == "unknown"  # type: ignore[attr-defined]
    assert "malformed" in garbage.reason  # type: ignore[attr-defined]
    closed, _ = _run([neg])  # the server hangs up after NEGOTIATE
    assert closed.state == "unknown"  # type: ignore[attr-defined]
    assert "ConnectionClosed" in closed.reason  # type: ignore[attr-defined]


PORT = 45445  # high port: no root needed


@pytest.fixture(scope="module")
def lab_addresses() -> dict[str, str]:
    return {
        "127.0.30.101": "win7-unpatched",
        "127.0.30.102": "win2008r2-patched",
        "127.0.30.103": "win2019-hardened",
        "127.0.30.104": "samba-nas",
    }


def test_against_the_lab(lab_addresses: dict[str, str]) -> None:
    layout = {addr: personas.BY_KEY[key] for addr, key in lab_addresses.items()}

    async def scan() -> dict[str, str]:
        async with Lab(layout, port=PORT).running():
            out = {}
            for addr in layout:
                out[addr] = (await ms17_010.probe(Target(addr, PORT))).state
            # A closed port: unknown, never safe.
            out["127.0.30.199"] = (await ms17_010.probe(Target("127.0.30.199", PORT))).state
            return out

    states = asyncio.run(scan())
    assert states == {
        "127.0.30.101": "vulnerable",
        "127.0.30.102": "patched",
        "127.0.30.103": "not_run",  # SMB1 disabled: the connection is dropped
        "127.0.30.104": "patched",  # Samba answers STATUS_INVALID_HANDLE
        "127.0.30.199": "unknown",
    }
