"""Load an image file or bytes into (H, W, 3) uint8 RGB, refusing hostile or broken input.

Checks, in order: file exists and is not empty or huge; format recognised and allowed (PNG, JPEG,
BMP, WebP, TIFF, GIF); declared size (header only, before any pixel is decoded) within
`max_pixels` and at least 2 px each way; the memory the decode will take (decode_bytes: the decoded
frame at its channel count and bit depth, the decoder's own buffers, and the RGB result) within
`max_bytes`; then decode (truncated data is an error), first frame of animations, and conversion in
bands of rows (never a full-frame float or int64 copy): 16-bit -> 8-bit by /257, transparency
composited on white in integer arithmetic, palette / CMYK / YCbCr -> RGB; EXIF orientation last.

Every refusal raises ocr.errors.ImageError with a one-line message.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path
from struct import error as struct_error  # PIL's TIFF/EXIF parsers can raise it

import numpy as np
from PIL import Image, UnidentifiedImageError

from ocr.errors import ImageError

__all__ = [
    "ALLOWED_FORMATS", "MAX_FILE_BYTES", "MAX_PIXELS", "MIN_SIDE", "declared_size", "decode_bytes",
    "load_image", "max_decode_bytes", "max_pixels_limit",
]

DEFAULT_MAX_PIXELS = 40_000_000  # 40 megapixels, e.g. 8000 x 5000
DEFAULT_MAX_DECODE_MB = 240  # decoded frame + decoder buffers + RGB result, in MB (10^6 bytes)
_BAND_PIXELS = 1 << 16  # pixels converted at a time (a band of rows): small temporaries, cache-friendly
# Bytes per pixel of PIL's in-memory frame, by mode (multi-band modes are stored 4 bytes a pixel).
_FRAME_BYTES = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16L": 2, "I;16B": 2, "I;16N": 2, "I": 4, "F": 4}
# Full-frame buffers a decoder holds on top of PIL's frame while decoding (libwebp decodes into its
# own RGBA buffer, which is then copied to bytes, then into the frame).
_DECODER_FRAMES = {"WEBP": 2}


def max_decode_bytes() -> int:
    """The decode memory budget in bytes: env OCR_MAX_DECODE_MB (a positive number) or 240 MB."""
    raw = os.environ.get("OCR_MAX_DECODE_MB", "").strip()
    if not raw:
        return DEFAULT_MAX_DECODE_MB * 1_000_000
    try:
        value = float(raw.replace("_", ""))
    except ValueError:
        raise ImageError(f"OCR_MAX_DECODE_MB must be a positive number, not {raw!r}") from None
    if not value > 0:
        raise ImageError(f"OCR_MAX_DECODE_MB must be a positive number, not {raw!r}")
    return int(value * 1_000_000)


def decode_bytes(mode: str, size: tuple[int, int], fmt: str = "") -> int:
    """Peak bytes load_image needs for a `mode` image of `size` (W, H) in format `fmt`: PIL's frame
    (channels x bit depth as PIL stores them), the decoder's extra full-frame buffers, and the
    (H, W, 3) uint8 result. Bands of rows converted at a time add at most a few MB."""
    pixels = size[0] * size[1]
    frame = pixels * _FRAME_BYTES.get(mode, 4)
    extra = _DECODER_FRAMES.get(fmt.upper(), 0) * pixels * 4
    return frame + extra + pixels * 3


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


# round(x / 257) for every 16-bit value, and round((c·a + 255·(255 - a)) / 255) for every (alpha, colour)
# pair at index alpha·256 + colour: table look-ups, no full-frame float or int64 arithmetic.
_LUT16 = ((np.arange(65536, dtype=np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
_a, _c = np.divmod(np.arange(65536, dtype=np.uint32), 256)
_LUT_OVER_WHITE = ((_c * _a + 255 * (255 - _a) + 127) // 255).astype(np.uint8)
del _a, _c


def _gray_to_uint8(band: np.ndarray, top: float) -> np.ndarray:
    """One band of a 16-bit / 32-bit / float gray frame -> uint8.

    uint16 (0..65535): round(x / 257) by table; int32 ("I" mode, read on the 16-bit scale): clipped
    to 0..65535 first; float: clip to 0..top and scale to 0..255 (top is 1.0 or 255.0).
    """
    if band.dtype == np.uint8:
        return band
    if band.dtype == np.bool_:
        return band.astype(np.uint8) * 255
    if np.issubdtype(band.dtype, np.floating):
        scaled = np.nan_to_num(band.astype(np.float32)) * np.float32(255.0 / top)
        return np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    if band.dtype != np.uint16:
        band = np.clip(band, 0, 65535).astype(np.uint16)
    return _LUT16[band]


def _composite_on_white(rgba: np.ndarray) -> np.ndarray:
    """(h, W, 4) uint8 band -> (h, W, 3) uint8, alpha-blended over white: round((c·a + 255·(255-a)) / 255)
    (exact: 255 being odd, a tie never occurs), by table look-up."""
    index = (rgba[:, :, 3:4].astype(np.uint16) << 8) | rgba[:, :, :3]
    return _LUT_OVER_WHITE[index]


def _to_rgb(im: Image.Image) -> np.ndarray:
    """Any loaded PIL frame -> (H, W, 3) uint8 RGB, converted a band of rows at a time, so the only
    full-size buffers are PIL's frame and the result."""
    width, height = im.size
    out = np.empty((height, width, 3), dtype=np.uint8)
    mode = im.mode
    step = max(1, _BAND_PIXELS // max(width, 1))
    gray = mode.startswith("I;16") or mode in ("I", "F")
    top = 255.0
    if mode == "F":
        low_high = im.getextrema()
        top = 1.0 if float(low_high[1]) <= 1.0 else 255.0  # type: ignore[arg-type, index]
    alpha = mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in im.info
    for y in range(0, height, step):
        band = im.crop((0, y, width, min(y + step, height)))
        if gray:
            out[y:y + step] = _gray_to_uint8(np.asarray(band), top)[:, :, None]
        elif alpha:
            out[y:y + step] = _composite_on_white(np.asarray(band.convert("RGBA")))
        else:
            out[y:y + step] = np.asarray(band if band.mode == "RGB" else band.convert("RGB"))
    return out


# EXIF orientation -> the numpy view that displays the stored frame upright (as ImageOps.exif_transpose).
_ORIENT = {
    2: lambda a: a[:, ::-1],
    3: lambda a: a[::-1, ::-1],
    4: lambda a: a[::-1],
    5: lambda a: a.transpose(1, 0, 2),
    6: lambda a: np.rot90(a, -1),
    7: lambda a: a[::-1, ::-1].transpose(1, 0, 2),
    8: lambda a: np.rot90(a, 1),
}


def _orientation(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a malformed EXIF block must not fail the image (ImageOps ignores it too)
        return 1
    return value if isinstance(value, int) else 1


def declared_size(data: bytes) -> tuple[int, int] | None:
    """(W, H) as the image header declares it, without decoding pixels; None if not a readable image."""
    webp = _webp_size(data)
    if webp is not None:
        return webp
    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size
    except Exception:  # anything unreadable: load_image gives the reason
        return None


def load_image(source: bytes | str | Path, max_pixels: int | None = None,
               max_bytes: int | None = None) -> np.ndarray:
    """Decode one image to (H, W, 3) uint8 RGB.

    source:     encoded bytes, or a path. max_pixels: refuse images whose header declares more
                pixels than this (None: MAX_PIXELS, i.e. env OCR_MAX_PIXELS or 40 megapixels).
    max_bytes:  refuse images whose decode would take more memory than this (see decode_bytes;
                None: env OCR_MAX_DECODE_MB or 240 MB). Checked from the header, before decoding.
    Raises ImageError (one line) for missing/empty/non-image/truncated/unsupported/too large/too
    small input. Images thinner than MIN_SIDE (2 px) in either dimension are refused.
    """
    limit = max_pixels_limit() if max_pixels is None else int(max_pixels)
    byte_limit = max_decode_bytes() if max_bytes is None else int(max_bytes)
    data, label = _read_bytes(source)
    webp = _webp_size(data)
    if webp is not None:  # Pillow allocates a WebP's canvas as it opens the file: check before
        _check_size(label, "RGBA", webp, "WEBP", limit, byte_limit)
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
        _check_size(label, im.mode, im.size, fmt, limit, byte_limit)
        try:
            im.seek(0)  # animated GIF/WebP/APNG, multi-page TIFF: the first frame
            im.load()
            orientation = _orientation(im)
            rgb = _to_rgb(im)
            im.close()  # the frame goes now, before the oriented copy below
        except Image.DecompressionBombError as exc:
            raise ImageError(_bomb_message(label, exc, limit)) from None
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, struct_error) as exc:
            raise ImageError(f"{label}: truncated or corrupt {fmt} data ({_first_line(exc)})") from None
    if orientation in _ORIENT:
        rgb = np.ascontiguousarray(_ORIENT[orientation](rgb))
    return rgb


def _check_size(label: str, mode: str, size: tuple[int, int], fmt: str, limit: int, byte_limit: int) -> None:
    """Refuse a declared size over the pixel limit, under MIN_SIDE, or over the decode budget."""
    width, height = size
    if width * height > limit:
        raise ImageError(
            f"{label}: {width}×{height} = {width * height / 1e6:.1f} megapixels exceeds the limit of "
            f"{limit / 1e6:.1f} megapixels (set OCR_MAX_PIXELS to raise it)"
        )
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(f"{label}: {width}×{height} px is too small; a text line needs at least "
                         f"{MIN_SIDE} px in each dimension")
    need = decode_bytes(mode, size, fmt)
    if need > byte_limit:
        raise ImageError(
            f"{label}: {width}×{height} {mode} {fmt} would take {need / 1e6:,.0f} MB to decode; the "
            f"limit is {byte_limit / 1e6:,.0f} MB (set OCR_MAX_DECODE_MB to raise it)"
        )


def _webp_size(data: bytes) -> tuple[int, int] | None:
    """The canvas (W, H) a WebP header declares (lossy VP8, lossless VP8L, extended VP8X), else None."""
    if len(data) < 30 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        return None
    chunk = data[12:16]
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = int.from_bytes(data[26:28], "little"), int.from_bytes(data[28:30], "little")
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8X":
        return int.from_bytes(data[24:27], "little") + 1, int.from_bytes(data[27:30], "little") + 1
    if chunk == b"VP8L" and data[20] == 0x2F:
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def _bomb_message(label: str, exc: BaseException, limit: int) -> str:
    """PIL's guard fired before our own header check could: say it in our terms."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    declared = f"{int(found.group(1)) / 1e6:,.0f} megapixels" if found else "too many pixels"
    return (f"{label}: refused as a decompression bomb: the header declares {declared}; the limit is "
            f"{limit / 1e6:.1f} megapixels (set OCR_MAX_PIXELS to raise it)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__

