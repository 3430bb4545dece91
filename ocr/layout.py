"""Text-line detection on whole pages, box geometry and reading order.

Two detectors share one interface, `Detector.detect(image) -> list[TextBox]` (and `analyze`, which also
returns the intermediate stages for display):

- "classical": OpenCV only, for clean documents and screenshots. gray -> binarise (Otsu or adaptive)
  -> remove table rules (long horizontal/vertical runs) -> estimate the character height from connected
  components -> deskew (projection-profile variance) -> join characters into lines with a closing whose
  kernel is sized from the character height -> connected components -> split/merge -> rotated boxes.
- "ppocr-det": the PP-OCRv4 DB detector read from the rapidocr_onnxruntime wheel, run with onnxruntime;
  DB post-processing (threshold, contours, minAreaRect, unclip) is implemented here.

Boxes are 4 points (x, y) in image pixels, ordered top-left, top-right, bottom-right, bottom-left of the
box as drawn upright (the top edge is the one closest to horizontal). `reading_order` sorts boxes:
top-to-bottom, left-to-right, whole columns of two-column pages one after the other, and vertical text
columns right-to-left.

Example:
    det = load_detector("classical")
    boxes = det.detect(image)                     # image: (H, W, 3) uint8 RGB
    order = reading_order(boxes)                  # indices into boxes
    crops = [crop_box(image, boxes[i]) for i in order]
"""

from __future__ import annotations

import math
import threading
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import cv2
import numpy as np

from ocr.errors import EngineUnavailable, ImageError, OCRError
from ocr.preprocess import Stage

__all__ = [
    "DETECTORS",
    "VERTICAL_RATIO",
    "ClassicalConfig",
    "ClassicalDetector",
    "DBConfig",
    "DBDetector",
    "Detection",
    "Detector",
    "TextBox",
    "UnknownDetector",
    "box_iou",
    "crop_box",
    "detector_available",
    "detector_names",
    "draw_boxes",
    "estimate_skew",
    "load_detector",
    "merge_column_fragments",
    "order_points",
    "page_angle",
    "reading_order",
    "rotate_expanded",
]

# A box taller than VERTICAL_RATIO x its width is a vertical text column (several characters).
VERTICAL_RATIO = 1.5
# The classical detector decides horizontal vs vertical text with a closing this long (char heights).
ORIENTATION_JOIN = 0.6
# Fragment merging compares all pairs (n x n arrays); above this many candidate lines it is skipped.
MAX_MERGE = 3000


class UnknownDetector(OCRError):
    """No detector of that name is registered."""


# ------------------------------------------------------------------------------------------ geometry
@dataclass(frozen=True, eq=False)
class TextBox:
    """A detected text line: points (4, 2) float32 (x, y) tl, tr, br, bl; score in [0, 1]."""

    points: np.ndarray
    score: float

    @property
    def width(self) -> float:
        """Mean length of the top and bottom edges (pixels)."""
        p = self.points
        return float((np.linalg.norm(p[1] - p[0]) + np.linalg.norm(p[2] - p[3])) / 2)

    @property
    def height(self) -> float:
        """Mean length of the left and right edges (pixels)."""
        p = self.points
        return float((np.linalg.norm(p[3] - p[0]) + np.linalg.norm(p[2] - p[1])) / 2)

    @property
    def angle(self) -> float:
        """Angle of the top edge in degrees, counter-clockwise as seen on screen, in (-45, 45]."""
        d = self.points[1] - self.points[0]
        return float(-math.degrees(math.atan2(float(d[1]), float(d[0]))))

    @property
    def center(self) -> tuple[float, float]:
        c = self.points.mean(axis=0)
        return float(c[0]), float(c[1])

    @property
    def vertical(self) -> bool:
        """True for a vertical text column: height > VERTICAL_RATIO x width."""
        return self.height > VERTICAL_RATIO * self.width

    def as_list(self) -> list[list[float]]:
        """[[x, y]] * 4, rounded to 0.1 px (the JSON form)."""
        return [[round(float(x), 1), round(float(y), 1)] for x, y in self.points]


