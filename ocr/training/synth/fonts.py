"""Fonts for synthetic lines: the Debian-packaged CJK faces (FONTS), which of them are installed, the
held-out face (HELD_OUT_FONT, never used for training; it renders the test set) and per-character glyph
coverage."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from PIL import ImageFont

__all__ = [
    "FONTS",
    "HELD_OUT_FONT",
    "FontSpec",
    "available_fonts",
    "font_by_name",
    "font_covers",
    "pil_font",
    "training_fonts",
]


@dataclass(frozen=True)
class FontSpec:
    """A font face: file path, face index inside a .ttc, style (hei/song/kai/fang), Debian package."""

    name: str
    path: str
    index: int
    style: str
    package: str


FONTS: tuple[FontSpec, ...] = (
    FontSpec("noto-sans-sc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, "hei",
             "fonts-noto-cjk"),
    FontSpec("noto-sans-sc-bold", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, "hei",
             "fonts-noto-cjk"),
    FontSpec("noto-serif-sc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, "song",
             "fonts-noto-cjk"),
    FontSpec("noto-serif-sc-bold", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2, "song",
             "fonts-noto-cjk"),
    FontSpec("wqy-zenhei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "hei", "fonts-wqy-zenhei"),
    FontSpec("wqy-microhei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "hei",
             "fonts-wqy-microhei"),
    FontSpec("ukai-cn", "/usr/share/fonts/truetype/arphic/ukai.ttc", 0, "kai", "fonts-arphic-ukai"),
    FontSpec("uming-cn", "/usr/share/fonts/truetype/arphic/uming.ttc", 0, "song", "fonts-arphic-uming"),
    FontSpec("lxgw-wenkai", "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0, "kai",
             "fonts-lxgw-wenkai"),
    FontSpec("gkai00mp", "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf", 0, "kai",
             "fonts-arphic-gkai00mp"),
    FontSpec("smiley-sans", "/usr/share/fonts/truetype/smiley-sans/SmileySans-Oblique.ttf", 0, "hei",
             "fonts-smiley-sans"),
)

# Held out of training; renders the held-out test set (a song/ming face unlike the Noto Serif one).
HELD_OUT_FONT = "uming-cn"


def available_fonts() -> list[FontSpec]:
    """FONTS whose files exist on this machine."""
    return [f for f in FONTS if Path(f.path).exists()]


def training_fonts() -> list[FontSpec]:
    """Available fonts minus the held-out one."""
    return [f for f in available_fonts() if f.name != HELD_OUT_FONT]


def font_by_name(name: str) -> FontSpec:
    """The FontSpec called `name` (KeyError if unknown)."""
    for f in FONTS:
        if f.name == name:
            return f
    raise KeyError(f"unknown font {name!r}")


@lru_cache(maxsize=256)
def pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    """The face at `path` (face `index` of a .ttc) at `size` px, loaded once per (path, index, size)."""
    return ImageFont.truetype(path, size, index=index)


@lru_cache(maxsize=64)
def _missing_masks(path: str, index: int) -> tuple[bytes, bytes]:
    """The bitmaps the face draws for characters it lacks (.notdef box, and an unassigned code point)."""
    font = pil_font(path, index, 24)
    return bytes(font.getmask("\U0010fffd")), bytes(font.getmask("\uffff"))


@lru_cache(maxsize=1 << 20)
def _has_glyph(path: str, index: int, ch: str) -> bool:
    """The face draws `ch` with a real glyph (not the .notdef box, not empty); a space always counts."""
    if ch == " ":
        return True
    m = pil_font(path, index, 24).getmask(ch)
    b = bytes(m)
    return m.size[0] > 0 and any(b) and b not in _missing_masks(path, index)


def font_covers(font: FontSpec, text: str) -> bool:
    """True if the face has a glyph for every character of `text` (checked per character, cached)."""
    return all(_has_glyph(font.path, font.index, c) for c in text)
