"""A tiny deterministic line renderer for tests (independent of ocr.training.synth, so it tests it too)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


@lru_cache(maxsize=4)
def _font(size: int) -> ImageFont.FreeTypeFont:
    if not NOTO.exists():
        pytest.skip("fonts-noto-cjk is not installed (make test installs it with apt)")
    return ImageFont.truetype(str(NOTO), size, index=2)  # face 2 = Noto Sans CJK SC


def render(text: str, size: int = 32, pad: int = 8) -> np.ndarray:
    """Black text on white, (H, W, 3) uint8 RGB."""
    font = _font(size)
    left, top, right, bottom = font.getbbox(text)
    img = Image.new("RGB", (right - left + 2 * pad, bottom - top + 2 * pad), "white")
    ImageDraw.Draw(img).text((pad - left, pad - top), text, font=font, fill="black")
    return np.asarray(img)
