"""Hypothesis: every decoder raises nothing but DecodeError on arbitrary and mutated bytes."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from smbguard.errors import DecodeError
from smbguard.proto import dcerpc, netbios, ntlmssp, smb1, smb2, spnego
from tests.proto.conftest import RECORDED

DECODERS: dict[str, Callable[[bytes], Any]] = {
    "smb2.header": smb2.decode_header,
    "smb2.negotiate_request": smb2.decode_negotiate_request,
    "smb2.negotiate_response": smb2.decode_negotiate_response,
    "smb2.session_setup_request": smb2.decode_session_setup_request,
    "smb2.session_setup_response": smb2.decode_session_setup_response,
    "smb2.tree_connect_request": smb2.decode_tree_connect_request,
    "smb2.tree_connect_response": smb2.decode_tree_connect_response,
    "smb2.error_response": smb2.decode_error_response,
    "smb2.logoff": smb2.decode_logoff,
    "smb2.compression_transform": smb2.decode_compression_transform_header,
    "smb1.message": smb1.decode_message,
    "smb1.negotiate_request": smb1.decode_negotiate_request,
    "smb1.negotiate_response": smb1.decode_negotiate_response,
    "smb1.session_setup_request": smb1.decode_session_setup_request,
    "smb1.session_setup_response": smb1.decode_session_setup_response,
    "smb1.tree_connect_request": smb1.decode_tree_connect_request,
    "smb1.tree_connect_response": smb1.decode_tree_connect_response,
    "smb1.transaction_request": smb1.decode_transaction_request,
    "smb1.transaction_response": smb1.decode_transaction_response,
    "smb1.logoff": smb1.decode_logoff,
    "ntlmssp.negotiate": ntlmssp.decode_negotiate,
    "ntlmssp.challenge": ntlmssp.decode_challenge,
    "ntlmssp.authenticate": ntlmssp.decode_authenticate,
    "ntlmssp.av_pairs": ntlmssp.decode_av_pairs,
    "spnego.decode": spnego.decode_spnego,
    "spnego.extract": spnego.extract_ntlmssp,
    "netbios.session_response": netbios.decode_session_response,
    "netbios.session_request": netbios.decode_session_request,
    "dcerpc.header": dcerpc.decode_header,
    "dcerpc.bind": dcerpc.decode_bind,
    "dcerpc.bind_ack": dcerpc.decode_bind_ack,
    "dcerpc.request": dcerpc.decode_request,
    "dcerpc.response": dcerpc.decode_response,
}


def _seeds() -> list[bytes]:
    seeds = [p.read_bytes() for p in sorted(RECORDED.glob("*.bin"))]
    chal = ntlmssp.encode_challenge(b"12345678", "T", ntlmssp.string_av_pairs("A", "B", "a.b", "b"))
    seeds += [
        chal,
        ntlmssp.encode_negotiate(domain="D", workstation="W"),
        ntlmssp.encode_guest_authenticate(ntlmssp.decode_challenge(chal), "user"),
        spnego.wrap_ntlmssp_challenge(chal),
        smb2.encode_negotiate_request(
            smb2.NegotiateRequest(
                smb2.ALL_DIALECTS,
                contexts=(
                    smb2.PreauthIntegrityContext(salt=b"s" * 32),
                    smb2.CompressionCapabilitiesContext((1, 2)),
                ),
            )
        ),
        smb2.encode_tree_connect_request(smb2.TreeConnectRequest("\\\\a\\IPC$")),
        smb2.encode_session_setup_request(smb2.SessionSetupRequest(b"x" * 10)),
        smb1.encode_session_setup_request(smb1.SessionSetupRequest(account="u", native_os="o")),
        smb1.peek_named_pipe_request(smb1.Header(command=smb1.Command.TRANSACTION)),
        smb1.trans2_session_setup_request(smb1.Header(command=smb1.Command.TRANSACTION2)),
        smb1.encode_tree_connect_request(smb1.TreeConnectRequest("\\\\a\\IPC$")),
        smb2.encode_compression_transform_header(100, 1, 0) + bytes(20),
        netbios.encode_session_request("*SMBSERVER", "X"),
        netbios.encode_session_response(False, 0x82),
        dcerpc.encode_bind((dcerpc.ContextElement(0, "367abb81-9844-35f1-ad32-98f038001003", (2, 0)),)),
        dcerpc.encode_bind_ack(((0, 0), (2, 2))),
        dcerpc.encode_request(12, b"stub" * 4),
        dcerpc.encode_response(b"out"),
    ]
    return seeds


SEEDS = _seeds()


def _call(decoder: Callable[[bytes], Any], data: bytes) -> None:
    with contextlib.suppress(DecodeError):
        decoder(data)


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    """A recorded/encoded message with a few bytes overwritten, truncated or extended."""
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        if not data:
            break
        pos = draw(st.integers(0, len(data) - 1))
        data[pos] = draw(st.integers(0, 255))
    cut = draw(st.integers(0, len(data)))
    if draw(st.booleans()):
        data = data[:cut]
    if draw(st.booleans()):
        data += draw(st.binary(max_size=16))
    return bytes(data)


FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(data=st.binary(max_size=512))
def test_arbitrary_bytes(name: str, data: bytes) -> None:
    _call(DECODERS[name], data)


@pytest.mark.parametrize("name", sorted(DECODERS))
@FUZZ
@given(data=mutated())
def test_mutated_messages(name: str, data: bytes) -> None:
    _call(DECODERS[name], data)


@FUZZ
@given(data=mutated())
def test_mutated_inner_ntlmssp(data: bytes) -> None:
    """NTLMSSP inside SPNEGO inside SMB2: the whole chain a probe runs."""
    try:
        blob = smb2.decode_session_setup_response(data).security_buffer
        inner = spnego.extract_ntlmssp(blob)
        if inner is not None:
            chal = ntlmssp.decode_challenge(inner)
            _ = (chal.timestamp, chal.nb_computer_name, chal.dns_tree_name)
    except DecodeError:
        pass
