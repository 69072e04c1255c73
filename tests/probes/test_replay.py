"""Probes driven through ReplayTransport with recorded Samba replies and Windows replies
from the shared captures: the decision rules, without a network."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from smbguard.model import Smb1Facts, Smb2Facts, VulnProbeFacts
from smbguard.net.transport import ReplayTransport
from smbguard.probes import host
from smbguard.probes import smb1 as smb1_probe
from smbguard.probes import smb2 as smb2_probe
from smbguard.probes.base import Smb1Channel, Smb2Channel
from smbguard.probes.host import derive_signing
from smbguard.probes.ntlm import ntlm_info, smb2_challenge
from smbguard.probes.sessions import smb2_guest_session, smb2_null_session
from smbguard.proto import smb1, smb2
from tests.helpers.pcap import smb_messages
from tests.proto.conftest import recorded

# ----------------------------------------------------------------------------- SMB2 dialects


@pytest.mark.parametrize("dialect", list(smb2.ALL_DIALECTS))
def test_dialect_accepted_from_recorded_samba(dialect: int) -> None:
    name = smb2.dialect_name(dialect)
    transport = ReplayTransport([recorded(f"default-negotiate-{name}")])
    result = asyncio.run(smb2_probe.negotiate(Smb2Channel(transport), dialect, "srv"))
    assert result.accepted is True and result.response is not None
    sent = smb2.decode_negotiate_request(transport.sent[0])
    assert sent.dialects == (dialect,)
    if dialect == smb2.Dialect.SMB_3_1_1:  # every context offered, compression included
        kinds = {type(c).__name__ for c in sent.contexts}
        assert {"CompressionCapabilitiesContext", "SigningCapabilitiesContext", "NetnameContext"} <= kinds


def test_dialect_refused_with_not_supported() -> None:
    transport = ReplayTransport([recorded("smb3sign-negotiate-2.1")])
    result = asyncio.run(smb2_probe.negotiate(Smb2Channel(transport), 0x0210, "srv"))
    assert result.accepted is False and "STATUS_NOT_SUPPORTED" in (result.reason or "")


def test_dialect_closed_and_garbage() -> None:
    closed = asyncio.run(smb2_probe.negotiate(Smb2Channel(ReplayTransport([])), 0x0300, "srv"))
    assert closed.accepted is False and closed.closed
    garbage = asyncio.run(
        smb2_probe.negotiate(Smb2Channel(ReplayTransport([b"\xfeSMB" + bytes(30)])), 0x300, "s")
    )
    assert garbage.accepted is None and garbage.error is not None and garbage.error.kind == "protocol"


def test_build_facts_rules() -> None:
    accepted = [
        asyncio.run(
            smb2_probe.negotiate(Smb2Channel(ReplayTransport([recorded(f"default-negotiate-{n}")])), d, "s")
        )
        for n, d in (("3.0", 0x0300), ("3.1.1", 0x0311))
    ]
    refused = smb2_probe.DialectResult(0x0202, False, reason="refused")
    closed = smb2_probe.DialectResult(0x0210, False, closed=True)
    facts = smb2_probe.build_facts([*accepted, refused, closed])
    assert facts.dialects == ("3.0", "3.1.1") and facts.decided and facts.highest == "3.1.1"
    assert "ENCRYPTION" in facts.capabilities  # from the 3.0 reply, union over dialects
    assert facts.security_modes == {"3.0": 1, "3.1.1": 1}
    assert facts.signing_algorithms == ("AES_GMAC",)
    only_closed = smb2_probe.build_facts([closed, smb2_probe.DialectResult(0x0300, False, closed=True)])
    assert only_closed.dialects == () and not only_closed.decided
    assert smb2_probe.build_facts([closed], smb1_spoken=True).decided
    timeout = smb2_probe.build_facts([*accepted, smb2_probe.DialectResult(0x0202, None, reason="timeout")])
    assert not timeout.decided and "2.0.2: timeout" in (timeout.reason or "")


# ----------------------------------------------------------------------------- SMB1


def test_smb1_off_samba_answers_no_dialect() -> None:
    result = asyncio.run(
        smb1_probe.negotiate(Smb1Channel(ReplayTransport([recorded("default-smb1-ntlm012")])))
    )
    assert result.facts.enabled is False and result.channel is None


def test_smb1_smb2_reply_and_reset() -> None:
    smb2_reply = recorded("default-smb1-multiprotocol")
    assert (
        asyncio.run(smb1_probe.negotiate(Smb1Channel(ReplayTransport([smb2_reply])))).facts.enabled is False
    )
    reset = asyncio.run(smb1_probe.negotiate(Smb1Channel(ReplayTransport([]))))
    assert reset.facts.enabled is False and reset.closed
    assert smb1_probe.finalize(reset.facts, reset.closed, smb2_spoken=True) == reset.facts
    undecided = smb1_probe.finalize(reset.facts, reset.closed, smb2_spoken=False)
    assert undecided is not None and undecided.enabled is None
    garbage = asyncio.run(smb1_probe.negotiate(Smb1Channel(ReplayTransport([b"\xffSMB\x72" + bytes(10)]))))
    assert garbage.facts.enabled is None


def test_smb1_samba_fingerprint_from_extended_challenge() -> None:
    transport = ReplayTransport(
        [recorded("nt1-smb1-negotiate-extsec"), recorded("nt1-smb1-sessionsetup-challenge")]
    )

    async def run() -> smb1_probe.Smb1Result:
        return await smb1_probe.fingerprint(await smb1_probe.negotiate(Smb1Channel(transport)))

    result = asyncio.run(run())
    assert result.facts.enabled is True and result.facts.native_lan_manager == "Samba 4.17.12-Debian"
    assert result.challenge is not None and result.challenge.nb_computer_name == "SGNT1"
    sent = smb1.decode_negotiate_request(transport.sent[0])
    assert sent.dialects == (smb1.NT_LM_0_12,)  # only NT LM 0.12 is offered


def _windows_server_messages(path: Path, command: int) -> list[bytes]:
    return [
        m.payload
        for m in smb_messages(path)
        if m.from_server and m.payload[:4] == smb1.PROTOCOL_ID and m.payload[4] == command
    ]


def test_smb1_windows_2016_signing_required_and_native_os(shared_data: Path) -> None:
    cap = shared_data / "pcaps" / "ndpi" / "smb_frags.pcap"
    replies = _windows_server_messages(cap, smb1.Command.NEGOTIATE)[:1]
    replies += _windows_server_messages(cap, smb1.Command.SESSION_SETUP_ANDX)[:1]

    async def run() -> smb1_probe.Smb1Result:
        return await smb1_probe.fingerprint(await smb1_probe.negotiate(Smb1Channel(ReplayTransport(replies))))

    result = asyncio.run(run())
    facts = result.facts
    assert facts.enabled is True and facts.signing_required is True and facts.signing_enabled is True
    # The captured client used Kerberos, so this reply has NativeOS but no NTLMSSP CHALLENGE.
    assert facts.native_os == "Windows Server 2016 Standard 14393"
    assert facts.native_lan_manager == "Windows Server 2016 Standard 6.3"
    assert result.challenge is None and "without an NTLMSSP" in (facts.reason or "")
    assert "EXTENDED_SECURITY" in facts.capabilities


# ----------------------------------------------------------------------------- NTLM + sessions


def test_ntlm_and_null_session_from_recorded_samba() -> None:
    transport = ReplayTransport(
        [
            recorded("default-sessionsetup-challenge"),
            recorded("default-sessionsetup-anonymous"),
            recorded("default-treeconnect-ipc"),
            recorded("default-logoff"),
        ]
    )
    channel = Smb2Channel(transport, first_message_id=1)

    async def run() -> tuple[object, object]:
        step = await smb2_challenge(channel)
        return ntlm_info(step.challenge), await smb2_null_session(channel, step, "127.0.11.1")

    info, outcome = asyncio.run(run())
    assert info.product == "Samba" and info.netbios_computer == "SGDEFAULT"  # type: ignore[attr-defined]
    assert outcome.accepted is True  # type: ignore[attr-defined]
    tree = smb2.decode_tree_connect_request(transport.sent[2])
    assert tree.path == "\\\\127.0.11.1\\IPC$"


def test_guest_session_outcomes() -> None:
    refused = ReplayTransport(
        [recorded("default-sessionsetup-challenge"), recorded("default-sessionsetup-guest")]
    )
    out = asyncio.run(smb2_guest_session(Smb2Channel(refused, first_message_id=1)))
    assert out.accepted is False and "LOGON_FAILURE" in (out.reason or "")
    assert smb2.decode_session_setup_request(refused.sent[1]).security_buffer  # the AUTHENTICATE went out


def test_ntlm_windows_2019_challenge(shared_data: Path) -> None:
    cap = shared_data / "pcaps" / "suricata-verify" / "dcerpc_zerologon" / "input.pcap"
    reply = next(
        m.payload
        for m in smb_messages(cap)
        if m.from_server
        and m.payload[:4] == smb2.PROTOCOL_ID
        and smb2.decode_header(m.payload).command == smb2.Command.SESSION_SETUP
        and smb2.decode_header(m.payload).status == 0xC0000016
    )
    channel = Smb2Channel(ReplayTransport([reply]), first_message_id=smb2.decode_header(reply).message_id)
    step = asyncio.run(smb2_challenge(channel))
    info = ntlm_info(step.challenge)
    assert info.os_version == "10.0.17763" and info.product == "Windows 10 1809 / Server 2019"
    assert info.dns_domain == "lab.local" and info.netbios_computer == "BAS-AD-01"


# ----------------------------------------------------------------------------- signing


@pytest.mark.parametrize(
    ("smb1_facts", "modes", "decided", "required"),
    [
        (Smb1Facts(enabled=False), {"2.1": 1, "3.1.1": 3}, True, False),
        (Smb1Facts(enabled=False), {"3.0": 3, "3.1.1": 3}, True, True),
        (Smb1Facts(enabled=True, signing_required=False), {"3.1.1": 3}, True, False),
        (Smb1Facts(enabled=True, signing_required=True, signing_enabled=True), {"3.1.1": 3}, True, True),
        (Smb1Facts(enabled=None), {"3.1.1": 3}, True, None),  # SMB1 unknown: might not require
        (Smb1Facts(enabled=False), {"3.1.1": 3}, False, None),  # a dialect is undecided
        (Smb1Facts(enabled=False), {"3.1.1": 1}, False, False),  # one known "no" decides
        (Smb1Facts(enabled=False), {}, True, None),  # nothing spoken
    ],
)
def test_signing_required_only_if_every_spoken_dialect_requires(
    smb1_facts: Smb1Facts, modes: dict[str, int], decided: bool, required: bool | None
) -> None:
    smb2_facts = Smb2Facts(dialects=tuple(modes), decided=decided, security_modes=modes)
    assert derive_signing(smb1_facts, smb2_facts).required is required


def test_anonymous_flag_rules() -> None:
    """IS_GUEST alone = mapped to guest (not a null session); IS_NULL (with or without
    IS_GUEST, as older Samba sends) = anonymous, decided by the IPC$ TREE_CONNECT."""

    def run(flags: int) -> bool | None:
        challenge = recorded("default-sessionsetup-challenge")
        session_id = smb2.decode_header(challenge).session_id
        auth = smb2.encode_session_setup_response(
            smb2.SessionSetupResponse(status=0, session_id=session_id, session_flags=flags),
            smb2.Header(message_id=2),
        )
        replay = ReplayTransport([challenge, auth, recorded("default-treeconnect-ipc")])
        channel = Smb2Channel(replay, first_message_id=1)

        async def go() -> bool | None:
            step = await smb2_challenge(channel)
            return (await smb2_null_session(channel, step, "srv")).accepted

        return asyncio.run(go())

    assert run(smb2.SessionFlags.IS_GUEST) is False
    assert run(smb2.SessionFlags.IS_GUEST | smb2.SessionFlags.IS_NULL) is True
    assert run(smb2.SessionFlags.IS_NULL) is True
    assert run(0) is True


# ------------------------------------------------------------- MS17-010 / DoublePulsar on the SMB1 connection

SMB1_SHARED = (
    "nt1-smb1-negotiate-extsec",
    "nt1-smb1-sessionsetup-challenge",
    "nt1-smb1-sessionsetup-null",
    "nt1-smb1-treeconnect-ipc",
    "nt1-smb1-peeknamedpipe",
    "nt1-smb1-trans2-sessionsetup",
    "nt1-smb1-logoff",
)


def test_vulnerability_checks_on_the_fingerprint_connection_from_recorded_samba() -> None:
    transport = ReplayTransport([recorded(n) for n in SMB1_SHARED])

    async def run() -> tuple[smb1_probe.Smb1Result, dict[str, VulnProbeFacts]]:
        result = await smb1_probe.fingerprint(await smb1_probe.negotiate(Smb1Channel(transport)))
        assert host._shares_fingerprint(result)
        return await host._vulns_on_fingerprint(result, ["ms17_010", "doublepulsar"], "127.0.0.1")

    result, verdicts = asyncio.run(run())
    assert verdicts["ms17_010"].state == "patched"  # Samba 4.17: STATUS_INVALID_HANDLE
    assert verdicts["doublepulsar"].state == "clean"
    assert result.pending_uid is None and result.channel is not None  # usable for later logons
    challenge_uid = smb1.decode_header(recorded("nt1-smb1-sessionsetup-challenge")).uid
    auth = smb1.decode_header(transport.sent[2])
    assert auth.command == smb1.Command.SESSION_SETUP_ANDX and auth.uid == challenge_uid
    commands = [smb1.decode_header(m).command for m in transport.sent[3:]]
    C = smb1.Command
    assert commands == [C.TREE_CONNECT_ANDX, C.TRANSACTION, C.TRANSACTION2, C.LOGOFF_ANDX]
