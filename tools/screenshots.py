"""Screenshots of every page of the app at 1280×720 and 1400×1000 into docs/screenshots/ (PNG).

    python tools/screenshots.py            # or: make screenshots

Starts `streamlit run app.py` on a free loopback port, drives Debian's headless Chromium with selenium
(requirements-dev.txt), waits for each page to finish, saves a viewport screenshot, and re-encodes it
as a small palette PNG. Nothing leaves 127.0.0.1. The helpers (studio_server, chromium, wait_idle) are
also used by tests/test_browser_demo.py.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
SIZES = ((1280, 720), (1400, 1000))
# (file name, url path, text that must be on screen, CSS selector that must be painted or "")
PAGES = (
    ("recognize", "/recognize", "Recognized text", "span.ocr-char"),
    ("document", "/document", "Text in reading order", ".js-plotly-plot image"),
    ("inspector", "/inspector", "Decoders side by side", ".js-plotly-plot .heatmaplayer"),
    ("benchmark", "/benchmark", "Results · sample_images", ".js-plotly-plot"),
    ("finetune", "/finetune", "Fine-tune", ""),
)


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def studio_server(log: Path | None = None, timeout: float = 90,
                  env: dict[str, str] | None = None) -> Iterator[str]:
    """`streamlit run app.py` on a free loopback port (`env` added to this process's environment);
    yields its base URL, stops it on exit."""
    port = free_port()
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
           "--server.port", str(port), "--server.address", "127.0.0.1",
           "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none"]
    log = log or Path(tempfile.mkdtemp(prefix="studio-")) / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"streamlit did not start:\n{log.read_text(errors='replace')[-3000:]}")
            time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def chromium(width: int, height: int, profile: Path) -> Any:
    """A headless Debian Chromium (selenium WebDriver) with a `width`×`height` viewport."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
                "--hide-scrollbars", f"--user-data-dir={profile}", f"--window-size={width},{height}"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(DRIVER), options=options)
    driver.set_page_load_timeout(60)
    # --window-size sets the window; make the viewport itself width×height
    inner = driver.execute_script("return [window.innerWidth, window.innerHeight]")
    driver.set_window_size(2 * width - inner[0], 2 * height - inner[1])
    return driver


def body_text(driver: Any) -> str:
    return driver.find_element("tag name", "body").text


def wait_text(driver: Any, text: str, timeout: float = 180) -> None:
    """Wait until `text` is on the page (RuntimeError after timeout seconds)."""
    deadline = time.monotonic() + timeout
    while text not in body_text(driver):
        if time.monotonic() > deadline:
            raise RuntimeError(f"{text!r} never appeared")
        time.sleep(0.3)


def wait_idle(driver: Any, timeout: float = 180, settle: float = 1.5) -> None:
    """Wait until the script run is over (Streamlit's status widget gone), then let charts paint."""
    from selenium.webdriver.common.by import By

    time.sleep(1.0)
    deadline = time.monotonic() + timeout
    while driver.find_elements(By.CSS_SELECTOR, '[data-testid="stStatusWidget"]'):
        if time.monotonic() > deadline:
            raise RuntimeError("the app kept running")
        time.sleep(0.3)
    time.sleep(settle)


def click_button(driver: Any, label: str) -> None:
    """Click the first button whose text contains `label`."""
    from selenium.webdriver.common.by import By

    button = next(b for b in driver.find_elements(By.TAG_NAME, "button") if label in b.text)
    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", button)
    button.click()


def save_small_png(png: bytes, path: Path, colors: int = 128) -> None:
    """Re-encode a screenshot as an optimised palette PNG (a fraction of the size, text stays sharp)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


def wait_css(driver: Any, css: str, timeout: float = 180) -> None:
    """Wait until an element matching css is on the page (RuntimeError after timeout seconds)."""
    from selenium.webdriver.common.by import By

    deadline = time.monotonic() + timeout
    while not driver.find_elements(By.CSS_SELECTOR, css):
        if time.monotonic() > deadline:
            raise RuntimeError(f"nothing matched {css!r}")
        time.sleep(0.3)


def scroll_to_text(driver: Any, text: str) -> None:
    """Scroll Streamlit's main area so the first element whose text starts with `text` is at the top."""
    driver.execute_script(
        "const el = Array.from(document.querySelectorAll('h1,h2,h3,p,strong'))"
        ".find(e => e.textContent.trim().startsWith(arguments[0]));"
        "if (el) el.scrollIntoView({block: 'start'});", text)
    time.sleep(1.0)


def run_benchmark(driver: Any, url: str) -> None:
    """Run the bundled sample set on the Benchmark page and wait for its results."""
    driver.get(f"{url}/benchmark")
    wait_text(driver, "Use the sample set")
    wait_idle(driver)
    click_button(driver, "Use the sample set")
    wait_text(driver, "Results · sample_images", timeout=600)
    wait_idle(driver, timeout=600)


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with studio_server() as url, tempfile.TemporaryDirectory() as tmp:
        for width, height in SIZES:
            driver = chromium(width, height, Path(tmp) / f"profile{width}")
            try:
                for name, path, marker, css in PAGES:
                    if name == "benchmark":
                        run_benchmark(driver, url)
                    else:
                        driver.get(url + path)
                        wait_text(driver, marker)
                        wait_idle(driver)
                    if css:
                        wait_css(driver, css)
                        time.sleep(1.5)  # let the figure finish painting
                    if name == "benchmark":  # the results, not the form above them
                        scroll_to_text(driver, "Results")
                    target = OUT / f"{name}_{width}x{height}.png"
                    save_small_png(driver.get_screenshot_as_png(), target)
                    print(target.relative_to(ROOT), f"{target.stat().st_size // 1024} KB")
            finally:
                driver.quit()


if __name__ == "__main__":
    main()
