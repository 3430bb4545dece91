"""The "classical" line detector: OpenCV only, for clean documents and screenshots.

gray -> binarise (Otsu or adaptive) -> remove table rules (long horizontal/vertical runs) -> estimate the
character height from connected components -> deskew (projection-profile variance) -> join characters
into lines with a closing whose kernel is sized from the character height -> connected components ->
split/merge -> rotated boxes.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ocr.documents.detectors import Detection, Detector
from ocr.documents.geometry import (
    TextBox,
    draw_boxes,
    ink_view,
    order_points,
    removed_view,
    rotate_expanded,
    split_runs,
    to_rgb,
    union_groups,
)
from ocr.preprocess import Stage

__all__ = ["ClassicalConfig", "ClassicalDetector", "estimate_skew"]

# The classical detector decides horizontal vs vertical text with a closing this long (char heights).
ORIENTATION_JOIN = 0.6
# Fragment merging compares all pairs (n x n arrays); above this many candidate lines it is skipped.
MAX_MERGE = 3000


@dataclass(frozen=True)
class ClassicalConfig:
    """Parameters of the classical detector (lengths in character heights unless named _px).

    binarize: "otsu" (global) or "adaptive" (mean over a window, for uneven lighting).
    join:     closing kernel length that joins characters of a line (gaps wider than this split lines).
    rule_len: a horizontal/vertical ink run at least this long is a table rule, not text.
    pad:      padding added around each line box.
    max_skew: largest skew searched by deskew, degrees.
    """

    binarize: Literal["otsu", "adaptive"] = "otsu"
    deskew: bool = True
    max_skew: float = 10.0
    remove_rules: bool = True
    rule_len: float = 4.0
    join: float = 1.5
    pad: float = 0.2
    min_char_px: int = 5

    def __post_init__(self) -> None:
        if self.binarize not in ("otsu", "adaptive"):
            raise ValueError(f"binarize must be 'otsu' or 'adaptive', not {self.binarize!r}")
        if self.join <= 0 or self.rule_len <= 1 or self.max_skew < 0 or self.pad < 0:
            raise ValueError("join > 0, rule_len > 1, max_skew >= 0 and pad >= 0 are required")


def _flatten(gray: np.ndarray, k: int = 21) -> np.ndarray:
    """Divide out uneven lighting: the background is a k x k max filter (removes dark strokes) smoothed by
    a k x k box blur; returns gray * 255 / background, (H, W) uint8."""
    bg = cv2.blur(cv2.dilate(gray, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))), (k, k))
    return np.clip(gray.astype(np.float32) * 255.0 / np.maximum(bg, 1), 0, 255).astype(np.uint8)


MIN_INK_CONTRAST = 40  # gray levels between the paper and ink classes; below this the page is blank


def _binarize(gray: np.ndarray, method: str) -> tuple[np.ndarray, str]:
    """Ink mask (H, W) uint8 0/255, ink = 255, whatever the polarity; plus what was done.

    Dark backgrounds are inverted first; lighting is flattened (_flatten); a page whose two Otsu classes
    differ by less than MIN_INK_CONTRAST gray levels (noise, a gradient, JPEG blocks) has no ink.
    """
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    dark_bg = float(np.median(border)) < 128
    g = _flatten(255 - gray if dark_bg else gray)
    t, mask = cv2.threshold(g, 0, 255, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    ink = mask > 0
    if not ink.any() or ink.all():
        return np.zeros_like(gray), "no contrast: blank"
    contrast = float(g[~ink].mean()) - float(g[ink].mean())
    if contrast < MIN_INK_CONTRAST:
        return np.zeros_like(gray), f"ink/paper contrast {contrast:.0f} < {MIN_INK_CONTRAST} levels: blank"
    if method == "adaptive":
        block = max(15, (min(gray.shape) // 16) | 1)
        mask = cv2.adaptiveThreshold(g, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, block, 15)
        detail = f"adaptive mean threshold, window {block} px, C=15"
    else:
        detail = f"Otsu threshold {t:.0f}"
    detail = "lighting flattened, " + detail + f" (ink/paper contrast {contrast:.0f})"
    return mask, detail + (", inverted (dark background)" if dark_bg else "")


def _char_height(mask: np.ndarray, min_px: int) -> float | None:
    """Typical character height (pixels) from connected components of the ink mask."""
    h, w = mask.shape
    n, _, stats, _ = cv2.connectedComponentsWithStats(
        cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)), connectivity=8)
    if n <= 1:
        return None
    st = stats[1:]
    cw, ch, area = st[:, 2], st[:, 3], st[:, 4]
    size = np.maximum(cw, ch)
    keep = (size >= min_px) & (area >= 6) & (ch < h / 3) & (cw < w / 3) & (cw < 5 * ch) & (ch < 5 * cw)
    if not keep.any():
        return None
    return float(np.percentile(size[keep], 75))


def _table_rules(mask: np.ndarray, length: int) -> np.ndarray:
    """Long horizontal and vertical runs of ink (table rules, underlines): 0/255 mask.

    The mask is first dilated by 3x3 so that rules which wobble by a pixel (after deskewing) still
    hold a straight run.
    """
    mask = cv2.dilate(mask, np.ones((3, 3), np.uint8))
    horiz = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (length, 1)))
    vert = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_RECT, (1, length)))
    rules = cv2.bitwise_or(horiz, vert)
    return cv2.dilate(rules, np.ones((3, 3), np.uint8))


def estimate_skew(mask: np.ndarray, max_skew: float = 10.0) -> float:
    """Skew angle (degrees, counter-clockwise on screen) of the text in an ink mask (H, W).

    Searches the rotation that makes the row (or column) projection of ink pixels most peaked (largest
    sum of squares), coarse 0.5° steps then 0.05° steps. Rotating the page by minus the returned angle
    (cv2.getRotationMatrix2D convention) straightens it.
    """
    ys, xs = np.nonzero(mask)
    if xs.size < 50 or max_skew <= 0:
        return 0.0
    if xs.size > 40000:
        pick = np.random.default_rng(0).choice(xs.size, 40000, replace=False)
        xs, ys = xs[pick], ys[pick]
    xs = xs.astype(np.float64) - mask.shape[1] // 2  # integer centre: no half-pixel rounding ties
    ys = ys.astype(np.float64) - mask.shape[0] // 2

    def score(deg: float) -> float:
        t = math.radians(deg)
        c, s = math.cos(t), math.sin(t)
        rows = np.floor(-s * xs + c * ys + 0.5).astype(np.int64)
        cols = np.floor(c * xs + s * ys + 0.5).astype(np.int64)
        vr = np.bincount(rows - rows.min()).astype(np.float64)
        vc = np.bincount(cols - cols.min()).astype(np.float64)
        return float(max((vr**2).sum(), (vc**2).sum()))

    coarse = np.arange(-max_skew, max_skew + 1e-9, 0.5)
    best = float(coarse[int(np.argmax([score(a) for a in coarse]))])
    fine = np.arange(best - 0.5, best + 0.5 + 1e-9, 0.05)
    angle = float(fine[int(np.argmax([score(a) for a in fine]))])
    return 0.0 if abs(angle) < 0.4 else -round(angle, 2)


def _tight(mask: np.ndarray, x0: int, y0: int, x1: int, y1: int) -> tuple[int, int, int, int] | None:
    sub = mask[y0:y1, x0:x1]
    ys, xs = np.nonzero(sub)
    if xs.size == 0:
        return None
    return x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()) + 1, y0 + int(ys.max()) + 1


class ClassicalDetector(Detector):
    """OpenCV line finder for clean documents and screenshots (see the module docstring)."""

    name = "classical"
    title = "Classical (OpenCV morphology)"

    def __init__(self, config: ClassicalConfig | None = None) -> None:
        self.config = config or ClassicalConfig()

    def _join(self, ink: np.ndarray, ch: float, vertical: bool, rules: np.ndarray | None,
              join: float | None = None) -> np.ndarray:
        """Characters joined into lines: a closing (join x ch) x (0.2 ch) along the line, cut again by
        table rules (so the cells of a grid stay apart)."""
        k = max(3, round((join or self.config.join) * ch))
        thin = max(1, round(0.2 * ch))
        kernel = (thin, k) if vertical else (k, thin)
        joined = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, kernel))
        if rules is not None:
            joined = cv2.bitwise_and(joined, cv2.bitwise_not(rules))
        return joined

    def _lines(self, ink: np.ndarray, ch: float, vertical: bool, rules: np.ndarray | None,
               join: float | None = None) -> list[tuple[int, int, int, int]]:
        """Line rectangles (x0, y0, x1, y1) in the (deskewed) mask's frame."""
        joined = self._join(ink, ch, vertical, rules, join)
        _, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        rects: list[tuple[int, int, int, int]] = []
        min_gap = max(1, round(0.08 * ch))
        for x, y, w, h, _area in stats[1:]:
            t = _tight(ink, x, y, x + w, y + h)
            if t is None:
                continue
            across = (t[2] - t[0]) if vertical else (t[3] - t[1])
            if across > 1.6 * ch:  # two lines touching: split on empty rows (columns)
                sub = ink[t[1]:t[3], t[0]:t[2]]
                prof = sub.sum(axis=0 if vertical else 1)
                for a, b in split_runs(prof, min_gap):
                    part = (t[0] + a, t[1], t[0] + b, t[3]) if vertical else (t[0], t[1] + a, t[2], t[1] + b)
                    tt = _tight(ink, *part)
                    if tt is not None:
                        rects.append(tt)
            else:
                rects.append(t)
        small = max(self.config.min_char_px, 0.3 * ch)
        if len(rects) > MAX_MERGE:  # a speckled page: drop specks before the pairwise merge
            rects = [r for r in rects if max(r[2] - r[0], r[3] - r[1]) >= small]
        if len(rects) <= MAX_MERGE:
            rects = self._merge(rects, ch, vertical)
        return [r for r in rects if max(r[2] - r[0], r[3] - r[1]) >= small]

    @staticmethod
    def _merge(rects: list[tuple[int, int, int, int]], ch: float, vertical: bool) -> list[tuple[int, ...]]:
        """Merge fragments of one line (e.g. the strokes of 二 on separate rows) that overlap along the
        line by more than half the shorter one and together stay within 1.3 character heights across."""
        if len(rects) < 2:
            return list(rects)
        r = np.array(rects, dtype=np.float64)
        a0, a1, b0, b1 = (1, 3, 0, 2) if vertical else (0, 2, 1, 3)  # a: along the line, b: across
        for _ in range(4):
            along = np.minimum(r[:, None, a1], r[None, :, a1]) - np.maximum(r[:, None, a0], r[None, :, a0])
            length = r[:, a1] - r[:, a0]
            shorter = np.minimum(length[:, None], length[None, :])
            across = np.maximum(r[:, None, b1], r[None, :, b1]) - np.minimum(r[:, None, b0], r[None, :, b0])
            link = (along > 0.5 * shorter) & (across <= 1.3 * ch)
            np.fill_diagonal(link, False)
            if not link.any():
                break
            groups = union_groups(len(r), np.argwhere(np.triu(link)))
            r = np.array([[r[g, 0].min(), r[g, 1].min(), r[g, 2].max(), r[g, 3].max()]
                          for g in groups])
        return [tuple(int(v) for v in row) for row in r]

    def analyze(self, image: np.ndarray) -> Detection:
        """Boxes and stages: input, gray, binarize, table rules, text ink, deskewed, joined lines, boxes."""
        t0 = time.perf_counter()
        cfg = self.config
        rgb = to_rgb(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        stages = [Stage("input", rgb, f"{rgb.shape[1]}×{rgb.shape[0]} px"), Stage("gray", gray, "luma")]
        ink, detail = _binarize(gray, cfg.binarize)
        stages.append(Stage("binarize", ink_view(ink), detail))
        ch = _char_height(ink, cfg.min_char_px)
        if ch is None:
            stages.append(Stage("boxes", rgb, "no text found"))
            return Detection((), tuple(stages), 0.0, None, "horizontal", (time.perf_counter() - t0) * 1000)
        angle = estimate_skew(ink, cfg.max_skew) if cfg.deskew else 0.0
        if angle:  # rotate the gray page (smooth) and binarise it again
            border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
            gray_r, m = rotate_expanded(gray, -angle, int(np.median(border)))
            ink, _ = _binarize(gray_r, cfg.binarize)
            stages.append(Stage("deskewed", ink_view(ink),
                                f"text skew {angle:+.2f}° (counter-clockwise), rotated back"))
        else:
            m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        rules = None
        if cfg.remove_rules:
            length = max(25, round(cfg.rule_len * ch))
            rules = _table_rules(ink, length)
            n_rules = int(((rules > 0) & (ink > 0)).sum())
            stages.append(Stage("table rules", removed_view(ink, rules),
                                f"runs ≥ {length} px (= {cfg.rule_len:g} × char height): "
                                + (f"{n_rules} ink px removed (red)" if n_rules else
                                   "none found, nothing removed (ink in grey)")))
            ink = cv2.bitwise_and(ink, cv2.bitwise_not(rules))
            ch = _char_height(ink, cfg.min_char_px) or ch
        straight = ink
        stages.append(Stage("text ink", ink_view(ink),
                            f"char height ≈ {ch:.1f} px (75th percentile of components)"))
        # Orientation, tested with a short kernel (0.6 ch: joins the characters of a line, not the
        # lines of a tightly set grid of CJK characters): the reading that turns more ink into
        # elongated lines wins; ties go to horizontal.
        horiz = self._lines(straight, ch, False, rules, ORIENTATION_JOIN)
        vert = self._lines(straight, ch, True, rules, ORIENTATION_JOIN)
        h_score = sum((r[2] - r[0]) * (r[3] - r[1]) for r in horiz if r[2] - r[0] >= 2 * (r[3] - r[1]))
        v_score = sum((r[2] - r[0]) * (r[3] - r[1]) for r in vert if r[3] - r[1] >= 2 * (r[2] - r[0]))
        vertical = v_score > 1.5 * h_score
        rects = self._lines(straight, ch, vertical, rules)
        # Refine the character height from the lines themselves (components underestimate it when
        # characters fall apart into radicals); re-join if it grew.
        across = [(r[2] - r[0]) if vertical else (r[3] - r[1]) for r in rects
                  if max(r[2] - r[0], r[3] - r[1]) >= 3 * min(r[2] - r[0], r[3] - r[1])]
        if across and float(np.median(across)) > 1.15 * ch:
            ch = float(np.median(across))
            rects = self._lines(straight, ch, vertical, rules)
        k = max(3, round(cfg.join * ch))
        joined = self._join(straight, ch, vertical, rules)
        stages.append(Stage("joined lines", ink_view(joined),
                            f"{'vertical' if vertical else 'horizontal'} closing {k} px "
                            f"(= {cfg.join:g} × char height); elongated ink: horizontal {h_score}, "
                            f"vertical {v_score}"))
        inv = cv2.invertAffineTransform(m)
        pad = cfg.pad * ch
        boxes = []
        for x0, y0, x1, y1 in rects:
            cols = straight[y0:y1, x0:x1].max(axis=0 if not vertical else 1) > 0
            pts = np.array([[x0 - pad, y0 - pad], [x1 + pad, y0 - pad], [x1 + pad, y1 + pad],
                            [x0 - pad, y1 + pad]], dtype=np.float64)
            back = pts @ inv[:, :2].T + inv[:, 2]
            back[:, 0] = np.clip(back[:, 0], 0, rgb.shape[1] - 1)
            back[:, 1] = np.clip(back[:, 1], 0, rgb.shape[0] - 1)
            boxes.append(TextBox(order_points(back), float(cols.mean())))
        stages.append(Stage("boxes", draw_boxes(rgb, boxes), f"{len(boxes)} line(s)"))
        elapsed = (time.perf_counter() - t0) * 1000
        return Detection(tuple(boxes), tuple(stages), angle, ch, "vertical" if vertical else "horizontal",
                         elapsed, {"h_score": h_score, "v_score": v_score})
