"""The app in a real browser: `streamlit run app.py` + headless Debian Chromium driven by selenium.

Visits every page, checks that the recognized text, the CTC heatmap, the decoder outputs and the
benchmark table render, and saves screenshots under test-artifacts/ (gitignored). Skipped, with the
reason, when chromium, chromium-driver or selenium is missing. Nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.screenshots import CHROMIUM, DRIVER, chromium, studio_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"
WAIT = 180  # seconds for one page to finish: model loads on a busy 2-core machine


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("Debian chromium / chromium-driver not installed (apt-get install chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -r requirements-dev.txt)")
    with studio_server(tmp_path_factory.mktemp("streamlit") / "server.log") as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    driver = chromium(1500, 2600, tmp_path_factory.mktemp("chromium-profile"))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _wait_css(driver: object, css: str, timeout: float = WAIT) -> list[object]:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.5).until(  # type: ignore[arg-type]
        lambda d: d.find_elements(By.CSS_SELECTOR, css) or False,
        message=f"nothing matched {css!r}",
    )


def _wait_text(driver: object, text: str, timeout: float = WAIT) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(driver, timeout, poll_frequency=0.5).until(  # type: ignore[arg-type]
        lambda d: text in d.find_element("tag name", "body").text, message=f"{text!r} never appeared")


def _idle(driver: object, timeout: float = WAIT) -> None:
    """Wait until the script run is over (Streamlit shows a status widget while running)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    time.sleep(1.0)
    WebDriverWait(driver, timeout, poll_frequency=0.5).until(  # type: ignore[arg-type]
        lambda d: not d.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'),
        message="the app kept running")
    time.sleep(1.5)  # let charts and data grids paint


def _shot(driver: object, name: str) -> Path:
    path = ARTIFACTS / f"browser_{name}.png"
    driver.save_screenshot(str(path))  # type: ignore[attr-defined]
    return path


def _body(driver: object) -> str:
    return driver.find_element("tag name", "body").text  # type: ignore[attr-defined]


def test_browser_bare_page_url_goes_through_app(browser: object, server: str) -> None:
    """First request of a fresh server names a page file's stem: it must still get app.py's sidebar."""
    browser.get(f"{server}/inspector")  # type: ignore[attr-defined]
    _wait_text(browser, "Recognizer")
    _idle(browser)
    body = _body(browser)
    assert "CTC inspector" in body and "Benchmark" in body and "Decoder" in body
    assert "Exception" not in body and "Traceback" not in body


def test_browser_recognize(browser: object, server: str) -> None:
    browser.get(server)  # type: ignore[attr-defined]
    _wait_text(browser, "Recognized text")
    _wait_css(browser, "span.ocr-char")
    _idle(browser)
    _shot(browser, "recognize")
    body = _body(browser)
    for text in ("Preprocessing", "Grayscale", "Denoise (NL-means)", "Equalise contrast", "Binarise (Otsu)",
                 "Invert", "preprocess", "model", "decode", "padded to"):
        assert text in body, text
    assert "Traceback" not in body


def test_browser_inspector(browser: object, server: str) -> None:
    browser.get(f"{server}/ctc")  # type: ignore[attr-defined]
    _wait_css(browser, ".js-plotly-plot .heatmaplayer")
    _wait_css(browser, ".insp-beam_lm")
    _idle(browser)
    _shot(browser, "inspector")
    body = _body(browser)
    for text in ("Decoders side by side", "greedy", "beam search", "beam + LM", "Per character"):
        assert text in body, text
    greedy = browser.find_element("css selector", ".insp-greedy").text  # type: ignore[attr-defined]
    beam = browser.find_element("css selector", ".insp-beam").text  # type: ignore[attr-defined]
    assert greedy.strip() and beam.strip()
    assert browser.find_elements("css selector", ".js-plotly-plot image")  # type: ignore[attr-defined]
    assert "Traceback" not in body


def test_browser_document(browser: object, server: str) -> None:
    if not (ROOT / "pages" / "document.py").is_file():
        pytest.skip("no Document page")
    browser.get(f"{server}/page")  # type: ignore[attr-defined]
    _wait_text(browser, "Text in reading order")
    _wait_css(browser, ".js-plotly-plot")
    _idle(browser)
    _shot(browser, "document")
    body = _body(browser)
    assert "Document" in body and "Traceback" not in body


def test_browser_benchmark_sample_set(browser: object, server: str) -> None:
    from selenium.webdriver.common.by import By

    if not (ROOT / "sample_images" / "labels.tsv").is_file():
        pytest.skip("sample_images/labels.tsv is not there")
    browser.get(f"{server}/bench")  # type: ignore[attr-defined]
    _wait_text(browser, "Use the sample set")
    _idle(browser)
    button = next(b for b in browser.find_elements(By.TAG_NAME, "button")  # type: ignore[attr-defined]
                  if "Use the sample set" in b.text)
    button.click()
    _wait_css(browser, "table.bench-samples", timeout=600)
    _idle(browser, timeout=600)
    _shot(browser, "benchmark")
    body = _body(browser)
    assert "Results · sample_images" in body
    assert "Accuracy vs latency" in body or len(browser.find_elements(  # type: ignore[attr-defined]
        By.CSS_SELECTOR, ".js-plotly-plot")) >= 3
    assert browser.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')  # type: ignore[attr-defined]
    rows = browser.find_elements(By.CSS_SELECTOR, "table.bench-samples tbody tr")  # type: ignore[attr-defined]
    assert rows
    assert "Traceback" not in body

