"""The emulator's answers compared field by field with real Windows answers.

The real client requests recorded in ``../shared/data/pcaps`` are fed to the
emulator's responder, and each reply is compared with the real server's reply
to the same request. Names and times differ on purpose (the personas are
other machines); protocol fields must not.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from smbguard.lab import personas
from smbguard.lab.responder import Responder
from smbguard.proto import ntlmssp, smb1, smb2, spnego
from tests.helpers.pcap import SmbMessage, smb_messages

WIN7 = "pcaps/zeek-eternalsafety/eternalblue-success-unpatched-win7.pcap"
ROMANCE_2008R2 = "pcaps/zeek-eternalsafety/eternalromance-success-2008r2.pcap"
IMPLANT = "pcaps/zeek-eternalsafety/doublepulsar-backdoor-connect-win7.pcap"
SERVER_2019 = "pcaps/zeek/smb_v2_only_non_zero_reserved1.pcap"


def _pairs(path: Path) -> list[tuple[bytes, bytes]]:
    """(request, reply) pairs of the first SMB stream, matched by position."""
    msgs = smb_messages(path)
    stream = msgs[0].stream
    mine = [m for m in msgs if m.stream == stream]
    reqs = [m.payload for m in sorted((m for m in mine if not m.from_server), key=_idx)]
    reps = [m.payload for m in sorted((m for m in mine if m.from_server), key=_idx)]
    return list(zip(reqs, reps, strict=False))


def _idx(m: SmbMessage) -> int:
    return m.index


def _smb1_fields(r: smb1.NegotiateResponse) -> dict[str, object]:
    return {
        k: getattr(r, k)
        for k in (
            "dialect_index",
            "form",
            "security_mode",
            "max_mpx_count",
            "max_number_vcs",
            "max_buffer_size",
            "max_raw_size",
            "session_key",
            "capabilities",
            "extended_security",
        )
    }


@pytest.mark.parametrize(("capture", "persona"), [(WIN7, personas.WIN7_SP1_UNPATCHED)])
def test_smb1_win7_negotiate_session_tree(shared_data: Path, capture: str, persona: personas.Persona) -> None:
    pairs = _pairs(shared_data / capture)
    responder = Responder(persona)
    (neg_req, neg_real), (ss_req, ss_real), (tc_req, tc_real) = pairs[:3]

    ours = responder.handle(neg_req)
    assert ours is not None and len(ours) == 1
    mine, real = smb1.decode_negotiate_response(ours[0]), smb1.decode_negotiate_response(neg_real)
    assert _smb1_fields(mine) == _smb1_fields(real)
    assert len(mine.challenge) == len(real.challenge) == 8
    h_mine, h_real = smb1.decode_header(ours[0]), smb1.decode_header(neg_real)
    assert (h_mine.flags, h_mine.flags2, h_mine.mid, h_mine.pid) == (
        h_real.flags,
        h_real.flags2,
        h_real.mid,
        h_real.pid,
    )
    assert mine.domain_name == real.domain_name == "WORKGROUP"

    ours = responder.handle(ss_req)
    assert ours is not None
    s_mine, s_real = smb1.decode_session_setup_response(ours[0]), smb1.decode_session_setup_response(ss_real)
    assert (s_mine.status, s_mine.uid, s_mine.action, s_mine.extended) == (
        s_real.status,
        s_real.uid,
        s_real.action,
        s_real.extended,
    )
    assert smb1.decode_header(ours[0]).flags2 == smb1.decode_header(ss_real).flags2
    pattern_os = re.compile(r"^Windows 7 \w+ 7601 Service Pack 1$")
    pattern_lm = re.compile(r"^Windows 7 \w+ 6\.1$")
    assert pattern_os.match(s_real.native_os or "") and pattern_os.match(s_mine.native_os or "")
    assert pattern_lm.match(s_real.native_lan_man or "") and pattern_lm.match(s_mine.native_lan_man or "")
    assert s_mine.primary_domain == s_real.primary_domain

    ours = responder.handle(tc_req)
    assert ours is not None
    t_mine, t_real = smb1.decode_tree_connect_response(ours[0]), smb1.decode_tree_connect_response(tc_real)
    assert dataclasses.astuple(t_mine) == dataclasses.astuple(t_real)


def test_smb1_win7_extended_security_negotiate_blob(shared_data: Path) -> None:
    """Windows 7's extended-security NEGOTIATE: the SPNEGO hint is byte-identical."""
    real = next(
        p
        for p in _all_pairs(shared_data / WIN7, 0x72)
        if smb1.decode_negotiate_response(p[1]).extended_security
    )
    ours = Responder(personas.WIN7_SP1_UNPATCHED).handle(real[0])
    assert ours is not None
    mine, theirs = smb1.decode_negotiate_response(ours[0]), smb1.decode_negotiate_response(real[1])
    assert mine.security_blob == theirs.security_blob
    assert _smb1_fields(mine) == _smb1_fields(theirs)
    assert smb1.decode_header(ours[0]).flags2 == smb1.decode_header(real[1]).flags2 == 0xC853


def _all_pairs(path: Path, command: int) -> list[tuple[bytes, bytes]]:
    out = []
    msgs = smb_messages(path)
    for stream in {m.stream for m in msgs}:
        mine = [m for m in msgs if m.stream == stream]
        reqs = [m.payload for m in sorted((m for m in mine if not m.from_server), key=_idx)]
        reps = [m.payload for m in sorted((m for m in mine if m.from_server), key=_idx)]
        out += [(q, r) for q, r in zip(reqs, reps, strict=False) if q[:4] == b"\xffSMB" and q[4] == command]
    return out


