"""The fine-tune loop in a real browser (issue #17): upload a labelled zip on the Fine-tune page, start a
short fine-tune of crnn-fast, watch its curve move, open the Benchmark page with the new engine
selected and see its row in the results.

`streamlit run app.py` with its own user-models folder (OCR_USER_MODELS) + headless Debian Chromium
driven by selenium; skipped, with the reason, when chromium, chromium-driver or selenium is missing.
Nothing leaves 127.0.0.1. A tiny job: 20 steps on 12 rendered lines. No timing is asserted.
"""

from __future__ import annotations

import io
import os
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from tests.render import render
from tests.test_browser import ARTIFACTS, CHROMIUM, DRIVER, _idle, _wait_css, _wait_text
from tools.screenshots import chromium, studio_server

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parent.parent
TEXTS = ["上海市浦东新区", "京A12345", "发票代码0123", "沪C8GK31", "合计金额", "川X90621", "门牌号", "收款人",
         "浙A6MX97", "开户银行", "皖A08V01", "备注"]
NAME = "browser"
JOB_WAIT = 900  # seconds for the whole job on a busy 2-core machine


def _zip(path: Path) -> Path:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        rows = []
        for i, text in enumerate(TEXTS):
            img = io.BytesIO()
            Image.fromarray(render(text, size=28)).save(img, format="PNG")
            zf.writestr(f"img/{i:03d}.png", img.getvalue())
            rows.append(f"img/{i:03d}.png\t{text}\n")
        zf.writestr("labels.tsv", "".join(rows))
    path.write_bytes(buf.getvalue())
    return path


@pytest.fixture(scope="module")
def tune_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    if not (Path(CHROMIUM).exists() and Path(DRIVER).exists()):
        pytest.skip("Debian chromium / chromium-driver not installed (apt-get install chromium-driver)")
    pytest.importorskip("selenium", reason="selenium is not installed (pip install -r requirements-dev.txt)")
    if not (ROOT / "models" / "crnn_fast.pt").is_file():
        pytest.skip("no models/crnn_fast.pt to fine-tune")
    users = tmp_path_factory.mktemp("user_models")
    log = tmp_path_factory.mktemp("streamlit") / "server.log"
    with studio_server(log, env={"OCR_USER_MODELS": str(users)}) as url:
        try:
            yield url, users
        finally:
            from ocr.training.jobs import cancel_job

            os.environ["OCR_USER_MODELS"], old = str(users), os.environ.get("OCR_USER_MODELS")
            try:
                cancel_job()  # a job left running by a failed test
            finally:
                if old is None:
                    del os.environ["OCR_USER_MODELS"]
                else:
                    os.environ["OCR_USER_MODELS"] = old


@pytest.fixture(scope="module")
def tune_browser(tune_server: tuple[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    driver = chromium(1500, 2600, tmp_path_factory.mktemp("chromium-profile"))
    ARTIFACTS.mkdir(exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def _button(driver: object, label: str) -> object:
    from selenium.webdriver.common.by import By

    return next(b for b in driver.find_elements(By.TAG_NAME, "button") if label in b.text)  # type: ignore[attr-defined]


def _loss_points(driver: object) -> int:
    """Points of the loss trace in the page's curves chart (0 before it is drawn)."""
    return int(driver.execute_script(  # type: ignore[attr-defined]
        "const p = [...document.querySelectorAll('.js-plotly-plot')].find(e => e.data && e.data.some("
        "t => t.name === 'loss')); if (!p) return 0;"
        "return p.data.find(t => t.name === 'loss').x.length;"))


def test_browser_finetune_loop(tune_browser: object, tune_server: tuple[str, Path], tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    driver = tune_browser
    url, users = tune_server
    data = _zip(tmp_path / "lines.zip")
    driver.get(f"{url}/finetune")  # type: ignore[attr-defined]
    _wait_text(driver, "Start fine-tuning")
    _idle(driver)
    driver.find_elements(By.CSS_SELECTOR, 'input[type="file"]')[0].send_keys(str(data))  # type: ignore[attr-defined]
    _wait_text(driver, "lines.zip")
    _idle(driver)
    name = driver.find_element(By.CSS_SELECTOR, 'input[aria-label^="Name of the new engine"]')  # type: ignore[attr-defined]
    name.send_keys(Keys.CONTROL, "a")
    name.send_keys(NAME, Keys.ENTER)
    _idle(driver)
    driver.find_element(By.XPATH, "//summary[contains(., 'More settings')]").click()  # type: ignore[attr-defined]
    steps = _wait_css(driver, 'input[aria-label^="Stop after"]')[0]
    steps.send_keys(Keys.CONTROL, "a")  # type: ignore[attr-defined]
    steps.send_keys("20", Keys.ENTER)  # type: ignore[attr-defined]
    _idle(driver)
    start = _button(driver, "Start fine-tuning")
    assert start.is_enabled(), driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    start.click()
    _wait_text(driver, f"user:{NAME}", timeout=120)
    # the curve moves: the loss trace gains points while the page redraws from the job's files
    WebDriverWait(driver, JOB_WAIT, poll_frequency=1).until(  # type: ignore[arg-type]
        lambda d: _loss_points(d) > 0, message="no loss curve appeared")
    seen = _loss_points(driver)
    WebDriverWait(driver, JOB_WAIT, poll_frequency=1).until(  # type: ignore[arg-type]
        lambda d: _loss_points(d) > seen, message="the loss curve never moved")
    _wait_text(driver, "Before / after", timeout=JOB_WAIT)  # the finished job's panel
    _idle(driver)
    assert _loss_points(driver) == 4  # steps 5, 10, 15, 20
    driver.save_screenshot(str(ARTIFACTS / "browser_finetune.png"))  # type: ignore[attr-defined]
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert f"user:{NAME} is ready" in body and "Traceback" not in body
    assert "What it reads differently" in body or "no confusion grew" in body  # forgetting, said concretely
    assert (users / NAME / "model.pt").is_file()

    _button(driver, f"Open the Benchmark page with user:{NAME}").click()
    _wait_text(driver, "Use the sample set")
    _idle(driver)
    chosen = driver.find_element(By.CSS_SELECTOR, '[data-testid="stMultiSelect"]').text  # type: ignore[attr-defined]
    assert NAME in chosen  # the new engine is selected (by its registry title)
    _button(driver, "Use the sample set").click()
    _wait_css(driver, "table.bench-samples", timeout=600)
    _idle(driver, timeout=600)
    driver.save_screenshot(str(ARTIFACTS / "browser_finetune_bench.png"))  # type: ignore[attr-defined]
    body = driver.find_element(By.TAG_NAME, "body").text  # type: ignore[attr-defined]
    assert f"user:{NAME} / greedy" in body  # its run is the first row's run in the per-sample table
    shutil.rmtree(users / NAME, ignore_errors=True)
