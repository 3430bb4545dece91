"""Build docs/robustness.md by feeding every broken/hostile input to the real CLI and library.

Each row is what actually happened when this script ran: the exit status (or HTTP status), the
one-line message a user sees, and for the CLI and the API server the peak resident memory (the
kernel's high-water mark, VmHWM) and the wall time. Run from the repository root:
.venv/bin/python -m tools.robustness_table  (a few minutes; it reuses the hostile inputs of
tests/bad_inputs.py and tests/tools/attacks.py, and starts the API server on 127.0.0.1).
"""

from __future__ import annotations

import io
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.errors import DatasetError
from ocr.evaluation.datasets import ZipLimits, open_labelled_set
from tests.bad_inputs import bomb_png
from tests.tools import attacks
from tests.tools.measure import peak_mb, reset_peak, rss_mb, run_cli

ROOT = Path(__file__).resolve().parents[1]


def _save(img: Image.Image, path: Path, **kw: object) -> Path:
    img.save(path, **kw)
    return path


def image_cases(tmp: Path) -> list[tuple[str, Path]]:
    """(description, file) for each bad or unusual image."""
    line = Image.open(ROOT / "sample_images" / "rendered" / "amount_daxie.png").convert("RGB")
    png = io.BytesIO()
    line.save(png, format="PNG")
    jpg = io.BytesIO()
    line.save(jpg, format="JPEG")
    cases: list[tuple[str, Path]] = []

    def add(desc: str, name: str, data: bytes) -> None:
        p = tmp / name
        p.write_bytes(data)
        cases.append((desc, p))

    add("0-byte file", "empty.png", b"")
    add("truncated PNG (first half)", "trunc.png", png.getvalue()[: len(png.getvalue()) // 2])
    add("truncated JPEG (first half)", "trunc.jpg", jpg.getvalue()[: len(jpg.getvalue()) // 2])
    add("a text file named .png", "text.png", b"hello, I am not an image\n")
    add("PNG declaring 50,000 x 50,000 (decompression bomb)", "bomb.png", bomb_png(50_000, 50_000))
    cases.append(("1 x 1 image", _save(Image.new("RGB", (1, 1), "white"), tmp / "1x1.png")))
    cases.append(("1 x 5000 image", _save(Image.new("L", (1, 5000), 255), tmp / "1x5000.png")))
    cases.append(("5000 x 1 image", _save(Image.new("L", (5000, 1), 255), tmp / "5000x1.png")))
    a16 = (np.asarray(line.convert("L"), np.uint16) * 257).astype(np.uint16)
    cases.append(("16-bit gray PNG", _save(Image.fromarray(a16), tmp / "16bit.png")))
    rgba = line.convert("RGBA")
    alpha = np.where(np.asarray(line.convert("L")) < 128, 255, 0).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha))
    cases.append(("RGBA, transparent background", _save(rgba, tmp / "rgba.png")))
    cases.append(("palette GIF", _save(line.convert("P"), tmp / "pal.gif")))
    cases.append(("CMYK JPEG", _save(line.convert("CMYK"), tmp / "cmyk.jpg")))
    rot = line.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° counter-clockwise; orientation 6 says "turn 90° clockwise to view"
    cases.append(("EXIF-rotated JPEG (orientation 6)", _save(rot, tmp / "exif.jpg", exif=exif)))
    frames = [line, Image.new("RGB", line.size, "black")]
    frames[0].save(tmp / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cases.append(("animated GIF (2 frames)", tmp / "anim.gif"))
    cases.append(("all-white image", _save(Image.new("RGB", (300, 48), "white"), tmp / "white.png")))
    cases.append(("all-black image", _save(Image.new("RGB", (300, 48), "black"), tmp / "black.png")))
    add("6300 x 6300 RGBA PNG, 154 KB (was 2.6 GB peak)", "rgba6300.png", attacks.rgba_png())
    add("6300 x 6300 lossless WebP (was 2.9 GB peak)", "lossless6300.webp", attacks.lossless_webp())
    add("6300 x 6300 16-bit gray PNG, 92 KB (was 1.2 GB peak)", "gray16_6300.png", attacks.gray16_png())
    wide = np.full((48, 100_000), 255, np.uint8)
    wide[10:38, 100:99_900:60] = 0
    cases.append(
        (
            "100,000 x 48 line (squeezed to the model's max width)",
            _save(Image.fromarray(wide), tmp / "wide.png"),
        )
    )
    return cases


def _cli(path: Path) -> tuple[int, str, float, float]:
    """(exit, message, peak RSS MB, seconds) of `python -m ocr recognize PATH --engine ppocr-v4`."""
    t0 = time.perf_counter()
    run = run_cli("recognize", str(path), "--engine", "ppocr-v4", timeout=300)
    took = time.perf_counter() - t0
    warnings = [ln for ln in run.stderr.splitlines() if ln.startswith("warning:")]
    if run.code == 0:
        return 0, " / ".join([f"text: {run.stdout.strip()[:40]!r}", *warnings]), run.peak_mb, took
    lines = [ln for ln in run.stderr.splitlines() if ln.strip()]
    return run.code, " / ".join(lines[-2:]), run.peak_mb, took


def _zip(entries: dict[str, bytes], symlink: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
        if symlink:
            info = zipfile.ZipInfo("link.png")
            info.external_attr = (0o120777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def set_cases() -> list[tuple[str, bytes]]:
    ok = (ROOT / "sample_images" / "rendered" / "amount_daxie.png").read_bytes()
    row = "a.png\t壹万贰仟叁佰肆拾伍元整\n"
    return [
        (
            "zip entries with ../ and an absolute path (zip-slip)",
            _zip({"labels.tsv": row + "../x.png\tx\n", "a.png": ok, "../x.png": ok, "/tmp/abs.png": ok}),
        ),
        ("symlink inside the zip", _zip({"labels.tsv": row, "a.png": ok}, symlink=True)),
        ("zip bomb (one 60 MB entry of zeros)", _zip({"labels.tsv": row, "a.png": b"\0" * 60_000_000})),
        ("nested zip", _zip({"labels.tsv": row, "a.png": ok, "inner.zip": _zip({"b.png": ok})})),
        ("GBK labels file", _zip({"labels.tsv": row.encode("gbk"), "a.png": ok})),
        (
            "labels with a BOM and CRLF",
            _zip({"labels.tsv": ("\ufeff" + row.replace("\n", "\r\n")).encode(), "a.png": ok}),
        ),
        ("empty label", _zip({"labels.tsv": b"a.png\t\n", "a.png": ok})),
        (
            "label pointing at a missing image",
            _zip({"labels.tsv": (row + "gone.png\tx\n").encode(), "a.png": ok}),
        ),
        ("duplicate paths", _zip({"labels.tsv": (row + row).encode(), "a.png": ok})),
        ("image not referenced by the labels", _zip({"labels.tsv": row.encode(), "a.png": ok, "b.png": ok})),
        (
            "undecodable labels file (neither UTF-8 nor GBK)",
            _zip({"labels.tsv": b"a.png\t\xff\xfe\x80\x80\n", "a.png": ok}),
        ),
        ("no labels file in the zip", _zip({"a.png": ok})),
        ("not a zip at all", b"PK\x03\x04 this is not really a zip"),
        ("encrypted (password-protected) zip", attacks.encrypted_zip()),
        ("NUL byte in a labels path", _zip({"labels.tsv": (row + "a\0b.png\tx\n").encode(), "a.png": ok})),
        (
            "1 MB path in the labels file",
            _zip({"labels.tsv": (row + "x" * 1_000_000 + ".png\tx\n").encode(), "a.png": ok}),
        ),
        (
            "U+2028, U+0085, form feed inside labels (one row each)",
            _zip(
                {
                    "labels.tsv": "a.png\t壹\u2028贰\nb.png\t叁\x85肆\nc.png\t伍\x0c陆\n".encode(),
                    "a.png": ok,
                    "b.png": ok,
                    "c.png": ok,
                }
            ),
        ),
        (
            "~1 MB zip unpacking to 1.1 GB (22 x 50 MB; was written up to the 1 GiB cap, then refused)",
            _zip({"labels.tsv": row.encode(), "a.png": ok,
                  **{f"z{i}.png": bytes(50_000_000) for i in range(22)}}),
        ),
    ]


def _set_outcome(data: bytes) -> str:
    try:
        with open_labelled_set(data, limits=ZipLimits()) as s:
            rows = [f"line {x.line_no}: {x.error or x.warning}" for x in s.samples if x.error or x.warning]
            labels = (
                [f"labels {[x.text for x in s.samples]!r}"]
                if any("\x85" in x.text for x in s.samples)
                else []
            )
            return "; ".join([f"{len(s.runnable)} runnable row(s)", *rows, *labels, *s.problems])
    except DatasetError as exc:
        return f"refused: {exc}"


# ------------------------------------------------------------------------------------- bench CLI, app


def _bench(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, float]:
    t0 = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "ocr", "bench", *args, "--engine", "ppocr-v4", "--quiet"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        env={**os.environ, **(env or {})},
    )
    return proc.returncode, proc.stderr, time.perf_counter() - t0


def bench_rows(tmp: Path) -> list[str]:
    """| case | exit | time s | what happened |"""
    from tests.test_api_helpers import png_bytes

    rows = []
    (tmp / "locked.zip").write_bytes(attacks.encrypted_zip())
    code, err, took = _bench([str(tmp / "locked.zip")])
    rows.append(f"| encrypted zip (was exit 1 + traceback) | {code} | {took:.1f} | {_last(err)} |")
    hostile = tmp / "hostile"
    hostile.mkdir()
    (hostile / "a.png").write_bytes(png_bytes("中文"))
    (hostile / "labels.tsv").write_text(
        "a\0b.png\tnul\n" + "x" * 1_000_000 + ".png\tlong\na.png\t中文\n", encoding="utf-8"
    )
    code, err, took = _bench([str(hostile / "labels.tsv")])
    longest = max(len(ln) for ln in err.splitlines())
    notes = [ln for ln in err.splitlines() if ln.startswith("warning:")]
    rows.append(
        f"| NUL byte and a 1 MB path in a labels file (was: whole set failed, 1 MB error line) | {code} | "
        f"{took:.1f} | {' / '.join(notes)}; longest stderr line {longest} characters |"
    )
    wide = tmp / "wide"
    wide.mkdir()
    line = np.full((48, 100_000), 255, np.uint8)
    line[10:38, 100:99_900:60] = 0
    Image.fromarray(line).save(wide / "wide.png")
    (wide / "labels.tsv").write_text("wide.png\t一二三\n", encoding="utf-8")
    code, err, took = _bench([str(wide / "labels.tsv")])
    rows.append(
        f"| a 100,000-px-wide line (was: garbage, exit 0, no warning) | {code} | {took:.1f} | "
        f"{' / '.join(ln for ln in err.splitlines() if 'squeezed' in ln)} |"
    )
    rows.append(_sigterm_row(tmp, png_bytes("中文识别测试")))
    return rows


def _last(err: str) -> str:
    lines = [ln for ln in err.splitlines() if ln.strip()]
    return lines[-1].replace("|", "/") if lines else ""


def _sigterm_row(tmp: Path, line: bytes) -> str:
    entries = {f"{i:03d}.png": line for i in range(400)}
    entries["labels.tsv"] = "".join(f"{i:03d}.png\t中文识别测试\n" for i in range(400)).encode()
    (tmp / "set.zip").write_bytes(_zip(entries))
    private = tmp / "tmpdir"
    private.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-m", "ocr", "bench", str(tmp / "set.zip"), "--engine", "ppocr-v4", "--quiet"],
        cwd=ROOT,
        env={**os.environ, "TMPDIR": str(private)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    t0 = time.perf_counter()
    for _ in range(600):
        if list(private.glob("ocr-set-*")) or proc.poll() is not None:
            break
        time.sleep(0.1)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    left = len(list(private.glob("ocr-set-*")))
    return (
        f"| SIGTERM during bench (was: /tmp/ocr-set-* left behind) | {proc.returncode} | "
        f"{time.perf_counter() - t0:.1f} | {_last(err)}; /tmp/ocr-set-* left: {left} |"
    )


def app_rows() -> list[str]:
    """Upload staging on the Benchmark page (ui.benchset.stage_upload)."""
    from ui.benchset import stage_upload

    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (512, 700, 3), dtype=np.uint8)).save(buf, "PNG", compress_level=0)
    image = buf.getvalue()
    labels = "".join(f"d{i:03d}/a.png\t中\n" for i in range(300)).encode()
    with stage_upload([("labels.tsv", labels), ("a.png", image)]) as source:
        stats = [os.stat(f) for f in source.parent.rglob("*.png")]
        used = sum({(st.st_dev, st.st_ino): st.st_blocks for st in stats}.values()) * 512
    return [
        f"| labels file naming one {len(image) / 1e6:.1f} MB image from 300 folders (was 304 MB in /tmp) | "
        f"{len(stats)} names, {used / 1e6:.1f} MB on disk (hard links) |"
    ]


# ------------------------------------------------------------------------------------- the API server


def api_rows(tmp: Path) -> list[str]:
    """| attack | status | server peak RSS MB | time s | what happened |"""
    import httpx

    from tests.test_api_helpers import png_bytes, run_server
    from tests.test_hardening_api import SlowHeaders

    key = "robustness-key-0123456789"
    env = {
        "OCR_API_KEYS": key,
        "OCR_API_RATE_LIMIT": "0",
        "OCR_API_PRELOAD": "ppocr-v4",
        "OCR_API_MAX_PENDING": "64",
        "OCR_API_ALLOW_IMAGE_URL": "0",
    }
    rows: list[str] = []
    with (
        run_server(tmp, env) as srv,
        httpx.Client(base_url=srv.url, headers={"X-API-Key": key}, timeout=120, trust_env=False) as c,
    ):
        pid = srv.proc.pid
        host, port = srv.url.removeprefix("http://").split(":")

        def post(data: bytes, **form: str) -> httpx.Response:
            return c.post("/api/v1/ocr", files={"image": ("x.png", data)}, data=form)

        for _ in range(5):
            post(png_bytes("今天天气很好"))
        start = rss_mb(pid)
        rows.append(
            f"| (server after start-up and 5 requests) | — | {peak_mb(pid):.0f} | — | RSS {start:.0f} MB |"
        )
        rgba, gray16 = attacks.rgba_png(), attacks.gray16_png()
        for desc, data in (
            ("6300 x 6300 RGBA PNG, one request (was 3.2 GB)", rgba),
            ("6300 x 6300 16-bit gray PNG, one request (accepted)", gray16),
        ):
            reset_peak(pid)
            t0 = time.perf_counter()
            r = post(data)
            msg = r.json().get("error", {}).get("message", "") if r.status_code != 200 else "recognised"
            rows.append(
                f"| {desc} | {r.status_code} | {peak_mb(pid):.0f} | {time.perf_counter() - t0:.1f} | "
                f"{msg.replace('|', '/')}; RSS after {rss_mb(pid):.0f} MB |"
            )
        for desc, data in (
            ("4 concurrent 6300 x 6300 RGBA PNGs (was 5.3 GB, 1.1 GB kept)", rgba),
            ("4 concurrent 6300 x 6300 16-bit PNGs (accepted)", gray16),
        ):
            reset_peak(pid)
            t0 = time.perf_counter()
            with ThreadPoolExecutor(4) as pool:
                codes = [r.status_code for r in pool.map(post, [data] * 4)]
            time.sleep(1.0)
            rows.append(
                f"| {desc} | {codes} | {peak_mb(pid):.0f} | {time.perf_counter() - t0:.1f} | "
                f"RSS after {rss_mb(pid):.0f} MB (start {start:.0f} MB) |"
            )
        rows += _drip_rows(srv, key, host, int(port))
        rows.append(_aborted_row(srv, key, host, int(port), c))
        rows.append(_lm_row(c, pid, png_bytes))
        r = httpx.get(f"{srv.url}/docs", trust_env=False)
        js = httpx.get(f"{srv.url}/docs/assets/swagger-ui-bundle.js", trust_env=False)
        cdn = "cdn." in r.text or "unpkg" in r.text
        rows.append(
            f"| /docs offline (was: Swagger UI from a CDN, blank offline) | {r.status_code} | — | — | "
            f"assets from swagger-ui-bundle: bundle.js {js.status_code}, {len(js.content) / 1e6:.1f} MB; "
            f"CDN referenced: {cdn} |"
        )
    rows += _slow_url_rows(SlowHeaders, png_bytes)
    rows.append(_oracle_row())
    return rows


def _drip(host: str, port: int, head: bytes, drip: bytes) -> tuple[float, str]:
    t0 = time.monotonic()
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(head)
        s.settimeout(0.2)
        for i in range(400):  # at most 80 s
            try:
                s.sendall(drip[i % len(drip) : i % len(drip) + 1])
                data = s.recv(65536)
                if data == b"" or data.startswith(b"HTTP/1.1"):
                    return time.monotonic() - t0, (data.split(b"\r\n")[0].decode() or "closed")
            except TimeoutError:
                continue
            except OSError:
                return time.monotonic() - t0, "closed"
    return time.monotonic() - t0, "still open"


def _drip_rows(srv: object, key: str, host: str, port: int) -> list[str]:
    took, what = _drip(host, port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", b"X-Slow: aaaaaaaa\r\n")
    rows = [
        f"| request headers dripping 5 bytes/s (was: open 55 s) | {what} | — | {took:.1f} | "
        "closed at the 10 s header deadline (OCR_API_HEADER_TIMEOUT_S) |"
    ]
    head = (
        b"POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nX-API-Key: "
        + key.encode()
        + b"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n"
    )
    took, what = _drip(host, port, head, b'{"image": "aaaa')
    rows.append(
        f"| request body dripping 5 bytes/s | {what} | — | {took:.1f} | the 30 s body deadline "
        "(OCR_API_BODY_TIMEOUT_S) |"
    )
    return rows


def _aborted_row(srv: object, key: str, host: str, port: int, c: object) -> str:
    before = srv.log.read_text(errors="replace")  # type: ignore[attr-defined]
    for _ in range(3):
        with socket.create_connection((host, port), timeout=10) as s:
            s.sendall(
                b"POST /api/v1/ocr HTTP/1.1\r\nHost: x\r\nX-API-Key: "
                + key.encode()
                + b"\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: 100000\r\n\r\n"
                + b'--b\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
                + b"\x89PNG"
                + b"\0" * 2000
            )
    c.get("/api/v1/engines")  # type: ignore[attr-defined]
    time.sleep(0.5)
    added = srv.log.read_text(errors="replace")[len(before) :]  # type: ignore[attr-defined]
    return (
        f"| 3 uploads aborted mid-body (was: ERROR 500 + two tracebacks, 7.8 KB each) | — | — | — | "
        f"log: {added.count('ERROR')} ERROR lines, {added.count('Traceback')} tracebacks, "
        f"{len(added)} bytes |"
    )


def _lm_row(c: object, pid: int, png_bytes: object) -> str:
    rng = random.Random(500)
    pool = ("壹贰叁肆伍陆柒捌玖拾佰仟万亿元角分整"
            "的一是不了人我在有他这中大来上国个到说们为子和你地出道也时年得就那要下以生会")
    texts = ["".join(rng.choice(pool) for _ in range(12)) for _ in range(520)]
    images = [png_bytes(t) for t in texts]  # type: ignore[operator]

    def post(data: bytes) -> int:
        return c.post("/api/v1/ocr", files={"image": ("x.png", data)}, data={"lm": "true"}).status_code  # type: ignore[attr-defined]

    for data in images[:20]:
        post(data)
    start = rss_mb(pid)
    t0 = time.perf_counter()
    codes = {post(data) for data in images[20:]}
    return (
        f"| 500 beam_lm requests, each a new line (was +0.57 MB a request) | {sorted(codes)} | — | "
        f"{time.perf_counter() - t0:.0f} | RSS {start:.0f} -> {rss_mb(pid):.0f} MB "
        f"({rss_mb(pid) - start:+.1f} MB) |"
    )


def _slow_url_rows(slow_cls: type, png_bytes: object) -> list[str]:
    """In-process (the fetcher's resolver and connector are injected to reach a loopback drip server)."""
    import base64

    from fastapi.testclient import TestClient

    import ocr.api.app as api_app
    from ocr.api.settings import ApiSettings

    slow = slow_cls(step_s=1.0, max_bytes=60)  # headers at one byte a second, as in the report
    key = "robustness-key-0123456789"
    try:
        settings = ApiSettings(
            api_keys=frozenset({key}), allow_image_url=True, rate_limit=0, preload=("ppocr-v4",)
        )
        app = api_app.create_app(settings, fetcher=slow.fetcher(timeout_s=5.0))
        line = base64.b64encode(png_bytes("今天天气很好")).decode()  # type: ignore[operator]
        with TestClient(app) as c, ThreadPoolExecutor(2) as pool:

            def slow_request() -> tuple[int, float]:
                t0 = time.perf_counter()
                r = c.post(
                    "/api/v1/ocr",
                    json={"image_url": "http://images.example.com/x.png"},
                    headers={"X-API-Key": key},
                )
                return r.status_code, time.perf_counter() - t0

            pending = [pool.submit(slow_request) for _ in range(2)]
            time.sleep(0.5)
            normal = []
            while not all(f.done() for f in pending):
                t0 = time.perf_counter()
                r = c.post("/api/v1/ocr", json={"image": line}, headers={"X-API-Key": key})
                normal.append((r.status_code, time.perf_counter() - t0))
            slow_results = [f.result() for f in pending]
    finally:
        slow.close()
    worst = max(t for _, t in normal) if normal else 0.0
    return [
        f"| 2 image_url fetches from a server sending headers 1 byte/s, default 2 threads (was: workers held "
        f"25 s, every normal request 504 for 24 s) | {[s for s, _ in slow_results]} | — | "
        f"{max(t for _, t in slow_results):.1f} | ended at the 5 s fetch deadline; meanwhile "
        f"{len(normal)} normal "
        f"requests: status {sorted({s for s, _ in normal})}, slowest {worst:.2f} s |"
    ]


def _oracle_row() -> str:
    from fastapi.testclient import TestClient

    import ocr.api.app as api_app
    from ocr.api.settings import ApiConfigError, ApiSettings

    key = "robustness-key-0123456789"
    settings = ApiSettings(api_keys=frozenset({key}), auth_fail_limit=30, rate_limit=0, preload=("none",))
    answers = []
    t0 = time.perf_counter()
    with TestClient(api_app.create_app(settings)) as c:
        for i in range(1000):
            r = c.get(
                "/api/v1/engines", headers={"X-API-Key": key if i == 500 else f"guess-{i:04d}-{'y' * 16}"}
            )
            answers.append((r.status_code, r.text))
    took = time.perf_counter() - t0
    distinct = len(set(answers[30:]))
    try:
        ApiSettings(api_keys=frozenset({"k1"}))
        short = "accepted"
    except ApiConfigError as exc:
        short = f"refused: {exc}"
    return (
        f"| 1,000 key guesses from one address, right key at #500 (was: right key 200 during lockout) | "
        f"#1-30: {sorted({a[0] for a in answers[:30]})}, "
        f"#31-1000: {sorted({a[0] for a in answers[30:]})} | — | "
        f"{took:.1f} | {distinct} distinct answer(s) during lockout; the right key got {answers[500][0]}. "
        f"Key `k1`: {short.replace('|', '/')} |"
    )


def telemetry_row(tmp: Path) -> str:
    home = tmp / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(home), XDG_CACHE_HOME=str(home / ".cache"))
    subprocess.run(
        [sys.executable, "-c", "from ocr.engines.registry import load_engine; load_engine('ppocr-v4')"],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=300,
    )
    files = [str(p.relative_to(home)) for p in home.rglob("*") if p.is_file()]
    return (
        f"| onnxruntime telemetry (was: a device id + onnxruntime.db under ~/.cache/Microsoft per process) | "
        f"files written under a fresh HOME by loading ppocr-v4: {len(files)} |"
    )


def main() -> None:
    out = [
        "# What bad input does\n",
        "Generated by `python -m tools.robustness_table`, which feeds each input to the real CLI "
        "(`python -m ocr recognize FILE --engine ppocr-v4`, `python -m ocr bench`), to `open_labelled_set` "
        "(what the bench CLI and the Benchmark page use), to the app's upload staging, and to the REST API "
        "server on 127.0.0.1, and records what happened: exit or HTTP status, the message, and where "
        "measured the peak resident memory (the process's VmHWM: the CLI process, or the server) and the "
        'wall time. "was" quotes what issue 19 measured before the fixes. The same cases are tests in '
        "`tests/` (test_imageio.py, test_datasets.py, test_cli.py, test_app.py, test_hardening_*.py).\n",
        f"Measured {time.strftime('%Y-%m-%d')} on the shared 2-core machine (no GPU) while other work ran; "
        "times are pessimistic. Decode budget OCR_MAX_DECODE_MB = 240 (default).\n",
        "## Images (CLI)\n",
        "| input | exit | peak RSS MB | time s | what the user sees |",
        "|---|---|---:|---:|---|",
    ]
    with tempfile.TemporaryDirectory() as d:
        for desc, path in image_cases(Path(d)):
            code, msg, peak, took = _cli(path)
            out.append(f"| {desc} | {code} | {peak:.0f} | {took:.1f} | {msg.replace('|', '/')[:400]} |")
    out += ["", "## Labelled sets (zip uploads)\n", "| input | outcome |", "|---|---|"]
    for desc, data in set_cases():
        outcome = _set_outcome(data).replace("|", "/")
        out.append(f"| {desc} | {outcome[:600]}{'…' if len(outcome) > 600 else ''} |")
    with tempfile.TemporaryDirectory() as d:
        out += ["", "## bench (CLI)\n", "| case | exit | time s | what happened |", "|---|---:|---:|---|"]
        out += bench_rows(Path(d))
    out += ["", "## App uploads\n", "| case | outcome |", "|---|---|", *app_rows()]
    with tempfile.TemporaryDirectory() as d:
        out += [
            "",
            "## REST API server (127.0.0.1, one worker, 2 recognition threads)\n",
            "| attack | status | server peak RSS MB | time s | what happened |",
            "|---|---|---:|---:|---|",
        ]
        out += api_rows(Path(d))
        out += ["", "## Process hygiene\n", "| case | outcome |", "|---|---|", telemetry_row(Path(d))]
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "robustness.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
