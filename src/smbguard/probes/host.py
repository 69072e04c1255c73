"""``collect``: every unauthenticated probe against one ``address:port``, in parallel,
over as few connections as an exact answer allows.

Connections per host (all opened at once once the first TCP connect succeeds):

1. the first connection: SMB2 NEGOTIATE for 3.1.1 with every negotiate context;
2-5. one NEGOTIATE each for 2.0.2, 2.1, 3.0, 3.0.2 (a multi-dialect NEGOTIATE only
   reveals the highest; the exact set needs one per dialect);
6. SMB1 NEGOTIATE ``NT LM 0.12`` (+ NTLM CHALLENGE step: NativeOS/LanMan), then,
   when SMB1 is on and requested, the MS17-010 and DoublePulsar checks on one
   anonymous session with IPC$ connected (:data:`VULN_CHECKS`).

No further connection is opened: the first SMB2 connection whose NEGOTIATE
succeeds carries the NTLM CHALLENGE and the null session, the second the guest
session (the first one again when only one dialect is spoken; the SMB1
connection when SMB2 is absent); the others close as soon as they are answered.
The first connection is also the reachability check (refused: closed; timeout:
filtered), so it costs nothing extra. A closed port costs one connect attempt.
The vulnerability probes fall back to their own connections only in the cases
listed at :data:`VULN_PROBES`.

Every await is bounded by the transport's connect/read timeouts; the engine adds
a whole-host budget on top.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime

from smbguard import osinfo
from smbguard.errors import ConnectRefused, ConnectTimeout, DecodeError, TransportError
from smbguard.model import (
    HostFacts,
    JsonScalar,
    NtlmInfo,
    PortState,
    ProbeError,
    SigningFacts,
    Smb1Facts,
    Smb2Facts,
    Target,
    VulnProbeFacts,
)
from smbguard.net.transport import Transport
from smbguard.probes import smb1 as smb1_probe
from smbguard.probes import smb2 as smb2_probe
from smbguard.probes._smb1_ipc import IpcSession, StepFailed, logoff, open_ipc_after_fingerprint
from smbguard.probes.base import (
    NETBIOS_PORT,
    ProbeFailure,
    ProbeOptions,
    Smb1Channel,
    Smb2Channel,
    connect,
    probe_error,
)
from smbguard.probes.netbios import probe_netbios
from smbguard.probes.ntlm import ntlm_info, smb2_challenge
from smbguard.probes.sessions import Outcome, session_facts, smb2_guest_session, smb2_null_session
from smbguard.proto import smb2
from smbguard.proto.netbios import NbssResponse
from smbguard.proto.ntstatus import status_name

__all__ = [
    "VULN_CHECKS",
    "VULN_PROBES",
    "ProbeOptions",
    "VulnCheck",
    "VulnProbe",
    "collect",
    "derive_signing",
]

VulnProbe = Callable[[Target, ProbeOptions], Awaitable[VulnProbeFacts]]
VulnCheck = Callable[[Transport, IpcSession], Awaitable[VulnProbeFacts]]

#: Hook for the read-only vulnerability probes (MS17-010, DoublePulsar). Register
#: explicitly, keyed by the HostFacts field they fill, e.g. in this module:
#: ``VULN_PROBES["ms17_010"] = ms17_010.run``. An entry runs only when the
#: ProbeOptions flag of the same name is True (otherwise the field stays None) and
#: only once the SMB1 NEGOTIATE did not refuse SMB1 (otherwise state "not_run", no
#: connection). If the same name is in :data:`VULN_CHECKS`, the check runs on the SMB1
#: fingerprint connection (after its NEGOTIATE / CHALLENGE step, on one anonymous
#: session with IPC$ connected) and the standalone entry is only the fallback: its
#: own connection when SMB1 is undecided, the fingerprint step failed, an
#: extended-security reply carried no CHALLENGE, or the anonymous NTLMSSP logon was
#: refused.
VULN_PROBES: dict[str, VulnProbe] = {}
#: The same probes' requests on an open anonymous IPC$ session (no connect, no logon).
VULN_CHECKS: dict[str, VulnCheck] = {}

SMB2_SIDE_DIALECTS = (
    smb2.Dialect.SMB_2_0_2,
    smb2.Dialect.SMB_2_1,
    smb2.Dialect.SMB_3_0,
    smb2.Dialect.SMB_3_0_2,
)


def _now() -> datetime:
    return datetime.now(UTC)


async def _connect_first(target: Target, opts: ProbeOptions) -> tuple[Transport, float]:
    """The first connection, retried ``opts.retries`` times on timeouts / transient errors."""
    attempt = 0
    while True:
        start = time.perf_counter()
        try:
            transport = await connect(target.address, target.port, opts)
        except ConnectRefused:
            raise
        except (ConnectTimeout, TransportError):
            attempt += 1
            if attempt > opts.retries:
                raise
            continue
        return transport, (time.perf_counter() - start) * 1000


def derive_signing(smb1: Smb1Facts | None, smb2_facts: Smb2Facts | None) -> SigningFacts:
    """Signing from the raw SecurityMode fields.

    ``required`` is True only if every dialect the host speaks requires signing
    (SMB1 when enabled, and each accepted SMB2 dialect); False as soon as one spoken
    dialect does not; None when nothing is spoken or a dialect that might be spoken
    is undecided while all known ones require it."""
    smb1_spoken = smb1 is not None and smb1.enabled is True
    smb1_required = smb1.signing_required if smb1_spoken and smb1 is not None else None
    modes: Mapping[str, int] = smb2_facts.security_modes if smb2_facts is not None else {}
    smb2_required = all(m & smb2.SecurityMode.SIGNING_REQUIRED for m in modes.values()) if modes else None
    verdicts: list[bool] = []
    if smb1_required is not None:
        verdicts.append(smb1_required)
    verdicts.extend(bool(m & smb2.SecurityMode.SIGNING_REQUIRED) for m in modes.values())
    enabled_votes: list[bool] = []
    if smb1_spoken and smb1 is not None and smb1.signing_enabled is not None:
        enabled_votes.append(smb1.signing_enabled)
    enabled_votes.extend(
        bool(m & (smb2.SecurityMode.SIGNING_ENABLED | smb2.SecurityMode.SIGNING_REQUIRED))
        for m in modes.values()
    )
    undecided = (smb1 is None or smb1.enabled is None) or (smb2_facts is None or not smb2_facts.decided)
    if not verdicts:
        required = None
    elif not all(verdicts):
        required = False
    else:
        required = None if undecided else True
    return SigningFacts(
        enabled=any(enabled_votes) if enabled_votes else None,
        required=required,
        smb1_required=smb1_required,
        smb2_required=smb2_required,
    )


def _vuln_unknown(exc: BaseException) -> VulnProbeFacts:
    """The "unknown" a standalone probe's ``run_on`` gives for the same trouble."""
    if isinstance(exc, DecodeError):
        return VulnProbeFacts("unknown", {}, f"malformed answer: {exc}")
    return VulnProbeFacts("unknown", {}, f"{type(exc).__name__}: {exc}")


