"""Hostile files for the hardening tests, generated on demand (nothing big is committed).

Each builder writes small files that decode to very large frames, or archives and labels files that
stress the benchmark loaders. Run as a script to write them into a folder:
    .venv/bin/python -m tests.tools.attacks OUT_DIR
"""

from __future__ import annotations

import io
import sys
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

BIG = 6300  # 6300 x 6300 = 39.7 megapixels: inside the default 40 MP cap


def _line_canvas(mode: str, size: int, fill: object, ink: object) -> Image.Image:
    im = Image.new(mode, (size, size), fill)
    ImageDraw.Draw(im).rectangle((100, 100, 2000, 160), fill=ink)  # something to read, mostly empty
    return im


def rgba_png(size: int = BIG) -> bytes:
    """A `size` x `size` RGBA PNG, transparent with one opaque bar: ~150 KB that decodes to 4 bytes/px."""
    buf = io.BytesIO()
    _line_canvas("RGBA", size, (0, 0, 0, 0), (0, 0, 0, 255)).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def gray16_png(size: int = BIG) -> bytes:
    """A `size` x `size` 16-bit gray PNG (mode I;16)."""
    arr = np.full((size, size), 60000, dtype=np.uint16)
    arr[100:160, 100:2000] = 1000
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, "PNG", compress_level=9)
    return buf.getvalue()


def lossless_webp(size: int = BIG) -> bytes:
    """A `size` x `size` lossless RGBA WebP: a few KB."""
    buf = io.BytesIO()
    _line_canvas("RGBA", size, (255, 255, 255, 0), (0, 0, 0, 255)).save(buf, "WEBP", lossless=True, quality=0,
                                                                       method=0)
    return buf.getvalue()


def encrypted_zip() -> bytes:
    """A zip whose entries carry the 'encrypted' flag (traditional PKWARE) in their local and central
    headers, as a password-protected archive does; the payload is never meant to be decrypted."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        for name, data in (("labels.tsv", b"a.png\tx\n"), ("a.png", b"\x89PNG fake")):
            zf.writestr(name, b"\0" * 12 + data)  # a 12-byte encryption header, then 'ciphertext'
    raw = bytearray(buf.getvalue())
    for signature, flags_at in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        start = 0
        while (start := raw.find(signature, start)) >= 0:
            raw[start + flags_at] |= 0x1
            start += 4
    return bytes(raw)


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "rgba_6300.png").write_bytes(rgba_png())
    (out / "gray16_6300.png").write_bytes(gray16_png())
    (out / "lossless_6300.webp").write_bytes(lossless_webp())
    (out / "encrypted.zip").write_bytes(encrypted_zip())


if __name__ == "__main__":
    main(Path(sys.argv[1]))
