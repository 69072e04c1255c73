"""Load the findings catalog: one TOML data file per finding id, in en and zh-TW.

The file format is described in ``docs/catalog.md`` and pinned by
``catalog/schema.json`` (the schema test runs jsonschema on every file). This
loader does the structural checks it needs to build typed objects without
depending on jsonschema at run time, and raises :class:`CatalogError` on any
malformed entry.

>>> catalog = load_catalog()
>>> entry = catalog.entry("smb1-enabled")
>>> entry.text("zh-TW").title  # doctest: +SKIP
"""

from __future__ import annotations

import functools
import os
import tomllib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from smbguard.errors import CatalogError
from smbguard.model import Severity

#: Languages every entry carries, in display order.
LANGS: tuple[str, ...] = ("en", "zh-TW")

#: Remediation parts, in the order reports show them.
REMEDIATION_PARTS: tuple[str, ...] = (
    "windows_server_gui",
    "windows_client_gui",
    "powershell",
    "group_policy",
    "samba",
    "firewall",
    "verify",
)

KINDS: tuple[str, ...] = ("scan", "log")

_TEXT_FIELDS = ("title", "description", "impact")
_TOP_REQUIRED = ("id", "severity", "kind", "cve", "kb", "references", *LANGS)
_TOP_OPTIONAL = ("cvss_vector", "cvss_score", "cwe")


@dataclass(frozen=True, slots=True)
class Remediation:
    """Copyable remediation parts in one language (see ``REMEDIATION_PARTS``)."""

    windows_server_gui: str
    windows_client_gui: str
    powershell: str
    group_policy: str
    samba: str
    firewall: str
    verify: str

    def parts(self) -> tuple[tuple[str, str], ...]:
        """``(part name, text)`` pairs in display order."""
        return tuple((name, getattr(self, name)) for name in REMEDIATION_PARTS)


@dataclass(frozen=True, slots=True)
class Texts:
    """The human-readable texts of one entry in one language."""

    title: str
    description: str
    impact: str
    remediation: Remediation


@dataclass(frozen=True, slots=True)
class Entry:
    """One finding's catalog record. ``texts`` maps each of ``LANGS`` to its texts."""

    id: str
    severity: Severity
    kind: str
    texts: Mapping[str, Texts]
    references: tuple[str, ...]
    cve: tuple[str, ...] = ()
    kb: tuple[str, ...] = ()
    cwe: tuple[str, ...] = ()
    cvss_vector: str | None = None
    cvss_score: float | None = None

    def text(self, lang: str) -> Texts:
        """Texts in ``lang`` (``en`` or ``zh-TW``; aliases such as ``zh_TW`` accepted)."""
        return self.texts[normalize_lang(lang)]

    def title(self, lang: str) -> str:
        return self.text(lang).title


@dataclass(frozen=True, slots=True)
class Catalog:
    """Every catalog entry by id."""

    entries: Mapping[str, Entry]

    def entry(self, finding_id: str) -> Entry:
        """The entry for ``finding_id``; raises :class:`CatalogError` when there is none."""
        try:
            return self.entries[finding_id]
        except KeyError:
            raise CatalogError(f"no catalog entry for finding id {finding_id!r}") from None

    def get(self, finding_id: str) -> Entry | None:
        return self.entries.get(finding_id)

    def ids(self, kind: str | None = None) -> tuple[str, ...]:
        """Sorted ids, optionally only those of one ``kind`` ("scan" or "log")."""
        return tuple(sorted(i for i, e in self.entries.items() if kind is None or e.kind == kind))

    def __contains__(self, finding_id: object) -> bool:
        return finding_id in self.entries

    def __iter__(self) -> Iterator[Entry]:
        return iter(self.entries[i] for i in sorted(self.entries))

    def __len__(self) -> int:
        return len(self.entries)


def normalize_lang(lang: str) -> str:
    """Map a language tag or locale name to one of ``LANGS``; raise ``ValueError`` otherwise.

    ``zh-TW``, ``zh_TW``, ``zh-Hant``, ``zh_HK``, ``zh-tw.UTF-8`` give ``zh-TW``;
    ``en``, ``en_US.UTF-8``, ``C``, ``POSIX`` give ``en``.
    """
    tag = lang.strip().split(".", 1)[0].split("@", 1)[0].replace("_", "-").lower()
    if tag in ("zh-tw", "zh-hk", "zh-mo", "zh-hant") or tag.startswith("zh-hant-"):
        return "zh-TW"
    if tag in ("en", "c", "posix") or tag.startswith("en-"):
        return "en"
    raise ValueError(f"unsupported language {lang!r} (choose one of: {', '.join(LANGS)})")