def _shares_fingerprint(result: smb1_probe.Smb1Result) -> bool:
    """Whether the vulnerability checks can run on the SMB1 fingerprint connection:
    SMB1 accepted, the fingerprint step went through without error, and (extended
    security) its half-open NTLMSSP session is there to be completed anonymously."""
    if result.facts.enabled is not True or result.channel is None or result.negotiate is None:
        return False
    if result.error is not None:
        return False  # the CHALLENGE step failed: the connection's state is unknown
    return not result.negotiate.extended_security or result.pending_uid is not None


async def _vulns_on_fingerprint(
    result: smb1_probe.Smb1Result, names: list[str], address: str
) -> tuple[smb1_probe.Smb1Result, dict[str, VulnProbeFacts]]:
    """Anonymous logon + IPC$ on the fingerprint connection, then each check in turn
    (PeekNamedPipe FID 0, Trans2 SESSION_SETUP ping), then LOGOFF. Returns no verdict
    (the caller falls back to a separate connection) when an extended-security
    anonymous logon is refused, since the standalone probes log on without it."""
    assert result.channel is not None and result.negotiate is not None
    channel = result.channel
    extended = result.negotiate.extended_security
    pending = result.pending_uid
    # The half-open session is completed (or abandoned) here; later SMB1 logons start afresh.
    result = dataclasses.replace(result, pending_uid=None)
    try:
        session = await open_ipc_after_fingerprint(channel, extended, pending, address)
    except StepFailed as exc:
        if extended and exc.stage == "anonymous session setup":
            return result, {}
        evidence: dict[str, JsonScalar] = {"stage": exc.stage, "status": status_name(exc.status)}
        facts = VulnProbeFacts("unknown", evidence, f"{exc}: the check needs it")
        return result, dict.fromkeys(names, facts)
    except (TransportError, DecodeError) as exc:
        return _lose_channel(result, exc), dict.fromkeys(names, _vuln_unknown(exc))
    verdicts: dict[str, VulnProbeFacts] = {}
    for name in names:
        try:
            verdicts[name] = await VULN_CHECKS[name](channel.transport, session)
        except (TransportError, DecodeError) as exc:
            # the exchange is out of step: no more requests on this connection
            failed = _vuln_unknown(exc)
            verdicts.update({n: failed for n in names if n not in verdicts})
            return _lose_channel(result, exc), verdicts
    with contextlib.suppress(TransportError):  # best effort, as in the standalone probes
        await logoff(channel.transport, session)
    return result, verdicts


