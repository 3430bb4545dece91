"""Reading order of text-line boxes: top-to-bottom, left-to-right, whole columns of two-column pages one
after the other, and vertical text columns right-to-left."""

from __future__ import annotations

import math

import numpy as np

from ocr.documents.geometry import VERTICAL_RATIO, TextBox, page_angle, page_rects, split_runs

__all__ = ["reading_order"]


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
    for a, b in split_runs((cover <= allowed).astype(np.int32), 1):
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
    r = page_rects(boxes, page_angle(boxes) if angle is None else angle)
    idx = list(range(len(boxes)))
    n_vert = sum(b.vertical for b in boxes)
    n_horiz = sum(b.width > VERTICAL_RATIO * b.height for b in boxes)
    if n_vert > n_horiz:
        return _order_v(r, idx)
    return _order_h(r, idx)
