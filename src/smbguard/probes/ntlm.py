"""NTLMSSP fingerprint: an SMB2 SESSION_SETUP carrying an NTLM NEGOTIATE, up to the
server's CHALLENGE ([MS-NLMP] 2.2.1.2). Nobody is logged on: the exchange stops
before AUTHENTICATE (or the caller continues it, see :mod:`smbguard.probes.sessions`).

The CHALLENGE names the server (NetBIOS and DNS computer/domain/forest names),
its clock (MsvAvTimestamp) and its OS version (VERSION, when the
NEGOTIATE_VERSION flag is set), mapped to a product by :mod:`smbguard.osinfo`.
"""

from __future__ import annotations

from dataclasses import dataclass

from smbguard import osinfo
from smbguard.errors import DecodeError
from smbguard.model import NtlmInfo, Target
from smbguard.net.transport import Transport
from smbguard.probes.base import ProbeOptions, Smb2Channel, connect
from smbguard.proto import ntlmssp, smb2, spnego
from smbguard.proto.ntstatus import NTStatus, status_name

PROBE = "ntlm"


@dataclass(frozen=True, slots=True)
class ChallengeStep:
    """A half-open SMB2 session: the server's SessionId and CHALLENGE."""

    session_id: int
    challenge: ntlmssp.Challenge


async def smb2_challenge(channel: Smb2Channel) -> ChallengeStep:
    """Send SESSION_SETUP(SPNEGO(NTLM NEGOTIATE)); expect MORE_PROCESSING_REQUIRED + CHALLENGE.

    Raises DecodeError when the server answers anything else (the message names the status)."""
    token = spnego.wrap_ntlmssp_negotiate(ntlmssp.encode_negotiate())
    request = smb2.SessionSetupRequest(token, security_mode=smb2.SecurityMode.SIGNING_ENABLED)
    header, reply = await channel.exchange(smb2.encode_session_setup_request(request, channel.header()))
    if header.status != NTStatus.MORE_PROCESSING_REQUIRED:
        raise DecodeError(f"SESSION_SETUP answered {status_name(header.status)} instead of a CHALLENGE")
    response = smb2.decode_session_setup_response(reply)
    inner = spnego.extract_ntlmssp(response.security_buffer)
    if inner is None:
        raise DecodeError("SESSION_SETUP reply carries no NTLMSSP message")
    return ChallengeStep(response.session_id, ntlmssp.decode_challenge(inner))


def ntlm_info(challenge: ntlmssp.Challenge) -> NtlmInfo:
    """NtlmInfo from a decoded CHALLENGE (product name from the build table)."""
    version = challenge.version
    major = version.major if version else None
    minor = version.minor if version else None
    build = version.build if version else None
    return NtlmInfo(
        netbios_computer=challenge.nb_computer_name,
        netbios_domain=challenge.nb_domain_name,
        dns_computer=challenge.dns_computer_name or None,
        dns_domain=challenge.dns_domain_name or None,
        dns_tree=challenge.dns_tree_name or None,
        os_major=major,
        os_minor=minor,
        os_build=build,
        ntlm_revision=version.revision if version else None,
        timestamp=challenge.timestamp,
        product=osinfo.product_name(major, minor, build),
    )


async def probe_ntlm(target: Target, opts: ProbeOptions) -> NtlmInfo:
    """Standalone: one connection, a multi-dialect NEGOTIATE, then the CHALLENGE."""
    transport: Transport = await connect(target.address, target.port, opts)
    try:
        channel = Smb2Channel(transport)
        req = smb2.NegotiateRequest(dialects=(0x0202, 0x0210, 0x0300, 0x0302))
        header, _ = await channel.exchange(smb2.encode_negotiate_request(req, channel.header()))
        if header.status != 0:
            raise DecodeError(f"NEGOTIATE refused: {status_name(header.status)}")
        step = await smb2_challenge(channel)
    finally:
        await transport.close()
    return ntlm_info(step.challenge)