def order_points(points: np.ndarray) -> np.ndarray:
    """Order 4 corner points (4, 2) as tl, tr, br, bl with the top edge closest to horizontal."""
    p = np.asarray(points, dtype=np.float32).reshape(4, 2)
    c = p.mean(axis=0)
    ang = np.arctan2(p[:, 1] - c[1], p[:, 0] - c[0])
    p = p[np.argsort(ang, kind="stable")]  # clockwise on screen (y down), starting near top-left
    best, best_k = 1e9, 0
    for k in range(4):
        q = np.roll(p, -k, axis=0)
        d = q[1] - q[0]
        a = abs(math.degrees(math.atan2(float(d[1]), float(d[0]))))
        if d[0] > 0 and a < best - 1e-6:
            best, best_k = a, k
    return np.roll(p, -best_k, axis=0).astype(np.float32)


def _poly_area(p: np.ndarray) -> float:
    return float(abs(cv2.contourArea(p.astype(np.float32))))


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two convex quadrilaterals (4, 2)."""
    a32, b32 = np.asarray(a, np.float32).reshape(4, 2), np.asarray(b, np.float32).reshape(4, 2)
    area_a, area_b = _poly_area(a32), _poly_area(b32)
    if area_a <= 0 or area_b <= 0:
        return 0.0
    inter, _ = cv2.intersectConvexConvex(a32, b32)
    inter = max(float(inter), 0.0)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def crop_box(image: np.ndarray, box: TextBox | np.ndarray) -> np.ndarray:
    """The box's content warped upright: (h, w, C) uint8 with w, h the box's edge lengths."""
    pts = box.points if isinstance(box, TextBox) else np.asarray(box, np.float32).reshape(4, 2)
    pts = pts.astype(np.float32)
    w = max(1, round(max(np.linalg.norm(pts[1] - pts[0]), np.linalg.norm(pts[2] - pts[3]))))
    h = max(1, round(max(np.linalg.norm(pts[3] - pts[0]), np.linalg.norm(pts[2] - pts[1]))))
    dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    m = cv2.getPerspectiveTransform(pts, dst)
    return cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)


def draw_boxes(image: np.ndarray, boxes: list[TextBox], color: tuple[int, int, int] = (230, 40, 40),
               thickness: int = 2) -> np.ndarray:
    """A copy of the image (H, W, 3) uint8 RGB with the box outlines drawn."""
    out = _rgb(image).copy()
    for b in boxes:
        cv2.polylines(out, [np.round(b.points).astype(np.int32)], True, color, thickness, cv2.LINE_AA)
    return out


def page_angle(boxes: list[TextBox]) -> float:
    """The page's text angle in degrees (counter-clockwise): width-weighted median of long boxes."""
    longs = [b for b in boxes if b.width > 2 * b.height] or [b for b in boxes if not b.vertical]
    if not longs:
        return 0.0
    angles = np.array([b.angle for b in longs])
    weights = np.array([b.width for b in longs])
    order = np.argsort(angles)
    cum = np.cumsum(weights[order])
    return float(angles[order][int(np.searchsorted(cum, cum[-1] / 2))])


