"""Credentials for the authenticated audit, kept out of every printable form.

A :class:`Credentials` holds the user name, the domain and at most one secret
(a password or an NT hash) or the Kerberos flag. Its ``repr``/``str`` show the
user and the kind of secret, never the secret; it refuses to be pickled or
deep-copied into places we do not control. :meth:`Credentials.redact` removes
the secret (and its common encodings) from any text before that text reaches a
log, an exception or a report.

Where a secret comes from, in order: ``-p``/``-H`` on the command line (visible
to local users in ``ps`` until :func:`scrub_process_title` overwrites it: prefer
the next two), the environment variables ``SMBGUARD_PASSWORD`` /
``SMBGUARD_NTHASH``, or an interactive prompt (``getpass``).
"""

from __future__ import annotations

import binascii
import contextlib
import enum
import getpass
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from smbguard.errors import AuthError

ENV_PASSWORD = "SMBGUARD_PASSWORD"
ENV_NTHASH = "SMBGUARD_NTHASH"
_REDACTED = "[REDACTED]"
_NTHASH_RE = re.compile(r"^(?:[0-9a-fA-F]{32}:)?([0-9a-fA-F]{32})$")


class SecretKind(enum.StrEnum):
    """Which kind of secret a :class:`Credentials` carries."""

    NONE = "none"  # null session (empty user) or guest (random user, empty password)
    PASSWORD = "password"
    NTHASH = "nthash"
    KERBEROS = "kerberos"  # ticket from the ccache (KRB5CCNAME) and/or the password


