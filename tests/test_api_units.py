"""API building blocks in-process: keys, rate limiter, address checks, URL fetch, settings, timeouts."""

from __future__ import annotations

import argparse
import base64
import http.server
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import pytest
from fastapi.testclient import TestClient

import ocr.api.app as api_app
from ocr.api.auth import KeyRing
from ocr.api.cli import add_serve_command, build_settings
from ocr.api.ratelimit import SlidingWindowLimiter
from ocr.api.settings import ApiConfigError, ApiSettings, is_loopback_host
from ocr.api.urlfetch import UrlFetcher, UrlRefused, check_address
from ocr.engines.registry import available
from tests.test_api_helpers import png_bytes

K = "unit-test-key-0123456789"  # API keys must be at least 16 characters

# ------------------------------------------------------------------ keys and rate limit


def test_keyring_matches_exact_keys_only() -> None:
    ring = KeyRing(frozenset({"alpha-key", "beta-key"}))
    assert len(ring) == 2 and ring
    a, b = ring.match("alpha-key"), ring.match("beta-key")
    assert a and b and a != b and "alpha" not in a
    for wrong in [None, "", "alpha", "alpha-key ", "ALPHA-KEY", "alpha-keyx", "beta-key\0"]:
        assert ring.match(wrong) is None
    assert not KeyRing(frozenset())


def test_limiter_sliding_window_with_fake_clock() -> None:
    now = [1000.0]
    lim = SlidingWindowLimiter(3, 60.0, clock=lambda: now[0])
    assert [lim.hit("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = lim.hit("k")
    assert wait == pytest.approx(60.0)
    assert SlidingWindowLimiter.retry_after(wait) == "60"
    assert lim.hit("other") == 0.0  # buckets are independent
    now[0] += 30
    assert lim.hit("k") == pytest.approx(30.0)
    now[0] += 30.001  # the first three fall out of the window
    assert lim.hit("k") == 0.0
    assert SlidingWindowLimiter.retry_after(0.2) == "1"


def test_limiter_is_thread_safe_and_bounded() -> None:
    lim = SlidingWindowLimiter(50, 60.0)
    allowed = []
    lock = threading.Lock()

    def worker() -> None:
        ok = sum(1 for _ in range(100) if lim.hit("shared") == 0.0)
        with lock:
            allowed.append(ok)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 50
    small = SlidingWindowLimiter(1, 60.0, max_buckets=4)
    for i in range(20):
        assert small.hit(f"ip:{i}") == 0.0
    assert len(small._log) <= 4


# ------------------------------------------------------------------ settings and the serve command


def test_exposure_rules(tmp_path: Path) -> None:
    open_settings = ApiSettings()
    for host in ["127.0.0.1", "localhost", "::1", "127.5.5.5"]:
        assert is_loopback_host(host)
        assert "open" in (open_settings.check_exposure(host) or "")
    for host in ["0.0.0.0", "::", "192.168.1.10", "example.org"]:
        assert not is_loopback_host(host)
        with pytest.raises(ApiConfigError, match="allow-open"):
            open_settings.check_exposure(host)
        assert "anyone" in (ApiSettings(allow_open=True).check_exposure(host) or "")
        assert ApiSettings(api_keys=frozenset({K})).check_exposure(host) is None


def test_serve_command_refuses_open_public_bind_before_binding(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import uvicorn

    never = mock.Mock(side_effect=AssertionError("uvicorn.run must not be reached"))
    monkeypatch.setattr(uvicorn, "run", never)
    monkeypatch.delenv("OCR_API_KEYS", raising=False)
    monkeypatch.delenv("OCR_API_KEYS_FILE", raising=False)
    parser = argparse.ArgumentParser()
    add_serve_command(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["serve", "--host", "0.0.0.0", "--port", "9"])
    with pytest.raises(ApiConfigError):
        args.func(args)
    never.assert_not_called()
    keys = tmp_path / "keys"
    keys.write_text("# comment\n\n  first-key-0123456789  \nsecond-key-0123456789\n")
    monkeypatch.setenv("OCR_API_RATE_LIMIT", "7")
    s = build_settings(api_keys_file=keys, max_batch=4)
    assert s.api_keys == {"first-key-0123456789", "second-key-0123456789"}
    assert s.rate_limit == 7 and s.max_batch == 4
    monkeypatch.setenv("OCR_API_RATE_LIMIT", "lots")
    with pytest.raises(ApiConfigError):
        ApiSettings.from_env()


# ------------------------------------------------------------------ SSRF guards


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.1.2.3", "10.0.0.1", "172.16.0.1", "192.168.1.1", "169.254.169.254", "169.254.170.2",
    "100.64.0.1", "100.100.100.200", "0.0.0.0", "224.0.0.1", "240.0.0.1", "255.255.255.255",
    "192.0.0.192", "198.18.0.1", "192.0.2.1", "::1", "::", "fe80::1", "fe80::1%eth0", "fc00::1",
    "fd00:ec2::254", "ff02::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.1",
    "::127.0.0.1", "2002:7f00:1::1", "2002:a9fe:a9fe::1", "64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1",
    "64:ff9b:1::1", "2001:db8::1", "2001::1", "fec0::1", "not-an-ip",
])
def test_non_public_addresses_are_refused(address: str) -> None:
    with pytest.raises(UrlRefused):
        check_address(address)


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "1.1.1.1", "2606:4700:4700::1111"])
def test_public_addresses_pass(address: str) -> None:
    assert str(check_address(address)) == address


