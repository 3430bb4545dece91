"""Issue 19, memory: images under the pixel cap that decode to far more bytes (RGBA, 16-bit, lossless
WebP) are bounded by a decode budget that counts channels and bit depth; accepted ones convert in bands.

The hostile files are generated here (tests/tools/attacks.py); peak memory is the child's own getrusage.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, ImageOps

from ocr.engines.registry import available
from ocr.errors import ImageError
from ocr.imageio import decode_bytes, load_image
from tests.tools import attacks
from tests.tools.measure import run_cli

PEAK_MB = 400  # the bound for one request in the CLI and in the API server


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("attacks")
    paths = {}
    for name, build in (("rgba.png", attacks.rgba_png), ("gray16.png", attacks.gray16_png),
                        ("lossless.webp", attacks.lossless_webp)):
        paths[name] = tmp / name
        paths[name].write_bytes(build())
    return paths


def test_decode_bytes_counts_channels_and_bit_depth() -> None:
    size = (1000, 1000)
    assert decode_bytes("L", size) == 1_000_000 + 3_000_000
    assert decode_bytes("I;16", size) == 2_000_000 + 3_000_000
    assert decode_bytes("RGBA", size) == decode_bytes("RGB", size) == 4_000_000 + 3_000_000
    assert decode_bytes("RGBA", size, "WEBP") > decode_bytes("RGBA", size, "PNG")


def test_budget_refuses_before_decoding_and_env_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    data = io.BytesIO()
    Image.new("RGBA", (1000, 1000), (0, 0, 0, 0)).save(data, "PNG")
    with pytest.raises(ImageError, match=r"would take 7 MB to decode; the limit is 5 MB .*OCR_MAX_DECODE_MB"):
        load_image(data.getvalue(), max_bytes=5_000_000)
    monkeypatch.setenv("OCR_MAX_DECODE_MB", "5")
    with pytest.raises(ImageError, match="the limit is 5 MB"):
        load_image(data.getvalue())
    monkeypatch.setenv("OCR_MAX_DECODE_MB", "lots")
    with pytest.raises(ImageError, match="OCR_MAX_DECODE_MB must be"):
        load_image(data.getvalue())


def test_banded_conversion_matches_exact_arithmetic(monkeypatch: pytest.MonkeyPatch) -> None:
    import ocr.imageio as imageio

    monkeypatch.setattr(imageio, "_BAND_PIXELS", 97)  # many uneven bands on a small image
    rng = np.random.default_rng(0)
    rgba = rng.integers(0, 256, (41, 53, 4), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    c, a = rgba[..., :3].astype(np.float64), rgba[..., 3:].astype(np.float64) / 255
    assert np.array_equal(load_image(buf.getvalue()), np.rint(c * a + 255 * (1 - a)).astype(np.uint8))
    g16 = rng.integers(0, 65536, (41, 53), dtype=np.uint16)
    buf = io.BytesIO()
    Image.fromarray(g16).save(buf, "PNG")
    out = load_image(buf.getvalue())
    assert np.array_equal(out[..., 1], np.rint(g16 / 257).astype(np.uint8))
    assert (out[..., 0] == out[..., 2]).all()


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_matches_pil(orientation: int) -> None:
    rng = np.random.default_rng(orientation)
    im = Image.fromarray(rng.integers(0, 256, (6, 10, 3), dtype=np.uint8))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buf = io.BytesIO()
    im.save(buf, "PNG", exif=exif)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(buf.getvalue()))).convert("RGB"))
    assert np.array_equal(load_image(buf.getvalue()), expected)


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")
def test_cli_peak_memory_on_hostile_images(hostile: dict[str, object]) -> None:
    """6300x6300 RGBA PNG (154 KB) and lossless WebP: refused from the header, exit 2, no traceback;
    6300x6300 16-bit gray PNG (92 KB): decoded and read within the bound (was 2.6 / 2.9 / 1.2 GB)."""
    for name in ("rgba.png", "lossless.webp"):
        run = run_cli("recognize", str(hostile[name]), "--engine", "ppocr-v4")
        assert run.code == 2 and "would take" in run.stderr and "Traceback" not in run.stderr, run.stderr
        assert run.peak_mb <= PEAK_MB, (name, run.peak_mb)
    run = run_cli("recognize", str(hostile["gray16.png"]), "--engine", "ppocr-v4")
    assert run.code == 0, run.stderr
    assert run.peak_mb <= PEAK_MB, run.peak_mb