def _lose_channel(result: smb1_probe.Smb1Result, exc: BaseException) -> smb1_probe.Smb1Result:
    """After a timeout or a bad reply the connection may still deliver a late answer, which
    a later request would take for its own: the SMB1 null/guest logons must not use it."""
    return dataclasses.replace(result, channel=None, channel_lost=f"{type(exc).__name__}: {exc}")


async def _vulns_separately(
    names: list[str], target: Target, opts: ProbeOptions, smb1_facts: Smb1Facts
) -> dict[str, VulnProbeFacts]:
    """Each probe on its own connection (the standalone ``run``), or "not_run" without
    a connection when the SMB1 NEGOTIATE refused SMB1."""
    if smb1_facts.enabled is False:
        reason = f"SMB1 is not spoken: {smb1_facts.reason}"
        facts = VulnProbeFacts(state="not_run", evidence={"smb1_enabled": False}, reason=reason)
        return dict.fromkeys(names, facts)

    async def one(name: str) -> VulnProbeFacts:
        try:
            return await VULN_PROBES[name](target, opts)
        except (TransportError, DecodeError, ProbeFailure) as exc:
            err = probe_error(name, exc)
            return VulnProbeFacts(state="unknown", reason=f"{err.kind}: {err.message}")

    results = await asyncio.gather(*(one(n) for n in names))
    return dict(zip(names, results, strict=True))


async def _smb1_phase(
    target: Target, opts: ProbeOptions, keep: list[Transport]
) -> tuple[smb1_probe.Smb1Result, dict[str, VulnProbeFacts]]:
    """The SMB1 connection: NEGOTIATE, the fingerprint step, then the requested
    vulnerability checks on the same connection when it allows
    (:func:`_shares_fingerprint`), else each on its own connection."""
    wanted = [n for n in VULN_PROBES if getattr(opts, n, False) is True]
    try:
        transport = await connect(target.address, target.port, opts)
    except (TransportError, ProbeFailure) as exc:
        failed = smb1_probe.Smb1Result(
            Smb1Facts(enabled=None, reason=f"connect: {exc}"), error=probe_error(smb1_probe.PROBE, exc)
        )
        return failed, await _vulns_separately(wanted, target, opts, failed.facts)
    keep.append(transport)
    result = await smb1_probe.negotiate(Smb1Channel(transport))
    result = await smb1_probe.fingerprint(result)
    verdicts: dict[str, VulnProbeFacts] = {}
    shared = [n for n in wanted if n in VULN_CHECKS]
    if shared and _shares_fingerprint(result):
        result, verdicts = await _vulns_on_fingerprint(result, shared, target.address)
    rest = [n for n in wanted if n not in verdicts]
    if rest:
        verdicts.update(await _vulns_separately(rest, target, opts, result.facts))
    return result, verdicts


