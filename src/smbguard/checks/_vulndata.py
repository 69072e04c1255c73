"""Typed access to the data tables of the vulnerability checks.

``catalog/data/lifecycle.toml`` (Windows releases by build and SMB1 native OS
string, with end-of-support dates) and ``catalog/data/samba_releases.toml``
(Samba security releases and series end of life). The tables are data; this
module only parses them (once) and answers lookups. Malformed data raises
:class:`~smbguard.errors.CatalogError`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from importlib import resources
from typing import Any

from smbguard.errors import CatalogError

_VERSION_RE = re.compile(r"(\d+)\.(\d+)(?:\.(\d+))?")


@dataclass(frozen=True, slots=True)
class WindowsRelease:
    """One row of ``lifecycle.toml``."""

    id: str
    name: str
    kind: str  # "client" | "server" | "both"
    builds: tuple[int, ...]
    major: int
    minor: int
    end_of_support: date
    source: str
    native_os: tuple[re.Pattern[str], ...]
    esu_end: date | None = None
    note: str | None = None

    def supported_on(self, day: date) -> bool:
        return day <= self.end_of_support


@dataclass(frozen=True, slots=True)
class SambaVuln:
    """One row of ``samba_releases.toml`` ``[[vulnerability]]``."""

    cve: str
    title: str
    severity: str
    introduced: tuple[int, int, int]
    fixed: tuple[tuple[int, int, int], ...]
    condition: str
    source: str

    def affects(self, version: tuple[int, int, int]) -> bool:
        """True when ``version`` is in the affected range of this CVE.

        A version in a series that got a fix is affected below that fix; a
        version in an older series (no fix released for it) is affected; a
        version in a newer series than every fix is not."""
        if version < self.introduced:
            return False
        for fix in self.fixed:
            if fix[:2] == version[:2]:
                return version < fix
        newest = max(self.fixed)
        return version[:2] < newest[:2]


@dataclass(frozen=True, slots=True)
class SambaSeries:
    series: tuple[int, int]
    eol: date


def _text(resource: str) -> dict[str, Any]:
    try:
        raw = resources.files("smbguard.catalog").joinpath("data", resource).read_text("utf-8")
        return tomllib.loads(raw)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"cannot read catalog/data/{resource}: {exc}") from exc


def parse_version(text: str) -> tuple[int, int, int] | None:
    """First ``X.Y[.Z]`` in ``text`` as a tuple (``"Samba 4.5.16-Debian"`` -> (4, 5, 16))."""
    match = _VERSION_RE.search(text)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2)), int(match.group(3) or 0)


def _version(text: Any, where: str) -> tuple[int, int, int]:
    if not isinstance(text, str):
        raise CatalogError(f"{where}: version must be a string")
    parsed = parse_version(text)
    if parsed is None:
        raise CatalogError(f"{where}: bad version {text!r}")
    return parsed


def _date(value: Any, where: str) -> date:
    if not isinstance(value, date):
        raise CatalogError(f"{where}: expected a TOML date, got {value!r}")
    return value


@functools.cache
def windows_releases() -> tuple[WindowsRelease, ...]:
    """Every row of ``lifecycle.toml``."""
    data = _text("lifecycle.toml")
    out = []
    for i, row in enumerate(data.get("product", [])):
        where = f"lifecycle.toml product #{i}"
        try:
            builds = row["build"]
            builds_t = tuple(builds) if isinstance(builds, list) else (builds,)
            esu = row.get("esu_end")
            out.append(
                WindowsRelease(
                    id=str(row["id"]),
                    name=str(row["name"]),
                    kind=str(row["kind"]),
                    builds=tuple(int(b) for b in builds_t),
                    major=int(row["major"]),
                    minor=int(row["minor"]),
                    end_of_support=_date(row["end_of_support"], where),
                    source=str(row["source"]),
                    native_os=tuple(re.compile(p, re.IGNORECASE) for p in row.get("smb1_native_os", [])),
                    esu_end=_date(esu, where) if esu is not None else None,
                    note=str(row["note"]) if "note" in row else None,
                )
            )
        except (KeyError, TypeError, ValueError, re.error) as exc:
            raise CatalogError(f"{where}: {exc}") from exc
    if not out:
        raise CatalogError("lifecycle.toml has no [[product]] rows")
    return tuple(out)


def releases_for_build(build: int) -> tuple[WindowsRelease, ...]:
    """Rows whose build list contains ``build`` (several when client and server share it)."""
    return tuple(r for r in windows_releases() if build in r.builds)


def releases_for_native_os(
    native_os: str, candidates: Sequence[WindowsRelease] | None = None
) -> tuple[WindowsRelease, ...]:
    """Rows whose SMB1 native-OS patterns match ``native_os`` (within ``candidates`` if given)."""
    pool = windows_releases() if candidates is None else tuple(candidates)
    text = native_os.strip()
    return tuple(r for r in pool if any(p.search(text) for p in r.native_os))


@functools.cache
def samba_vulns() -> tuple[SambaVuln, ...]:
    data = _text("samba_releases.toml")
    out = []
    for i, row in enumerate(data.get("vulnerability", [])):
        where = f"samba_releases.toml vulnerability #{i}"
        try:
            out.append(
                SambaVuln(
                    cve=str(row["cve"]),
                    title=str(row["title"]),
                    severity=str(row["severity"]),
                    introduced=_version(row["introduced"], where),
                    fixed=tuple(_version(v, where) for v in row["fixed"]),
                    condition=str(row.get("condition", "")),
                    source=str(row["source"]),
                )
            )
        except (KeyError, TypeError) as exc:
            raise CatalogError(f"{where}: {exc}") from exc
    return tuple(out)


@functools.cache
def samba_series() -> Mapping[tuple[int, int], SambaSeries]:
    data = _text("samba_releases.toml")
    out: dict[tuple[int, int], SambaSeries] = {}
    for i, row in enumerate(data.get("series", [])):
        where = f"samba_releases.toml series #{i}"
        try:
            major, minor = (int(x) for x in str(row["series"]).split("."))
        except (KeyError, ValueError) as exc:
            raise CatalogError(f"{where}: {exc}") from exc
        out[(major, minor)] = SambaSeries((major, minor), _date(row["eol"], where))
    return out


def newest_listed_series() -> tuple[int, int]:
    return max(samba_series())
