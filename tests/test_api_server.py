"""The REST API against a real uvicorn process on 127.0.0.1 (auth, limits, hostile inputs)."""

from __future__ import annotations

import base64
import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from ocr.engines.registry import available
from tests.bad_inputs import bomb_png
from tests.test_api_helpers import ApiServer, png_bytes, run_server

RATE = 3  # requests per minute per key on the test server
# one fresh key per request where the limit is not tested (keys must be at least 16 characters)
POOL = [f"pool-test-key-{i:03d}-0123" for i in range(200)]
KEYS = ["good-test-key-0123456789", "rate-test-key-0123456789", "other-test-key-0123456789", *POOL]
pytestmark = pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ApiServer]:
    tmp = tmp_path_factory.mktemp("api")
    keys = tmp / "keys.txt"
    keys.write_text("# test keys\n" + "\n".join(KEYS[1:]) + "\n")
    env = {"OCR_API_KEYS": KEYS[0], "OCR_API_RATE_LIMIT": str(RATE), "OCR_API_PRELOAD": "ppocr-v4"}
    with run_server(tmp, env, f"api_keys_file={str(keys)!r}, allow_image_url=True") as srv:
        yield srv


_pool = iter(POOL)


def fresh(server: ApiServer) -> httpx.Client:
    """A client that sends a new key with each request (so the rate limit stays out of the way)."""
    return server.client(rotate=_pool)


def _error(r: httpx.Response, status: int) -> str:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == "error" and set(body["error"]) == {"code", "message"}, body
    assert "Traceback" not in r.text
    return str(body["error"]["code"])


