"""Navigation -> first recognized text on the Recognize page, against a three-line hello-world Streamlit page
measured in the same browser session (issue 18's measure: median of N, model already loaded).

Run from the project root: .venv/bin/python -m benchmarks.bench_first_text [--repeats 3]
Starts two servers on free loopback ports (this app, and a temporary hello-world app), one headless
Chromium, warms both up, then alternates: open the hello page and wait for its text, open / and wait for
the first coloured character (span.ocr-char). Prints each run, both medians and their ratio.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tools.screenshots import chromium, free_port

HELLO = 'import streamlit as st\n\nst.title("Hello")\nst.write("hello, world")\n'


def _serve(script: Path, cwd: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", str(script), "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


def _timed(driver: object, url: str, css: str, timeout: float = 120) -> float:
    """Seconds from driver.get(url) until an element matching css is on the page."""
    from selenium.webdriver.common.by import By

    driver.get("about:blank")  # type: ignore[attr-defined]
    t0 = time.perf_counter()
    driver.get(url)  # type: ignore[attr-defined]
    while not driver.find_elements(By.CSS_SELECTOR, css):  # type: ignore[attr-defined]
        if time.perf_counter() - t0 > timeout:
            raise TimeoutError(f"{css} never appeared on {url}")
        time.sleep(0.01)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory() as tmp:
        hello = Path(tmp) / "hello.py"
        hello.write_text(HELLO, encoding="utf-8")
        app, app_url = _serve(root / "app.py", root)
        hw, hw_url = _serve(hello, Path(tmp))
        driver = None
        try:
            time.sleep(4)
            driver = chromium(1400, 1000, Path(tmp) / "profile")
            hello_css, app_css = '[data-testid="stMarkdownContainer"] p', "span.ocr-char"
            _timed(driver, hw_url, hello_css, 120)  # warm-up: servers up, model loaded, caches filled
            _timed(driver, app_url, app_css, 300)
            hello_s, app_s = [], []
            for i in range(args.repeats):
                hello_s.append(_timed(driver, hw_url, hello_css))
                app_s.append(_timed(driver, app_url, app_css))
                print(f"run {i + 1}: hello {hello_s[-1]:.2f} s, Recognize first text {app_s[-1]:.2f} s")
            h, a = statistics.median(hello_s), statistics.median(app_s)
            print(f"median: hello {h:.2f} s, Recognize {a:.2f} s, ratio {a / h:.2f}x")
        finally:
            if driver is not None:
                driver.quit()
            for proc in (app, hw):
                proc.terminate()
                proc.wait(timeout=20)


if __name__ == "__main__":
    main()
