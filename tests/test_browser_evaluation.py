"""Issue 20 in a real browser (headless Debian Chromium + selenium): on a 200-line set rendered by
`python -m ocr synth testset`, benchmarked twice by `python -m ocr bench` (crnn-fast, then with Otsu
binarisation) into a private runs folder, the Benchmark page compares the two saved runs (fixed and
broken lines), opens one (confusion table and chart, a confusion's lines with crops) and draws its
reliability diagram. Skipped when chromium, chromium-driver, selenium or crnn-fast is missing."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ocr.engines.registry import available
from tests.test_browser import CHROMIUM, DRIVER, _body, _idle, _shot, _wait_css, _wait_text
from tools.screenshots import chromium, studio_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
ENGINE = "crnn-fast"


def _ocr(*args: str, env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "-m", "ocr", *args], cwd=ROOT, env=env, check=True, capture_output=True,
                   timeout=600)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("Debian chromium / chromium-driver not installed")
    pytest.importorskip("selenium", reason="selenium is not installed")
    ok, why = available(ENGINE)
    if not ok:
        pytest.skip(f"{ENGINE} unavailable: {why}")
    base = tmp_path_factory.mktemp("eval")
    env = {**os.environ, "OCR_THREADS": "1"}
    _ocr("synth", "testset", str(base / "set"), "--n", "200", env=env)
    folder = base / "runs"
    _ocr("bench", str(base / "set"), "--engine", ENGINE, "--quiet", "--save-run",
         str(folder / "a_plain.json"), env=env)
    _ocr("bench", str(base / "set"), "--engine", ENGINE, "--otsu", "--quiet", "--save-run",
         str(folder / "b_otsu.json"), env=env)
    return folder


@pytest.fixture(scope="module")
def server(runs: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with studio_server(tmp_path_factory.mktemp("streamlit") / "server.log",
                       env={"OCR_RUNS_DIR": str(runs)}) as url:
        yield url


@pytest.fixture(scope="module")
def browser(server: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    driver = chromium(1500, 2600, tmp_path_factory.mktemp("chromium-profile"))
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _choose(driver: object, label: str, option_text: str) -> None:
    """Pick the option containing option_text in the selectbox labelled `label`."""
    from selenium.webdriver.common.by import By

    box = next(b for b in driver.find_elements(By.CSS_SELECTOR, '[data-testid="stSelectbox"]')  # type: ignore[attr-defined]
               if label in b.text)
    box.find_element(By.CSS_SELECTOR, '[role="combobox"], input').click()
    _wait_css(driver, '[role="option"]', timeout=30)
    option = next(o for o in driver.find_elements(By.CSS_SELECTOR, '[role="option"]')  # type: ignore[attr-defined]
                  if option_text in o.text)
    option.click()


def test_browser_compare_then_open_a_saved_run(browser: object, server: str) -> None:
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    browser.get(f"{server}/benchmark")  # type: ignore[attr-defined]
    _wait_text(browser, "Compare two runs")
    _idle(browser)
    body = _body(browser)
    fixed = re.search(r"Fixed by B: (\d+) lines", body)
    broken = re.search(r"Broken by B: (\d+) lines", body)
    assert fixed and broken, body[-2000:]
    assert int(fixed.group(1)) + int(broken.group(1)) > 0  # Otsu changes some of the 200 lines
    assert "200 common lines" in body and "ΔCER" in body
    _shot(browser, "eval_compare")

    _choose(browser, "Open a saved run", "a_plain")
    _wait_text(browser, "Which engine and decoder to trust")
    _wait_text(browser, "Top confusions")
    _idle(browser)
    _shot(browser, "eval_confusions")
    grids = browser.find_elements(By.CSS_SELECTOR, '[data-testid="stDataFrame"]')  # type: ignore[attr-defined]
    assert grids
    assert len(browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot")) >= 4  # type: ignore[attr-defined]
    # select the first confusion row (the grid's row-selection column) -> its lines with crops
    grid = next(g for g in grids if g.is_displayed() and g.location["y"] > 0
                and "Top confusions" in browser.execute_script(  # type: ignore[attr-defined]
                    "return arguments[0].closest('[data-testid=\"stVerticalBlock\"]').innerText", g))
    ActionChains(browser).move_to_element_with_offset(  # type: ignore[arg-type]
        grid, -grid.size["width"] // 2 + 12, -grid.size["height"] // 2 + 35 + 17).click().perform()
    _wait_css(browser, "table.eval-lines img", timeout=60)
    _idle(browser)
    _shot(browser, "eval_confusion_lines")

    tab = next(t for t in browser.find_elements(By.CSS_SELECTOR, '[role="tab"]')  # type: ignore[attr-defined]
               if "Calibration" in t.text)
    tab.click()
    _wait_text(browser, "Reject the 10 % least confident lines")
    _idle(browser)
    _shot(browser, "eval_reliability")
    titles = " ".join(t.text for t in browser.find_elements(By.CSS_SELECTOR, ".js-plotly-plot .gtitle"))  # type: ignore[attr-defined]
    assert "Lines · ECE" in titles and "Characters · ECE" in titles
    assert "Traceback" not in _body(browser)