def test_recognizes_a_rendered_line_multipart_and_json(server: ApiServer) -> None:
    png = png_bytes("中文识别测试")
    with fresh(server) as c:
        r = c.post("/api/v1/ocr", files={"image": ("line.png", png, "image/png")},
                   data={"engine": "ppocr-v4", "nbest": "3", "decoder": "beam"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["status"] == "success" and body["text"] == "中文识别测试"
        assert body["engine"] == "ppocr-v4" and body["decoder"] == "beam" and body["elapsed_time"] > 0
        assert [c["char"] for c in body["chars"]] == list("中文识别测试")
        assert all(0.0 <= ch["confidence"] <= 1.0 and ch["start"] < ch["end"] for ch in body["chars"])
        assert 1 <= len(body["nbest"]) <= 3 and body["nbest"][0]["text"] == "中文识别测试"
        r = c.post("/api/v1/ocr", json={"image": base64.b64encode(png).decode(), "chars": False})
        assert r.status_code == 200, r.text
        assert r.json()["text"] == "中文识别测试" and r.json()["chars"] == [] and "nbest" not in r.json()


def test_batch_and_engines(server: ApiServer) -> None:
    lines = ["第一行文字", "今天天气很好"]
    with fresh(server) as c:
        r = c.post("/api/v1/ocr/batch", files=[("images", (f"{i}.png", png_bytes(t), "image/png"))
                                               for i, t in enumerate(lines)])
        assert r.status_code == 200, r.text
        assert [x["text"] for x in r.json()["results"]] == lines
        too_many = [base64.b64encode(png_bytes("一")).decode()] * 17
        assert _error(c.post("/api/v1/ocr/batch", json={"images": too_many}), 422) == "too_many_images"
        r = c.get("/api/v1/engines")
        assert r.status_code == 200 and r.json()["default"] == "ppocr-v4"
        assert {e["name"] for e in r.json()["engines"]} >= {"ppocr-v4", "ppocr-v6", "ddddocr", "tesseract"}


def test_missing_and_wrong_key_401(server: ApiServer) -> None:
    png = png_bytes("一")
    with server.client() as c:
        assert _error(c.post("/api/v1/ocr", files={"image": ("a.png", png)}), 401) == "missing_api_key"
        assert _error(c.get("/api/v1/engines"), 401) == "missing_api_key"
        good = KEYS[0]
        for wrong in [good[:-1], good + "1", good.upper(), "x" * 200]:
            r = c.post("/api/v1/ocr", files={"image": ("a.png", png)}, headers={"X-API-Key": wrong})
            assert _error(r, 401) == "invalid_api_key"
        assert c.get("/healthz").status_code == 200  # health needs no key


def test_rate_limit_429_per_key(server: ApiServer) -> None:
    with server.client(KEYS[1]) as c:
        codes = [c.get("/api/v1/engines").status_code for _ in range(RATE)]
        assert codes == [200] * RATE
        r = c.get("/api/v1/engines")
        assert _error(r, 429) == "rate_limited"
        assert 1 <= int(r.headers["Retry-After"]) <= 60
    with server.client(KEYS[2]) as c:  # another key has its own budget
        assert c.get("/api/v1/engines").status_code == 200


def test_body_over_cap_413_declared_and_chunked(server: ApiServer) -> None:
    big = b"\0" * 6_000_000
    with fresh(server) as c:
        r = c.post("/api/v1/ocr", files={"image": ("big.png", big, "image/png")})
        assert _error(r, 413) == "payload_too_large"

        def chunks() -> Iterator[bytes]:  # no Content-Length: the server must count
            for _ in range(12):
                yield b"\0" * 500_000

        r = c.post("/api/v1/ocr", content=chunks(), headers={"Content-Type": "application/json"})
        assert _error(r, 413) == "payload_too_large"

        def multipart_chunks() -> Iterator[bytes]:
            yield (b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n'
                   b"Content-Type: image/png\r\n\r\n")
            yield from chunks()

        r = c.post("/api/v1/ocr", content=multipart_chunks(),
                   headers={"Content-Type": "multipart/form-data; boundary=xyz"})
        assert _error(r, 413) == "payload_too_large"


@pytest.mark.parametrize(("name", "data"), [
    ("bomb", bomb_png(50_000, 50_000)),
    ("text", "这不是图片 not an image".encode()),
    ("empty", b""),
    ("truncated", png_bytes("一")[:60]),
], ids=["bomb", "text", "empty", "truncated"])
def test_bad_images_400(server: ApiServer, name: str, data: bytes) -> None:
    with fresh(server) as c:
        r = c.post("/api/v1/ocr", files={"image": (f"{name}.png", data, "image/png")})
        assert _error(r, 400) == "invalid_image"
        if name == "bomb":
            message = r.json()["error"]["message"]
            assert "megapixels" in message or "bomb" in message


def test_image_url_to_internal_addresses_refused_before_connecting(server: ApiServer) -> None:
    trap = socket.socket()
    trap.bind(("127.0.0.1", 0))
    trap.listen(1)
    trap.setblocking(False)
    port = trap.getsockname()[1]
    try:
        with fresh(server) as c:
            for url in [f"http://127.0.0.1:{port}/x.png", "http://169.254.169.254/latest/meta-data/",
                        f"http://[::ffff:127.0.0.1]:{port}/", f"http://2130706433:{port}/",
                        f"http://localhost:{port}/", "file:///etc/passwd", "gopher://127.0.0.1/"]:
                assert _error(c.post("/api/v1/ocr", json={"image_url": url}), 400) == "url_refused", url
        with pytest.raises(BlockingIOError):
            trap.accept()  # nobody connected to the loopback trap
    finally:
        trap.close()


def test_validation_and_routing_errors(server: ApiServer) -> None:
    png64 = base64.b64encode(png_bytes("一")).decode()
    with fresh(server) as c:
        for bad in [{"engine": "nope"}, {"beam_width": 0}, {"nbest": 99}, {"typo": 1}, {"decoder": "x"}]:
            r = c.post("/api/v1/ocr", json={"image": png64, **bad})
            assert _error(r, 422) == "validation_error", bad
        r = c.post("/api/v1/ocr", files={"image": ("a.png", png_bytes("一"))}, data={"engine": "nope"})
        assert _error(r, 422) == "validation_error"
        assert _error(c.post("/api/v1/ocr", json={}), 422) == "validation_error"
        r = c.post("/api/v1/ocr", content=b"{not json", headers={"Content-Type": "application/json"})
        assert _error(r, 400) == "invalid_json"
        assert _error(c.post("/api/v1/ocr", json={"image": "@@@"}), 400) == "invalid_base64"
        r = c.post("/api/v1/ocr", content=b"abc", headers={"Content-Type": "text/plain"})
        assert _error(r, 415) == "unsupported_media_type"
        assert _error(c.get("/api/v1/nothing"), 404) == "not_found"
        r = c.get("/api/v1/ocr")
        assert _error(r, 405) == "method_not_allowed" and "POST" in r.headers["allow"]
        doc = c.get("/openapi.json").json()
        assert {"/api/v1/ocr", "/api/v1/ocr/batch", "/api/v1/engines", "/healthz"} <= set(doc["paths"])
        assert c.get("/docs").status_code == 200


def test_server_log_has_no_key(server: ApiServer) -> None:
    text = Path(server.log).read_text()
    assert "good-test-key" not in text and "pool-test-key" not in text
