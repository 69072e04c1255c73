"""SMB2/3 dialect probe: one NEGOTIATE per dialect, each on its own connection.

A multi-dialect NEGOTIATE only reveals the server's highest dialect, so the
exact set needs one NEGOTIATE per dialect ([MS-SMB2] 3.3.5.4: a server that
shares no dialect with the client fails with STATUS_NOT_SUPPORTED). The 3.1.1
NEGOTIATE offers every negotiate context, compression included (a server
only reveals compression algorithms the client offered, [MS-SMB2] 3.3.5.4).

Decision per dialect: accepted (a NEGOTIATE response for exactly that
dialect), refused (an error status, another dialect, or the connection closed
while another dialect was accepted) or undecided (timeout, garbage).
"""

from __future__ import annotations

import asyncio
import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from smbguard.errors import ConnectionClosed, DecodeError, TransportError
from smbguard.model import ProbeError, Smb2Facts, Target
from smbguard.net.transport import Transport
from smbguard.probes.base import ProbeFailure, ProbeOptions, Smb2Channel, connect, probe_error
from smbguard.proto import smb2
from smbguard.proto.ntstatus import status_name

PROBE = "smb2"


def negotiate_contexts(server_name: str) -> tuple[smb2.NegotiateContext, ...]:
    """Everything a 3.1.1 client can offer, so the server reveals what it supports."""
    return (
        smb2.PreauthIntegrityContext((smb2.HashAlgorithm.SHA_512,), uuid.uuid4().bytes * 2),
        smb2.EncryptionCapabilitiesContext(
            (
                smb2.Cipher.AES_128_GCM,
                smb2.Cipher.AES_128_CCM,
                smb2.Cipher.AES_256_GCM,
                smb2.Cipher.AES_256_CCM,
            )
        ),
        smb2.CompressionCapabilitiesContext(
            (
                smb2.CompressionAlgorithm.LZNT1,
                smb2.CompressionAlgorithm.LZ77,
                smb2.CompressionAlgorithm.LZ77_HUFFMAN,
                smb2.CompressionAlgorithm.PATTERN_V1,
                smb2.CompressionAlgorithm.LZ4,
            ),
            smb2.CompressionFlags.CHAINED,
        ),
        smb2.NetnameContext(server_name),
        smb2.TransportCapabilitiesContext(0),
        smb2.RdmaTransformContext((smb2.RdmaTransform.ENCRYPTION, smb2.RdmaTransform.SIGNING)),
        smb2.SigningCapabilitiesContext(
            (
                smb2.SigningAlgorithm.AES_GMAC,
                smb2.SigningAlgorithm.AES_CMAC,
                smb2.SigningAlgorithm.HMAC_SHA256,
            )
        ),
    )


def negotiate_request(channel: Smb2Channel, dialect: int, server_name: str) -> bytes:
    """NEGOTIATE offering only ``dialect`` (3.x ones with every capability; 3.1.1 with every context)."""
    caps = 0x7F if dialect >= smb2.Dialect.SMB_3_0 else 0
    contexts = negotiate_contexts(server_name) if dialect == smb2.Dialect.SMB_3_1_1 else ()
    req = smb2.NegotiateRequest(
        dialects=(dialect,),
        security_mode=smb2.SecurityMode.SIGNING_ENABLED,
        capabilities=caps,
        client_guid=str(uuid.uuid4()),
        contexts=contexts,
    )
    return smb2.encode_negotiate_request(req, channel.header())


@dataclass(frozen=True, slots=True)
class DialectResult:
    """Outcome of one single-dialect NEGOTIATE. ``accepted`` None = undecided."""

    dialect: int
    accepted: bool | None
    response: smb2.NegotiateResponse | None = None
    reason: str | None = None
    error: ProbeError | None = None
    closed: bool = False  # the server closed the connection instead of answering


async def negotiate(channel: Smb2Channel, dialect: int, server_name: str) -> DialectResult:
    """Run one NEGOTIATE on an open connection (must be the first message on it)."""
    try:
        header, reply = await channel.exchange(negotiate_request(channel, dialect, server_name))
        if header.command != smb2.Command.NEGOTIATE:
            raise DecodeError(f"reply to NEGOTIATE has command {header.command}")
        if header.status != 0:
            return DialectResult(dialect, False, reason=f"refused with {status_name(header.status)}")
        response = smb2.decode_negotiate_response(reply)
    except ConnectionClosed as exc:
        return DialectResult(
            dialect,
            False,
            reason="connection closed after NEGOTIATE",
            closed=True,
            error=probe_error(PROBE, exc),
        )
    except (TransportError, DecodeError) as exc:
        return DialectResult(dialect, None, reason=str(exc), error=probe_error(PROBE, exc))
    if response.dialect != dialect:
        return DialectResult(
            dialect, False, response=None, reason=f"answered dialect {smb2.dialect_name(response.dialect)}"
        )
    return DialectResult(dialect, True, response=response)


