"""Whole-page reading: detect lines -> straighten crops -> reading order -> batch by aspect ratio ->
recognize with a line engine -> PageResult.

Vertical lines (box height > 1.5 x width, i.e. a column of at least two characters) are turned
90° counter-clockwise (np.rot90(crop, 1)): the top of the column becomes the left end of a horizontal
line, so a horizontal line engine reads it in order (the characters lie on their side; PP-OCRv4 reads
such lines correctly).

Example:
    engine = load_engine("ppocr-v4")
    result = read_page(load_image("page.png"), engine)   # default detector, 0/180 check
    print(result.text)                 # lines in reading order, joined by "\\n"
    result.to_dict()                   # the CLI/API JSON form
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ocr.decoding import DECODERS
from ocr.documents.detectors import DETECTORS, Detection, Detector, default_detector, load_detector
from ocr.documents.geometry import TextBox, crop_box
from ocr.documents.orientation import (
    FLIP_LINE_P,
    FLIP_PAGE_P,
    flip_box,
    load_orientation,
    orientation_available,
)
from ocr.documents.reading_order import reading_order

if TYPE_CHECKING:
    from ocr.decoding import DecoderConfig
    from ocr.engines.base import Engine
    from ocr.pipeline import Recognition
    from ocr.preprocess import PreprocessConfig

__all__ = [
    "VERTICAL_TURN",
    "PageLine",
    "PageResult",
    "add_page_command",
    "aspect_batches",
    "line_crop",
    "read_page",
    "run_page_command",
]

VERTICAL_TURN = "counter-clockwise"  # how vertical crops are turned: np.rot90(crop, 1)


@dataclass(frozen=True, eq=False)
class PageLine:
    """One line of a page, in reading order.

    box: where it is on the page; crop: the straightened (and, for vertical text, turned) image the
    engine read, (h, w, 3) uint8; confidence: mean per-character confidence in [0, 1], None for
    text-only engines.
    """

    box: TextBox
    text: str
    confidence: float | None
    vertical: bool
    crop: np.ndarray
    recognition: Recognition | None = None
    upside_down: bool = False  # the crop was turned 180° before reading (page or line found upside down)

    def to_dict(self) -> dict[str, object]:
        """{"box": [[x, y]] * 4, "text", "confidence", "vertical", "upside_down"}."""
        conf = None if self.confidence is None else round(float(self.confidence), 4)
        return {"box": self.box.as_list(), "text": self.text, "confidence": conf, "vertical": self.vertical,
                "upside_down": self.upside_down}


@dataclass(frozen=True, eq=False)
class PageResult:
    """A read page: lines in reading order, the detection (boxes + stages) and timings (ms)."""

    lines: tuple[PageLine, ...]
    detection: Detection
    detector: str
    engine: str
    decoder: str
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)
    turned: int = 0  # 180 when the page was found upside down and read turned (boxes stay in input coords)

    @property
    def text(self) -> str:
        """The page text: line texts in reading order joined by newlines (empty lines dropped)."""
        return "\n".join(line.text for line in self.lines if line.text)

    def to_dict(self) -> dict[str, object]:
        """{"text", "lines": [{"box", "text", "confidence", "vertical"}], "elapsed_ms", ...} (JSON-ready)."""
        return {
            "text": self.text,
            "lines": [line.to_dict() for line in self.lines],
            "elapsed_ms": round(self.elapsed_ms, 2),
            "detector": self.detector,
            "engine": self.engine,
            "decoder": self.decoder,
            "angle": round(self.detection.angle, 2),
            "turned": self.turned,
            "timings_ms": {k: round(v, 2) for k, v in self.timings.items()},
        }


def line_crop(image: np.ndarray, box: TextBox) -> tuple[np.ndarray, bool]:
    """(crop (h, w, 3) uint8 as a horizontal line, vertical?) for one box of the page."""
    crop = crop_box(image, box)
    if box.vertical:
        return np.ascontiguousarray(np.rot90(crop, 1)), True
    return crop, False


def aspect_batches(crops: list[np.ndarray], batch_size: int) -> list[list[int]]:
    """Indices of crops grouped into batches of similar width/height (less padding per batch)."""
    if batch_size < 1:
        raise ValueError("batch_size must be >= 1")
    order = sorted(range(len(crops)), key=lambda i: crops[i].shape[1] / max(crops[i].shape[0], 1))
    return [order[i:i + batch_size] for i in range(0, len(order), batch_size)]


def read_page(
    image: np.ndarray,
    engine: Engine,
    detector: str | Detector | None = None,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
    batch_size: int = 16,
    orient: bool = True,
) -> PageResult:
    """Read a page (H, W, 3) uint8 RGB: detect, order, crop, recognize in aspect-ratio batches.

    detector: a name, a loaded detector, or None for default_detector() (ppocr-det where it can load).
    orient: check the lines with the 0°/180° classifier (ocr.documents.orientation) when it can load:
    a page whose lines are mostly upside down is read turned 180° (reading order redone on the turned
    boxes; line boxes stay in the input's coordinates), and a line the classifier calls upside down with
    p ≥ FLIP_LINE_P is read both ways, keeping the reading with the higher mean confidence.
    Timings (ms): detect, crop (cropping and the orientation check), recognize.
    An empty page gives a PageResult with no lines and text "".
    """
    from ocr.decoding import DecoderConfig
    from ocr.pipeline import decoder_name, recognize_batch

    decoder = decoder or DecoderConfig()
    det = load_detector(detector or default_detector()) if not isinstance(detector, Detector) else detector
    t0 = time.perf_counter()
    detection = det.analyze(image)
    t1 = time.perf_counter()
    boxes = list(detection.boxes)
    flip_p = np.zeros(len(boxes), dtype=np.float32)
    turned = 0
    if orient and boxes and orientation_available()[0]:
        flip_p = load_orientation().upside_down([line_crop(image, b)[0] for b in boxes])
        horizontal = [p for p, b in zip(flip_p, boxes, strict=True) if not b.vertical]
        if horizontal and float(np.median(horizontal)) >= FLIP_PAGE_P:  # columns alone never turn a page
            turned = 180
            flip_p = 1.0 - flip_p  # the page is read turned: a line that looked upside down now is not
    h, w = image.shape[:2]
    work = [flip_box(b, w, h) for b in boxes] if turned else boxes
    order = reading_order(work, detection.angle)
    boxes, flip_p = [boxes[i] for i in order], flip_p[order] if len(order) else flip_p
    crops, vertical = [], []
    for b in boxes:
        c, v = line_crop(image, b)
        crops.append(np.ascontiguousarray(np.rot90(c, 2)) if turned else c)
        vertical.append(v)
    t2 = time.perf_counter()
    recs: dict[int, Recognition] = {}
    for batch in aspect_batches(crops, batch_size):
        got = recognize_batch([crops[i] for i in batch], engine, decoder, preprocess_config)
        recs.update(zip(batch, got, strict=True))
    flipped = set()
    doubt = [i for i, p in enumerate(flip_p) if p >= FLIP_LINE_P and not vertical[i]]
    if doubt:
        turned_crops = [np.ascontiguousarray(np.rot90(crops[i], 2)) for i in doubt]
        again = recognize_batch(turned_crops, engine, decoder, preprocess_config)
        for i, crop, alt in zip(doubt, turned_crops, again, strict=True):
            if _mean_confidence(alt) > _mean_confidence(recs[i]):
                recs[i], crops[i] = alt, crop
                flipped.add(i)
    t3 = time.perf_counter()
    lines = []
    for i, (b, c, v) in enumerate(zip(boxes, crops, vertical, strict=True)):
        rec = recs[i]
        conf = rec.best.mean_confidence if rec.best is not None else None
        lines.append(PageLine(b, rec.text, conf, v, c, rec, upside_down=bool(turned) != (i in flipped)))
    timings = {"detect": (t1 - t0) * 1000, "crop": (t2 - t1) * 1000, "recognize": (t3 - t2) * 1000}
    return PageResult(tuple(lines), detection, det.name, engine.name,
                      decoder_name(engine, decoder), (t3 - t0) * 1000, timings, turned)


def _mean_confidence(rec: Recognition) -> float:
    """Mean per-character confidence of a reading; text-only engines count as 0.5 (no evidence)."""
    return rec.best.mean_confidence if rec.best is not None and rec.best.labels else (
        0.5 if rec.best is None and rec.text else 0.0)


# --------------------------------------------------------------------------------------------- CLI
def add_page_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `page IMAGE [--detector classical|ppocr-det] [--engine E] [--decoder D] [--json]`."""
    p = subparsers.add_parser("page", help="read a whole page: find text lines, read them in order")
    p.add_argument("image")
    p.add_argument("--detector", choices=list(DETECTORS), default=None,
                   help="line detector (default: ppocr-det where it can load, else classical)")
    p.add_argument("--no-orient", dest="orient", action="store_false",
                   help="skip the 0/180 line classifier (upside-down pages and lines are read as they are)")
    p.add_argument("--engine", help="line engine (see `engines`); default: the best available")
    p.add_argument("--decoder", choices=DECODERS, default="greedy")
    p.add_argument("--json", action="store_true",
                   help='print {"text", "lines": [{"box", "text", "confidence"}], "elapsed_ms"}')
    p.set_defaults(func=run_page_command)


def run_page_command(args: argparse.Namespace) -> int:
    """Handler of `page`: prints the text (or JSON) and returns the exit status (0).

    Library errors (ImageError, EngineUnavailable, ...) propagate to the CLI's one-line error handler.
    """
    from ocr.decoding import DecoderConfig
    from ocr.engines.registry import default_engine, load_engine
    from ocr.imageio import load_image

    engine = load_engine(args.engine or default_engine())
    image = load_image(Path(args.image))
    t0 = time.perf_counter()
    result = read_page(image, engine, args.detector, DecoderConfig.from_options(args.decoder),
                       orient=args.orient)
    wall = (time.perf_counter() - t0) * 1000
    if args.json:
        out = result.to_dict()
        out["elapsed_ms"] = round(wall, 2)
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(result.text)
    return 0
