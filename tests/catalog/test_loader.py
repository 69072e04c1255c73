"""Catalog loader: parsing, errors, languages, locale default."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from smbguard.catalog.loader import (
    REMEDIATION_PARTS,
    default_lang,
    load_catalog,
    load_catalog_from,
    normalize_lang,
    parse_entry,
)
from smbguard.errors import CatalogError
from smbguard.model import Severity


def _texts(word: str) -> dict[str, Any]:
    return {
        "title": f"{word} title",
        "description": f"{word} description",
        "impact": f"{word} impact",
        "remediation": {part: f"{word} {part}" for part in REMEDIATION_PARTS},
    }


def _raw(**changes: Any) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": "demo-finding",
        "severity": "high",
        "kind": "scan",
        "cve": ["CVE-2017-0144"],
        "kb": ["KB4012212"],
        "references": ["https://example.org/a"],
        "cvss_vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
        "cvss_score": 8.1,
        "en": _texts("english"),
        "zh-TW": _texts("中文"),
    }
    raw.update(changes)
    return raw


def test_parse_entry_builds_typed_entry() -> None:
    entry = parse_entry(_raw())
    assert entry.severity is Severity.HIGH
    assert entry.cvss_score == 8.1
    assert entry.text("zh-TW").title == "中文 title"
    assert entry.text("zh_TW.UTF-8").remediation.samba == "中文 samba"
    assert entry.title("en") == "english title"
    assert [p for p, _ in entry.text("en").remediation.parts()] == list(REMEDIATION_PARTS)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda r: r.pop("references"), "missing keys"),
        (lambda r: r.update(references=[]), "at least one URL"),
        (lambda r: r.update(severity="urgent"), "unknown severity"),
        (lambda r: r.update(kind="other"), "kind must be"),
        (lambda r: r.pop("cvss_score"), "go together"),
        (lambda r: r.update(extra=1), "unknown keys"),
        (lambda r: r["zh-TW"].pop("impact"), "zh-TW"),
        (lambda r: r["en"]["remediation"].pop("firewall"), "en.remediation"),
        (lambda r: r["zh-TW"]["remediation"].update(samba="   "), "non-empty"),
        (lambda r: r["en"].update(title=3), "non-empty string"),
    ],
)
def test_parse_entry_rejects_malformed(mutate: Any, message: str) -> None:
    raw = copy.deepcopy(_raw())
    mutate(raw)
    with pytest.raises(CatalogError, match=message):
        parse_entry(raw, source="x.toml")


def test_file_name_must_match_id(tmp_path: Path) -> None:
    (tmp_path / "other-name.toml").write_text('id = "demo"\n', encoding="utf-8")
    with pytest.raises(CatalogError, match=r"other-name\.toml"):
        load_catalog_from(tmp_path)


def test_toml_syntax_error_names_file(tmp_path: Path) -> None:
    (tmp_path / "bad.toml").write_text("id = \n", encoding="utf-8")
    with pytest.raises(CatalogError, match=r"bad\.toml"):
        load_catalog_from(tmp_path)


def test_unknown_id_raises_catalog_error() -> None:
    with pytest.raises(CatalogError, match="no-such-finding"):
        load_catalog().entry("no-such-finding")


def test_load_catalog_is_cached() -> None:
    assert load_catalog() is load_catalog()


@pytest.mark.parametrize(
    ("tag", "expected"),
    [("en", "en"), ("en_US.UTF-8", "en"), ("C", "en"), ("zh-TW", "zh-TW"), ("zh_TW.UTF-8", "zh-TW"),
     ("zh-Hant", "zh-TW"), ("zh_HK", "zh-TW"), ("ZH-tw", "zh-TW")],
)
def test_normalize_lang(tag: str, expected: str) -> None:
    assert normalize_lang(tag) == expected


@pytest.mark.parametrize("tag", ["fr", "zh-CN", "zh", ""])
def test_normalize_lang_rejects_unsupported(tag: str) -> None:
    with pytest.raises(ValueError, match="unsupported language"):
        normalize_lang(tag)


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, "en"),
        ({"LANG": "zh_TW.UTF-8"}, "zh-TW"),
        ({"LANG": "zh_HK.UTF-8"}, "zh-TW"),
        ({"LANG": "zh_Hant_TW.UTF-8"}, "zh-TW"),
        ({"LANG": "zh_CN.UTF-8"}, "en"),
        ({"LANG": "de_DE.UTF-8"}, "en"),
        ({"LANG": "en_US.UTF-8", "LC_ALL": "zh_TW.UTF-8"}, "zh-TW"),
        ({"LANG": "zh_TW.UTF-8", "LC_ALL": "C"}, "en"),
        ({"LANG": "zh_TW.UTF-8", "LC_MESSAGES": "en_GB.UTF-8"}, "en"),
    ],
)
def test_default_lang_from_locale(env: dict[str, str], expected: str) -> None:
    assert default_lang(env) == expected
