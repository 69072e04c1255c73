"""``share-writable-without-credentials``: a null or guest session created a file in
the share root (``--check-write``: an empty, uniquely named file, deleted at once).
Without ``--check-write`` a share readable anonymously is UNKNOWN for writing; a
share that cannot even be opened anonymously is not writable anonymously."""

from __future__ import annotations

from smbguard.checks._audit import NOT_LISTED_ANON, is_file_share, judge_shares, unknown
from smbguard.checks.base import Check
from smbguard.checks.common import not_reachable
from smbguard.model import CheckResult, HostFacts, JsonValue, ShareFacts, Status

ID = "share-writable-without-credentials"


def judge(share: ShareFacts) -> CheckResult:
    ev: dict[str, JsonValue] = {
        "share": share.name,
        "null_write": share.anonymous_write,
        "guest_write": share.guest_write,
        "test_file_left_behind": share.write_cleanup_failed,
    }
    if share.anonymous_write or share.guest_write:
        return CheckResult(ID, Status.AFFECTED, evidence=ev, share=share.name)
    null_no = share.anonymous_write is False or share.anonymous_read is False
    guest_no = share.guest_write is False or share.guest_read is False
    if null_no and guest_no:
        return CheckResult(ID, Status.NOT_AFFECTED, evidence=ev, share=share.name)
    if share.anonymous_read or share.guest_read:
        why = "readable without credentials; write access not tested (run with --check-write)"
        notes = [n for n in share.notes if "write" in n]
        return unknown(ID, "; ".join(notes) or why, share.name, ev)
    return unknown(ID, "; ".join(share.notes) or "anonymous access was not decided", share.name, ev)


def run(facts: HostFacts) -> tuple[CheckResult, ...]:
    closed = not_reachable(ID, facts)
    if closed:
        return closed
    return judge_shares(ID, facts.shares, is_file_share, judge, not_listed=NOT_LISTED_ANON)


CHECK = Check(id=ID, run=run, needs=("shares",))
