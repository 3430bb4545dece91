"""Box geometry of detected text lines: TextBox (4 points tl, tr, br, bl), corner ordering, IoU, upright
crops, drawing, the page angle, rotation on an expanded canvas and merging split vertical columns.

Boxes are 4 points (x, y) in image pixels, ordered top-left, top-right, bottom-right, bottom-left of the
box as drawn upright (the top edge is the one closest to horizontal).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from ocr.errors import ImageError

__all__ = [
    "VERTICAL_RATIO",
    "TextBox",
    "box_iou",
    "crop_box",
    "draw_boxes",
    "ink_view",
    "merge_column_fragments",
    "order_points",
    "page_angle",
    "page_rects",
    "removed_view",
    "rotate_expanded",
    "split_runs",
    "to_rgb",
    "union_groups",
]

# A box taller than VERTICAL_RATIO x its width is a vertical text column (several characters).
VERTICAL_RATIO = 1.5


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
    out = to_rgb(image).copy()
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


def to_rgb(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.size == 0:
        raise ImageError("expected a non-empty uint8 image array")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.ndim == 3 and image.shape[2] == 3:
        return image
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_RGBA2RGB)
    raise ImageError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")


def ink_view(mask: np.ndarray) -> np.ndarray:
    """A 0/255 ink mask as black ink on white, for display."""
    return np.where(mask > 0, 0, 255).astype(np.uint8)


def removed_view(ink: np.ndarray, removed: np.ndarray) -> np.ndarray:
    """(H, W, 3) uint8 for display: the ink (0/255 mask) in light grey, the `removed` part of it in red, so
    the stage shows what was taken out against the page and is never a blank white box."""
    view = np.full((*ink.shape[:2], 3), 255, np.uint8)
    view[ink > 0] = (190, 190, 190)
    view[(removed > 0) & (ink > 0)] = (220, 38, 38)
    return view


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


def union_groups(n: int, pairs: np.ndarray) -> list[list[int]]:
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


def page_rects(boxes: list[TextBox], angle: float) -> np.ndarray:
    """Axis-aligned (x0, y0, x1, y1) of each box after rotating the page by -angle: (N, 4)."""
    t = math.radians(angle)
    c, s = math.cos(t), math.sin(t)
    rot = np.array([[c, -s], [s, c]], dtype=np.float64)  # undo a counter-clockwise (on screen) angle
    out = np.zeros((len(boxes), 4))
    for i, b in enumerate(boxes):
        q = b.points.astype(np.float64) @ rot.T
        out[i] = (q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max())
    return out


def merge_column_fragments(boxes: list[TextBox], angle: float = 0.0) -> list[TextBox]:
    """Join pieces of one vertical text column that a detector split (the DB model often cuts vertical
    columns into short pieces): boxes that are not horizontal lines, overlap in x by >= 60% of the
    narrower, have similar widths (ratio >= 0.6) and a vertical gap under 0.2 x their width are merged
    into their common rectangle (in the frame of the page `angle`)."""
    keep = [i for i, b in enumerate(boxes) if b.height >= 0.8 * b.width]
    if len(keep) < 2:
        return boxes
    r = page_rects(boxes, angle)
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
    back = np.array([[c, s], [-s, c]])  # inverse of the rotation used by page_rects
    out = []
    for group in union_groups(len(boxes), np.array(pairs)):
        if len(group) == 1:
            out.append(boxes[group[0]])
            continue
        x0, y0 = r[group, 0].min(), r[group, 1].min()
        x1, y1 = r[group, 2].max(), r[group, 3].max()
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]]) @ back.T
        score = float(np.mean([boxes[g].score for g in group]))
        out.append(TextBox(order_points(pts), score))
    return out


def split_runs(profile: np.ndarray, min_gap: int) -> list[tuple[int, int]]:
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