def _no_connect(address: str, port: int, timeout: float) -> socket.socket:
    raise AssertionError(f"must not connect to {address}:{port}")


@pytest.mark.parametrize("url", [
    "http://127.0.0.1/x.png", "http://169.254.169.254/latest/meta-data/", "http://[::1]/",
    "http://[::ffff:169.254.169.254]/", "http://2130706433/", "http://0x7f.1/", "http://localhost/",
    "http://0/", "ftp://example.com/x.png", "file:///etc/passwd", "http://user:pw@example.com/",
    "http:///nohost", "http://[::1/", "http://example.com:99999/", "javascript:alert(1)",
])
def test_refused_urls_never_connect(url: str) -> None:
    resolver = {"example.com": ["93.184.215.14"]}

    def resolve(host: str, port: int) -> list[str]:
        if host in resolver:
            return resolver[host]
        return [str(info[4][0]) for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]

    fetcher = UrlFetcher(max_bytes=1000, timeout_s=1.0, resolver=resolve, connector=_no_connect)
    with pytest.raises(UrlRefused):
        fetcher.fetch(url)


def test_a_name_with_any_internal_address_is_refused() -> None:
    fetcher = UrlFetcher(1000, 1.0, resolver=lambda h, p: ["93.184.215.14", "10.1.2.3"],
                         connector=_no_connect)
    with pytest.raises(UrlRefused, match="not public"):
        fetcher.fetch("http://rebind.example/x.png")


class _Handler(http.server.BaseHTTPRequestHandler):
    png = b""
    hosts: list[str] = []  # noqa: RUF012

    def do_GET(self) -> None:
        self.hosts.append(self.headers.get("Host", ""))
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", "http://127.0.0.1/")
            self.end_headers()
            return
        body = self.png if self.path == "/line.png" else b"x" * 5000
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        if self.path != "/chunky":
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def pinned() -> Iterator[tuple[UrlFetcher, list[tuple[str, int]]]]:
    """A fetcher whose resolver maps images.example.com to a public-looking address, and whose
    connector records the address it was asked for, then connects to a loopback test server."""
    _Handler.png = png_bytes("中文识别测试")
    _Handler.hosts = []
    httpd = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    calls: list[tuple[str, int]] = []

    def connector(address: str, port: int, timeout: float) -> socket.socket:
        calls.append((address, port))
        assert address == "93.184.215.14"
        return socket.create_connection(("127.0.0.1", httpd.server_address[1]), timeout=timeout)

    def resolver(host: str, port: int) -> list[str]:
        return ["93.184.215.14"] if host == "images.example.com" else []

    fetcher = UrlFetcher(max_bytes=100_000, timeout_s=5.0, resolver=resolver, connector=connector)
    yield fetcher, calls
    httpd.shutdown()
    httpd.server_close()


