"""Helpers for the API tests: a real uvicorn server process on loopback, and test images."""

from __future__ import annotations

import io
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
from PIL import Image

from tests.render import render

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def png_bytes(text: str = "中文识别测试", size: int = 32) -> bytes:
    """A rendered Chinese text line (Noto Sans CJK SC) as PNG bytes."""
    buf = io.BytesIO()
    Image.fromarray(render(text, size=size)).save(buf, "PNG")
    return buf.getvalue()


@dataclass
class ApiServer:
    """A running server: its base URL and process."""

    url: str
    proc: subprocess.Popen[bytes]
    log: Path

    def client(self, key: str | None = None, timeout: float = 60.0,
               rotate: Iterator[str] | None = None) -> httpx.Client:
        """A client sending `key`, or the next key of `rotate` with every request."""
        headers = {"X-API-Key": key} if key is not None else {}
        hooks = {}
        if rotate is not None:
            keys = rotate

            def next_key(request: httpx.Request) -> None:
                request.headers["X-API-Key"] = next(keys)

            hooks = {"request": [next_key]}
        return httpx.Client(base_url=self.url, headers=headers, timeout=timeout, trust_env=False,
                            event_hooks=hooks)


@contextmanager
def run_server(
    tmp: Path, env: dict[str, str], serve_args: str = "", startup_s: float = 120.0
) -> Iterator[ApiServer]:
    """Start `serve(host="127.0.0.1", port=<free>, …)` in a subprocess; wait for /healthz; stop it after."""
    port = free_port()
    log = tmp / f"server-{port}.log"
    code = (
        "from ocr.api.cli import serve; "
        f"serve(host='127.0.0.1', port={port}, log_level='warning'{', ' + serve_args if serve_args else ''})"
    )
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("OCR_API_")}
    full_env.update(env)
    full_env.setdefault("OMP_NUM_THREADS", "1")  # the machine is shared: keep the server modest
    with open(log, "wb") as fh:
        proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=full_env, stdout=fh,
                                stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_s
        with httpx.Client(base_url=url, timeout=2.0, trust_env=False) as c:
            while True:
                if proc.poll() is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
                try:
                    if c.get("/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise RuntimeError(f"server did not answer /healthz:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield ApiServer(url=url, proc=proc, log=log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
