"""Report labels: both languages complete."""

from __future__ import annotations

from smbguard.model import Confidence, Severity
from smbguard.report import i18n


def test_same_keys_non_empty() -> None:
    assert set(i18n.LABELS["en"]) == set(i18n.LABELS["zh-TW"])
    for lang in i18n.LANGS:
        assert all(v.strip() for v in i18n.LABELS[lang].values())
        for sev in Severity:
            assert i18n.severity_label(sev, lang)
        for conf in Confidence:
            assert i18n.confidence_label(conf, lang)


def test_aliases() -> None:
    assert i18n.label("summary", "zh_TW.UTF-8") == "摘要"
    assert i18n.severity_label(Severity.CRITICAL, "zh-TW") == "嚴重"
