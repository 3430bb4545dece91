"""Per-batch augmentation of training lines (on top of the render-time degradations baked into the
shards by ocr.training.synth)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from ocr.preprocess import border_level

__all__ = ["jitter_line"]


def jitter_line(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cheap random variant of one (H, W) uint8 line, same H: width scaled 0.8-1.2x, the vertical
    frame shifted / tightened / loosened by up to 8% of H, then contrast, brightness, gamma and
    Gaussian noise. Complements the render-time degradations of ocr.training.synth, which are baked
    into the shards."""
    h, w = img.shape
    a = img
    if rng.random() < 0.7:  # horizontal scale: glyph widths and spacing differ between fonts
        new_w = max(h // 2, round(w * float(rng.uniform(0.8, 1.2))))
        a = np.asarray(Image.fromarray(a).resize((new_w, h), Image.BILINEAR))
    if rng.random() < 0.5:  # vertical framing: a detector's box is rarely tight in the same way
        m = max(1, round(0.08 * h))
        top, bottom = (int(v) for v in rng.integers(-m, m + 1, 2))
        bg = round(border_level(a))
        if top < 0 or bottom < 0:  # pad with the background
            a = np.pad(a, ((max(0, -top), max(0, -bottom)), (0, 0)), constant_values=bg)
        a = a[max(0, top): a.shape[0] - max(0, bottom)]
        a = np.asarray(Image.fromarray(a).resize((a.shape[1], h), Image.BILINEAR))
    f = a.astype(np.float32) / 255.0
    if rng.random() < 0.5:  # contrast about the mean, brightness
        mean = float(f.mean())
        f = (f - mean) * float(rng.uniform(0.6, 1.15)) + mean + float(rng.uniform(-0.1, 0.1))
    if rng.random() < 0.3:
        f = np.clip(f, 0.0, 1.0) ** float(rng.uniform(0.7, 1.4))
    if rng.random() < 0.3:
        f = f + rng.normal(0.0, float(rng.uniform(0.01, 0.05)), f.shape).astype(np.float32)
    return (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