def test_allowed_fetch_connects_to_the_checked_address(pinned: tuple[UrlFetcher, list]) -> None:
    fetcher, calls = pinned
    assert fetcher.fetch("http://images.example.com:8080/line.png") == _Handler.png
    assert calls == [("93.184.215.14", 8080)]
    assert _Handler.hosts == ["images.example.com:8080"]
    with pytest.raises(UrlRefused, match="redirect"):
        fetcher.fetch("http://images.example.com/redirect")
    small = UrlFetcher(1000, 5.0, resolver=fetcher.resolver, connector=fetcher.connector)
    for path in ["/big", "/chunky"]:  # declared and undeclared sizes over the cap
        with pytest.raises(UrlRefused, match="larger"):
            small.fetch(f"http://images.example.com{path}")


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")
def test_image_url_end_to_end_in_process(pinned: tuple[UrlFetcher, list]) -> None:
    fetcher, _ = pinned
    settings = ApiSettings(api_keys=frozenset({K}), allow_image_url=True, preload=("ppocr-v4",))
    with TestClient(api_app.create_app(settings, fetcher=fetcher)) as c:
        r = c.post("/api/v1/ocr", json={"image_url": "http://images.example.com/line.png"},
                   headers={"X-API-Key": K})
        assert r.status_code == 200, r.text
        assert r.json()["text"] == "中文识别测试"
        r = c.post("/api/v1/ocr", json={"image_url": "http://images.example.com/redirect"},
                   headers={"X-API-Key": K})
        assert r.status_code == 400 and r.json()["error"]["code"] == "url_refused"


def test_failed_authentications_are_rate_limited_per_address() -> None:
    settings = ApiSettings(api_keys=frozenset({K}), auth_fail_limit=3, preload=("none",))
    with TestClient(api_app.create_app(settings)) as c:
        codes = [c.get("/api/v1/engines", headers={"X-API-Key": f"guess-{i}"}).status_code for i in range(4)]
        assert codes == [401, 401, 401, 429]
        assert c.get("/api/v1/engines").status_code == 429  # missing keys count too
        assert c.get("/api/v1/engines", headers={"X-API-Key": K}).status_code == 429  # locked out: no oracle


# ------------------------------------------------------------------ time limit, busy, internal errors


def test_timeout_504_busy_503_and_500_without_internals(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(*args: object) -> list:
        release.wait(30)
        raise RuntimeError("secret internal detail /work/main")

    monkeypatch.setattr(api_app, "_recognize", stuck)
    settings = ApiSettings(api_keys=frozenset({K}), request_timeout_s=0.2, max_pending=1, threads=1,
                           preload=("none",))
    body = {"image": base64.b64encode(png_bytes("一")).decode(), "engine": "ppocr-v4"}
    try:
        with TestClient(api_app.create_app(settings), raise_server_exceptions=False) as c:
            r = c.post("/api/v1/ocr", json=body, headers={"X-API-Key": K})
            assert r.status_code == 504 and r.json()["error"]["code"] == "timeout"
            r = c.post("/api/v1/ocr", json=body, headers={"X-API-Key": K})  # the stuck job holds the slot
            assert r.status_code == 503 and r.json()["error"]["code"] == "busy" and r.headers["Retry-After"]
            release.set()
            monkeypatch.setattr(api_app, "_recognize", lambda *a: (_ for _ in ()).throw(RuntimeError("boom")))
            for _ in range(50):  # wait (bounded) for the abandoned job to free its slot
                r = c.post("/api/v1/ocr", json=body, headers={"X-API-Key": K})
                if r.status_code != 503:
                    break
                time.sleep(0.1)
            assert r.status_code == 500, r.text
            assert r.json() == {"status": "error", "error": {"code": "internal_error",
                                                             "message": "internal server error"}}
    finally:
        release.set()


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")
def test_pixel_limit_applies_to_the_whole_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    line = base64.b64encode(png_bytes("今天")).decode()  # about 80 x 48 = 3,840 px
    monkeypatch.setenv("OCR_MAX_PIXELS", "5000")
    settings = ApiSettings(rate_limit=0, preload=("none",))
    with TestClient(api_app.create_app(settings)) as c:
        assert c.post("/api/v1/ocr/batch", json={"images": [line], "engine": "ppocr-v4"}).status_code == 200
        r = c.post("/api/v1/ocr/batch", json={"images": [line, line], "engine": "ppocr-v4"})
        assert r.status_code == 400 and r.json()["error"]["message"].startswith("image 2:")