def default_lang(environ: Mapping[str, str] | None = None) -> str:
    """The language reports use when ``--lang`` is not given, from the locale.

    Follows POSIX precedence (``LC_ALL``, then ``LC_MESSAGES``, then ``LANG``): a
    locale starting with zh_TW, zh_HK or zh_Hant gives ``zh-TW``, anything else ``en``.
    """
    env = os.environ if environ is None else environ
    for var in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = env.get(var, "")
        if value:
            lowered = value.replace("-", "_").lower()
            if lowered.startswith(("zh_tw", "zh_hk", "zh_hant")):
                return "zh-TW"
            return "en"
    return "en"


def findings_dir() -> Path:
    """The directory holding the packaged ``<id>.toml`` files."""
    return Path(str(resources.files("smbguard.catalog").joinpath("findings")))


def schema_path() -> Path:
    """Path of the JSON Schema every entry must satisfy."""
    return Path(str(resources.files("smbguard.catalog").joinpath("schema.json")))


def read_raw(path: Path) -> dict[str, Any]:
    """Parse one TOML file; raise :class:`CatalogError` naming the file on a syntax error."""
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise CatalogError(f"{path.name}: {exc}") from exc


def parse_entry(raw: Mapping[str, Any], source: str = "<entry>") -> Entry:
    """Build an :class:`Entry` from parsed TOML; raise :class:`CatalogError` if malformed."""

    def fail(message: str) -> CatalogError:
        return CatalogError(f"{source}: {message}")

    missing = [k for k in _TOP_REQUIRED if k not in raw]
    if missing:
        raise fail(f"missing keys {missing}")
    unknown = sorted(set(raw) - set(_TOP_REQUIRED) - set(_TOP_OPTIONAL))
    if unknown:
        raise fail(f"unknown keys {unknown}")
    entry_id = raw["id"]
    if not isinstance(entry_id, str) or not entry_id:
        raise fail("id must be a non-empty string")
    try:
        severity = Severity.parse(str(raw["severity"]))
    except ValueError as exc:
        raise fail(str(exc)) from None
    kind = raw["kind"]
    if kind not in KINDS:
        raise fail(f"kind must be one of {KINDS}, not {kind!r}")

    def str_list(key: str) -> tuple[str, ...]:
        value = raw.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
            raise fail(f"{key} must be a list of non-empty strings")
        return tuple(value)

    references = str_list("references")
    if not references:
        raise fail("references must hold at least one URL")
    vector = raw.get("cvss_vector")
    score = raw.get("cvss_score")
    if (vector is None) != (score is None):
        raise fail("cvss_vector and cvss_score go together")
    if vector is not None and not isinstance(vector, str):
        raise fail("cvss_vector must be a string")
    if score is not None and (isinstance(score, bool) or not isinstance(score, int | float)):
        raise fail("cvss_score must be a number")

    texts: dict[str, Texts] = {}
    for lang in LANGS:
        block = raw[lang]
        if not isinstance(block, Mapping):
            raise fail(f"[{lang}] must be a table")
        keys = set(block)
        expected = {*_TEXT_FIELDS, "remediation"}
        if keys != expected:
            raise fail(f"[{lang}] keys {sorted(keys)} differ from {sorted(expected)}")
        rem = block["remediation"]
        if not isinstance(rem, Mapping) or set(rem) != set(REMEDIATION_PARTS):
            got = sorted(rem) if isinstance(rem, Mapping) else rem
            raise fail(f"[{lang}.remediation] keys {got} differ from {sorted(REMEDIATION_PARTS)}")
        values = {k: block[k] for k in _TEXT_FIELDS} | {f"remediation.{k}": rem[k] for k in rem}
        for key, value in values.items():
            if not isinstance(value, str) or not value.strip():
                raise fail(f"[{lang}] {key} must be a non-empty string")
        texts[lang] = Texts(
            title=block["title"].strip(),
            description=block["description"].strip(),
            impact=block["impact"].strip(),
            remediation=Remediation(**{k: rem[k].strip() for k in REMEDIATION_PARTS}),
        )
    return Entry(
        id=entry_id,
        severity=severity,
        kind=kind,
        texts=texts,
        references=references,
        cve=str_list("cve"),
        kb=str_list("kb"),
        cwe=str_list("cwe"),
        cvss_vector=vector,
        cvss_score=None if score is None else float(score),
    )


def load_catalog_from(directory: Path) -> Catalog:
    """Load every ``*.toml`` in ``directory`` (file stem must equal the entry id)."""
    entries: dict[str, Entry] = {}
    for path in sorted(directory.glob("*.toml")):
        entry = parse_entry(read_raw(path), source=path.name)
        if entry.id != path.stem:
            raise CatalogError(f"{path.name}: id {entry.id!r} does not match the file name")
        entries[entry.id] = entry
    return Catalog(entries=entries)


@functools.cache
def load_catalog() -> Catalog:
    """The packaged catalog, parsed once per process."""
    return load_catalog_from(findings_dir())
