"""The web view in a real browser: Debian's headless Chromium with JavaScript off, against
`archiver serve` on a real port. Every page renders, search works, a bag shows its
timeline, a text reads, an administrator logs in and withdraws, a reader cannot; and
axe-core finds no serious or critical accessibility violation."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import pytest
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as shown
from selenium.webdriver.support.ui import WebDriverWait

from archiver.packing import make_bag
from archiver.web.users import add_user
from tests.browser import REPO, axe_violations, chromium
from tests.conftest import SAMPLE_RECORD, SAMPLE_TEXT
from tests.oai_helpers import running_server
from tests.test_web import HOSTILE, _clock

PASSWORD = "correct horse battery"
PAGES = ("/", "/bags/sample", "/search?q=peace", "/login")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    root = tmp_path_factory.mktemp("browser")
    col = root / "collection"
    texts = root / "texts"
    texts.mkdir()
    (texts / "note <b>.txt").write_text("A note <script>alert(1)</script> on peace.\n")
    make_bag([SAMPLE_TEXT], col, record=SAMPLE_RECORD, bag_id="sample", clock=_clock())
    make_bag(
        [texts / "note <b>.txt"],
        col,
        record={"title": HOSTILE, "creator": "javascript:alert(1)"},
        bag_id="hostile",
        clock=_clock(),
    )
    make_bag(
        [SAMPLE_TEXT], col, record={"title": "To be withdrawn"}, bag_id="spare", clock=_clock()
    )
    users = root / "users.json"
    add_user(users, "ana", PASSWORD, admin=True)
    add_user(users, "ben", PASSWORD)
    with running_server(col, options=["--users", str(users)]) as server:
        base = urljoin(server.url, "/")
        driver = chromium(root / "profile")
        try:
            yield {"base": base, "driver": driver, "root": root}
        finally:
            driver.quit()


def _until(driver: Any, condition: Callable[[Any], Any]) -> Any:
    """What ``condition`` returns once it holds, within 30 s. A click that submits a form
    returns before the next page is there: while the old page is replaced, an element just
    found may already be gone, which Chromium tells as a stale element or as an inspector
    error ("Node with given id does not belong to the document"); both mean "not yet"."""
    return WebDriverWait(
        driver, 30, ignored_exceptions=(StaleElementReferenceException, WebDriverException)
    ).until(condition)


def _wait(driver: Any, css: str) -> Any:
    """The element ``css`` finds once the page that has it has loaded."""
    return _until(driver, shown.presence_of_element_located((By.CSS_SELECTOR, css)))


def _open(site: dict[str, Any], path: str) -> Any:
    driver = site["driver"]
    driver.get(urljoin(site["base"], path))
    return driver


def test_every_page_renders_without_javascript(site: dict[str, Any]) -> None:
    for path in PAGES:
        driver = _open(site, path)
        assert driver.find_element(By.TAG_NAME, "h1").text, path
    driver = _open(site, "/")
    links = [a.text for a in driver.find_elements(By.CSS_SELECTOR, "table.bags a")]
    assert "A giant step for peace" in links and HOSTILE in links  # shown as text
    assert not driver.find_elements(By.CSS_SELECTOR, "table.bags img")


def test_the_search_form_finds_a_word_in_the_texts(site: dict[str, Any]) -> None:
    driver = _open(site, "/")
    field = driver.find_element(By.ID, "q")
    field.send_keys("sanctions")
    field.submit()
    _wait(driver, ".snippet mark")
    assert "/search?q=sanctions" in driver.current_url
    marks = [m.text.lower() for m in driver.find_elements(By.CSS_SELECTOR, ".snippet mark")]
    assert "sanctions" in marks


def test_a_bag_shows_its_timeline_and_a_text_reads(site: dict[str, Any]) -> None:
    driver = _open(site, "/")
    driver.find_element(By.LINK_TEXT, "A giant step for peace").click()
    _wait(driver, "ol.timeline li")
    events = [li.text for li in driver.find_elements(By.CSS_SELECTOR, "ol.timeline li")]
    assert any("packing: success" in e for e in events)
    driver.find_element(By.LINK_TEXT, "data/a-giant-step-for-peace.txt").click()
    _wait(driver, "ol.lines li")
    lines = driver.find_elements(By.CSS_SELECTOR, "ol.lines li")
    assert len(lines) > 10
    assert "peace" in driver.find_element(By.CSS_SELECTOR, "ol.lines").text.lower()


def _log_in(site: dict[str, Any], name: str) -> Any:
    driver = _open(site, "/login")
    driver.find_element(By.ID, "name").send_keys(name)
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form.login button").click()
    _wait(driver, "form.account")
    return driver


def _log_out(driver: Any) -> None:
    driver.find_element(By.CSS_SELECTOR, "form.account button").click()
    _wait(driver, "form.search")
    _until(driver, shown.invisibility_of_element_located((By.CSS_SELECTOR, "form.account")))


def test_a_reader_cannot_withdraw_and_an_administrator_can(site: dict[str, Any]) -> None:
    driver = _log_in(site, "ben")
    assert "ben" in driver.find_element(By.CSS_SELECTOR, "form.account").text
    driver = _open(site, "/bags/spare")
    assert not driver.find_elements(By.ID, "reason")
    _log_out(driver)
    driver = _log_in(site, "ana")
    driver = _open(site, "/bags/spare")
    driver.find_element(By.ID, "reason").send_keys("deposited twice")
    driver.find_element(By.XPATH, "//form[contains(@action, '/withdraw')]//button").click()
    _until(driver, shown.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Withdrawn"))
    assert driver.find_element(By.TAG_NAME, "h1").text == "Withdrawn"
    assert "deposited twice" in driver.find_element(By.TAG_NAME, "main").text
    _log_out(driver)


def test_axe_finds_no_serious_or_critical_violation(site: dict[str, Any]) -> None:
    driver = chromium(site["root"] / "profile-axe", javascript=True)
    try:
        # The check can fail: a page with an image lacking its text alternative does.
        driver.get("data:text/html,<html lang=en><title>t</title><img src=x.png></html>")
        assert "image-alt" in {v["id"] for v in axe_violations(driver)}
        for path in PAGES:
            driver.get(urljoin(site["base"], path))
            bad = [
                (v["id"], v["impact"], v.get("help"))
                for v in axe_violations(driver)
                if v.get("impact") in ("serious", "critical")
            ]
            assert bad == [], path
    finally:
        driver.quit()


def test_the_screenshot_script_writes_both_widths_of_every_page(tmp_path: Path) -> None:
    run = subprocess.run(
        [sys.executable, str(REPO / "docs" / "screenshots.py"), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    made = sorted(p.name for p in tmp_path.glob("*.png"))
    assert made == sorted(
        f"{page}-{w}.png" for page in ("bag", "collection", "search", "text") for w in (390, 1440)
    )
    assert all((tmp_path / name).read_bytes().startswith(b"\x89PNG") for name in made)
