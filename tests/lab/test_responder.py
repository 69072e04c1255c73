"""The emulator's protocol logic: hostile input never crashes it, and its
answers decode with smbguard's own codecs."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from smbguard.lab import personas
from smbguard.lab.responder import Responder
from smbguard.proto import ntlmssp, smb1, smb2, spnego

REQUESTS = [
    smb1.encode_negotiate_request((smb1.NT_LM_0_12,)),
    smb1.encode_negotiate_request((smb1.NT_LM_0_12, smb1.SMB_2_002, smb1.SMB_2_WILDCARD)),
    smb1.encode_session_setup_request(smb1.SessionSetupRequest()),
    smb2.encode_negotiate_request(
        smb2.NegotiateRequest(
            dialects=(0x0202, 0x0210, 0x0300, 0x0302, 0x0311),
            contexts=(
                smb2.PreauthIntegrityContext(salt=b"x" * 32),
                smb2.CompressionCapabilitiesContext((1, 2)),
            ),
        )
    ),
]


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(personas.ALL), st.binary(max_size=300))
def test_random_bytes(persona: personas.Persona, data: bytes) -> None:
    out = Responder(persona).handle(data)
    assert out is None or all(isinstance(m, bytes) for m in out)


@settings(max_examples=400, deadline=None)
@given(
    st.sampled_from(personas.ALL),
    st.sampled_from(REQUESTS),
    st.integers(0, 400),
    st.binary(min_size=1, max_size=8),
)
def test_mutated_requests(persona: personas.Persona, request: bytes, pos: int, junk: bytes) -> None:
    responder = Responder(persona)
    responder.handle(REQUESTS[0])
    pos %= len(request)
    mutated = request[:pos] + junk + request[pos + len(junk) :]
    out = responder.handle(mutated)
    assert out is None or all(isinstance(m, bytes) for m in out)


def test_compressed_and_encrypted_transforms_close_the_connection() -> None:
    r = Responder(personas.WIN10_1909)
    assert r.handle(b"\xfcSMB" + bytes(60)) is None
    assert r.handle(b"\xfdSMB" + bytes(60)) is None


def _smb2_session(persona: personas.Persona, user: str = "") -> smb2.SessionSetupResponse:
    r = Responder(persona)
    neg = r.handle(smb2.encode_negotiate_request(smb2.NegotiateRequest(dialects=(0x0202, 0x0210))))
    assert neg is not None
    token = spnego.wrap_ntlmssp_negotiate(ntlmssp.encode_negotiate())
    first = r.handle(smb2.encode_session_setup_request(smb2.SessionSetupRequest(token)))
    assert first is not None
    challenge_resp = smb2.decode_session_setup_response(first[0])
    assert challenge_resp.status == 0xC0000016
    challenge = ntlmssp.decode_challenge(spnego.extract_ntlmssp(challenge_resp.security_buffer) or b"")
    auth = (
        ntlmssp.encode_guest_authenticate(challenge, user)
        if user
        else ntlmssp.encode_anonymous_authenticate()
    )
    hdr = smb2.Header(command=smb2.Command.SESSION_SETUP, session_id=challenge_resp.session_id, message_id=2)
    second = r.handle(
        smb2.encode_session_setup_request(
            smb2.SessionSetupRequest(spnego.wrap_ntlmssp_authenticate(auth)), hdr
        )
    )
    assert second is not None
    return smb2.decode_session_setup_response(second[0])


def test_null_and_guest_sessions_follow_the_persona() -> None:
    assert _smb2_session(personas.WIN7_SP1_UNPATCHED).is_null
    assert _smb2_session(personas.WIN2019_HARDENED).status == 0xC0000022
    assert _smb2_session(personas.WIN2019_HARDENED, "zq7random").status == 0xC000006D
    assert _smb2_session(personas.SAMBA_NAS, "zq7random").is_guest


def test_smb1_disabled_persona_drops_smb1() -> None:
    assert Responder(personas.WIN2019_HARDENED).handle(REQUESTS[0]) is None


def test_compression_context_only_when_offered_and_enabled() -> None:
    req = REQUESTS[3]
    on = Responder(personas.WIN10_1909).handle(req)
    off = Responder(personas.WIN10_1909_NO_COMPRESSION).handle(req)
    assert on is not None and off is not None
    ctx = smb2.decode_negotiate_response(on[0]).context(smb2.CompressionCapabilitiesContext)
    assert isinstance(ctx, smb2.CompressionCapabilitiesContext) and ctx.algorithms == (1, 2)
    assert smb2.decode_negotiate_response(off[0]).context(smb2.CompressionCapabilitiesContext) is None
    no_offer = smb2.encode_negotiate_request(
        smb2.NegotiateRequest(dialects=(0x0311,), contexts=(smb2.PreauthIntegrityContext(salt=b"s"),))
    )
    plain = Responder(personas.WIN10_1909).handle(no_offer)
    assert plain is not None
    assert smb2.decode_negotiate_response(plain[0]).context(smb2.CompressionCapabilitiesContext) is None
