"""Findings catalog: one TOML data file per finding id, zh-TW and en. See ``loader``."""

from smbguard.catalog.loader import (
    LANGS,
    REMEDIATION_PARTS,
    Catalog,
    Entry,
    Remediation,
    Texts,
    default_lang,
    load_catalog,
    normalize_lang,
)

__all__ = [
    "LANGS",
    "REMEDIATION_PARTS",
    "Catalog",
    "Entry",
    "Remediation",
    "Texts",
    "default_lang",
    "load_catalog",
    "normalize_lang",
]