def test_smb1_2008r2_negotiate(shared_data: Path) -> None:
    (req, real), *_ = _pairs(shared_data / ROMANCE_2008R2)
    ours = Responder(personas.WIN2008R2_PATCHED).handle(req)
    assert ours is not None
    mine, theirs = smb1.decode_negotiate_response(ours[0]), smb1.decode_negotiate_response(real)
    fields_mine, fields_real = _smb1_fields(mine), _smb1_fields(theirs)
    # The captured 2008 R2 is a domain controller (signing required, 0x0F); the persona is a
    # member server with the default 0x03. Everything else must match.
    assert theirs.security_mode == 0x0F and mine.security_mode == 0x03
    fields_mine.pop("security_mode")
    fields_real.pop("security_mode")
    assert fields_mine == fields_real


def test_doublepulsar_ping_replies(shared_data: Path) -> None:
    """Clean Windows 7 and implanted Windows 7: STATUS_NOT_IMPLEMENTED, MID 0x41 vs 0x51."""
    for capture, persona, mid in (
        (WIN7, personas.WIN7_SP1_UNPATCHED, 0x41),
        (IMPLANT, personas.WIN7_DOUBLEPULSAR, 0x51),
    ):
        pairs = _all_pairs(shared_data / capture, 0x32)
        req, real = next((q, r) for q, r in pairs if smb1.decode_header(r).mid == mid)
        responder = Responder(persona)
        # Log on first (the real exchange did); then the ping.
        responder.smb2_dialect = None
        ours = responder.handle(req)
        assert ours is not None
        h_mine, h_real = smb1.decode_header(ours[0]), smb1.decode_header(real)
        assert (h_mine.status, h_mine.mid, h_mine.flags2) == (h_real.status, h_real.mid, h_real.flags2)
        assert h_mine.signature == h_real.signature
        assert smb1.decode_message(ours[0]).word_count == smb1.decode_message(real).word_count == 0


def _server_2019_like() -> personas.Persona:
    """The capture's Server 2019 does not require signing; the hardened persona does."""
    p = personas.WIN2019_HARDENED
    assert p.smb2 is not None
    return dataclasses.replace(p, smb2=dataclasses.replace(p.smb2, security_mode=1))


def test_smb2_server_2019_negotiate_and_challenge(shared_data: Path) -> None:
    pairs = _pairs(shared_data / SERVER_2019)
    responder = Responder(_server_2019_like())
    (multi_req, multi_real), (neg_req, neg_real), (ss_req, ss_real) = pairs[:3]

    # Multi-protocol SMB1 negotiate -> SMB2 wildcard answer.
    ours = responder.handle(multi_req)
    assert ours is not None
    w_mine, w_real = smb2.decode_negotiate_response(ours[0]), smb2.decode_negotiate_response(multi_real)
    assert w_real.dialect == w_mine.dialect == 0x02FF
    for name in (
        "security_mode",
        "capabilities",
        "max_transact_size",
        "max_read_size",
        "max_write_size",
        "security_buffer",
    ):
        assert getattr(w_mine, name) == getattr(w_real, name), name

    ours = responder.handle(neg_req)
    assert ours is not None
    mine, real = smb2.decode_negotiate_response(ours[0]), smb2.decode_negotiate_response(neg_real)
    for name in (
        "dialect",
        "security_mode",
        "capabilities",
        "max_transact_size",
        "max_read_size",
        "max_write_size",
        "security_buffer",
    ):
        assert getattr(mine, name) == getattr(real, name), name
    assert [type(c) for c in mine.contexts] == [type(c) for c in real.contexts]
    assert mine.context(smb2.EncryptionCapabilitiesContext) == real.context(
        smb2.EncryptionCapabilitiesContext
    )
    pre_mine = mine.context(smb2.PreauthIntegrityContext)
    pre_real = real.context(smb2.PreauthIntegrityContext)
    assert isinstance(pre_mine, smb2.PreauthIntegrityContext) and isinstance(
        pre_real, smb2.PreauthIntegrityContext
    )
    assert pre_mine.hash_algorithms == pre_real.hash_algorithms and len(pre_mine.salt) == len(pre_real.salt)
    h_mine, h_real = smb2.decode_header(ours[0]), smb2.decode_header(neg_real)
    assert (h_mine.credits, h_mine.flags, h_mine.message_id) == (
        h_real.credits,
        h_real.flags,
        h_real.message_id,
    )

    ours = responder.handle(ss_req)
    assert ours is not None
    s_mine, s_real = smb2.decode_session_setup_response(ours[0]), smb2.decode_session_setup_response(ss_real)
    assert s_mine.status == s_real.status == 0xC0000016
    c_mine = ntlmssp.decode_challenge(spnego.extract_ntlmssp(s_mine.security_buffer) or b"")
    c_real = ntlmssp.decode_challenge(spnego.extract_ntlmssp(s_real.security_buffer) or b"")
    assert c_mine.flags == c_real.flags
    assert str(c_mine.version) == str(c_real.version) == "10.0.17763"
    assert list(c_mine.av_pairs) == list(c_real.av_pairs)  # same AV pairs in the same order
    assert (
        spnego.decode_neg_token_resp(s_mine.security_buffer).supported_mech
        == spnego.decode_neg_token_resp(s_real.security_buffer).supported_mech
    )


def test_hardened_persona_differs_only_in_signing() -> None:
    base, hardened = _server_2019_like(), personas.WIN2019_HARDENED
    assert hardened.smb2 is not None and base.smb2 is not None
    assert (
        hardened.smb2.security_mode == smb2.SecurityMode.SIGNING_ENABLED | smb2.SecurityMode.SIGNING_REQUIRED
    )
    assert hardened.smb1 is None
