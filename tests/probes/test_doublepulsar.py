"""DoublePulsar ping: real implant / clean answers from the captures, and the emulator."""

from __future__ import annotations

import asyncio
from pathlib import Path

from smbguard.lab import Lab, personas
from smbguard.model import Target
from smbguard.net.transport import ReplayTransport
from smbguard.probes import doublepulsar
from smbguard.proto import smb1
from tests.helpers.pcap import server_messages

WIN7 = "pcaps/zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap"
IMPLANT = "pcaps/zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap"


def _trans2(path: Path, mid: int) -> bytes:
    for msg in server_messages(path, b"\xffSMB", 0x32):
        if smb1.decode_header(msg).mid == mid:
            return msg
    raise AssertionError(f"no TRANS2 reply with MID 0x{mid:02x} in {path.name}")


def _login(shared: Path) -> list[bytes]:
    cap = shared / WIN7
    neg = next(
        m
        for m in server_messages(cap, b"\xffSMB", 0x72)
        if not smb1.decode_negotiate_response(m).extended_security
    )
    setup = next(
        m for m in server_messages(cap, b"\xffSMB", 0x73) if smb1.decode_session_setup_response(m).status == 0
    )
    tree = server_messages(cap, b"\xffSMB", 0x75)[0]
    return [neg, setup, tree]


def test_real_implant_reply_is_infected(shared_data: Path) -> None:
    reply = _trans2(shared_data / IMPLANT, 0x51)
    transport = ReplayTransport([*_login(shared_data), reply])
    facts = asyncio.run(doublepulsar.run_on(transport, "192.0.2.1"))
    assert facts.state == "infected"
    assert facts.evidence["multiplex_id"] == "0x51"
    assert facts.evidence["implant_key"] == "794b5da4"
    ping = smb1.decode_transaction_request(transport.sent[3])
    assert ping.setup == (smb1.TRANS2_SESSION_SETUP,)
    assert smb1.decode_header(transport.sent[3]).mid == 0x41
    assert ping.data == b"" and len(transport.sent[3]) < 120  # a ping, no payload


def test_real_clean_reply_is_clean(shared_data: Path) -> None:
    reply = _trans2(shared_data / WIN7, 0x41)
    assert smb1.decode_header(reply).status == 0xC0000002
    facts = asyncio.run(doublepulsar.run_on(ReplayTransport([*_login(shared_data), reply]), "192.0.2.1"))
    assert facts.state == "clean"


def test_against_the_lab() -> None:
    layout = {
        "127.0.30.111": personas.WIN7_DOUBLEPULSAR,
        "127.0.30.112": personas.WIN7_SP1_UNPATCHED,
        "127.0.30.113": personas.WIN10_1909,
    }

    async def scan() -> dict[str, str]:
        async with Lab(layout, port=45446).running():
            return {a: (await doublepulsar.probe(Target(a, 45446))).state for a in layout}

    assert asyncio.run(scan()) == {
        "127.0.30.111": "infected",
        "127.0.30.112": "clean",
        "127.0.30.113": "not_run",
    }
