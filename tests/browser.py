"""Headless Chromium for the web view's tests and screenshots: Debian's chromium and
chromium-driver (.ci/run installs them), driven by Selenium, with no network of its own."""

from __future__ import annotations

import json
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.chrome.options import Options
from selenium.webdriver.chrome.service import Service

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
REPO = Path(__file__).resolve().parent.parent
# axe-core, from npm (.ci/run installs it here): the accessibility rules Chromium runs.
AXE = REPO / ".ci" / "node" / "node_modules" / "axe-core" / "axe.min.js"


def chromium(profile: Path, *, javascript: bool = False, width: int = 1440) -> webdriver.Chrome:
    """A headless Chromium with a new profile in ``profile``; JavaScript off unless asked
    (the view must work without it). Background networking is off: this machine has none,
    and Chromium would try it at every start."""
    options = Options()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        f"--user-data-dir={profile}",
        f"--window-size={width},900",
    ):
        options.add_argument(flag)
    if not javascript:
        options.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript": 2}
        )
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    return driver


def axe_violations(driver: webdriver.Chrome) -> list[dict[str, object]]:
    """axe-core's violations on the page now shown (the driver must run JavaScript)."""
    driver.execute_script(AXE.read_text(encoding="utf-8"))
    found = driver.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document).then(r => done(JSON.stringify(r.violations)),"
        " e => done(JSON.stringify([{id: 'axe-error', impact: 'critical', help: String(e)}])));"
    )
    return list(json.loads(found))
