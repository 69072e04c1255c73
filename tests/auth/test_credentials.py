"""Credentials never show their secret; sources and precedence; process title scrubbing."""

from __future__ import annotations

import copy
import pickle
import subprocess
import sys

import pytest

from smbguard.auth.credentials import Credentials, SecretKind
from smbguard.errors import AuthError

SECRET = "Zq9-Very$ecret-Pw"
HASH = "8846f7eaee8fb117ad06bdd830b7586c"


def test_repr_and_str_hide_the_password() -> None:
    creds = Credentials.with_password("alice", SECRET, "CORP")
    for text in (repr(creds), str(creds), f"{creds}", repr([creds]), repr({"c": creds})):
        assert SECRET not in text
        assert "alice" in text
    assert creds.account == "CORP\\alice"
    assert creds.password() == SECRET


def test_hash_is_hidden_and_normalised() -> None:
    creds = Credentials.with_nthash("bob", "aad3b435b51404eeaad3b435b51404ee:" + HASH.upper())
    assert creds.nthash() == HASH
    assert HASH not in repr(creds) and HASH.upper() not in repr(creds)
    assert creds.password() == ""
    with pytest.raises(AuthError) as err:
        Credentials.with_nthash("bob", "nothex")
    assert "nothex" not in str(err.value)


def test_secret_cannot_be_pickled_or_leak_through_copy_repr() -> None:
    creds = Credentials.with_password("alice", SECRET)
    with pytest.raises(TypeError):
        pickle.dumps(creds)
    assert SECRET not in repr(copy.copy(creds))


def test_redact_covers_encodings() -> None:
    creds = Credentials.with_password("alice", SECRET)
    utf16_hex = SECRET.encode("utf-16-le").hex()
    text = f"a {SECRET} b {SECRET.upper()} c {utf16_hex} d {SECRET.encode().hex()}"
    out = creds.redact(text)
    assert SECRET not in out and SECRET.upper() not in out and utf16_hex not in out
    assert out.count("[REDACTED]") == 4


def test_precedence_options_env_prompt() -> None:
    env = {"SMBGUARD_PASSWORD": "from-env", "SMBGUARD_NTHASH": ""}
    assert Credentials.from_options("u", password="cli", environ=env).password() == "cli"
    assert Credentials.from_options("u", environ=env, prompt=None).password() == "from-env"
    hashed = Credentials.from_options("u", environ={"SMBGUARD_NTHASH": HASH}, prompt=None)
    assert hashed.kind is SecretKind.NTHASH and hashed.nthash() == HASH
    asked: list[str] = []

    def prompt(text: str) -> str:
        asked.append(text)
        return "typed"

    typed = Credentials.from_options("u", "D", environ={}, prompt=prompt)
    assert typed.password() == "typed" and asked == ["Password for D\\u: "]
    # "-p -" forces the prompt even with the variable set
    assert Credentials.from_options("u", password="-", environ=env, prompt=prompt).password() == "typed"
    with pytest.raises(AuthError):
        Credentials.from_options("u", environ={}, prompt=None)
    with pytest.raises(AuthError):
        Credentials.from_options("u", password="x", nthash=HASH, environ={})
    assert Credentials.from_options("DOM\\carol", password="x", environ={}).account == "DOM\\carol"


def test_kerberos_needs_domain() -> None:
    with pytest.raises(AuthError):
        Credentials.from_options("u", kerberos=True, environ={})
    creds = Credentials.from_options("u", "CORP.EXAMPLE", kerberos=True, environ={}, kdc_host="127.0.0.1")
    assert creds.kind is SecretKind.KERBEROS and "kdc_host" in repr(creds)


def test_null_and_guest() -> None:
    assert Credentials.null().anonymous and Credentials.null().user == ""
    assert Credentials.guest("nobody-x").anonymous


def test_scrub_process_title_in_a_child() -> None:
    code = (
        "import sys\n"
        "from smbguard.auth.credentials import scrub_process_title\n"
        "ok = scrub_process_title((sys.argv[2],))\n"
        "data = open('/proc/self/cmdline', 'rb').read()\n"
        "print(ok, sys.argv[2].encode() in data)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, "-p", SECRET], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "False"]
