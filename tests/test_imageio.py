"""load_image on good, odd and hostile inputs: every refusal is an ImageError with a clear message."""

from __future__ import annotations

import io

import cv2
import numpy as np
import pytest
from PIL import Image

from ocr.errors import ImageError
from ocr.imageio import load_image
from tests.bad_inputs import bomb_png


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, fmt, **params)
    return buf.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "BMP", "WEBP", "TIFF", "GIF"])
def test_formats_roundtrip(fmt: str, tmp_path) -> None:
    path = tmp_path / f"x.{fmt.lower()}"
    Image.new("RGB", (40, 20), (10, 20, 30)).save(path, fmt)
    for src in (path, str(path), path.read_bytes()):
        arr = load_image(src)
        assert arr.shape == (20, 40, 3) and arr.dtype == np.uint8
        assert np.abs(arr.astype(int) - [10, 20, 30]).max() <= 6


def test_bomb_refused_before_decoding() -> None:
    with pytest.raises(ImageError, match=r"decompression bomb|megapixels"):
        load_image(bomb_png(50_000, 50_000))
    # below PIL's guard but above ours: our own header check answers
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(bomb_png(3000, 3000), max_pixels=1_000_000)


def test_env_limit(monkeypatch) -> None:
    monkeypatch.setenv("OCR_MAX_PIXELS", "100")
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(_save(Image.new("RGB", (20, 20)), "PNG"))
    monkeypatch.setenv("OCR_MAX_PIXELS", "lots")
    with pytest.raises(ImageError, match="OCR_MAX_PIXELS"):
        load_image(_save(Image.new("RGB", (20, 20)), "PNG"))


def test_empty_missing_and_non_images(tmp_path) -> None:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty file"):
        load_image(empty)
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.png")
    with pytest.raises(ImageError, match="not a recognised image"):
        load_image(b"%PDF-1.4 definitely not an image")
    with pytest.raises(ImageError, match="not a regular file"):
        load_image(tmp_path)
    with pytest.raises(ImageError, match="not accepted"):
        load_image(_save(Image.new("RGB", (5, 5)), "PPM"))


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated(fmt: str) -> None:
    rng = np.random.default_rng(0)
    data = _save(Image.fromarray(rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)), fmt)
    with pytest.raises(ImageError, match=r"truncated|corrupt") as info:
        load_image(data[: len(data) // 2])
    assert "\n" not in str(info.value)


def test_16_bit_gray_and_rgb() -> None:
    gray = np.array([[0, 65535, 257 * 100, 257 * 200]] * 4, np.uint16)
    arr = load_image(cv2.imencode(".png", gray)[1].tobytes())
    assert arr[0, :, 0].tolist() == [0, 255, 100, 200] and arr.dtype == np.uint8
    bgr = np.zeros((4, 4, 3), np.uint16)
    bgr[..., 2], bgr[..., 0] = 65535, 257 * 50
    arr = load_image(cv2.imencode(".png", bgr)[1].tobytes())
    assert arr[0, 0].tolist() == [255, 0, 50]


def test_transparency_composited_on_white() -> None:
    rgba = Image.new("RGBA", (4, 4), (255, 0, 0, 0))
    rgba.putpixel((0, 0), (255, 0, 0, 255))
    arr = load_image(_save(rgba, "PNG"))
    assert arr[0, 0].tolist() == [255, 0, 0] and arr[1, 1].tolist() == [255, 255, 255]
    assert (load_image(_save(Image.new("LA", (4, 4), (0, 0)), "PNG")) == 255).all()
    half = load_image(_save(Image.new("LA", (4, 4), (0, 128)), "PNG"))
    assert abs(int(half[0, 0, 0]) - 127) <= 1


def test_palette_gif_cmyk_animation() -> None:
    pal = Image.new("P", (4, 4), 1)
    pal.putpalette([0, 0, 0, 0, 0, 255] + [0] * 762)
    assert load_image(_save(pal, "PNG"))[0, 0].tolist() == [0, 0, 255]
    assert (load_image(_save(pal, "GIF", transparency=1)) == 255).all()  # transparent index -> white
    cmyk = load_image(_save(Image.new("CMYK", (8, 8), (0, 255, 255, 0)), "JPEG"))
    assert np.abs(cmyk[0, 0].astype(int) - [255, 0, 0]).max() <= 8
    frames = [Image.new("RGB", (4, 4), (255, 0, 0)), Image.new("RGB", (4, 4), (0, 0, 255))]
    anim = _save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert load_image(anim)[0, 0].tolist() == [255, 0, 0]


def test_exif_orientation() -> None:
    im = Image.new("RGB", (60, 30), (0, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise for display
    arr = load_image(_save(im, "JPEG", exif=exif.tobytes()))
    assert arr.shape == (60, 30, 3)


@pytest.mark.parametrize("size", [(1, 5000), (5000, 1), (1, 1)])
def test_too_thin_refused(size: tuple[int, int]) -> None:
    with pytest.raises(ImageError, match="too small"):
        load_image(_save(Image.new("RGB", size, "white"), "PNG"))


def test_elongated_but_valid() -> None:
    arr = load_image(_save(Image.new("RGB", (5000, 2), "white"), "PNG"))
    assert arr.shape == (2, 5000, 3)


def test_wrong_type() -> None:
    with pytest.raises(ImageError, match="pass bytes or a path"):
        load_image(12345)  # type: ignore[arg-type]
