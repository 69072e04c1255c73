"""Helpers shared by the share and credentialed-audit checks (issue 5).

Registry names are the ``HKLM\\...\\Value`` strings the audit stores in
``AuditFacts.registry`` (a test pins them to ``smbguard.auth.registry``). A name
absent from the mapping was not read (reason in ``AuditFacts.errors``); a name
present with ``None`` was read and is not set, so the Windows default applies.
"""

from __future__ import annotations

from collections.abc import Callable

from smbguard.checks.common import not_reachable, result
from smbguard.model import AceFacts, AuditFacts, CheckResult, HostFacts, JsonValue, ShareFacts, Status

LANMAN = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\LanmanServer\\Parameters\\"
LSA = "HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\\"
MRXSMB10_START = "HKLM\\SYSTEM\\CurrentControlSet\\Services\\mrxsmb10\\Start"

# Principals that stand for "almost anyone": Everyone, Anonymous, Authenticated Users,
# BUILTIN\Users, BUILTIN\Guests, and the domain-relative Domain Users (-513),
# Domain Guests (-514) and Guest (-501).
BROAD_SIDS = {
    "S-1-1-0": "Everyone",
    "S-1-5-7": "ANONYMOUS LOGON",
    "S-1-5-11": "Authenticated Users",
    "S-1-5-32-545": "BUILTIN\\Users",
    "S-1-5-32-546": "BUILTIN\\Guests",
}
BROAD_RIDS = {"513": "Domain Users", "514": "Domain Guests", "501": "Guest"}

NOT_FILE_SHARES = ("ipc", "printer", "device")


def is_broad(sid: str) -> bool:
    if sid in BROAD_SIDS:
        return True
    parts = sid.split("-")
    return sid.startswith("S-1-5-21-") and len(parts) == 8 and parts[-1] in BROAD_RIDS


def principal(ace: AceFacts) -> str:
    if ace.name:
        return ace.name
    if ace.sid in BROAD_SIDS:
        return BROAD_SIDS[ace.sid]
    rid = ace.sid.rsplit("-", 1)[-1]
    return BROAD_RIDS.get(rid, ace.sid) if is_broad(ace.sid) else ace.sid


def broad_rights(acl: tuple[AceFacts, ...]) -> tuple[set[str], list[str]]:
    """Rights ("read"/"write"/"full") that broad principals hold in ``acl`` after
    broad deny entries, and the granting principals as ``name:right,...`` strings."""
    allowed: set[str] = set()
    denied: set[str] = set()
    who: list[str] = []
    for ace in acl:
        if not is_broad(ace.sid):
            continue
        if ace.ace_type == "deny":
            denied.update(ace.rights)
        else:
            allowed.update(ace.rights)
            if ace.rights:
                who.append(f"{principal(ace)}:{'/'.join(ace.rights)}")
    if "write" in denied or "read" in denied:
        allowed.discard("full")
    return allowed - denied, who


def is_file_share(share: ShareFacts) -> bool:
    kind = (share.type or "disk").split()[0]
    return kind not in NOT_FILE_SHARES


def is_user_file_share(share: ShareFacts) -> bool:
    """A file share not named like a hidden one (``...$``): the shares snapshots matter for."""
    return is_file_share(share) and not share.name.endswith("$")


def is_admin_share(share: ShareFacts) -> bool:
    """An administrative share: a special (STYPE_SPECIAL) disk share, or a disk share
    named like one (ADMIN$, C$ ... Z$: what attackers try by name, whatever the flag)."""
    kind = share.type or "disk"
    if not kind.startswith("disk") or not share.name.endswith("$"):
        return False
    name = share.name.upper()
    return "special" in kind or name == "ADMIN$" or (len(name) == 2 and name[0].isalpha())


NOT_LISTED = "shares were not enumerated"
NOT_LISTED_ANON = "shares were not enumerated (smbguard scan --shares, smbguard audit)"
NO_FILE_SHARE = "no file share is known on this host"


def judge_shares(
    check_id: str,
    shares: tuple[ShareFacts, ...] | None,
    wanted: Callable[[ShareFacts], bool],
    judge: Callable[[ShareFacts], CheckResult],
    *,
    not_listed: str,
    none_wanted: str = NO_FILE_SHARE,
) -> tuple[CheckResult, ...]:
    """One result per ``wanted`` share from ``judge``: UNKNOWN (``not_listed``) when the
    shares were not enumerated, NOT_APPLICABLE (``none_wanted``) when none is wanted."""
    if shares is None:
        return (unknown(check_id, not_listed),)
    chosen = [s for s in shares if wanted(s)]
    if not chosen:
        return result(check_id, Status.NOT_APPLICABLE, reason=none_wanted)
    return tuple(judge(s) for s in chosen)


def reachable_audit(facts: HostFacts, check_id: str, probe: str) -> AuditFacts | tuple[CheckResult, ...]:
    """The host's audit facts, or the results an audit check returns instead: the port
    verdict when SMB is not reachable (:func:`~smbguard.checks.common.not_reachable`),
    else one UNKNOWN saying why there is no usable audit (none, or ``probe`` failed)."""
    closed = not_reachable(check_id, facts)
    if closed:
        return closed
    audit = facts.audit
    if audit is None or not audit.authenticated:
        return (unknown(check_id, "no credentialed audit of this host (smbguard audit -u USER ...)"),)
    for err in audit.errors:
        if err.probe == probe:
            return (unknown(check_id, f"{probe}: {err.message}"),)
    return audit


def registry_reason(audit: AuditFacts, name: str) -> str:
    """Why registry value ``name`` is missing from ``audit.registry``: the error about
    that value, else the error about the winreg pipe as a whole."""
    errors = [e for e in audit.errors if e.probe == "winreg"]
    for err in errors:
        if err.message.startswith(name + ":"):
            return err.message
    for err in errors:
        if not err.message.startswith("HKLM\\"):
            return err.message
    return f"{name} was not read"


def unknown(
    check_id: str, reason: str, share: str | None = None, evidence: dict[str, JsonValue] | None = None
) -> CheckResult:
    """One UNKNOWN result (for one share when ``share`` is given); the share is in the evidence."""
    ev: dict[str, JsonValue] = dict(evidence or {})
    if share is not None:
        ev.setdefault("share", share)
    return CheckResult(check_id, Status.UNKNOWN, reason=reason, share=share, evidence=ev)


def as_int(value: object) -> int | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return value
    if isinstance(value, str):
        try:
            return int(value.strip(), 0)
        except ValueError:
            return None
    return None
