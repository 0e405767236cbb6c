"""A real browser for the tests of the leaderboard web page: Debian's chromium, headless.

:func:`run_in_page` opens a copy of a page with two scripts added, each allowed by the page's own
Content-Security-Policy (by hash, as the page's script is): one first in ``<head>`` that records
errors, console errors, policy violations and ``alert`` calls, and one that runs the test's
actions once the page has loaded and writes what it found into the page as JSON. The page's DOM is
then dumped by ``chromium --headless --dump-dom`` and the JSON read back.
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

CHROMIUM = ("chromium", "chromium-browser", "google-chrome")
REQUIRED = "BENCH_REQUIRE_BROWSER"  # set by .ci/run: a missing browser fails instead of skipping
REPORT_ID = "browser-test-report"

RECORDER = """
window.__report = {errors: [], alerts: []};
window.addEventListener("error", function (event) {
  var what = event.message || (event.target && event.target.tagName) || event.type;
  window.__report.errors.push("error: " + what);
}, true);
window.addEventListener("unhandledrejection", function (event) {
  window.__report.errors.push("unhandled rejection: " + event.reason);
});
document.addEventListener("securitypolicyviolation", function (event) {
  window.__report.errors.push("policy violation: " + event.violatedDirective + " " + event.blockedURI);
});
var consoleError = console.error;
console.error = function () {
  window.__report.errors.push("console.error: " + Array.prototype.join.call(arguments, " "));
  consoleError.apply(console, arguments);
};
window.alert = function (message) { window.__report.alerts.push(String(message)); };
"""


def chromium() -> str | None:
    """The path of a chromium executable, or None."""
    return next((path for path in map(shutil.which, CHROMIUM) if path), None)


def browser_required() -> bool:
    return os.environ.get(REQUIRED, "") not in ("", "0")


def run_in_page(page: Path, actions: str, workdir: Path, *, timeout: float = 120) -> dict:
    """Load a copy of ``page`` in headless chromium, run ``actions`` (the body of a JavaScript
    function; its return value is reported as ``result``) after the page's load event.

    Returns:
        ``{"errors": [...], "alerts": [...], "result": ...}`` as the page reported it.
    """
    runner = (
        'window.addEventListener("load", function () {\n'
        f"  try {{ window.__report.result = (function () {{\n{actions}\n  }})(); }}\n"
        '  catch (error) { window.__report.errors.push("test actions: " + error + " " + error.stack); }\n'
        '  var out = document.createElement("pre");\n'
        f'  out.id = "{REPORT_ID}";\n'
        "  out.textContent = JSON.stringify(window.__report);\n"
        "  document.body.appendChild(out);\n"
        "});\n"
    )
    assert "</script" not in actions.lower(), "write </script> in a JavaScript string as <\\/script>"
    text = page.read_text(encoding="utf-8")
    policy = re.search(r"script-src ('sha256-[^']+')", text)
    assert policy, "the page states no script-src policy"
    allowed = " ".join([policy.group(1), *(f"'sha256-{_digest(script)}'" for script in (RECORDER, runner))])
    text = text.replace(policy.group(0), f"script-src {allowed}", 1)
    head_end = text.index(">", text.index('http-equiv="Content-Security-Policy"')) + 1
    text = f"{text[:head_end]}\n<script>{RECORDER}</script>{text[head_end:]}"
    text = text.replace("</body>", f"<script>{runner}</script>\n</body>", 1)
    copy = workdir / f"tested-{page.name}"
    copy.write_text(text, encoding="utf-8")
    command = [
        str(chromium()),
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        f"--user-data-dir={workdir / 'chromium-profile'}",
        "--virtual-time-budget=10000",
        "--dump-dom",
        copy.resolve().as_uri(),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    found = re.search(rf'<pre id="{REPORT_ID}">(.*?)</pre>', done.stdout, re.DOTALL)
    assert found, f"the page reported nothing (exit {done.returncode}): {done.stderr[-2000:]}"
    return json.loads(html.unescape(found.group(1)))


def _digest(script: str) -> str:
    return base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
