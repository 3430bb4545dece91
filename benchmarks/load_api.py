"""Load test of the REST API on loopback: throughput, latency and server memory.

Starts `serve()` in a subprocess on 127.0.0.1 (one worker, a key with a high rate limit), warms
it up, then runs phases of N = 1, 4, 16 concurrent clients (threads, one keep-alive httpx client
each) posting one rendered Chinese line (multipart) to POST /api/v1/ocr. Every phase is bounded
by a request count and a time cap; traffic goes to 127.0.0.1 only.

Reports per phase: requests, requests/s, p50/p95/max latency (client side, ms), error rate; and
the server's RSS (psutil, the server pid) after warm-up and after all requests.

    .venv/bin/python benchmarks/load_api.py                  # 300 + 700 + 1000 = 2,000 requests
    .venv/bin/python benchmarks/load_api.py --requests 20,40,80 --json-out /tmp/load.json
"""

from __future__ import annotations

import argparse
import io
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import psutil
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parents[1]
FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
KEY = "load-test-key-0123456789"  # keys must be at least 16 characters


def line_png(text: str, size: int = 32) -> bytes:
    """Black text on white (Noto Sans CJK SC), PNG bytes."""
    font = ImageFont.truetype(str(FONT), size, index=2)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
    ImageDraw.Draw(img).text((8 - left, 8 - top), text, font=font, fill="black")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def start_server(port: int, threads: int, engine: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_API_")}
    env.update({"OCR_API_KEYS": KEY, "OCR_API_RATE_LIMIT": "1000000", "OCR_API_THREADS": str(threads),
                "OCR_API_MAX_PENDING": "64", "OCR_API_PRELOAD": engine})
    code = f"from ocr.api.cli import serve; serve(host='127.0.0.1', port={port}, log_level='warning')"
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=env)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2, trust_env=False).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise SystemExit("server did not start")


def phase(url: str, png: bytes, engine: str, clients: int, count: int, max_s: float) -> dict[str, float]:
    """`count` requests from `clients` threads, stopping early at `max_s` seconds."""
    lock = threading.Lock()
    issued = 0
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + max_s

    def worker() -> None:
        nonlocal issued, errors
        with httpx.Client(base_url=url, headers={"X-API-Key": KEY}, timeout=60, trust_env=False) as c:
            while True:
                with lock:
                    if issued >= count or time.monotonic() > deadline:
                        return
                    issued += 1
                t0 = time.perf_counter()
                try:
                    r = c.post("/api/v1/ocr", files={"image": ("line.png", png, "image/png")},
                               data={"engine": engine})
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                dt = (time.perf_counter() - t0) * 1000
                with lock:
                    latencies.append(dt)
                    errors += not ok

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    lat = np.array(latencies) if latencies else np.array([np.nan])
    return {"clients": clients, "requests": len(latencies), "seconds": round(wall, 2),
            "rps": round(len(latencies) / wall, 2), "p50_ms": round(float(np.percentile(lat, 50)), 1),
            "p95_ms": round(float(np.percentile(lat, 95)), 1), "max_ms": round(float(lat.max()), 1),
            "error_rate": round(errors / max(len(latencies), 1), 4)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clients", default="1,4,16", help="comma-separated concurrency levels")
    ap.add_argument("--requests", default="300,700,1000", help="requests per level (comma-separated)")
    ap.add_argument("--max-seconds", type=float, default=150.0, help="time cap per level")
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--threads", type=int, default=2, help="server recognition threads")
    ap.add_argument("--engine", default="ppocr-v4")
    ap.add_argument("--text", default="今天天气很好")
    ap.add_argument("--json-out", type=Path)
    args = ap.parse_args(argv)
    levels = [int(x) for x in args.clients.split(",")]
    counts = [int(x) for x in args.requests.split(",")]
    if len(counts) != len(levels):
        ap.error("--requests needs one count per --clients level")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    png = line_png(args.text)
    proc = start_server(port, args.threads, args.engine)
    try:
        server = psutil.Process(proc.pid)
        rss_start = server.memory_info().rss
        warm = phase(url, png, args.engine, 1, args.warmup, 60)
        rss_warm = server.memory_info().rss
        rows = [phase(url, png, args.engine, n, c, args.max_seconds)
                for n, c in zip(levels, counts, strict=True)]
        rss_end = server.memory_info().rss
    finally:
        proc.terminate()
        proc.wait(timeout=15)
    total = sum(r["requests"] for r in rows)
    report = {
        "engine": args.engine, "image": f"{args.text!r} 32 px, {len(png)} B PNG",
        "server_threads": args.threads,
        "warmup": warm, "phases": rows, "requests_after_warmup": total,
        "rss_mb": {"started": round(rss_start / 2**20, 1), "after_warmup": round(rss_warm / 2**20, 1),
                   f"after_{total}_requests": round(rss_end / 2**20, 1)},
    }
    print("| clients | requests | req/s | p50 ms | p95 ms | max ms | errors |")
    print("|---:|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['clients']} | {r['requests']} | {r['rps']} | {r['p50_ms']} | {r['p95_ms']} | "
              f"{r['max_ms']} | {r['error_rate']:.2%} |")
    print(f"server RSS: {report['rss_mb']}")
    if args.json_out:
        args.json_out.write_text(json.dumps(report, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