def _rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        raise ImageError("expected a non-empty uint8 image array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    raise ImageError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


# ------------------------------------------------------------------------------------- reading order
def _rects(boxes: list[TextBox], angle: float) -> np.ndarray:
    """Axis-aligned (x0, y0, x1, y1) of each box after rotating the page by -angle: (N, 4)."""
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    rot = np.array([[c, -s], [s, c]], dtype=np.float64)  # undo a counter-clockwise (on screen) angle
    out = np.zeros((len(boxes), 4))
    for i, b in enumerate(boxes):
        q = b.points.astype(np.float64) @ rot.T
        out[i] = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
    return out


def _gaps(lo: np.ndarray, hi: np.ndarray, idx: list[int]) -> list[list[int]]:
    """Split idx into groups separated by empty intervals of the 1-D projection [lo, hi]."""
    order = sorted(idx, key=lambda i: (lo[i], hi[i]))
    groups: list[list[int]] = [[order[0]]]
    reach = hi[order[0]]
    for i in order[1:]:
        if lo[i] > reach:
            groups.append([i])
        else:
            groups[-1].append(i)
        reach = max(reach, hi[i])
    return groups


def _column_like(r: np.ndarray, side: list[int], h_med: float) -> bool:
    """A side of a gutter is a text column: >= 3 lines, most lines long and filling the column."""
    if len(side) < 3:
        return False
    widths = r[side, 2] - r[side, 0]
    extent = r[side, 2].max() - r[side, 0].min()
    return bool(np.median(widths) >= 4 * h_med and np.median(widths) >= 0.5 * extent)


def _gutter(r: np.ndarray, idx: list[int]) -> tuple[list[int], list[int], list[int]] | None:
    """(left, right, spanning) if the block has two text columns, else None.

    A gutter is an x-range at least one line height wide crossed by at most max(2, n/10) boxes (titles,
    footers: "spanning"); both sides must hold >= 3 long lines filling their column, the columns must be
    of similar width and overlap vertically.
    """
    if len(idx) < 6:
        return None
    h_med = float(np.median(r[idx, 3] - r[idx, 1]))
    x_min = math.floor(r[idx, 0].min())
    cover = np.zeros(math.ceil(r[idx, 2].max()) - x_min + 1, dtype=np.int32)
    for i in idx:
        cover[int(r[i, 0]) - x_min:math.ceil(r[i, 2]) - x_min] += 1
    allowed = max(2, len(idx) // 10)
    best: tuple[float, tuple[list[int], list[int], list[int]]] | None = None
    for a, b in _split_runs((cover <= allowed).astype(np.int32), 1):
        if a == 0 or b >= cover.size or b - a < h_med:
            continue
        lo, hi = x_min + a, x_min + b
        mid = (lo + hi) / 2
        spanning = [i for i in idx if r[i, 0] < mid < r[i, 2]]
        left = [i for i in idx if r[i, 2] <= mid and i not in spanning]
        right = [i for i in idx if r[i, 0] >= mid and i not in spanning]
        if not (_column_like(r, left, h_med) and _column_like(r, right, h_med)):
            continue
        wl = r[left, 2].max() - r[left, 0].min()
        wr = r[right, 2].max() - r[right, 0].min()
        if min(wl, wr) < 0.5 * max(wl, wr):
            continue
        overlap = min(r[left, 3].max(), r[right, 3].max()) - max(r[left, 1].min(), r[right, 1].min())
        if overlap < 0.5 * min(r[left, 3].max() - r[left, 1].min(), r[right, 3].max() - r[right, 1].min()):
            continue
        if best is None or b - a > best[0]:
            best = (b - a, (left, right, spanning))
    return best[1] if best else None


def _rows(r: np.ndarray, idx: list[int]) -> list[list[int]]:
    """Boxes grouped into rows by centre height (a new row when the centre moves > half a line)."""
    cy = (r[:, 1] + r[:, 3]) / 2
    h_med = float(np.median(r[idx, 3] - r[idx, 1]))
    rows: list[list[int]] = []
    for i in sorted(idx, key=lambda i: cy[i]):
        if rows and cy[i] - float(np.mean(cy[rows[-1]])) < 0.5 * h_med:
            rows[-1].append(i)
        else:
            rows.append([i])
    return [sorted(row, key=lambda i: r[i, 0]) for row in rows]


def _shrunk(r: np.ndarray, axis: int, frac: float = 0.15) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = r[:, axis], r[:, axis + 2]
    pad = (hi - lo) * frac
    return lo + pad, hi - pad


def _order_h(r: np.ndarray, idx: list[int], depth: int = 0) -> list[int]:
    """Horizontal text: XY-cut with columns first, then rows (y gaps), then pieces of a row (x gaps)."""
    if len(idx) <= 1 or depth > 50:
        return sorted(idx, key=lambda i: ((r[i, 1] + r[i, 3]) / 2, r[i, 0]))
    cols = _gutter(r, idx)
    if cols is not None:
        left, right, spanning = cols
        out: list[int] = []
        top = -math.inf
        for s in [*sorted(spanning, key=lambda i: r[i, 1]), None]:
            bottom = math.inf if s is None else (r[s, 1] + r[s, 3]) / 2
            for side in (left, right):
                seg = [i for i in side if top <= (r[i, 1] + r[i, 3]) / 2 < bottom]
                out += _order_h(r, seg, depth + 1)
            if s is not None:
                out.append(s)
                top = bottom
        return out
    lo, hi = _shrunk(r, 1, 0.25)
    bands = _gaps(lo, hi, idx)
    if len(bands) > 1:
        return [i for b in bands for i in _order_h(r, b, depth + 1)]
    rows = _rows(r, idx)
    if len(rows) > 1:
        return [i for row in rows for i in row]
    pieces = _gaps(r[:, 0], r[:, 2], idx)
    if len(pieces) > 1:
        return [i for p in pieces for i in _order_h(r, p, depth + 1)]
    return sorted(idx, key=lambda i: ((r[i, 1] + r[i, 3]) / 2, r[i, 0]))


def _order_v(r: np.ndarray, idx: list[int], depth: int = 0) -> list[int]:
    """Vertical text: blocks top-to-bottom (y gaps), columns right-to-left (x gaps)."""
    if len(idx) <= 1 or depth > 50:
        return sorted(idx, key=lambda i: (-(r[i, 0] + r[i, 2]) / 2, r[i, 1]))
    lo, hi = _shrunk(r, 0, 0.1)
    cols = _gaps(lo, hi, idx)
    if len(cols) > 1:
        return [i for c in reversed(cols) for i in _order_v(r, c, depth + 1)]
    bands = _gaps(r[:, 1], r[:, 3], idx)
    if len(bands) > 1:
        return [i for b in bands for i in _order_v(r, b, depth + 1)]
    return sorted(idx, key=lambda i: (r[i, 1], -(r[i, 0] + r[i, 2]) / 2))


def reading_order(boxes: list[TextBox], angle: float | None = None) -> list[int]:
    """Indices of `boxes` in reading order.

    The page is first rotated by -angle (default: page_angle(boxes)). If most elongated boxes are vertical
    the page is read as vertical text (columns right-to-left, each top-to-bottom); otherwise rows
    top-to-bottom, left-to-right, and a block with two text columns (a gutter with long, column-filling
    lines on both sides) is read left column fully, then right; lines spanning the gutter (titles) are read
    in their vertical position between the column segments.
    """
    if not boxes:
        return []
    r = _rects(boxes, page_angle(boxes) if angle is None else angle)
    idx = list(range(len(boxes)))
    n_vert = sum(b.vertical for b in boxes)
    n_horiz = sum(b.width > VERTICAL_RATIO * b.height for b in boxes)
    if n_vert > n_horiz:
        return _order_v(r, idx)
    return _order_h(r, idx)


# -------------------------------------------------------------------------------------- detector API
@dataclass(frozen=True)
class Detection:
    """A detector's result: boxes (detector order), the stages to display, and page facts.

    angle: page skew in degrees (counter-clockwise on screen) the detector found or assumed.
    char_height: estimated character height in pixels (classical), else None.
    orientation: "horizontal" or "vertical" (the classical detector's choice; DB: by majority).
    """

    boxes: tuple[TextBox, ...]
    stages: tuple[Stage, ...]
    angle: float = 0.0
    char_height: float | None = None
    orientation: Literal["horizontal", "vertical"] = "horizontal"
    elapsed_ms: float = 0.0
    facts: dict[str, object] = field(default_factory=dict)


class Detector(ABC):
    """A text-line detector. Loaded once, never mutated after load, thread-safe."""

    name: str
    title: str

    def detect(self, image: np.ndarray) -> list[TextBox]:
        """Text-line boxes of a page (H, W, 3) uint8 RGB (order: the detector's own)."""
        return list(self.analyze(image).boxes)

    @abstractmethod
    def analyze(self, image: np.ndarray) -> Detection:
        """Boxes plus the intermediate stages (for display)."""


# -------------------------------------------------------------------------------- classical detector
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


def _ink_view(mask: np.ndarray) -> np.ndarray:
    """A 0/255 ink mask as black ink on white, for display."""
    return np.where(mask > 0, 0, 255).astype(np.uint8)


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


def merge_column_fragments(boxes: list[TextBox], angle: float = 0.0) -> list[TextBox]:
    """Join pieces of one vertical text column that a detector split (the DB model often cuts vertical
    columns into short pieces): boxes that are not horizontal lines, overlap in x by >= 60% of the
    narrower, have similar widths (ratio >= 0.6) and a vertical gap under 0.2 x their width are merged
    into their common rectangle (in the frame of the page `angle`)."""
    keep = [i for i, b in enumerate(boxes) if b.height >= 0.8 * b.width]
    if len(keep) < 2:
        return boxes
    r = _rects(boxes, angle)
    pairs = []
    for a_i, i in enumerate(keep):
        for j in keep[a_i + 1:]:
            wi, wj = r[i, 2] - r[i, 0], r[j, 2] - r[j, 0]
            overlap = min(r[i, 2], r[j, 2]) - max(r[i, 0], r[j, 0])
            gap = max(r[i, 1], r[j, 1]) - min(r[i, 3], r[j, 3])
            if overlap >= 0.6 * min(wi, wj) and min(wi, wj) >= 0.6 * max(wi, wj) and gap < 0.2 * min(wi, wj):
                pairs.append((i, j))
    if not pairs:
        return boxes
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    back = np.array([[c, s], [-s, c]])  # inverse of the rotation used by _rects
    out = []
    for group in _union_groups(len(boxes), np.array(pairs)):
        if len(group) == 1:
            out.append(boxes[group[0]])
            continue
        x0, y0 = r[group, 0].min(), r[group, 1].min()
        x1, y1 = r[group, 2].max(), r[group, 3].max()
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) @ back.T
        score = float(np.mean([boxes[g].score for g in group]))
        out.append(TextBox(order_points(pts), score))
    return out


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


def rotate_expanded(image: np.ndarray, angle: float, fill: int) -> tuple[np.ndarray, np.ndarray]:
    """Image (gray or RGB) rotated by `angle` degrees counter-clockwise on an expanded canvas filled
    with gray level `fill`, and the 2x3 affine that maps input points to output points."""
    h, w = image.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    c, s = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = math.ceil(h * s + w * c), math.ceil(h * c + w * s)
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    out = cv2.warpAffine(image, m, (nw, nh), flags=cv2.INTER_LINEAR, borderValue=(fill, fill, fill))
    return out, m


def _split_runs(profile: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
    """[start, end) runs where profile > 0, joining runs separated by fewer than min_gap zeros."""
    on = np.flatnonzero(profile > 0)
    if on.size == 0:
        return []
    runs = [[int(on[0]), int(on[0]) + 1]]
    for i in on[1:]:
        if i - runs[-1][1] >= min_gap:
            runs.append([int(i), int(i) + 1])
        else:
            runs[-1][1] = int(i) + 1
    return [(a, b) for a, b in runs]


def _union_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
    """Connected groups of 0..n-1 under the (k, 2) index pairs (union-find)."""
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, j in pairs:
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


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
                for a, b in _split_runs(prof, min_gap):
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
            groups = _union_groups(len(r), np.argwhere(np.triu(link)))
            r = np.array([[r[g, 0].min(), r[g, 1].min(), r[g, 2].max(), r[g, 3].max()]
                          for g in groups])
        return [tuple(int(v) for v in row) for row in r]

    def analyze(self, image: np.ndarray) -> Detection:
        """Boxes and stages: input, gray, binarize, table rules, text ink, deskewed, joined lines, boxes."""
        t0 = time.perf_counter()
        cfg = self.config
        rgb = _rgb(image)
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        stages = [Stage("input", rgb, f"{rgb.shape[1]}×{rgb.shape[0]} px"), Stage("gray", gray, "luma")]
        ink, detail = _binarize(gray, cfg.binarize)
        stages.append(Stage("binarize", _ink_view(ink), detail))
        ch = _char_height(ink, cfg.min_char_px)
        if ch is None:
            stages.append(Stage("boxes", rgb, "no text found"))
            return Detection((), tuple(stages), 0.0, None, "horizontal", (time.perf_counter() - t0) * 1000)
        angle = estimate_skew(ink, cfg.max_skew) if cfg.deskew else 0.0
        if angle:  # rotate the gray page (smooth) and binarise it again
            border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
            gray_r, m = rotate_expanded(gray, -angle, int(np.median(border)))
            ink, _ = _binarize(gray_r, cfg.binarize)
            stages.append(Stage("deskewed", _ink_view(ink),
                                f"text skew {angle:+.2f}° (counter-clockwise), rotated back"))
        else:
            m = np.array([[1.0, 0, 0], [0, 1.0, 0]])
        rules = None
        if cfg.remove_rules:
            length = max(25, round(cfg.rule_len * ch))
            rules = _table_rules(ink, length)
            n_rules = int((rules > 0).sum())
            stages.append(Stage("table rules", _ink_view(rules),
                                f"runs ≥ {length} px (= {cfg.rule_len:g} × char height): "
                                f"{n_rules} px removed"))
            ink = cv2.bitwise_and(ink, cv2.bitwise_not(rules))
            ch = _char_height(ink, cfg.min_char_px) or ch
        straight = ink
        stages.append(Stage("text ink", _ink_view(ink),
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
        stages.append(Stage("joined lines", _ink_view(joined),
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


# ------------------------------------------------------------------------------------ PP-OCR DB det
@dataclass(frozen=True)
class DBConfig:
    """DB (differentiable binarisation) post-processing, PaddleOCR's defaults for Chinese.

    limit_side: the longer side is scaled down to this (never up), then both sides to a multiple of 32.
    thresh:     probability threshold of the text-kernel map.
    box_thresh: a box is kept if the mean probability inside it is at least this.
    unclip_ratio: the shrunk kernel box is grown by area * ratio / perimeter on every side.
    """

    limit_side: int = 960
    min_side: int = 64
    thresh: float = 0.3
    box_thresh: float = 0.6
    unclip_ratio: float = 1.5
    max_candidates: int = 1000
    dilate: bool = False
    merge_columns: bool = True

    def __post_init__(self) -> None:
        if not (0 < self.thresh < 1 and 0 < self.box_thresh < 1) or self.unclip_ratio <= 0:
            raise ValueError("thresh and box_thresh must lie in (0, 1) and unclip_ratio be > 0")
        if self.limit_side < 32:
            raise ValueError("limit_side must be >= 32")


_DB_MODELS = {
    "ppocr-det": ("rapidocr_onnxruntime", "models/ch_PP-OCRv4_det_infer.onnx", "PP-OCRv4 DB detector"),
}
# ImageNet statistics in the order PaddleOCR applies them: to channels of a BGR image.
_DB_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_DB_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)


def _db_input(rgb: np.ndarray, cfg: DBConfig) -> tuple[np.ndarray, float, float]:
    """(1, 3, H', W') float32 network input and the x, y scale factors (input px per image px)."""
    h, w = rgb.shape[:2]
    ratio = min(1.0, cfg.limit_side / max(h, w))
    nh = max(32, round(h * ratio / 32) * 32)
    nw = max(32, round(w * ratio / 32) * 32)
    bgr = cv2.resize(rgb[:, :, ::-1], (nw, nh), interpolation=cv2.INTER_LINEAR)
    x = (bgr.astype(np.float32) / 255.0 - _DB_MEAN) / _DB_STD
    return x.transpose(2, 0, 1)[None].astype(np.float32), nw / w, nh / h


def _box_score(prob: np.ndarray, box: np.ndarray) -> float:
    """Mean probability inside the polygon box (4, 2) ("fast" score of PaddleOCR)."""
    h, w = prob.shape
    x0 = int(np.clip(np.floor(box[:, 0].min()), 0, w - 1))
    x1 = int(np.clip(np.ceil(box[:, 0].max()), 0, w - 1))
    y0 = int(np.clip(np.floor(box[:, 1].min()), 0, h - 1))
    y1 = int(np.clip(np.ceil(box[:, 1].max()), 0, h - 1))
    mask = np.zeros((y1 - y0 + 1, x1 - x0 + 1), dtype=np.uint8)
    shifted = box - np.array([x0, y0], dtype=np.float32)
    cv2.fillPoly(mask, [shifted.round().astype(np.int32)], 1)
    return float(cv2.mean(prob[y0:y1 + 1, x0:x1 + 1], mask)[0])


def db_boxes(prob: np.ndarray, cfg: DBConfig) -> list[tuple[np.ndarray, float]]:
    """DB post-processing on a probability map (H', W'): [(box (4, 2) in map pixels, score)].

    threshold -> contours -> minAreaRect -> score -> unclip (the rectangle grows by
    d = area * unclip_ratio / perimeter on every side, which is what a rounded polygon offset of a
    rectangle gives after minAreaRect) -> drop boxes thinner than 5 px.
    """
    bitmap = (prob > cfg.thresh).astype(np.uint8)
    if cfg.dilate:
        bitmap = cv2.dilate(bitmap, np.ones((2, 2), np.uint8))
    contours, _ = cv2.findContours(bitmap * 255, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
    out = []
    for contour in contours[: cfg.max_candidates]:
        (cx, cy), (w, h), a = cv2.minAreaRect(contour)
        if min(w, h) < 3:
            continue
        pts = cv2.boxPoints(((cx, cy), (w, h), a)).astype(np.float32)
        score = _box_score(prob, pts)
        if score < cfg.box_thresh:
            continue
        d = (w * h) * cfg.unclip_ratio / (2 * (w + h))
        w2, h2 = w + 2 * d, h + 2 * d
        if min(w2, h2) < 5:
            continue
        out.append((cv2.boxPoints(((cx, cy), (w2, h2), a)).astype(np.float32), score))
    return out


class DBDetector(Detector):
    """PP-OCRv4 DB text detector from the rapidocr_onnxruntime wheel, run with onnxruntime."""

    name = "ppocr-det"
    title = "PP-OCRv4 DB detector"

    def __init__(self, config: DBConfig | None = None, model: str = "ppocr-det",
                 threads: int | None = None) -> None:
        from ocr.engines.onnx_ctc import make_session, package_file

        package, rel, title = _DB_MODELS[model]
        path, why = package_file(package, rel)
        if path is None:
            raise EngineUnavailable(f"detector {model!r} is unavailable: {why}")
        self.config = config or DBConfig()
        self.model_path = path
        self.title = title
        self._session = make_session(path, threads)
        self._input = self._session.get_inputs()[0].name  # type: ignore[attr-defined]

    def probability(self, image: np.ndarray) -> tuple[np.ndarray, float, float]:
        """The text probability map (H', W') float32 and the x, y scale (map px per image px)."""
        rgb = _rgb(image)
        h, w = rgb.shape[:2]
        if min(h, w) < self.config.min_side:  # tiny inputs: pad with the border colour
            ph, pw = max(0, self.config.min_side - h), max(0, self.config.min_side - w)
            rgb = cv2.copyMakeBorder(rgb, 0, ph, 0, pw, cv2.BORDER_REPLICATE)
        x, sx, sy = _db_input(rgb, self.config)
        prob = self._session.run(None, {self._input: x})[0][0, 0]  # type: ignore[attr-defined]
        return prob.astype(np.float32), sx, sy

    def analyze(self, image: np.ndarray) -> Detection:
        """Boxes and stages: input, probability map, binary map, boxes."""
        t0 = time.perf_counter()
        rgb = _rgb(image)
        h, w = rgb.shape[:2]
        prob, sx, sy = self.probability(rgb)
        boxes = []
        for pts, score in db_boxes(prob, self.config):
            p = pts / np.array([sx, sy], dtype=np.float32)
            p[:, 0] = np.clip(p[:, 0], 0, w - 1)
            p[:, 1] = np.clip(p[:, 1], 0, h - 1)
            b = TextBox(order_points(p), score)
            if b.width > 3 and b.height > 3:
                boxes.append(b)
        cfg = self.config
        if cfg.merge_columns:
            boxes = merge_column_fragments(boxes, page_angle(boxes))
        stages = (
            Stage("input", rgb, f"{w}×{h} px, fed at {prob.shape[1]}×{prob.shape[0]} (multiple of 32, "
                                f"longer side ≤ {cfg.limit_side}), ImageNet mean/std on BGR"),
            Stage("probability", (np.clip(prob, 0, 1) * 255).astype(np.uint8), "DB text-kernel probability"),
            Stage("threshold", _ink_view((prob > cfg.thresh).astype(np.uint8)),
                  f"p > {cfg.thresh:g}; boxes kept with mean p ≥ {cfg.box_thresh:g}, "
                  f"unclip {cfg.unclip_ratio:g}"),
            Stage("boxes", draw_boxes(rgb, boxes), f"{len(boxes)} line(s)"),
        )
        n_vert = sum(b.vertical for b in boxes)
        orientation: Literal["horizontal", "vertical"] = (
            "vertical" if n_vert > sum(b.width > VERTICAL_RATIO * b.height for b in boxes) else "horizontal")
        return Detection(tuple(boxes), stages, page_angle(boxes), None, orientation,
                         (time.perf_counter() - t0) * 1000)


# ---------------------------------------------------------------------------------------- registry
DETECTORS: dict[str, str] = {
    "classical": "Classical (OpenCV): binarise, remove table rules, deskew, join characters into lines",
    "ppocr-det": "PP-OCRv4 DB detector (rapidocr_onnxruntime wheel, onnxruntime)",
}
_detectors: dict[str, Detector] = {}
_lock = threading.Lock()


def detector_names() -> list[str]:
    """Registered detector names, in display order."""
    return list(DETECTORS)


def detector_available(name: str) -> tuple[bool, str]:
    """(True, "") if the detector can load here, else (False, reason)."""
    if name not in DETECTORS:
        raise UnknownDetector(f"unknown detector {name!r}; choose from {', '.join(DETECTORS)}")
    if name == "classical":
        return True, ""
    from ocr.engines.onnx_ctc import package_file

    if package_file("onnxruntime", "__init__.py")[1]:
        return False, "onnxruntime is not installed"
    package, rel, _ = _DB_MODELS[name]
    why = package_file(package, rel)[1]
    return why is None, why or ""


def load_detector(name: str) -> Detector:
    """The detector, loaded once per process (thread-safe). Raises EngineUnavailable / UnknownDetector."""
    with _lock:
        if name in _detectors:
            return _detectors[name]
        ok, why = detector_available(name)
        if not ok:
            raise EngineUnavailable(f"detector {name!r} is unavailable: {why}")
        det: Detector = ClassicalDetector() if name == "classical" else DBDetector(model=name)
        _detectors[name] = det
        return det
