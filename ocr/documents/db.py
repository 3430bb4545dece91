"""The "ppocr-det" line detector: the PP-OCRv4 DB detector read from the rapidocr_onnxruntime wheel, run
with onnxruntime; DB post-processing (threshold, contours, minAreaRect, unclip) is implemented here."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ocr.documents.detectors import Detection, Detector
from ocr.documents.geometry import (
    VERTICAL_RATIO,
    TextBox,
    draw_boxes,
    ink_view,
    merge_column_fragments,
    order_points,
    page_angle,
    to_rgb,
)
from ocr.errors import EngineUnavailable
from ocr.preprocess import Stage

__all__ = ["DB_MODELS", "DBConfig", "DBDetector", "db_boxes"]


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


DB_MODELS = {
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


MAX_LINE_TILT = 60.0  # degrees: an elongated box whose long side is tilted at most this much is a line
MIN_LINE_ELONGATION = 2.0  # long side / short side; squarer boxes (pieces of columns) keep order_points


def line_quad(points: np.ndarray) -> np.ndarray:
    """Corners (4, 2) as tl, tr, br, bl with the top edge along the box's long side when the box is
    elongated (MIN_LINE_ELONGATION) and that side is tilted at most MAX_LINE_TILT from horizontal (a
    tilted sticker or sign reads along its long side); otherwise order_points (the edge closest to
    horizontal on top: upright lines, vertical columns and their square-ish pieces).

    order_points alone turns a line tilted past 45° into a "vertical column" and crops it sideways.
    """
    p = order_points(points)
    top, side = p[1] - p[0], p[2] - p[1]
    if float(np.hypot(*side)) < MIN_LINE_ELONGATION * float(np.hypot(*top)):
        return p  # the top edge is already the long side, or the box is too square to tell
    u = side if side[0] >= 0 else -side  # long-axis direction, pointing right
    tilt = abs(np.degrees(np.arctan2(float(u[1]), float(u[0]))))
    if tilt > MAX_LINE_TILT:
        return p
    u = u / max(float(np.hypot(*u)), 1e-6)
    n = np.array([u[1], -u[0]], dtype=np.float32)  # towards the text's top (y grows downwards)
    c = p.mean(axis=0)
    along, up = (p - c) @ u, (p - c) @ n
    tl = int(np.argmax(up - along))
    tr = int(np.argmax(up + along))
    br = int(np.argmax(-up + along))
    bl = int(np.argmax(-up - along))
    if len({tl, tr, br, bl}) < 4:
        return p
    return p[[tl, tr, br, bl]].astype(np.float32)


class DBDetector(Detector):
    """PP-OCRv4 DB text detector from the rapidocr_onnxruntime wheel, run with onnxruntime."""

    name = "ppocr-det"
    title = "PP-OCRv4 DB detector"

    def __init__(self, config: DBConfig | None = None, model: str = "ppocr-det",
                 threads: int | None = None) -> None:
        from ocr.engines.onnx_ctc import make_session, package_file

        package, rel, title = DB_MODELS[model]
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
        rgb = to_rgb(image)
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
        rgb = to_rgb(image)
        h, w = rgb.shape[:2]
        prob, sx, sy = self.probability(rgb)
        boxes = []
        for pts, score in db_boxes(prob, self.config):
            p = pts / np.array([sx, sy], dtype=np.float32)
            p[:, 0] = np.clip(p[:, 0], 0, w - 1)
            p[:, 1] = np.clip(p[:, 1], 0, h - 1)
            b = TextBox(line_quad(p), score)
            if b.width > 3 and b.height > 3:
                boxes.append(b)
        cfg = self.config
        if cfg.merge_columns:
            boxes = merge_column_fragments(boxes, page_angle(boxes))
        stages = (
            Stage("input", rgb, f"{w}×{h} px, fed at {prob.shape[1]}×{prob.shape[0]} (multiple of 32, "
                                f"longer side ≤ {cfg.limit_side}), ImageNet mean/std on BGR"),
            Stage("probability", (np.clip(prob, 0, 1) * 255).astype(np.uint8), "DB text-kernel probability"),
            Stage("threshold", ink_view((prob > cfg.thresh).astype(np.uint8)),
                  f"p > {cfg.thresh:g}; boxes kept with mean p ≥ {cfg.box_thresh:g}, "
                  f"unclip {cfg.unclip_ratio:g}"),
            Stage("boxes", draw_boxes(rgb, boxes), f"{len(boxes)} line(s)"),
        )
        n_vert = sum(b.vertical for b in boxes)
        orientation: Literal["horizontal", "vertical"] = (
            "vertical" if n_vert > sum(b.width > VERTICAL_RATIO * b.height for b in boxes) else "horizontal")
        return Detection(tuple(boxes), stages, page_angle(boxes), None, orientation,
                         (time.perf_counter() - t0) * 1000)
