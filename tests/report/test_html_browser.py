"""The HTML report in real headless Chromium (Debian's ``chromium``).

The report is rendered from evaluated sample facts with hostile server strings,
then a self-test script is appended (and allowed by adding its hash to the
report's Content-Security-Policy). Chromium loads the file with ``--dump-dom``;
the self-test writes its observations as JSON into the DOM. Console messages
(errors, CSP violations) are read from Chromium's log. A screenshot goes to
``artifacts/`` (gitignored).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from smbguard.report.html import HtmlReporter
from tests.report.sample import HOSTILE_NAME, sample_report

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "artifacts"

SELFTEST = r"""
(function () {
  var out = {errors: [], steps: {}};
  window.addEventListener("error", function (e) { out.errors.push(String(e.message)); });
  function visible() {
    return Array.prototype.filter.call(document.querySelectorAll("#host-table tbody tr"),
                                       function (tr) { return !tr.hidden; }).length;
  }
  try {
    var s = out.steps;
    s.rows = document.querySelectorAll("#host-table tbody tr").length;
    var f = document.getElementById("host-filter");
    f.value = "nas01"; f.dispatchEvent(new Event("input"));
    s.filter_nas = visible(); s.shown_after_filter = document.getElementById("shown-count").textContent;
    f.value = "smb1-enabled"; f.dispatchEvent(new Event("input"));
    s.filter_smb1 = visible();
    f.value = "SMB1 通訊協定仍啟用"; f.dispatchEvent(new Event("input"));
    s.filter_zh_title = visible();
    f.value = ""; f.dispatchEvent(new Event("input"));
    var sel = document.getElementById("sev-filter");
    sel.value = "3"; sel.dispatchEvent(new Event("change"));
    s.min_high = visible();
    sel.value = "-1"; sel.dispatchEvent(new Event("change"));
    s.all = visible();
    var en = document.querySelector("header h1 .l-en"), zh = document.querySelector("header h1 .l-zh");
    s.lang_before = [document.documentElement.lang, getComputedStyle(en).display,
                     getComputedStyle(zh).display];
    document.getElementById("lang-toggle").click();
    s.lang_after = [document.documentElement.lang, getComputedStyle(en).display, getComputedStyle(zh).display,
                    f.getAttribute("placeholder")];
    var th = document.querySelector("#host-table thead th");
    th.click(); th.click();
    s.sorted_desc = Array.prototype.map.call(document.querySelectorAll("#host-table tbody tr td:first-child"),
                                             function (td) { return td.textContent; });
    s.scripts = document.scripts.length;
    s.hostile_as_text = Array.prototype.some.call(document.querySelectorAll("#host-table td"),
        function (td) { return td.textContent.indexOf(HOSTILE) !== -1; });
    s.injected_elements = document.querySelectorAll("#host-table b, #host-table script").length;
    s.findings_sections = document.querySelectorAll("section.finding").length;
  } catch (e) { out.errors.push("selftest: " + e); }
  var pre = document.createElement("pre");
  pre.id = "selftest";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
"""


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is not installed (scripts/setup.sh installs it)")
        pytest.skip("chromium is not installed")
    return path


def _flags(profile: Path) -> list[str]:
    return [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
    ]


def _with_selftest(page: str) -> str:
    script = SELFTEST.replace("HOSTILE", json.dumps(HOSTILE_NAME).replace("</", "<\\/"))
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    page = page.replace("script-src 'sha256-", f"script-src 'sha256-{digest}' 'sha256-", 1)
    return page.replace("</body>", f"<script>{script}</script>\n</body>", 1)


@pytest.fixture(scope="module")
def browser_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, object], str]:
    chromium = _chromium()
    tmp = tmp_path_factory.mktemp("html")
    page = HtmlReporter().render(sample_report(), "en")
    path = tmp / "report.html"
    path.write_text(_with_selftest(page), encoding="utf-8")
    proc = subprocess.run(
        [chromium, *_flags(tmp / "profile"), "--dump-dom", path.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    m = re.search(r'<pre id="selftest">(.*?)</pre>', proc.stdout, re.S)
    assert m, "self-test output missing: the report's or the test's script did not run"
    import html as _html

    return json.loads(_html.unescape(m.group(1))), proc.stderr


def test_renders_without_console_errors(browser_run: tuple[dict[str, object], str]) -> None:
    result, log = browser_run
    assert result["errors"] == []
    console = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert console == [], console  # includes CSP violations and uncaught exceptions


def test_filter_sort_and_language_toggle(browser_run: tuple[dict[str, object], str]) -> None:
    s = browser_run[0]["steps"]
    assert isinstance(s, dict)
    assert s["rows"] == 4  # reachable hosts (the closed one is left out)
    assert s["filter_nas"] == 1 and s["shown_after_filter"] == "1"
    assert s["filter_smb1"] == 3  # hosts with smb1-enabled
    assert s["filter_zh_title"] == 3  # the filter also matches titles in the other language
    assert s["min_high"] == 3 and s["all"] == 4
    assert s["lang_before"] == ["en", "inline", "none"]
    assert s["lang_after"][:3] == ["zh-TW", "none", "inline"]
    assert s["lang_after"][3].startswith("篩選")
    assert s["sorted_desc"][0].startswith("192.0.2.4") and s["sorted_desc"][-1].startswith("192.0.2.1")
    assert s["findings_sections"] >= 5


def test_hostile_strings_stay_text(browser_run: tuple[dict[str, object], str]) -> None:
    s = browser_run[0]["steps"]
    assert isinstance(s, dict)
    assert s["scripts"] == 2  # the report's own script and the self-test, nothing injected
    assert s["hostile_as_text"] is True
    assert s["injected_elements"] == 0


def test_screenshot(tmp_path: Path) -> None:
    chromium = _chromium()
    ARTIFACTS.mkdir(exist_ok=True)
    for lang in ("en", "zh-TW"):
        page = tmp_path / f"report-{lang}.html"
        page.write_text(HtmlReporter().render(sample_report(), lang), encoding="utf-8")
        shot = ARTIFACTS / f"report-{lang}.png"
        shot.unlink(missing_ok=True)
        proc = subprocess.run(
            [
                chromium,
                *_flags(tmp_path / f"profile-{lang}"),
                "--window-size=1280,2400",
                f"--screenshot={shot}",
                page.as_uri(),
            ],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert proc.returncode == 0, proc.stderr[-2000:]
        data = shot.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
