"""Property tests: no server-supplied string can escape its context in any output format."""

from __future__ import annotations

import html
import re

from hypothesis import given
from hypothesis import strategies as st

from smbguard.report.csv import safe_cell
from smbguard.report.html import esc
from smbguard.report.markdown import md_escape
from smbguard.report.remediation import safe_token

TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=200) | st.sampled_from(
    [
        "<script>alert(1)</script>",
        '"><img src=x onerror=alert(1)>',
        "=cmd|' /C calc'!A0",
        "a\u202eb",
        "|x|`y`",
    ]
)
_BIDI = set("\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\ufeff")


@given(TEXT)
def test_html_escape_is_inert_and_reversible(text: str) -> None:
    out = esc(text)
    assert not set(out) & set("<>\"'")
    assert not any(ch < " " or "\x7f" <= ch <= "\x9f" or ch in _BIDI for ch in out)
    back = html.unescape(out)
    # only control/bidi characters were replaced, by visible escapes
    assert re.sub(r"\\(x[0-9a-f]{2}|u[0-9a-f]{4})", "", back) == re.sub(
        r"\\(x[0-9a-f]{2}|u[0-9a-f]{4})",
        "",
        "".join(ch for ch in text if ch >= " " and not "\x7f" <= ch <= "\x9f" and ch not in _BIDI),
    )


@given(TEXT)
def test_markdown_escape_cannot_open_tags_or_cells(text: str) -> None:
    out = md_escape(text)
    assert "<" not in out and ">" not in out
    assert "|" not in out.replace("\\|", "")
    assert "`" not in out.replace("\\`", "")
    assert "\n" not in out and "\r" not in out


@given(TEXT)
def test_csv_cell_is_never_a_formula(text: str) -> None:
    out = safe_cell(text)
    assert out[:1] not in ("=", "+", "-", "@", "\t", "\r")
    assert not any(ch < " " and ch != "\n" for ch in out)


@given(TEXT)
def test_script_token_is_plain(text: str) -> None:
    assert re.fullmatch(r"[A-Za-z0-9._:,\-\[\]%/ ?]*", safe_token(text))
