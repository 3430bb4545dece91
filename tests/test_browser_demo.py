"""The studio as a demo (issue 18), in a real browser: Debian Chromium headless driven by selenium.

One fresh server for the module; the first test is the server's first visit (by a page URL). Skipped,
with the reason, when chromium, chromium-driver or selenium is missing. Nothing leaves 127.0.0.1.
No timing is asserted: waits are generous because the machine may be busy.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.render import render
from tools.screenshots import (
    CHROMIUM,
    DRIVER,
    body_text,
    chromium,
    click_button,
    studio_server,
    wait_idle,
    wait_text,
)

pytestmark = pytest.mark.browser
WAIT = 240


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("Debian chromium / chromium-driver not installed (apt-get install chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -r requirements-dev.txt)")
    with studio_server(tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    driver = chromium(1400, 1000, tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield driver
    finally:
        driver.quit()


def _title(driver: object) -> str:
    return driver.find_element("css selector", "h1").text  # type: ignore[attr-defined]


def _nav(driver: object, label: str) -> None:
    """Click the sidebar's navigation link called `label` (a client-side page switch, same session)."""
    from selenium.webdriver.common.by import By

    link = next(a for a in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebarNav"] a')  # type: ignore[attr-defined]
                if label in a.text)
    link.click()


def test_first_visit_by_page_url_shows_no_page_not_found(browser: object, server: str) -> None:
    """The server's very first request names a page: the right page, no "Page not found" dialog."""
    browser.get(f"{server}/inspector")  # type: ignore[attr-defined]
    wait_text(browser, "Decoders side by side", WAIT)
    wait_idle(browser, WAIT)
    body = body_text(browser)
    assert "Page not found" not in body
    assert _title(browser) == "CTC inspector"
    assert "Chinese OCR studio" in body  # the header is on every page


@pytest.mark.parametrize(("path", "title"), [
    ("/inspector", "CTC inspector"), ("/benchmark", "Benchmark"), ("/document", "Document"),
    ("/recognize", "Recognize"), ("/ctc", "CTC inspector"), ("/bench", "Benchmark"),
])
def test_page_urls_and_aliases_open_their_page(browser: object, server: str, path: str, title: str) -> None:
    browser.get(server + path)  # type: ignore[attr-defined]
    wait_text(browser, title, WAIT)
    wait_idle(browser, WAIT)
    assert _title(browser) == title
    assert "Page not found" not in body_text(browser)


def test_upload_on_recognize_is_the_image_of_the_inspector(browser: object, server: str,
                                                          tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    path = tmp_path / "my_line.png"
    Image.fromarray(render("共享的当前图像", size=32)).save(path)
    browser.get(server)  # type: ignore[attr-defined]
    wait_text(browser, "Recognized text", WAIT)
    wait_idle(browser, WAIT)
    browser.find_element(By.CSS_SELECTOR, 'input[type="file"]').send_keys(str(path))  # type: ignore[attr-defined]
    wait_text(browser, "Current image: my_line.png", WAIT)
    wait_idle(browser, WAIT)
    _nav(browser, "CTC inspector")
    wait_text(browser, "Decoders side by side", WAIT)
    wait_idle(browser, WAIT)
    assert "Current image: my_line.png · your upload" in body_text(browser)
    _nav(browser, "Recognize")  # and back: the upload is still the current image
    wait_text(browser, "Recognized text", WAIT)
    wait_idle(browser, WAIT)
    assert "Current image: my_line.png" in body_text(browser)


def test_benchmark_survives_a_sidebar_click_and_completes(browser: object, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/benchmark")  # type: ignore[attr-defined]
    wait_text(browser, "Use the sample set", WAIT)
    wait_idle(browser, WAIT)
    click_button(browser, "Use the sample set")
    wait_text(browser, "in the background", WAIT)
    # a sidebar control while the run is in progress: the decoder radio
    radio = next(el for el in browser.find_elements(By.CSS_SELECTOR, '[data-testid="stSidebar"] label')  # type: ignore[attr-defined]
                 if el.text.strip() == "beam search")
    radio.click()
    time.sleep(2)
    assert "Choose a set and press run" not in body_text(browser)
    wait_text(browser, "Results · sample_images", 600)
    wait_idle(browser, 600)
    body = body_text(browser)
    assert "Done in" in body and "Traceback" not in body
    assert browser.find_elements(By.CSS_SELECTOR, "table.bench-samples tbody tr")  # type: ignore[attr-defined]


def test_benchmark_survives_leaving_the_page(browser: object, server: str) -> None:
    browser.get(f"{server}/benchmark")  # type: ignore[attr-defined]
    wait_text(browser, "Use the sample set", WAIT)
    wait_idle(browser, WAIT)
    click_button(browser, "Use the sample set")
    wait_text(browser, "in the background", WAIT)
    _nav(browser, "Recognize")
    wait_text(browser, "Recognized text", WAIT)
    _nav(browser, "Benchmark")
    wait_text(browser, "Benchmark", WAIT)
    deadline = time.monotonic() + 600
    while "Done in" not in body_text(browser) and "in the background" in body_text(browser):
        assert time.monotonic() < deadline, "the run never finished"
        time.sleep(1)
    wait_text(browser, "Done in", WAIT)


def test_example_lands_on_its_page(browser: object, server: str) -> None:
    from selenium.webdriver.common.by import By

    browser.get(server)  # type: ignore[attr-defined]
    wait_text(browser, "Recognized text", WAIT)
    wait_idle(browser, WAIT)
    pill = next(b for b in browser.find_elements(By.TAG_NAME, "button")  # type: ignore[attr-defined]
                if "LM: 参→叁" in b.text)
    pill.click()
    wait_text(browser, "Decoders side by side", WAIT)
    wait_idle(browser, WAIT)
    body = body_text(browser)
    assert _title(browser) == "CTC inspector"
    assert "Example: LM: 参→叁" in body and "examples/lm_amount.png" in body