async def negotiate_new_connection(
    target: Target, opts: ProbeOptions, dialect: int, keep: list[Transport]
) -> tuple[DialectResult, Smb2Channel | None]:
    """Connect and NEGOTIATE; an accepted connection is appended to ``keep`` (caller closes)."""
    try:
        transport = await connect(target.address, target.port, opts)
    except (TransportError, ProbeFailure) as exc:
        return DialectResult(dialect, None, reason=f"connect: {exc}", error=probe_error(PROBE, exc)), None
    keep.append(transport)
    channel = Smb2Channel(transport)
    result = await negotiate(channel, dialect, target.hostname or target.address)
    return result, channel if result.accepted else None


def _names(enum_type: type[enum.IntEnum], values: Sequence[int]) -> tuple[str, ...]:
    return tuple(smb2.enum_name(enum_type, v) for v in values)


def build_facts(results: Sequence[DialectResult], smb1_spoken: bool = False) -> Smb2Facts:
    """Combine per-dialect outcomes into :class:`Smb2Facts`.

    A "closed" refusal counts only when another dialect was accepted or the server
    speaks SMB1 on the same port (``smb1_spoken``: an SMB1-only server closes every SMB2
    NEGOTIATE); a server that closes everything is undecided. Capabilities are the
    union over accepted dialects (3.0/3.0.2 show ENCRYPTION, 3.1.1 carries it in a
    context); GUID, sizes and times come from the highest accepted dialect."""
    any_accepted = smb1_spoken or any(r.accepted for r in results)
    accepted = sorted((r for r in results if r.accepted and r.response is not None), key=lambda r: r.dialect)
    undecided = [r for r in results if r.accepted is None or (r.closed and not any_accepted)]
    reasons = [f"{smb2.dialect_name(r.dialect)}: {r.reason}" for r in undecided]
    if not accepted:
        return Smb2Facts(decided=not undecided, reason="; ".join(reasons) or "no SMB2/3 dialect accepted")
    top = accepted[-1].response
    assert top is not None
    caps = 0
    modes: dict[str, int] = {}
    for r in accepted:
        assert r.response is not None
        caps |= r.response.capabilities
        modes[smb2.dialect_name(r.dialect)] = r.response.security_mode
    fields: dict[str, object] = {}
    r311 = next((r.response for r in accepted if r.dialect == smb2.Dialect.SMB_3_1_1), None)
    if r311 is not None:
        for ctx in r311.contexts:
            if isinstance(ctx, smb2.PreauthIntegrityContext):
                fields["preauth_integrity"] = _names(smb2.HashAlgorithm, ctx.hash_algorithms)
            elif isinstance(ctx, smb2.EncryptionCapabilitiesContext):
                fields["encryption_ciphers"] = _names(smb2.Cipher, ctx.ciphers)
            elif isinstance(ctx, smb2.CompressionCapabilitiesContext):
                fields["compression_algorithms"] = _names(smb2.CompressionAlgorithm, ctx.algorithms)
                fields["compression_flags"] = ctx.flags
            elif isinstance(ctx, smb2.SigningCapabilitiesContext):
                fields["signing_algorithms"] = _names(smb2.SigningAlgorithm, ctx.algorithms)
            elif isinstance(ctx, smb2.RdmaTransformContext):
                fields["rdma_transforms"] = _names(smb2.RdmaTransform, ctx.transforms)
            elif isinstance(ctx, smb2.TransportCapabilitiesContext):
                fields["transport_capabilities"] = ctx.flags
    return Smb2Facts(
        dialects=tuple(smb2.dialect_name(r.dialect) for r in accepted),
        decided=not undecided,
        highest=smb2.dialect_name(accepted[-1].dialect),
        server_guid=top.server_guid,
        capabilities=smb2.flag_names(smb2.Capabilities, caps),
        security_modes=modes,
        max_transact_size=top.max_transact_size,
        max_read_size=top.max_read_size,
        max_write_size=top.max_write_size,
        system_time=top.system_time,
        server_start_time=top.server_start_time,
        reason="; ".join(reasons) or None,
        **fields,  # type: ignore[arg-type]
    )


async def probe_smb2(target: Target, opts: ProbeOptions) -> Smb2Facts:
    """Standalone dialect probe: 5 connections in parallel, all closed before returning."""
    keep: list[Transport] = []
    try:
        results = await asyncio.gather(
            *(negotiate_new_connection(target, opts, d, keep) for d in smb2.ALL_DIALECTS)
        )
    finally:
        await asyncio.gather(*(t.close() for t in keep))
    facts = build_facts([r for r, _ in results])
    errors = [r.error for r, _ in results if r.error is not None]
    if not facts.dialects and len(errors) == len(results):
        raise ProbeFailure(errors[0])
    return facts
