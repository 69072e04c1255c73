"""Hypothesis: probes fed mutated server replies never raise anything unexpected.

Each probe step either returns a result (with None / reasons for what it could
not decide) or raises DecodeError / TransportError, which the host collector
turns into a ProbeError."""

from __future__ import annotations

import asyncio

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbguard.errors import DecodeError, TransportError
from smbguard.net.transport import ReplayTransport
from smbguard.probes import host
from smbguard.probes import smb1 as smb1_probe
from smbguard.probes import smb2 as smb2_probe
from smbguard.probes.base import Smb1Channel, Smb2Channel
from smbguard.probes.ntlm import ntlm_info, smb2_challenge
from smbguard.probes.sessions import smb2_guest_session, smb2_null_session
from tests.proto.conftest import recorded

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _mutate(data: bytes, draw: st.DrawFn) -> bytes:
    buf = bytearray(data)
    for _ in range(draw(st.integers(0, 6))):
        if not buf:
            break
        buf[draw(st.integers(0, len(buf) - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        buf = buf[: draw(st.integers(0, len(buf)))]
    return bytes(buf)


@st.composite
def replies(draw: st.DrawFn, names: tuple[str, ...]) -> list[bytes]:
    return [_mutate(recorded(n), draw) for n in names]


@FUZZ
@given(replies(("default-negotiate-3.1.1",)))
def test_smb2_negotiate(msgs: list[bytes]) -> None:
    result = asyncio.run(smb2_probe.negotiate(Smb2Channel(ReplayTransport(msgs)), 0x0311, "srv"))
    smb2_probe.build_facts([result])


@FUZZ
@given(replies(("nt1-smb1-negotiate-extsec", "nt1-smb1-sessionsetup-challenge")))
def test_smb1_negotiate_and_fingerprint(msgs: list[bytes]) -> None:
    async def run() -> None:
        result = await smb1_probe.fingerprint(await smb1_probe.negotiate(Smb1Channel(ReplayTransport(msgs))))
        smb1_probe.finalize(result.facts, result.closed, smb2_spoken=False)

    asyncio.run(run())


@FUZZ
@given(
    replies(
        (
            "default-sessionsetup-challenge",
            "default-sessionsetup-anonymous",
            "default-treeconnect-ipc",
            "default-logoff",
            "guest-sessionsetup-guest",
        )
    )
)
def test_challenge_and_sessions(msgs: list[bytes]) -> None:
    async def run() -> None:
        channel = Smb2Channel(ReplayTransport(msgs[:4]), first_message_id=1)
        try:
            step = await smb2_challenge(channel)
        except (DecodeError, TransportError):
            return
        ntlm_info(step.challenge)
        await smb2_null_session(channel, step, "127.0.0.1")
        await smb2_guest_session(Smb2Channel(ReplayTransport(msgs[:1] + msgs[4:]), first_message_id=1))

    asyncio.run(run())


@FUZZ
@given(
    replies(
        (
            "nt1-smb1-negotiate-extsec",
            "nt1-smb1-sessionsetup-challenge",
            "nt1-smb1-sessionsetup-null",
            "nt1-smb1-treeconnect-ipc",
            "nt1-smb1-peeknamedpipe",
            "nt1-smb1-trans2-sessionsetup",
            "nt1-smb1-logoff",
        )
    )
)
def test_vulnerability_checks_on_the_fingerprint_connection(msgs: list[bytes]) -> None:
    """Mutated replies after the fingerprint: a verdict or "unknown" per check, never an exception;
    "not_run" never (SMB1 was accepted)."""

    async def run() -> None:
        result = await smb1_probe.fingerprint(await smb1_probe.negotiate(Smb1Channel(ReplayTransport(msgs))))
        if not host._shares_fingerprint(result):
            return
        result, verdicts = await host._vulns_on_fingerprint(result, ["ms17_010", "doublepulsar"], "srv")
        if verdicts:  # empty: anonymous logon refused, the caller falls back to separate connections
            assert verdicts["ms17_010"].state in {"vulnerable", "patched", "unknown"}
            assert verdicts["doublepulsar"].state in {"infected", "clean", "unknown"}
        assert result.pending_uid is None

    asyncio.run(run())