class _Secret:
    """A string that never prints itself."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return _REDACTED if self._value else "''"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("secrets are not picklable")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("secret", len(self._value)))


@dataclass(frozen=True, slots=True)
class Credentials:
    """An account to log in with. ``repr()`` never shows the secret.

    Use :meth:`null`, :meth:`guest` or :meth:`from_options` to build one.
    """

    user: str
    domain: str = ""
    kind: SecretKind = SecretKind.NONE
    _secret: _Secret = field(default_factory=lambda: _Secret(""), repr=False, compare=False)
    kdc_host: str | None = None

    @classmethod
    def null(cls) -> Credentials:
        """The anonymous (null) session: empty user, empty password."""
        return cls(user="")

    @classmethod
    def guest(cls, user: str) -> Credentials:
        """A made-up user name with an empty password: servers that map bad users to
        guest accept it as the guest account."""
        return cls(user=user)

    @classmethod
    def with_password(cls, user: str, password: str, domain: str = "") -> Credentials:
        return cls(user=user, domain=domain, kind=SecretKind.PASSWORD, _secret=_Secret(password))

    @classmethod
    def with_nthash(cls, user: str, nthash: str, domain: str = "") -> Credentials:
        match = _NTHASH_RE.match(nthash.strip())
        if not match:
            raise AuthError("the NT hash must be 32 hexadecimal digits (optionally LMHASH:NTHASH)")
        return cls(user=user, domain=domain, kind=SecretKind.NTHASH, _secret=_Secret(match.group(1).lower()))

    @classmethod
    def with_kerberos(
        cls, user: str, domain: str, password: str = "", kdc_host: str | None = None
    ) -> Credentials:
        return cls(
            user=user, domain=domain, kind=SecretKind.KERBEROS, _secret=_Secret(password), kdc_host=kdc_host
        )

    @classmethod
    def from_options(
        cls,
        user: str,
        domain: str = "",
        password: str | None = None,
        nthash: str | None = None,
        kerberos: bool = False,
        kdc_host: str | None = None,
        environ: Mapping[str, str] | None = None,
        prompt: Callable[[str], str] | None = getpass.getpass,
    ) -> Credentials:
        """Build credentials from command-line options, then the environment, then a prompt.

        ``password == "-"`` forces the prompt. ``prompt=None`` disables prompting
        (non-interactive use): a missing secret is then an :class:`AuthError`.
        """
        env = os.environ if environ is None else environ
        if not user:
            raise AuthError("a user name is required (-u USER)")
        if "\\" in user and not domain:
            domain, _, user = user.partition("\\")
        if password is not None and nthash is not None:
            raise AuthError("give either a password or an NT hash, not both")
        if kerberos:
            secret = password if password not in (None, "-") else env.get(ENV_PASSWORD, "")
            if not domain:
                raise AuthError("Kerberos needs the domain (-d DOMAIN)")
            return cls.with_kerberos(user, domain, secret or "", kdc_host)
        if nthash is not None:
            return cls.with_nthash(user, nthash, domain)
        if password is not None and password != "-":
            return cls.with_password(user, password, domain)
        if password is None:
            if env.get(ENV_NTHASH):
                return cls.with_nthash(user, env[ENV_NTHASH], domain)
            if ENV_PASSWORD in env:
                return cls.with_password(user, env[ENV_PASSWORD], domain)
        if prompt is None:
            raise AuthError(
                f"no password given: use -p, -H, {ENV_PASSWORD}/{ENV_NTHASH} or run interactively"
            )
        shown = f"{domain}\\{user}" if domain else user
        return cls.with_password(user, prompt(f"Password for {shown}: "), domain)

    @property
    def anonymous(self) -> bool:
        return self.kind is SecretKind.NONE

    @property
    def account(self) -> str:
        """``DOMAIN\\user`` (or ``user``), safe to print and store."""
        return f"{self.domain}\\{self.user}" if self.domain else self.user

    def password(self) -> str:
        """The password (empty for hashes/anonymous). Only auth/ calls this."""
        return self._secret.reveal() if self.kind in (SecretKind.PASSWORD, SecretKind.KERBEROS) else ""

    def nthash(self) -> str:
        """The NT hash as hex (empty unless kind is NTHASH). Only auth/ calls this."""
        return self._secret.reveal() if self.kind is SecretKind.NTHASH else ""

    def secret_forms(self) -> tuple[str, ...]:
        """Every form of the secret that could leak into text: itself, its hex, its
        UTF-16LE hex, upper and lower case."""
        value = self._secret.reveal()
        if not value:
            return ()
        forms = {value, value.lower(), value.upper()}
        for raw in (value.encode("utf-8", "surrogatepass"), value.encode("utf-16-le", "surrogatepass")):
            hexed = binascii.hexlify(raw).decode()
            forms.update({hexed, hexed.upper()})
        if self.kind is SecretKind.NTHASH:
            with contextlib.suppress(ValueError):
                forms.add(repr(bytes.fromhex(value)))
        return tuple(sorted((f for f in forms if f), key=len, reverse=True))

    def redact(self, text: str) -> str:
        """``text`` with every form of the secret replaced by ``[REDACTED]``."""
        for form in self.secret_forms():
            text = text.replace(form, _REDACTED)
        return text

    def __repr__(self) -> str:
        kdc = f", kdc_host={self.kdc_host!r}" if self.kdc_host else ""
        return f"Credentials(user={self.user!r}, domain={self.domain!r}, kind={self.kind.value}{kdc})"

    __str__ = __repr__


def scrub_process_title(secrets: tuple[str, ...]) -> bool:
    """Overwrite ``secrets`` in this process's command line (``/proc/self/cmdline``,
    what ``ps`` shows) with asterisks. Linux only, best effort: returns True when the
    argument area was rewritten. A secret passed on the command line was visible
    between process start and this call, and stays in shell history: the
    environment variables or the prompt are the safe ways."""
    needles = [s.encode() for s in secrets if s]
    if not needles:
        return False
    try:
        with open("/proc/self/stat", "rb") as fh:
            stat = fh.read()
        fields = stat[stat.rindex(b")") + 2 :].split()
        # fields[0] is field 3 (state); arg_start/arg_end are fields 48/49.
        arg_start, arg_end = int(fields[45]), int(fields[46])
        if not 0 < arg_start < arg_end or arg_end - arg_start > 1 << 20:
            return False
        with open("/proc/self/mem", "r+b", buffering=0) as mem:
            mem.seek(arg_start)
            area = mem.read(arg_end - arg_start)
            new = area
            for needle in needles:
                new = new.replace(needle, b"*" * len(needle))
            if new == area:
                return False
            mem.seek(arg_start)
            mem.write(new)
        return True
    except (OSError, ValueError, IndexError):
        return False
