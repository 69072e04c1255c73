"""``smbguard audit`` and ``smbguard scan --shares`` against real Samba (127.0.20.1-2).

Two ``smbd`` instances, configured before they start:

* ``weak`` (127.0.20.1): SMB1 on, bad users mapped to guest, a guest-writable
  ``public`` share (share ACL Everyone:FULL, folder 0777), a ``private`` share
  restricted to alice (share ACL and folder), a ``C$`` share guests can open, a
  ``recent`` share with a snapshot from yesterday and an ``old`` one whose newest
  snapshot is 60 days old (``vfs_shadow_copy2``), Samba's default (weak) password
  policy with ``min password length`` lowered to 4.
* ``strong`` (127.0.20.2): SMB2+ only, ``restrict anonymous = 2``, no guest, an
  ``ADMIN$``-style share for root only, a strict password/lockout policy.

Registry-based checks are UNKNOWN here (Samba's winreg has none of the Windows
keys): their logic is tested with recorded values in tests/checks/fixtures.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.samba import SambaConfig, SambaLab, require_samba
from tests.report.test_json import HOST_VALIDATOR

pytestmark = pytest.mark.integration

# Subprocesses import this checkout's package, whatever copy pip installed.
SRC = str(Path(__file__).resolve().parents[2] / "src")
ADMIN_PW = "Root-Audit-Pw-7Q"
ALICE_PW = "Alice-Pw-5Zx"


def _gmt(days_ago: float) -> str:
    return (datetime.now(UTC) - timedelta(days=days_ago)).strftime("@GMT-%Y.%m.%d-%H.%M.%S")


RECENT, OLD, OLDER = _gmt(1), _gmt(60), _gmt(90)


def _snapshots(share: str) -> dict[str, str]:
    return {
        "vfs objects": "shadow_copy2",
        "shadow:snapdir": ".snapshots",
        "shadow:mountpoint": "{dir}/shares/" + share,
        "shadow:format": "@GMT-%Y.%m.%d-%H.%M.%S",
        "shadow:sort": "desc",
        "read only": "no",
    }


WEAK = SambaConfig(
    "audit-weak",
    "127.0.20.1",
    netbios_name="AUDITWEAK",
    options={"server min protocol": "NT1", "map to guest": "Bad User", "restrict anonymous": "0"},
    shares={
        "public": {"guest ok": "yes", "read only": "no", "comment": "Public drop"},
        "private": {"valid users": "alice root", "read only": "no"},
        "C$": {"guest ok": "yes", "read only": "yes", "comment": "Looks administrative"},
        "recent": _snapshots("recent"),
        "old": _snapshots("old"),
    },
    users={"alice": ALICE_PW, "root": ADMIN_PW},
    files={
        "public/readme.txt": b"hello\n",
        f"recent/.snapshots/{RECENT}/a.txt": b"a",
        f"old/.snapshots/{OLD}/a.txt": b"a",
        f"old/.snapshots/{OLDER}/a.txt": b"a",
    },
)
STRONG = SambaConfig(
    "audit-strong",
    "127.0.20.2",
    netbios_name="AUDITSTRONG",
    options={"server min protocol": "SMB2_10", "map to guest": "Never", "restrict anonymous": "2"},
    shares={"data": {"valid users": "root", "read only": "no"}, "ADMIN$": {"valid users": "root"}},
    users={"root": ADMIN_PW},
)


def _run(*cmd: str, conf: Path) -> str:
    proc = subprocess.run([cmd[0], "-s", str(conf), *cmd[1:]], check=True, capture_output=True, timeout=30)
    return proc.stdout.decode(errors="replace")


def _sid(user: str, conf: Path) -> str:
    """The user's SID from the instance's passdb (sharesec cannot resolve names offline)."""
    for line in _run("pdbedit", "-L", "-v", "-u", user, conf=conf).splitlines():
        if line.startswith("User SID:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no SID for {user}")


@pytest.fixture(scope="module")
def lab() -> Iterator[SambaLab]:
    require_samba()
    # Not under pytest's 0700 temp root: null and guest sessions run as "nobody",
    # which must be able to reach the share folders.
    base = Path(tempfile.mkdtemp(prefix="smbguard-audit-"))
    base.chmod(0o755)
    try:
        yield from _lab(base)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def _lab(base: Path) -> Iterator[SambaLab]:
    lab = SambaLab([WEAK, STRONG], base)
    # Policies and share ACLs are written to the instances' own tdb files before smbd starts.
    for inst in lab:
        inst.prepare()
    weak, strong = lab["audit-weak"].conf_path, lab["audit-strong"].conf_path
    _run("pdbedit", "-P", "min password length", "-C", "4", conf=weak)
    _run("sharesec", "public", "-R", "S-1-1-0:ALLOWED/0/FULL", conf=weak)
    alice, root = _sid("alice", weak), _sid("root", weak)
    _run("sharesec", "private", "-R", f"{alice}:ALLOWED/0/FULL,{root}:ALLOWED/0/FULL", conf=weak)
    for name, value in (
        ("min password length", "15"),
        ("password history", "24"),
        ("minimum password age", "86400"),
        ("bad lockout attempt", "5"),
        ("lockout duration", "30"),
        ("reset count minutes", "30"),
    ):
        _run("pdbedit", "-P", name, "-C", value, conf=strong)
    strong_root = _sid("root", strong)
    _run("sharesec", "data", "-R", f"{strong_root}:ALLOWED/0/FULL", conf=strong)
    _run("sharesec", "ADMIN$", "-R", f"S-1-5-32-544:ALLOWED/0/FULL,{strong_root}:ALLOWED/0/FULL", conf=strong)
    with lab:
        # The launcher makes share folders 0777; tighten the ones that must not be open.
        lab["audit-weak"].root.joinpath("shares", "private").chmod(0o770)
        for share in ("recent", "old"):
            lab["audit-weak"].root.joinpath("shares", share).chmod(0o755)
        lab["audit-strong"].root.joinpath("shares", "data").chmod(0o770)
        yield lab


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("SMBGUARD_PASSWORD", "SMBGUARD_NTHASH")}


def _smbguard(
    *args: str, env: dict[str, str] | None = None, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    full_env = _clean_env()
    full_env.update(env or {})
    full_env["PYTHONPATH"] = SRC
    return subprocess.run(
        [sys.executable, "-m", "smbguard", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=full_env,
    )


def _audit_json(
    target: str, tmp_path: Path, *extra: str, user: str = "root", pw: str = ADMIN_PW
) -> dict[str, Any]:
    out = tmp_path / f"{target}-{user}.json"
    proc = _smbguard(
        "audit",
        target,
        "-u",
        user,
        "--format",
        "json",
        "-o",
        str(out),
        "--no-store",
        *extra,
        env={"SMBGUARD_PASSWORD": pw},
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(out.read_text())
    (host,) = data["hosts"]
    errors = sorted(HOST_VALIDATOR.iter_errors(host), key=str)
    assert not errors, errors
    return host


def _results(host: dict[str, Any], check_id: str) -> dict[str | None, dict[str, Any]]:
    return {c["share"]: c for c in host["checks"] if c["id"] == check_id}


def _finding_shares(host: dict[str, Any], finding_id: str) -> set[str | None]:
    return {f["share"] for f in host["findings"] if f["id"] == finding_id}


@pytest.fixture(scope="module")
def weak_host(lab: SambaLab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _audit_json(
        "127.0.20.1", tmp_path_factory.mktemp("weak"), "--check-write", "--snapshot-max-age", "7"
    )


@pytest.fixture(scope="module")
def strong_host(lab: SambaLab, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return _audit_json("127.0.20.2", tmp_path_factory.mktemp("strong"), "--check-write")


def test_weak_anonymous_findings(weak_host: dict[str, Any], lab: SambaLab) -> None:
    listing = weak_host["share_listing"]
    assert listing["null/smb2"] == "listed" and listing["null/smb1"] == "listed"
    assert listing["guest/smb1"] == "listed"
    assert _finding_shares(weak_host, "anonymous-share-listing") == {None}
    listed = {f["id"]: f for f in weak_host["findings"]}["anonymous-share-listing"]["evidence"]["shares"]
    assert {"public", "private", "recent", "old", "C$"} <= set(listed)
    shares = {s["name"]: s for s in weak_host["shares"]}
    assert shares["public"]["comment"] == "Public drop" and shares["public"]["type"] == "disk"
    assert shares["C$"]["type"] == "disk"  # Samba does not flag it STYPE_SPECIAL; its name does
    assert shares["public"]["anonymous_read"] is True, shares["public"]["notes"]
    assert shares["public"]["guest_read"] is True, shares["public"]["notes"]
    assert shares["private"]["anonymous_read"] is False and shares["private"]["guest_read"] is False
    assert _finding_shares(weak_host, "share-readable-without-credentials") == {"public"}
    assert _results(weak_host, "share-readable-without-credentials")["private"]["status"] == "not_affected"
    writable = {
        f["share"]: f for f in weak_host["findings"] if f["id"] == "share-writable-without-credentials"
    }
    assert set(writable) == {"public"}
    assert writable["public"]["evidence"]["test_file_left_behind"] is False
    assert _results(weak_host, "share-writable-without-credentials")["private"]["status"] == "not_affected"
    # The write test cleaned up after itself.
    public_dir = lab["audit-weak"].root / "shares" / "public"
    assert sorted(p.name for p in public_dir.iterdir()) == ["readme.txt"]
    # C$ opened by null and guest sessions.
    assert _finding_shares(weak_host, "admin-share-exposed") == {"C$"}


def test_weak_acl_findings(weak_host: dict[str, Any]) -> None:
    assert _finding_shares(weak_host, "share-everyone-write") == {"public", "C$"}
    assert _finding_shares(weak_host, "share-everyone-full-control") == {"public", "C$"}
    write = _results(weak_host, "share-everyone-write")
    assert write["private"]["status"] == "not_affected"
    assert write["recent"]["status"] == "not_affected"  # folder 0755: Everyone may only read
    public = next(
        f for f in weak_host["findings"] if f["id"] == "share-everyone-write" and f["share"] == "public"
    )
    assert public["confidence"] == "confirmed"
    assert "Everyone:full/read/write" in public["evidence"]["share_acl_broad"]
    shares = {s["name"]: s for s in weak_host["shares"]}
    private_acl = {a["name"] for a in shares["private"]["share_acl"]}
    assert private_acl == {"AUDITWEAK\\alice", "AUDITWEAK\\root"}  # SIDs resolved over LSA


def test_weak_policy_findings(weak_host: dict[str, Any]) -> None:
    policy = weak_host["audit"]["password_policy"]
    assert policy["min_length"] == 4 and policy["lockout_threshold"] == 0
    assert _finding_shares(weak_host, "weak-password-policy") == {None}
    ev = next(f for f in weak_host["findings"] if f["id"] == "weak-password-policy")["evidence"]
    assert "minimum length 4 < 14" in ev["shortfalls"]
    assert _finding_shares(weak_host, "no-account-lockout") == {None}


def test_weak_snapshot_findings(weak_host: dict[str, Any]) -> None:
    shares = {s["name"]: s for s in weak_host["shares"]}
    assert len(shares["recent"]["snapshots"]) == 1 and len(shares["old"]["snapshots"]) == 2
    assert shares["public"]["snapshots"] == []
    # private has no snapshot directory either; C$ is administrative and skipped.
    assert _finding_shares(weak_host, "share-without-snapshots") == {"public", "private"}
    assert _results(weak_host, "share-without-snapshots")["recent"]["status"] == "not_affected"
    stale = {f["share"]: f for f in weak_host["findings"] if f["id"] == "snapshots-stale"}
    assert set(stale) == {"old"}
    assert 59.5 < stale["old"]["evidence"]["age_days"] < 60.5
    assert _results(weak_host, "snapshots-stale")["recent"]["status"] == "not_affected"


def test_registry_checks_are_unknown_on_samba(weak_host: dict[str, Any]) -> None:
    for check_id in (
        "ntlmv1-allowed",
        "smb1-audit-disabled",
        "anonymous-access-not-restricted",
        "smb1-client-enabled",
    ):
        (result,) = _results(weak_host, check_id).values()
        assert result["status"] == "unknown", result
        assert "ERROR_FILE_NOT_FOUND" in result["reason"]
    assert weak_host["audit"]["current_build"] is None and weak_host["audit"]["ubr"] is None


def test_strong_host_has_none_of_them(strong_host: dict[str, Any]) -> None:
    ids = {f["id"] for f in strong_host["findings"]}
    for absent in (
        "anonymous-share-listing",
        "share-readable-without-credentials",
        "share-writable-without-credentials",
        "share-everyone-write",
        "share-everyone-full-control",
        "admin-share-exposed",
        "weak-password-policy",
        "no-account-lockout",
    ):
        assert absent not in ids, absent
        statuses = {r["status"] for r in _results(strong_host, absent).values()}
        assert statuses and statuses <= {"not_affected", "not_applicable"}, (absent, statuses)
    assert strong_host["audit"]["password_policy"]["min_length"] == 15
    assert strong_host["audit"]["password_policy"]["lockout_threshold"] == 5
    assert _results(strong_host, "admin-share-exposed")["ADMIN$"]["status"] == "not_affected"


def test_scan_shares_without_credentials(lab: SambaLab, tmp_path: Path) -> None:
    out = tmp_path / "scan.json"
    proc = _smbguard("scan", "127.0.20.1", "127.0.20.2", "--shares", "--format", "json", "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    hosts = {h["address"]: h for h in json.loads(out.read_text())["hosts"]}
    weak, strong = hosts["127.0.20.1"], hosts["127.0.20.2"]
    assert _finding_shares(weak, "anonymous-share-listing") == {None}
    assert _finding_shares(weak, "share-readable-without-credentials") == {"public"}
    # No --check-write: writing is unknown for anonymously readable shares, never "fine".
    assert _results(weak, "share-writable-without-credentials")["public"]["status"] == "unknown"
    # Credentialed checks without credentials: unknown.
    assert {r["status"] for r in _results(weak, "weak-password-policy").values()} == {"unknown"}
    assert _results(strong, "anonymous-share-listing")[None]["status"] == "not_affected"


def test_non_admin_account(lab: SambaLab, tmp_path: Path) -> None:
    """A plain account is enough for the share, policy and snapshot parts. Whether the
    share ACL is readable depends on the server (Windows: administrators only); the
    confidence of the ACL findings says which case applied."""
    host = _audit_json("127.0.20.1", tmp_path, user="alice", pw=ALICE_PW)
    assert host["audit"]["authenticated"] is True and host["audit"]["account"] == "alice"
    assert host["audit"]["password_policy"]["min_length"] == 4
    shares = {s["name"]: s for s in host["shares"]}
    public = next(f for f in host["findings"] if f["id"] == "share-everyone-write" and f["share"] == "public")
    if shares["public"]["share_acl"] is None:
        assert any("no share-level security descriptor" in n for n in shares["public"]["notes"])
        assert public["confidence"] == "likely"
    else:
        assert public["confidence"] == "confirmed"
    # alice may connect to private, but its folder is 0770 root:root: what cannot be
    # read is unknown, never "fine".
    assert shares["private"]["snapshots"] is None
    private = _results(host, "share-without-snapshots")["private"]
    assert private["status"] == "unknown" and "STATUS_ACCESS_DENIED" in private["reason"]


# -- credentials never leak ------------------------------------------------------------------------
LEAK = "Zz-Leak-Canary-9141"


def _forms(secret: str) -> list[bytes]:
    return [
        secret.encode(),
        secret.encode("utf-16-le"),
        secret.encode().hex().encode(),
        secret.encode("utf-16-le").hex().encode(),
    ]


def _assert_clean(data: bytes, where: str) -> None:
    for form in _forms(LEAK):
        assert form not in data, f"secret found in {where}"


def test_wrong_password_never_leaks(lab: SambaLab, tmp_path: Path) -> None:
    out, db = tmp_path / "audit.json", tmp_path / "history.sqlite"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "smbguard",
            "audit",
            "127.0.20.1",
            "127.0.20.2",
            "-u",
            "root",
            "-p",
            LEAK,
            "--format",
            "json",
            "-o",
            str(out),
            "--db",
            str(db),
        ],
        capture_output=True,
        timeout=180,
        env={**_clean_env(), "PYTHONPATH": SRC},
    )
    assert proc.returncode == 3, proc.stderr
    assert b"STATUS_LOGON_FAILURE" in proc.stderr
    _assert_clean(proc.stdout, "stdout")
    _assert_clean(proc.stderr, "stderr")
    _assert_clean(out.read_bytes(), "the JSON report")
    data = json.loads(out.read_text())
    assert all(h["audit"]["authenticated"] is False for h in data["hosts"])
    assert "***" in data["scan"]["arguments"]
    assert db.exists()
    _assert_clean(db.read_bytes(), "the history database file")
    with sqlite3.connect(db) as conn:
        for (table,) in conn.execute("select name from sqlite_master where type='table'").fetchall():
            for row in conn.execute(f'select * from "{table}"').fetchall():
                _assert_clean(repr(row).encode(), f"table {table}")


def test_logs_and_tracebacks_never_hold_the_secret(lab: SambaLab, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    from smbguard.auth.credentials import Credentials
    from smbguard.auth.session import SmbSession
    from smbguard.errors import AuthError

    caplog.set_level(logging.DEBUG)
    creds = Credentials.with_password("root", LEAK)
    for dialect in ("smb2", "smb1"):
        with pytest.raises(AuthError) as info:
            SmbSession("127.0.20.1", 445, creds, dialect, 5).open()
        text = "".join(traceback.format_exception(info.value))
        assert "STATUS_LOGON_FAILURE" in text
        _assert_clean(text.encode(), f"the {dialect} traceback")
        _assert_clean(repr(info.value.args).encode(), "the exception args")
    _assert_clean(caplog.text.encode(), "log records")
    # The in-process CLI, with DEBUG logging on: same.
    from smbguard.cli import main

    os.environ["SMBGUARD_PASSWORD"] = LEAK
    try:
        code = main(["audit", "127.0.20.2", "-u", "root", "--no-store", "--format", "json", "-o", os.devnull])
    finally:
        del os.environ["SMBGUARD_PASSWORD"]
    assert code == 3
    _assert_clean(caplog.text.encode(), "log records of the CLI run")


def test_process_title_is_scrubbed(tmp_path: Path) -> None:
    """A silent server keeps the audit waiting; meanwhile its command line must not show -p."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 4619))
    listener.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "smbguard",
            "audit",
            "127.0.0.1:4619",
            "-u",
            "root",
            "-p",
            LEAK,
            "--no-scan",
            "--timeout",
            "4",
            "--no-store",
            "--format",
            "json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**_clean_env(), "PYTHONPATH": SRC},
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not held:
            time.sleep(0.1)
        assert held, "the audit never connected"
        cmdline = Path(f"/proc/{proc.pid}/cmdline").read_bytes()
        assert b"audit" in cmdline
        _assert_clean(cmdline, "the process title")
        stdout, stderr = proc.communicate(timeout=60)
        _assert_clean(stdout + stderr, "output")
        # The silent server: reported, not hung on (each dialect's NEGOTIATE tried once).
        assert proc.returncode == 3
        (host,) = json.loads(stdout)["hosts"]
        assert host["audit"]["authenticated"] is False
        assert host["audit"]["errors"][0]["kind"] == "timeout"
        assert all(v.startswith("error: negotiate") for v in host["share_listing"].values())
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        stop.set()
        thread.join()
        for conn in held:
            conn.close()
        listener.close()
