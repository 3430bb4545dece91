"""Time the app as a person sees it, in headless Chromium: Recognize page load -> first result (model
already cached), and CTC inspector K-slider change -> heatmap redrawn.

Run: .venv/bin/python benchmarks/bench_app.py [--repeats 5]
Needs Debian chromium + chromium-driver and selenium (requirements-dev.txt). Prints medians and each run.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEATMAP_ROWS = """
const gd = document.querySelector('.js-plotly-plot');
if (!gd || !gd._fullData) return -1;
const h = gd._fullData.find(t => t.type === 'heatmap');
if (!h) return -1;
const z = h._z || h.z;
return z && z.length ? z.length : -1;
"""


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(pred, timeout: float = 120.0, step: float = 0.02) -> float:
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        if pred():
            return time.perf_counter() - t0
        time.sleep(step)
    raise TimeoutError("the page did not reach the expected state")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    port = _port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
         str(port), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
    profile = tempfile.mkdtemp(prefix="bench-app-")
    for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
              "--disable-component-update", "--no-first-run", "--disable-sync", "--disable-dev-shm-usage",
              f"--user-data-dir={profile}", "--window-size=1500,2000"):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service(shutil.which("chromedriver") or "/usr/bin/chromedriver"),
                              options=opts)
    try:
        _wait(lambda: _healthy(url), 90)
        print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")
        driver.get(url)  # cold start: loads and caches the model
        cold = _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "span.ocr-char"), 300)
        print(f"cold start (model load included): {cold:.2f} s")
        loads = []
        for _ in range(args.repeats):
            driver.get("about:blank")
            t0 = time.perf_counter()
            driver.get(url)
            _wait(lambda: driver.find_elements(By.CSS_SELECTOR, "span.ocr-char"))
            loads.append(time.perf_counter() - t0)
        print("Recognize, navigation -> first result (model cached): "
              f"median {sorted(loads)[len(loads) // 2]:.2f} s; runs {[round(x, 2) for x in loads]}")
        driver.get(f"{url}/ctc")
        _wait(lambda: driver.execute_script(HEATMAP_ROWS) > 0, 300)
        time.sleep(2)
        slides = []
        for _ in range(args.repeats):
            before = driver.execute_script(HEATMAP_ROWS)
            thumb = driver.find_element(By.CSS_SELECTOR, "input[type='range'][aria-label*='top-K']")
            t0 = time.perf_counter()
            thumb.send_keys(Keys.ARROW_RIGHT)
            _wait(lambda b=before: driver.execute_script(HEATMAP_ROWS) not in (b, -1))
            slides.append(time.perf_counter() - t0)
            time.sleep(1)
        print("Inspector, K slider -> heatmap redrawn: "
              f"median {sorted(slides)[len(slides) // 2]:.2f} s; runs {[round(x, 2) for x in slides]}")
    finally:
        driver.quit()
        server.terminate()
        server.wait(timeout=20)
        shutil.rmtree(profile, ignore_errors=True)


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


if __name__ == "__main__":
    main()
