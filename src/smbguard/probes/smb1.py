"""SMB1 probe: a NEGOTIATE offering only ``NT LM 0.12`` ([MS-CIFS] 2.2.4.52).

Rule for ``Smb1Facts.enabled`` (documented in docs/protocol.md):

* True: an SMB1 NEGOTIATE response selecting the offered dialect (index 0).
* False: an SMB1 response with DialectIndex 0xFFFF (Samba with SMB1 off answers
  exactly this), an SMB1 error reply, an SMB2 reply, or the server closing /
  resetting the connection right after the NEGOTIATE (Windows with SMB1
  removed) *provided SMB2 works on the same port* (:func:`finalize` turns a
  "closed" verdict into None when nothing on the port answered SMB at all).
* None: timeout, garbage, connect failure.

When SMB1 is on, the probe continues on the same connection: with extended
security, a SESSION_SETUP_ANDX carrying an NTLM NEGOTIATE returns the CHALLENGE
plus NativeOS / NativeLanMan (Samba: "Samba 4.17.12-Debian") without logging
on; without extended security, those strings need an anonymous logon (only when
null sessions are allowed by the options).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from smbguard.errors import ConnectionClosed, DecodeError, TransportError
from smbguard.model import ProbeError, Smb1Facts, Target
from smbguard.net.transport import Transport
from smbguard.probes.base import ProbeOptions, Smb1Channel, connect, probe_error
from smbguard.probes.sessions import Outcome, smb1_extended_reply, smb1_guest_session, smb1_null_session
from smbguard.proto import ntlmssp, smb1, smb2
from smbguard.proto.ntstatus import status_name

PROBE = "smb1"


@dataclass(frozen=True, slots=True)
class Smb1Result:
    """Everything the SMB1 connection learned; ``channel`` stays open when SMB1 is on
    (the caller may run session probes on it and must close ``transport``)."""

    facts: Smb1Facts
    negotiate: smb1.NegotiateResponse | None = None
    challenge: ntlmssp.Challenge | None = None
    pending_uid: int | None = None  # half-open extended session (after the CHALLENGE)
    channel: Smb1Channel | None = None
    closed: bool = False
    error: ProbeError | None = None
    #: Why ``channel`` was given up after SMB1 was found on (a transport or protocol error
    #: during the vulnerability checks: a late reply could be taken for a later answer).
    channel_lost: str | None = None


def _capability_names(value: int) -> tuple[str, ...]:
    return smb2.flag_names(smb1.Capabilities, value)


async def negotiate(channel: Smb1Channel) -> Smb1Result:
    """Send the NT LM 0.12 NEGOTIATE (asking for extended security) and judge the reply."""
    header = channel.header(smb1.Command.NEGOTIATE, flags2=smb1.CLIENT_FLAGS2 | smb1.Flags2.EXTENDED_SECURITY)
    try:
        await channel.transport.send(smb1.encode_negotiate_request((smb1.NT_LM_0_12,), header))
        reply = await channel.transport.recv()
        if smb2.is_smb2(reply):
            smb2.decode_header(reply)
            return Smb1Result(Smb1Facts(enabled=False, reason="answered the SMB1 NEGOTIATE with SMB2"))
        response = smb1.decode_negotiate_response(reply)
    except ConnectionClosed as exc:
        reason = "connection closed after the SMB1 NEGOTIATE (SMB1 disabled or removed)"
        return Smb1Result(Smb1Facts(enabled=False, reason=reason), closed=True, error=probe_error(PROBE, exc))
    except (TransportError, DecodeError) as exc:
        return Smb1Result(Smb1Facts(enabled=None, reason=str(exc)), error=probe_error(PROBE, exc))
    if response.status != 0 and (response.status >> 30) == 3:
        reason = f"SMB1 NEGOTIATE refused with {status_name(response.status)}"
        return Smb1Result(Smb1Facts(enabled=False, reason=reason), negotiate=response)
    if not response.accepted:
        reason = "no SMB1 dialect accepted (DialectIndex 0xFFFF)"
        return Smb1Result(Smb1Facts(enabled=False, reason=reason), negotiate=response)
    if response.dialect_index != 0:
        index_reason = f"server selected dialect index {response.dialect_index} of 1 offered"
        return Smb1Result(Smb1Facts(enabled=None, reason=index_reason), negotiate=response)
    facts = Smb1Facts(
        enabled=True,
        dialect=smb1.NT_LM_0_12,
        signing_enabled=response.signing_enabled or response.signing_required,
        signing_required=response.signing_required,
        capabilities=_capability_names(response.capabilities),
        system_time=response.system_time,
        server_name=response.server_name,
        primary_domain=response.domain_name,
    )
    return Smb1Result(facts, negotiate=response, channel=channel)


async def fingerprint(result: Smb1Result) -> Smb1Result:
    """With extended security: the NTLM CHALLENGE step (NativeOS/LanMan + CHALLENGE, no logon)."""
    if result.channel is None or result.negotiate is None or not result.negotiate.extended_security:
        return result
    try:
        reply, challenge = await smb1_extended_reply(result.channel)
    except (TransportError, DecodeError) as exc:
        facts = dataclasses.replace(result.facts, reason=f"NTLM CHALLENGE over SMB1 failed: {exc}")
        return dataclasses.replace(result, facts=facts, error=probe_error(PROBE, exc))
    facts = dataclasses.replace(
        result.facts,
        native_os=reply.native_os,
        native_lan_manager=reply.native_lan_man,
        server_name=result.facts.server_name or (challenge.nb_computer_name if challenge else None),
        primary_domain=result.facts.primary_domain or (challenge.nb_domain_name if challenge else None),
        reason=None if challenge else "extended-security reply without an NTLMSSP CHALLENGE",
    )
    pending = reply.uid if challenge is not None else None
    return dataclasses.replace(result, facts=facts, challenge=challenge, pending_uid=pending)


async def sessions(result: Smb1Result, server: str) -> tuple[Smb1Result, Outcome | None, Outcome | None]:
    """Null then guest logons over SMB1 (only used when SMB2 cannot host them, or to read
    NativeOS from a non-extended server). Fills NativeOS/LanMan/PrimaryDomain when seen."""
    channel = result.channel
    if channel is None or result.negotiate is None:
        return result, None, None
    extended = result.negotiate.extended_security
    pending = None
    if extended and result.pending_uid is not None and result.challenge is not None:
        pending = (result.pending_uid, result.challenge)
    null, reply = await smb1_null_session(channel, extended, server, pending)
    if reply is not None and reply.native_os is not None:
        facts = dataclasses.replace(
            result.facts,
            native_os=result.facts.native_os or reply.native_os,
            native_lan_manager=result.facts.native_lan_manager or reply.native_lan_man,
            primary_domain=reply.primary_domain or result.facts.primary_domain,
        )
        result = dataclasses.replace(result, facts=facts)
    guest = await smb1_guest_session(channel, extended)
    return dataclasses.replace(result, pending_uid=None), null, guest


async def probe_smb1(target: Target, opts: ProbeOptions) -> Smb1Facts:
    """Standalone SMB1 probe on one connection (NEGOTIATE, then the CHALLENGE step, or an
    anonymous logon for non-extended servers when ``opts.null_sessions``)."""
    transport: Transport = await connect(target.address, target.port, opts)
    try:
        result = await negotiate(Smb1Channel(transport))
        result = await fingerprint(result)
        if opts.null_sessions and result.negotiate is not None and not result.negotiate.extended_security:
            result, _, _ = await sessions(result, target.address)
    finally:
        await transport.close()
    return result.facts


def finalize(facts: Smb1Facts | None, closed: bool, smb2_spoken: bool) -> Smb1Facts | None:
    """A connection closed after the SMB1 NEGOTIATE means "SMB1 off" only if SMB2 works on the port."""
    if facts is not None and closed and not smb2_spoken:
        return dataclasses.replace(
            facts, enabled=None, reason="connection closed after the SMB1 NEGOTIATE and no SMB2 either"
        )
    return facts