class _SessionJobs:
    """Hands the session work to SMB2 connections as soon as their NEGOTIATE succeeds:
    the first one runs the NTLM CHALLENGE + null session ("main"), the second the guest
    session; connections with nothing left to do are closed at once (Samba runs a
    process per connection). With a single SMB2 dialect, the guest session runs as a
    second session on the main connection afterwards (:meth:`finish`)."""

    def __init__(self, server: str, opts: ProbeOptions, errors: list[ProbeError]) -> None:
        self.server = server
        self.opts = opts
        self.errors = errors
        self.pending = ["main", "guest"] if opts.null_sessions else ["main"]
        self.main_channel: Smb2Channel | None = None
        self.ntlm: NtlmInfo | None = None
        self.null: Outcome | None = None
        self.guest: Outcome | None = None

    async def run(self, channel: Smb2Channel) -> bool:
        """Do the next pending job on ``channel``; True if the caller must keep it open."""
        if not self.pending:
            return False
        job = self.pending.pop(0)
        if job == "guest":
            self.guest = await smb2_guest_session(channel)
            return False
        self.main_channel = channel
        try:
            step = await smb2_challenge(channel)
        except (TransportError, DecodeError) as exc:
            self.errors.append(probe_error("ntlm", exc))
            self.main_channel = None
            return False
        self.ntlm = ntlm_info(step.challenge)
        if self.opts.null_sessions:
            self.null = await smb2_null_session(channel, step, self.server)
        return True

    async def finish(self) -> None:
        if "guest" in self.pending and self.main_channel is not None:
            self.pending.remove("guest")
            self.guest = await smb2_guest_session(self.main_channel)


async def _dialect_task(
    channel: Smb2Channel, dialect: int, server: str, jobs: _SessionJobs
) -> smb2_probe.DialectResult:
    """NEGOTIATE on an open connection, then any pending session job; closes the
    connection when nothing more will be asked of it."""
    keep_open = False
    try:
        result = await smb2_probe.negotiate(channel, dialect, server)
        if result.accepted:
            keep_open = await jobs.run(channel)
        return result
    finally:
        if not keep_open:
            await channel.transport.close()


async def _side_task(
    target: Target, opts: ProbeOptions, dialect: int, jobs: _SessionJobs, keep: list[Transport]
) -> smb2_probe.DialectResult:
    try:
        transport = await connect(target.address, target.port, opts)
    except (TransportError, ProbeFailure) as exc:
        return smb2_probe.DialectResult(
            dialect, None, reason=f"connect: {exc}", error=probe_error("smb2", exc)
        )
    keep.append(transport)
    return await _dialect_task(Smb2Channel(transport), dialect, target.hostname or target.address, jobs)


