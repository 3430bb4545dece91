"""Load an image file or bytes into (H, W, 3) uint8 RGB, refusing hostile or broken input.

Checks, in order: file exists and is not empty or huge; format recognised and allowed (PNG, JPEG,
BMP, WebP, TIFF, GIF); declared size (header only, before any pixel is decoded) within
`max_pixels` and at least 2 px each way; then decode (truncated data is an error), EXIF
orientation, first frame of animations, and conversion: 16-bit -> 8-bit by /257, transparency
composited on white, palette / CMYK / YCbCr -> RGB.

Every refusal raises ocr.errors.ImageError with a one-line message.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from struct import error as struct_error  # PIL's TIFF/EXIF parsers can raise it

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ocr.errors import ImageError

__all__ = [
    "ALLOWED_FORMATS", "MAX_FILE_BYTES", "MAX_PIXELS", "MIN_SIDE", "load_image", "max_pixels_limit",
]

DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels, e.g. 8000 x 5000


def max_pixels_limit() -> int:
    """The pixel limit: env OCR_MAX_PIXELS (a positive integer) or 40 megapixels."""
    raw = os.environ.get("OCR_MAX_PIXELS", "").strip()
    if not raw:
        return DEFAULT_MAX_PIXELS
    try:
        value = int(raw.replace("_", ""))
    except ValueError:
        raise ImageError(f"OCR_MAX_PIXELS must be a positive integer, not {raw!r}") from None
    if value < 1:
        raise ImageError(f"OCR_MAX_PIXELS must be a positive integer, not {raw!r}")
    return value


try:
    MAX_PIXELS = max_pixels_limit()  # read once at import; load_image(max_pixels=...) overrides
except ImageError:
    MAX_PIXELS = DEFAULT_MAX_PIXELS
MAX_FILE_BYTES = 200 * 1024 * 1024
_MB_LIMIT = f"{MAX_FILE_BYTES / 1e6:.0f} MB"
MIN_SIDE = 2
_FORMATS_TEXT = "PNG, JPEG, BMP, WebP, TIFF or GIF"
ALLOWED_FORMATS = frozenset({"PNG", "JPEG", "MPO", "BMP", "DIB", "WEBP", "TIFF", "GIF"})

# PIL's own guard as a second line of defence: it raises DecompressionBombError above twice this.
Image.MAX_IMAGE_PIXELS = max(MAX_PIXELS, Image.MAX_IMAGE_PIXELS or 0)


def _read_bytes(source: bytes | bytearray | memoryview | str | Path) -> tuple[bytes, str]:
    """(data, label for messages)."""
    if isinstance(source, bytes | bytearray | memoryview):
        data, label = bytes(source), "image data"
        if len(data) > MAX_FILE_BYTES:
            raise ImageError(f"image data is {len(data) / 1e6:.0f} MB; the limit is {_MB_LIMIT}")
    elif isinstance(source, str | Path):
        path = Path(source)
        label = path.name or str(path)
        try:
            size = path.stat().st_size
            if not path.is_file():
                raise ImageError(f"{label}: not a regular file")
            if size > MAX_FILE_BYTES:
                raise ImageError(f"{label}: file is {size / 1e6:.0f} MB; the limit is {_MB_LIMIT}")
            data = path.read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{label}: file not found") from None
        except PermissionError:
            raise ImageError(f"{label}: permission denied") from None
        except IsADirectoryError:
            raise ImageError(f"{label}: is a folder, not an image") from None
        except OSError as exc:
            raise ImageError(f"{label}: cannot read ({exc.strerror or exc})") from None
    else:
        raise ImageError(f"cannot load an image from {type(source).__name__}; pass bytes or a path")
    if not data:
        raise ImageError(f"{label}: empty file (0 bytes)")
    return data, label


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """16-bit (0..65535) -> 8-bit by rounding x/257; float -> clip to 0..1 (or 0..255) and scale."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == np.bool_:
        return arr.astype(np.uint8) * 255
    if np.issubdtype(arr.dtype, np.floating):
        arr = np.nan_to_num(arr.astype(np.float64))
        top = 1.0 if arr.size and float(arr.max()) <= 1.0 else 255.0
        return np.clip(np.rint(arr * (255.0 / top)), 0, 255).astype(np.uint8)
    arr = arr.astype(np.int64)
    return np.clip((arr * 255 + 32767) // 65535, 0, 255).astype(np.uint8)  # round(x / 257)


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) uint8 -> (H, W, 3) uint8, alpha-blended over white."""
    rgb = rgba[:, :, :3].astype(np.float32)
    alpha = rgba[:, :, 3:4].astype(np.float32) / 255.0
    out = rgb * alpha + 255.0 * (1.0 - alpha)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any PIL mode -> (H, W, 3) uint8 RGB."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        gray = _to_uint8(np.asarray(im))
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info:
        rgba = np.asarray(im.convert("RGBA"))
        return _composite_on_white(rgba)
    if mode != "RGB":
        im = im.convert("RGB")  # 1, L, P, CMYK (Adobe inverted handled by PIL), YCbCr, LAB, HSV
    return np.asarray(im)


def load_image(source: bytes | str | Path, max_pixels: int | None = None) -> np.ndarray:
    """Decode one image to (H, W, 3) uint8 RGB.

    source:     encoded bytes, or a path. max_pixels: refuse images whose header declares more
                pixels than this (None: MAX_PIXELS, i.e. env OCR_MAX_PIXELS or 40 megapixels).
    Raises ImageError (one line) for missing/empty/non-image/truncated/unsupported/too large/too
    small input. Images thinner than MIN_SIDE (2 px) in either dimension are refused.
    """
    limit = max_pixels_limit() if max_pixels is None else int(max_pixels)
    data, label = _read_bytes(source)
    try:
        im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise ImageError(f"{label}: not a recognised image (expected {_FORMATS_TEXT})") from None
    except Image.DecompressionBombError as exc:
        raise ImageError(_bomb_message(label, exc, limit)) from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise ImageError(f"{label}: corrupt image header ({exc})") from None
    with im:
        fmt = (im.format or "").upper()
        if fmt not in ALLOWED_FORMATS:
            raise ImageError(f"{label}: {fmt or 'unknown'} images are not accepted; use {_FORMATS_TEXT}")
        width, height = im.size
        if width * height > limit:
            raise ImageError(
                f"{label}: {width}×{height} = {width * height / 1e6:.1f} megapixels exceeds the limit of "
                f"{limit / 1e6:.1f} megapixels (set OCR_MAX_PIXELS to raise it)"
            )
        if width < MIN_SIDE or height < MIN_SIDE:
            raise ImageError(f"{label}: {width}×{height} px is too small; a text line needs at least "
                             f"{MIN_SIDE} px in each dimension")
        try:
            im.seek(0)  # animated GIF/WebP/APNG, multi-page TIFF: the first frame
            im.load()
            oriented = ImageOps.exif_transpose(im) or im
            rgb = _to_rgb(oriented)
        except Image.DecompressionBombError as exc:
            raise ImageError(_bomb_message(label, exc, limit)) from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error) as exc:
            raise ImageError(f"{label}: truncated or corrupt {fmt} data ({_first_line(exc)})") from None
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ImageError(f"{label}: unsupported pixel layout {rgb.shape} {rgb.dtype}")
    return np.ascontiguousarray(rgb)


def _bomb_message(label: str, exc: BaseException, limit: int) -> str:
    """PIL's guard fired before our own header check could: say it in our terms."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    declared = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
    return (f"{label}: refused as a decompression bomb: the header declares {declared}; the limit is "
            f"{limit / 1e6:.1f} megapixels (set OCR_MAX_PIXELS to raise it)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

