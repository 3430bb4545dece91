"""The line renderer: text drawn in a face, document-like degradations (rules, stamps, tilt,
perspective, uneven light, blur, low resolution, noise, JPEG), scaled to the model height; and corpus
lines rendered in covering fonts, each a pure function of (seed, index)."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.training.augment import warp_corners
from ocr.training.synth.corpus import Corpus
from ocr.training.synth.fonts import FontSpec, font_covers, pil_font

__all__ = ["corpus_lines", "render_line"]


def _draw_text(text: str, font: ImageFont.FreeTypeFont, spacing: float, ink: int, paper: int,
               pad: tuple[int, int, int, int]) -> Image.Image:
    """Text drawn on an 'L' canvas; spacing is extra pixels between characters (may be negative)."""
    ascent, descent = font.getmetrics()
    advances = [font.getlength(c) for c in text]
    width = math.ceil(sum(advances) + spacing * max(len(text) - 1, 0)) + pad[0] + pad[2]
    height = ascent + descent + pad[1] + pad[3]
    img = Image.new("L", (max(width, 4), height), paper)
    draw = ImageDraw.Draw(img)
    if spacing == 0:
        draw.text((pad[0], pad[1]), text, font=font, fill=ink)
    else:
        x = float(pad[0])
        for c, adv in zip(text, advances, strict=True):
            draw.text((x, pad[1]), c, font=font, fill=ink)
            x += adv + spacing
    return img


def _augment_canvas(img: Image.Image, rng: np.random.Generator, ink: int, paper: int) -> np.ndarray:
    """Document-like degradations on the full-resolution canvas; returns (h, w) uint8."""
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape
    # table lines / underline / box edges
    if rng.random() < 0.25:
        color = float(rng.uniform(ink, (ink + paper) / 2))
        t = int(rng.integers(1, 3))
        if rng.random() < 0.6:
            y = int(rng.integers(h - max(4, h // 6), h - 1))
            a[y:y + t, :] = color
        if rng.random() < 0.3:
            y = int(rng.integers(0, max(2, h // 8)))
            a[y:y + t, :] = color
        if rng.random() < 0.3:
            x = int(rng.integers(0, max(2, w // 30)))
            a[:, x:x + t] = color
            x = int(rng.integers(w - max(2, w // 30), w))
            a[:, max(x - t, 0):x] = color
    # stamp-like overlay: a partial ring plus a few strokes, in mid-gray (a red stamp seen in gray)
    if rng.random() < 0.08:
        stamp = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(stamp)
        r = float(rng.uniform(h * 0.6, h * 1.5))
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(-r / 2, h + r / 2))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=max(2, int(r / 12)))
        s = np.asarray(stamp, dtype=np.float32) / 255.0
        level = float(rng.uniform(0.2, 0.5))
        a = a * (1 - s * level) + s * level * float(rng.uniform(60, 140))
    # rotation / perspective
    if rng.random() < 0.35:
        # limit the tilt so the line ends move at most 8% of the height (long lines stay in the crop)
        limit = math.degrees(math.atan(0.16 * h / w))
        angle = float(np.clip(rng.normal(0, 0.8), -limit, limit))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        a = cv2.warpAffine(a, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        a = warp_corners(a, h * 0.08, rng)
    # uneven light (a linear gradient), low contrast
    if rng.random() < 0.3:
        g = np.linspace(float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.8, 1.15)), w, dtype=np.float32)
        a = a * (g[None, :] if rng.random() < 0.7 else np.linspace(g[0], g[-1], h, dtype=np.float32)[:, None])
    # blur
    if rng.random() < 0.3:
        k = float(rng.uniform(0.3, 1.2)) * h / 40
        a = cv2.GaussianBlur(a, (0, 0), sigmaX=max(k, 0.3))
    # low resolution: down then up
    if rng.random() < 0.25:
        f = float(rng.uniform(0.3, 0.7))
        small = cv2.resize(a, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    # noise
    if rng.random() < 0.4:
        a = a + rng.normal(0, float(rng.uniform(2, 14)), a.shape).astype(np.float32)
    if rng.random() < 0.05:  # salt-and-pepper specks
        mask = rng.random(a.shape) < 0.004
        a[mask] = float(rng.choice([ink, paper]))
    out = np.clip(a, 0, 255).astype(np.uint8)
    # JPEG artefacts
    if rng.random() < 0.35:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(15, 75)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    return out


def render_line(
    text: str, font: FontSpec, height: int = 64, seed: int = 0, augment: bool = True
) -> np.ndarray:
    """Render one text line: (height, W) uint8 gray, dark text on a light background, W >= height // 2.

    Deterministic for (text, font, height, seed, augment). With augment=False: black on white, tight
    vertical margins, font size 48, no degradation.
    """
    rng = np.random.default_rng([seed, 7919])
    if augment:
        size = int(rng.integers(20, 64))
        ink = int(rng.integers(0, 90))
        paper = int(rng.integers(max(ink + 70, 150), 256))
        spacing = float(rng.normal(0, 0.06) * size) if rng.random() < 0.35 else 0.0
        spacing = max(spacing, -0.08 * size)
        pad = tuple(int(v) for v in rng.integers(0, max(2, size // 3), 4))
    else:
        size, ink, paper, spacing, pad = 48, 0, 255, 0.0, (4, 2, 4, 2)
    face = pil_font(font.path, font.index, size)
    canvas = _draw_text(text, face, spacing, ink, paper, pad)  # type: ignore[arg-type]
    # crop vertically to the drawn ink plus the chosen margins (fonts put text at different heights)
    arr = np.asarray(canvas)
    rows = np.where((arr < (ink + paper) / 2).any(axis=1))[0]
    if rows.size:
        top = max(0, rows[0] - pad[1])
        bottom = min(arr.shape[0], rows[-1] + 1 + pad[3])
        # keep at least ~0.9 size of height so a line of "一" or "..." is not blown up to full height
        need = int(size * 1.1) + pad[1] + pad[3]
        if bottom - top < need:
            extra = need - (bottom - top)
            top = max(0, top - extra // 2)
            bottom = min(arr.shape[0], bottom + extra - extra // 2)
        canvas = canvas.crop((0, top, canvas.width, bottom))
    a = _augment_canvas(canvas, rng, ink, paper) if augment else np.asarray(canvas)
    h, w = a.shape
    new_w = max(height // 2, round(w * height / h))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(a, (new_w, height), interpolation=interp)


def _pick_font(text: str, fonts: list[FontSpec], rng: np.random.Generator) -> FontSpec | None:
    order = rng.permutation(len(fonts))
    for i in order:
        if font_covers(fonts[int(i)], text):
            return fonts[int(i)]
    return None


def corpus_lines(n: int, seed: int, fonts: list[FontSpec], height: int, augment: bool, min_len: int,
                 max_len: int, prose: float = 0.0) -> Iterator[tuple[str, np.ndarray, str]]:
    """(text, image (H, W), font name) for n lines; line i is fully determined by (seed, i).
    prose: Corpus(prose=...), the chance of a dash or ellipsis after a word."""
    corpus = Corpus(prose=prose)
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        while True:
            text = corpus.line(rng, min_len, max_len)
            font = _pick_font(text, fonts, rng)
            if font is not None:
                break
        yield text, render_line(text, font, height, int(rng.integers(2**31)), augment), font.name