async def collect(target: Target, opts: ProbeOptions) -> HostFacts:
    """All probes against ``target``; never raises for network or protocol trouble
    (those become ``HostFacts.errors`` / None facts with reasons)."""
    started = _now()
    errors: list[ProbeError] = []
    try:
        first, connect_ms = await _connect_first(target, opts)
    except ConnectRefused as exc:
        return HostFacts(
            target, PortState.CLOSED, started=started, finished=_now(), errors=(probe_error("connect", exc),)
        )
    except ConnectTimeout as exc:
        return HostFacts(
            target,
            PortState.FILTERED,
            started=started,
            finished=_now(),
            errors=(probe_error("connect", exc),),
        )
    except ProbeFailure as exc:  # port 139 answered with a negative NetBIOS session response
        return HostFacts(
            target,
            PortState.OPEN,
            netbios_session=False,
            started=started,
            finished=_now(),
            errors=(exc.error,),
        )
    except TransportError as exc:
        return HostFacts(
            target, PortState.ERROR, started=started, finished=_now(), errors=(probe_error("connect", exc),)
        )

    keep: list[Transport] = [first]
    t_nb: asyncio.Task[NbssResponse] | None = None
    try:
        first_channel = Smb2Channel(first)
        server = target.hostname or target.address
        jobs = _SessionJobs(server, opts, errors)
        t311 = asyncio.create_task(_dialect_task(first_channel, smb2.Dialect.SMB_3_1_1, server, jobs))
        t_smb1 = asyncio.create_task(_smb1_phase(target, opts, keep))
        t_side = [asyncio.create_task(_side_task(target, opts, d, jobs, keep)) for d in SMB2_SIDE_DIALECTS]
        if opts.netbios_139 and target.port != NETBIOS_PORT:
            t_nb = asyncio.create_task(probe_netbios(target, opts))
        # Children handle their own protocol/transport errors; gather propagates only bugs
        # and cancellation (which cancels every child).
        await asyncio.gather(t311, t_smb1, *t_side)
        await jobs.finish()
        smb1_result, vulns = t_smb1.result()

        dialect_results = [t311.result(), *(t.result() for t in t_side)]
        smb2_facts = smb2_probe.build_facts(dialect_results, smb1_spoken=smb1_result.facts.enabled is True)
        for r in dialect_results:
            if r.error is not None and (r.accepted is None or (r.closed and not smb2_facts.decided)):
                errors.append(r.error)
        ntlm, null, guest = jobs.ntlm, jobs.null, jobs.guest
        any_smb2 = any(r.accepted for r in dialect_results)
        smb1_spoken_sessions = not any_smb2 and smb1_result.channel is not None
        if smb1_result.challenge is not None and ntlm is None:
            ntlm = ntlm_info(smb1_result.challenge)
        if opts.null_sessions and (
            smb1_spoken_sessions
            or (
                smb1_result.negotiate is not None
                and not smb1_result.negotiate.extended_security
                and smb1_result.channel is not None
            )
        ):
            smb1_result, null1, guest1 = await smb1_probe.sessions(smb1_result, server)
            if smb1_spoken_sessions:
                null, guest = null1, guest1
        elif opts.null_sessions and not any_smb2 and smb1_result.channel_lost is not None:
            lost = f"SMB1 connection unusable after the vulnerability checks ({smb1_result.channel_lost})"
            null = guest = Outcome(None, lost)
        if smb1_result.error is not None and smb1_result.facts.enabled is None:
            errors.append(smb1_result.error)
        smb1_facts = smb1_probe.finalize(smb1_result.facts, smb1_result.closed, bool(smb2_facts.dialects))

        netbios_session: bool | None = True if target.port == NETBIOS_PORT else None
        if t_nb is not None:
            try:
                netbios_session = (await t_nb).positive
            except (TransportError, DecodeError) as exc:
                errors.append(probe_error("netbios", exc))
    finally:
        if t_nb is not None and not t_nb.done():
            t_nb.cancel()
        await asyncio.gather(*(t.close() for t in keep))

    os_string = osinfo.best_os_string(
        smb1_facts.native_os if smb1_facts else None,
        smb1_facts.native_lan_manager if smb1_facts else None,
        ntlm.product if ntlm else None,
        ntlm.os_version if ntlm else None,
    )
    return HostFacts(
        target=target,
        port_state=PortState.OPEN,
        connect_ms=round(connect_ms, 3),
        netbios_session=netbios_session,
        smb1=smb1_facts,
        smb2=smb2_facts,
        signing=derive_signing(smb1_facts, smb2_facts),
        ntlm=ntlm,
        os=os_string,
        sessions=session_facts(null, guest, skipped=not opts.null_sessions),
        ms17_010=vulns.get("ms17_010"),
        doublepulsar=vulns.get("doublepulsar"),
        started=started,
        finished=_now(),
        errors=tuple(errors),
    )


# Read-only vulnerability probes (issue 3); each runs when its ProbeOptions flag is set.
from smbguard.probes import doublepulsar as _doublepulsar  # noqa: E402 - registered after the hook exists
from smbguard.probes import ms17_010 as _ms17_010  # noqa: E402

VULN_PROBES["ms17_010"] = _ms17_010.run
VULN_PROBES["doublepulsar"] = _doublepulsar.run
VULN_CHECKS["ms17_010"] = _ms17_010.check
VULN_CHECKS["doublepulsar"] = _doublepulsar.check
