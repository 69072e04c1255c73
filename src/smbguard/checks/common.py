"""Small helpers shared by check modules (pure functions, no I/O)."""

from __future__ import annotations

from collections.abc import Mapping

from smbguard.checks._host import smb1_off
from smbguard.model import (
    CheckResult,
    Confidence,
    HostFacts,
    JsonValue,
    PortState,
    SessionFacts,
    Status,
    VulnProbeFacts,
)


def result(
    check_id: str,
    status: Status,
    *,
    confidence: Confidence = Confidence.CONFIRMED,
    evidence: Mapping[str, JsonValue] | None = None,
    reason: str | None = None,
    share: str | None = None,
) -> tuple[CheckResult, ...]:
    """One result, as the 1-tuple a check returns."""
    return (
        CheckResult(
            check_id=check_id,
            status=status,
            confidence=confidence,
            evidence=evidence or {},
            reason=reason,
            share=share,
        ),
    )


def unknown(
    check_id: str, reason: str, evidence: Mapping[str, JsonValue] | None = None
) -> tuple[CheckResult, ...]:
    """The check could not decide: never reported as safe."""
    return result(check_id, Status.UNKNOWN, confidence=Confidence.POSSIBLE, evidence=evidence, reason=reason)


def not_reachable(check_id: str, facts: HostFacts) -> tuple[CheckResult, ...] | None:
    """None when the SMB port is open. Otherwise NOT_APPLICABLE for a closed port
    (the host refused: no SMB service there) and UNKNOWN for a filtered port or a
    network error (something may listen behind the filter)."""
    if facts.port_state is PortState.OPEN:
        return None
    evidence: dict[str, JsonValue] = {"port_state": facts.port_state.value}
    if facts.port_state is PortState.CLOSED:
        return result(check_id, Status.NOT_APPLICABLE, evidence=evidence,
                      reason=f"port {facts.target.port} is closed: no SMB service")
    return unknown(check_id, f"port {facts.target.port} is {facts.port_state.value}", evidence)


def errors_of(facts: HostFacts, probe: str) -> str | None:
    """The first probe error message recorded for ``probe`` (for UNKNOWN reasons)."""
    for err in facts.errors:
        if err.probe == probe:
            return f"{err.kind}: {err.message}"
    return None


def session_result(
    check_id: str, sessions: SessionFacts, kind: str, answer: bool | None, answer_reason: str | None
) -> tuple[CheckResult, ...]:
    """The verdict of one anonymous session probe (``kind`` "null" or "guest", with its
    ``answer`` and ``answer_reason`` from ``sessions``): AFFECTED when the session
    succeeded, UNKNOWN when the probes were skipped or did not decide."""
    if sessions.skipped:
        return unknown(check_id, "anonymous session probes were skipped (--no-null-session)")
    if answer is None:
        return unknown(check_id, answer_reason or f"the {kind} session probe did not decide")
    evidence: dict[str, JsonValue] = {f"sessions.{kind}": answer}
    if answer_reason:
        evidence[f"sessions.{kind}_reason"] = answer_reason
    return result(check_id, Status.AFFECTED if answer else Status.NOT_AFFECTED, evidence=evidence)


def smb1_probe_not_run(
    check_id: str,
    facts: HostFacts,
    probe: VulnProbeFacts | None,
    *,
    smb1_off_confidence: Confidence,
    smb1_off_reason: str,
    missing: str,
) -> list[CheckResult]:
    """The result of an SMB1 vulnerability check whose probe did not run: NOT_AFFECTED
    when the scan found SMB1 disabled (the flaw cannot be reached), UNKNOWN otherwise
    (the probe's own reason, else ``missing``)."""
    if smb1_off(facts):
        return [
            CheckResult(
                check_id,
                Status.NOT_AFFECTED,
                smb1_off_confidence,
                {"smb1_enabled": False},
                reason=smb1_off_reason,
            )
        ]
    why = probe.reason if probe is not None and probe.reason else missing
    return [CheckResult(check_id, Status.UNKNOWN, Confidence.POSSIBLE, {}, reason=why)]


def probe_undecided(
    check_id: str, probe: VulnProbeFacts, evidence: Mapping[str, JsonValue]
) -> list[CheckResult]:
    """UNKNOWN for a vulnerability probe that ran but ended in no verdict state."""
    return [
        CheckResult(
            check_id,
            Status.UNKNOWN,
            Confidence.POSSIBLE,
            evidence,
            reason=probe.reason or f"probe state {probe.state!r}",
        )
    ]
