"""Every packaged catalog file: JSON Schema, equal languages, and one entry per check."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from smbguard.catalog.loader import LANGS, findings_dir, load_catalog, read_raw, schema_path
from smbguard.checks.registry import by_id

FILES = sorted(findings_dir().glob("*.toml"))
SCHEMA = json.loads(schema_path().read_text(encoding="utf-8"))


def _keys(block: Any, prefix: str = "") -> set[str]:
    out: set[str] = set()
    for key, value in block.items():
        out.add(prefix + key)
        if isinstance(value, dict):
            out |= _keys(value, prefix + key + ".")
    return out


def test_schema_itself_is_valid() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)


def test_catalog_is_not_empty() -> None:
    assert FILES


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_entry_matches_schema(path: Path) -> None:
    raw = read_raw(path)
    errors = sorted(jsonschema.Draft202012Validator(SCHEMA).iter_errors(raw), key=str)
    assert not errors, "\n".join(f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors)
    assert raw["id"] == path.stem


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_languages_have_identical_keys(path: Path) -> None:
    raw = read_raw(path)
    key_sets = {lang: _keys(raw[lang]) for lang in LANGS}
    assert key_sets["en"] == key_sets["zh-TW"]


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_zh_tw_texts_are_chinese_and_differ_from_english(path: Path) -> None:
    entry = load_catalog().entry(path.stem)
    zh, en = entry.text("zh-TW"), entry.text("en")
    for field in ("title", "description", "impact"):
        value = getattr(zh, field)
        assert any("\u4e00" <= ch <= "\u9fff" for ch in value), f"{field} has no CJK text"
        assert value != getattr(en, field)
    # Simplified-only forms that betray a copy from zh-CN text.
    simplified = set("网络务软档补组设删录户权际连问题")
    for text in (zh.title, zh.description, zh.impact, *(t for _, t in zh.remediation.parts())):
        assert not (set(text) & simplified), f"simplified characters in {text[:40]!r}"


def test_every_registered_check_has_exactly_one_entry() -> None:
    catalog = load_catalog()
    missing = sorted(set(by_id()) - set(catalog.entries))
    assert missing == [], f"checks without catalog entry: {missing}"
    assert all(catalog.entry(i).kind == "scan" for i in by_id()), "a check's entry must have kind = scan"


def test_every_scan_entry_has_a_check() -> None:
    orphans = sorted(set(load_catalog().ids(kind="scan")) - set(by_id()))
    assert orphans == [], f"kind=scan entries without a registered check: {orphans}"


def test_log_entries_belong_to_detectors() -> None:
    log_ids = set(load_catalog().ids(kind="log"))
    try:
        from smbguard.logs import detectors  # type: ignore[attr-defined]
    except ImportError:
        pytest.skip("smbguard.logs.detectors does not exist yet")
    ids = getattr(detectors, "DETECTOR_IDS", None)
    if ids is None:
        pytest.skip("smbguard.logs.detectors has no DETECTOR_IDS")
    assert sorted(log_ids - set(ids)) == []
    assert sorted(set(ids) - log_ids) == []
