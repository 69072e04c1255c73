"""Null and guest sessions, told apart ([MS-SMB2] 2.2.6 SessionFlags, [MS-CIFS] 2.2.4.53.2 Action).

* **null**: NTLM AUTHENTICATE with an empty user name, empty NT response and
  LM response Z(1) ([MS-NLMP] 3.2.5.1.2). Counted as a null session when the
  logon succeeds *not* mapped to guest and a TREE_CONNECT to ``IPC$`` then
  succeeds (the classic "null session"). Samba 4.17 answers anonymous logons
  with SessionFlags 0 (not IS_NULL): the flags are recorded, not required.
* **guest**: AUTHENTICATE for a random user name that exists nowhere with a random
  NTLMv2-shaped response. Counted as guest when the logon succeeds; the reason
  notes when the server did not set IS_GUEST / Action bit 0.

No LOGOFF is sent: the collector closes the connection right after, which ends
its sessions ([MS-SMB2] 3.3.7.1) and saves a round trip. Refusals are decided
(False with the NTSTATUS as reason); transport errors leave the fact None with
the reason.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from smbguard.errors import DecodeError, TransportError
from smbguard.model import SessionFacts
from smbguard.probes.base import Smb1Channel, Smb2Channel, random_user_name
from smbguard.probes.ntlm import ChallengeStep, smb2_challenge
from smbguard.proto import ntlmssp, smb1, smb2, spnego
from smbguard.proto.ntstatus import NTStatus, status_name

PROBE = "sessions"
WORKSTATION = "SMBGUARD"


@dataclass(frozen=True, slots=True)
class Outcome:
    """One logon attempt: ``accepted`` None when undecided."""

    accepted: bool | None
    reason: str | None = None


def _ipc_path(server: str) -> str:
    host = f"[{server}]" if ":" in server else server
    return f"\\\\{host}\\IPC$"


async def _smb2_authenticate(
    channel: Smb2Channel, step: ChallengeStep, message: bytes
) -> smb2.SessionSetupResponse:
    request = smb2.SessionSetupRequest(spnego.wrap_ntlmssp_authenticate(message))
    header, reply = await channel.exchange(
        smb2.encode_session_setup_request(request, channel.header(session_id=step.session_id))
    )
    if header.command != smb2.Command.SESSION_SETUP:
        raise DecodeError("reply to SESSION_SETUP has another command")
    return smb2.decode_session_setup_response(reply)


async def smb2_null_session(channel: Smb2Channel, step: ChallengeStep, server: str) -> Outcome:
    """Finish the half-open session ``step`` anonymously, then TREE_CONNECT to IPC$."""
    try:
        response = await _smb2_authenticate(channel, step, ntlmssp.encode_anonymous_authenticate())
        if response.status != NTStatus.SUCCESS:
            return Outcome(False, f"anonymous logon refused: {status_name(response.status)}")
        if response.is_guest and not response.is_null:
            # Older Samba sets IS_GUEST|IS_NULL for anonymous logons: IS_NULL wins.
            return Outcome(False, "empty credentials accepted but mapped to guest (SESSION_FLAG_IS_GUEST)")
        tree = smb2.TreeConnectRequest(_ipc_path(server))
        _header, reply = await channel.exchange(
            smb2.encode_tree_connect_request(tree, channel.header(session_id=response.session_id))
        )
        status = smb2.decode_tree_connect_response(reply).status
    except (TransportError, DecodeError) as exc:
        return Outcome(None, f"null session probe failed: {exc}")
    flags = smb2.flag_names(smb2.SessionFlags, response.session_flags)
    if status != NTStatus.SUCCESS:
        return Outcome(False, f"anonymous logon accepted but IPC$ refused: {status_name(status)}")
    return Outcome(True, f"anonymous logon and IPC$ accepted (SessionFlags: {'|'.join(flags) or '0'})")


async def smb2_guest_session(channel: Smb2Channel, step: ChallengeStep | None = None) -> Outcome:
    """A random user name; ``step`` is an existing half-open session or None for a new one."""
    try:
        if step is None:
            step = await smb2_challenge(channel)
        message = ntlmssp.encode_guest_authenticate(step.challenge, random_user_name(), WORKSTATION)
        response = await _smb2_authenticate(channel, step, message)
        if response.status != NTStatus.SUCCESS:
            return Outcome(False, f"random user refused: {status_name(response.status)}")
    except (TransportError, DecodeError) as exc:
        return Outcome(None, f"guest session probe failed: {exc}")
    if response.is_guest:
        return Outcome(True, "random user name accepted as guest (SESSION_FLAG_IS_GUEST)")
    return Outcome(True, "random user name accepted WITHOUT SESSION_FLAG_IS_GUEST")


# ----------------------------------------------------------------------------- SMB1


async def _smb1_ipc(channel: Smb1Channel, uid: int, server: str) -> int:
    hdr = channel.header(smb1.Command.TREE_CONNECT_ANDX, uid=uid)
    reply = await channel.exchange(
        smb1.encode_tree_connect_request(smb1.TreeConnectRequest(_ipc_path(server)), hdr)
    )
    return smb1.decode_tree_connect_response(reply).status


async def smb1_extended_reply(
    channel: Smb1Channel,
) -> tuple[smb1.SessionSetupResponse, ntlmssp.Challenge | None]:
    """SESSION_SETUP_ANDX (extended security) with an NTLM NEGOTIATE: the reply carries the
    CHALLENGE and the server's NativeOS / NativeLanMan strings. A reply with
    MORE_PROCESSING_REQUIRED but no NTLMSSP token gives (reply, None)."""
    token = spnego.wrap_ntlmssp_negotiate(ntlmssp.encode_negotiate())
    req = smb1.SessionSetupRequest(
        extended=True, security_blob=token, native_os="Unix", native_lan_man="smbguard"
    )
    hdr = channel.header(
        smb1.Command.SESSION_SETUP_ANDX, flags2=smb1.CLIENT_FLAGS2 | smb1.Flags2.EXTENDED_SECURITY
    )
    reply = smb1.decode_session_setup_response(
        await channel.exchange(smb1.encode_session_setup_request(req, hdr))
    )
    if reply.status != NTStatus.MORE_PROCESSING_REQUIRED:
        raise DecodeError(f"SESSION_SETUP_ANDX answered {status_name(reply.status)} instead of a CHALLENGE")
    inner = spnego.extract_ntlmssp(reply.security_blob)
    return reply, ntlmssp.decode_challenge(inner) if inner is not None else None


async def smb1_extended_challenge(
    channel: Smb1Channel,
) -> tuple[smb1.SessionSetupResponse, ntlmssp.Challenge]:
    """:func:`smb1_extended_reply` that insists on the CHALLENGE (DecodeError otherwise)."""
    reply, challenge = await smb1_extended_reply(channel)
    if challenge is None:
        raise DecodeError("SESSION_SETUP_ANDX reply carries no NTLMSSP message")
    return reply, challenge


async def _smb1_ext_auth(channel: Smb1Channel, uid: int, message: bytes) -> smb1.SessionSetupResponse:
    req = smb1.SessionSetupRequest(
        extended=True,
        security_blob=spnego.wrap_ntlmssp_authenticate(message),
        native_os="Unix",
        native_lan_man="smbguard",
    )
    hdr = channel.header(
        smb1.Command.SESSION_SETUP_ANDX, uid=uid, flags2=smb1.CLIENT_FLAGS2 | smb1.Flags2.EXTENDED_SECURITY
    )
    return smb1.decode_session_setup_response(
        await channel.exchange(smb1.encode_session_setup_request(req, hdr))
    )


async def _smb1_plain(channel: Smb1Channel, account: str, password: bytes) -> smb1.SessionSetupResponse:
    req = smb1.SessionSetupRequest(
        account=account,
        oem_password=password,
        unicode_password=password,
        native_os="Unix",
        native_lan_man="smbguard",
    )
    hdr = channel.header(smb1.Command.SESSION_SETUP_ANDX)
    return smb1.decode_session_setup_response(
        await channel.exchange(smb1.encode_session_setup_request(req, hdr))
    )


async def smb1_null_session(
    channel: Smb1Channel, extended: bool, server: str, pending: tuple[int, ntlmssp.Challenge] | None = None
) -> tuple[Outcome, smb1.SessionSetupResponse | None]:
    """Anonymous SMB1 logon (extended: NTLMSSP anonymous; else empty passwords), then IPC$.

    Returns the outcome and the logon reply (its NativeOS/NativeLanMan/PrimaryDomain)."""
    try:
        if extended:
            if pending is None:
                first, challenge = await smb1_extended_challenge(channel)
                pending = (first.uid, challenge)
            reply = await _smb1_ext_auth(channel, pending[0], ntlmssp.encode_anonymous_authenticate())
        else:
            reply = await _smb1_plain(channel, "", b"")
        if reply.status != NTStatus.SUCCESS:
            return Outcome(False, f"anonymous logon refused: {status_name(reply.status)}"), reply
        if reply.is_guest:
            return Outcome(False, "empty credentials accepted but mapped to guest (Action bit 0)"), reply
        status = await _smb1_ipc(channel, reply.uid, server)
    except (TransportError, DecodeError) as exc:
        return Outcome(None, f"SMB1 null session probe failed: {exc}"), None
    if status != NTStatus.SUCCESS:
        return Outcome(False, f"anonymous logon accepted but IPC$ refused: {status_name(status)}"), reply
    return Outcome(True, "anonymous SMB1 logon and IPC$ accepted"), reply


async def smb1_guest_session(channel: Smb1Channel, extended: bool) -> Outcome:
    """A random user name over SMB1; guest when Action bit 0 is set."""
    try:
        if extended:
            first, challenge = await smb1_extended_challenge(channel)
            message = ntlmssp.encode_guest_authenticate(challenge, random_user_name(), WORKSTATION)
            reply = await _smb1_ext_auth(channel, first.uid, message)
        else:
            reply = await _smb1_plain(channel, random_user_name(), os.urandom(24))
        if reply.status != NTStatus.SUCCESS:
            return Outcome(False, f"random user refused: {status_name(reply.status)}")
    except (TransportError, DecodeError) as exc:
        return Outcome(None, f"SMB1 guest session probe failed: {exc}")
    if reply.is_guest:
        return Outcome(True, "random user name accepted as guest (SMB1 Action bit 0)")
    return Outcome(True, "random user name accepted WITHOUT the SMB1 guest Action bit")


def session_facts(null: Outcome | None, guest: Outcome | None, skipped: bool = False) -> SessionFacts:
    """SessionFacts from the two outcomes (None = the probe could not run)."""
    if skipped:
        return SessionFacts(
            skipped=True,
            null_reason="skipped (--no-null-session)",
            guest_reason="skipped (--no-null-session)",
        )
    return SessionFacts(
        null=null.accepted if null else None,
        guest=guest.accepted if guest else None,
        null_reason=null.reason if null else "no SMB dialect available for a logon",
        guest_reason=guest.reason if guest else "no SMB dialect available for a logon",
    )
