"""Per-batch augmentation of training lines (on top of the render-time degradations baked into the
shards by ocr.training.synth)."""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from ocr.preprocess import border_level

__all__ = ["distort_line", "jitter_line", "warp_corners"]


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


def warp_corners(a: np.ndarray, j: float, rng: np.random.Generator) -> np.ndarray:
    """A perspective jitter: each corner of the (H, W[, C]) image `a` moved by up to `j` px in x and y at
    random, the image warped to fit, same shape (bilinear, edges repeated)."""
    h, w = a.shape[:2]
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    dst = src + rng.uniform(-j, j, (4, 2)).astype(np.float32)
    return cv2.warpPerspective(a, cv2.getPerspectiveTransform(src, dst), (w, h), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REPLICATE)


def distort_line(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Camera-like geometry and optics on one (H, W) uint8 line, same shape: a small rotation and shear
    (p 0.5; the line's ends move at most ~10 % of H), a perspective jitter of the corners by up to 6 % of H
    (p 0.25), Gaussian or horizontal motion blur (p 0.3) and JPEG artefacts (p 0.3). The borders repeat
    the edge pixels. What photographed crops (plates, signs, labels) vary by and jitter_line does not."""
    h, w = img.shape
    a = img
    if rng.random() < 0.5:
        limit = float(np.degrees(np.arctan(0.2 * h / max(w, 1))))  # ends move <= 10 % of H
        angle = float(np.clip(rng.normal(0.0, limit / 2), -limit, limit))
        shear = float(rng.uniform(-0.15, 0.15))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        m[0, 1] += shear  # x += shear * (y - h / 2): slanted strokes
        m[0, 2] -= shear * h / 2
        a = cv2.warpAffine(a, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.25:
        a = warp_corners(a, 0.06 * h, rng)
    if rng.random() < 0.3:
        if rng.random() < 0.7:
            a = cv2.GaussianBlur(a, (0, 0), float(rng.uniform(0.3, 0.9)) * h / 32)
        else:
            k = int(rng.integers(2, max(3, h // 8) + 1))
            a = cv2.filter2D(a, -1, np.full((1, k), 1.0 / k, np.float32), borderType=cv2.BORDER_REPLICATE)
    if rng.random() < 0.3:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 85))])
        if ok:
            a = cv2.imdecode(buf, cv2.IMREAD_GRAYSCALE)
    return a
