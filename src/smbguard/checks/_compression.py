"""Shared judgement of the SMBv3 compression flaws (SMBGhost CVE-2020-0796,
SMBleed CVE-2020-1206).

Both live in the SMB 3.1.1 compression code of srv2.sys. A host can only be
reached through them when it negotiates dialect 3.1.1 *and* offers a
compression algorithm in its NEGOTIATE response ([MS-SMB2] 2.2.4,
2.2.3.1.3 SMB2_COMPRESSION_CAPABILITIES), and only the builds in
``fixed_ubr`` shipped the flawed code. Patched and unpatched hosts of those
builds answer the negotiate identically, so without credentials the best a
scanner can say is "possibly vulnerable"; with a credentialed audit
(CurrentBuild + UBR) the answer is exact. Nothing here, nor in any probe, sends
a compressed message.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from smbguard.checks._host import DISABLE_COMPRESSION, is_samba, registry_value, windows_build
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, Confidence, HostFacts, JsonValue, Status

REMOTE_LIMIT = (
    "An unauthenticated remote check cannot tell a patched host from an unpatched one: "
    "both offer the same dialect and compression. Confirm the patch level (build.UBR) "
    "with a credentialed audit or on the host (winver / Get-ComputerInfo)."
)


def judge(check_id: str, facts: HostFacts, fixed_ubr: Mapping[int, int], kb: str) -> Iterable[CheckResult]:
    """Judge one compression CVE. ``fixed_ubr`` maps each affected build to its first fixed UBR."""

    def result(
        status: Status, confidence: Confidence, reason: str | None, **evidence: JsonValue
    ) -> CheckResult:
        return CheckResult(check_id, status, confidence, dict(evidence), reason=reason)

    affected_builds = sorted(fixed_ubr)
    closed = not_reachable(check_id, facts)
    if closed is not None:
        return closed
    if is_samba(facts):
        return [
            result(
                Status.NOT_AFFECTED,
                Confidence.CONFIRMED,
                "Samba does not contain the Windows srv2.sys compression code",
                server="Samba",
            )
        ]

    build = windows_build(facts)
    audit = facts.audit
    disable_compression = registry_value(facts, DISABLE_COMPRESSION)
    if build is not None and build.source == "audit" and audit is not None:
        if build.number not in fixed_ubr:
            return [
                result(
                    Status.NOT_AFFECTED,
                    Confidence.CONFIRMED,
                    f"build {build.number} is not an affected build",
                    build=build.number,
                    build_source="audit",
                    affected_builds=list(affected_builds),
                )
            ]
        if audit.ubr is not None:
            fixed = fixed_ubr[build.number]
            version = f"10.0.{build.number}.{audit.ubr}"
            if audit.ubr >= fixed:
                return [
                    result(
                        Status.NOT_AFFECTED,
                        Confidence.CONFIRMED,
                        f"patched: {version} >= 10.0.{build.number}.{fixed} ({kb})",
                        build=build.number,
                        ubr=audit.ubr,
                        fixed_ubr=fixed,
                        build_source="audit",
                    )
                ]
            if disable_compression in (1, "1", True):
                return [
                    result(
                        Status.MITIGATED,
                        Confidence.CONFIRMED,
                        f"unpatched ({version} < 10.0.{build.number}.{fixed}) but DisableCompression=1",
                        build=build.number,
                        ubr=audit.ubr,
                        fixed_ubr=fixed,
                        disable_compression=1,
                        build_source="audit",
                    )
                ]
            return [
                result(
                    Status.AFFECTED,
                    Confidence.CONFIRMED,
                    None,
                    build=build.number,
                    ubr=audit.ubr,
                    fixed_ubr=fixed,
                    missing_update=kb,
                    build_source="audit",
                )
            ]

        if disable_compression in (1, "1", True):
            return [
                result(
                    Status.MITIGATED,
                    Confidence.CONFIRMED,
                    f"affected build {build.number} (patch level unknown) with DisableCompression=1",
                    build=build.number,
                    disable_compression=1,
                    build_source="audit",
                )
            ]

    smb2 = facts.smb2
    if smb2 is None:
        return [result(Status.UNKNOWN, Confidence.POSSIBLE, "SMB2/3 negotiate facts missing")]
    dialects: list[JsonValue] = list(smb2.dialects)
    if "3.1.1" not in smb2.dialects:
        if smb2.decided:
            return [
                result(
                    Status.NOT_AFFECTED,
                    Confidence.CONFIRMED,
                    "SMB 3.1.1 not offered",
                    dialects=dialects,
                )
            ]
        return [
            result(
                Status.UNKNOWN,
                Confidence.POSSIBLE,
                smb2.reason or "could not determine whether SMB 3.1.1 is offered",
                dialects=dialects,
            )
        ]

    compression: list[JsonValue] = [n for n in smb2.compression_algorithms if n.upper() != "NONE"]
    build_ev: JsonValue = build.number if build is not None else None
    build_src: JsonValue = build.source if build is not None else None
    if build is not None and build.number not in fixed_ubr:
        return [
            result(
                Status.NOT_AFFECTED,
                Confidence.CONFIRMED if build.source != "smb1-native-os" else Confidence.LIKELY,
                f"build {build.number} is not an affected build",
                build=build.number,
                build_source=build.source,
                affected_builds=list(affected_builds),
                compression=list(compression),
            )
        ]
    if compression:
        return [
            result(
                Status.AFFECTED,
                Confidence.POSSIBLE,
                None,
                dialect="3.1.1",
                compression=list(compression),
                build=build_ev,
                build_source=build_src,
                affected_builds=list(affected_builds),
                missing_update_if_unpatched=kb,
                note=REMOTE_LIMIT,
            )
        ]
    if build is not None:
        return [
            result(
                Status.MITIGATED,
                Confidence.LIKELY,
                "affected build, but the server offers no compression "
                "(DisableCompression workaround or compression turned off)",
                dialect="3.1.1",
                compression=[],
                build=build.number,
                build_source=build.source,
            )
        ]
    return [
        result(
            Status.NOT_AFFECTED,
            Confidence.LIKELY,
            "the server offers no SMB 3.1.1 compression",
            dialect="3.1.1",
            compression=[],
            build=None,
        )
    ]
