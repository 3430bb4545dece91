"""Whole-page reading: detect lines -> straighten crops -> reading order -> batch by aspect ratio ->
recognize with a line engine -> PageResult.

Vertical lines (box height > 1.5 x width, i.e. a column of at least two characters) are turned
90° counter-clockwise (np.rot90(crop, 1)): the top of the column becomes the left end of a horizontal
line, so a horizontal line engine reads it in order (the characters lie on their side; PP-OCRv4 reads
such lines correctly).

Example:
    engine = load_engine("ppocr-v4")
    result = read_page(load_image("page.png"), engine, detector="ppocr-det")
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

from ocr.documents.detectors import DETECTORS, Detection, Detector, load_detector
from ocr.documents.geometry import TextBox, crop_box
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

    def to_dict(self) -> dict[str, object]:
        """{"box": [[x, y]] * 4, "text", "confidence", "vertical"}."""
        conf = None if self.confidence is None else round(float(self.confidence), 4)
        return {"box": self.box.as_list(), "text": self.text, "confidence": conf, "vertical": self.vertical}


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
    detector: str | Detector = "classical",
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
    batch_size: int = 16,
) -> PageResult:
    """Read a page (H, W, 3) uint8 RGB: detect, order, crop, recognize in aspect-ratio batches.

    An empty page gives a PageResult with no lines and text "".
    """
    from ocr.decoding import DecoderConfig
    from ocr.pipeline import recognize_batch

    decoder = decoder or DecoderConfig()
    det = load_detector(detector) if isinstance(detector, str) else detector
    t0 = time.perf_counter()
    detection = det.analyze(image)
    t1 = time.perf_counter()
    boxes = list(detection.boxes)
    order = reading_order(boxes, detection.angle)
    boxes = [boxes[i] for i in order]
    crops, vertical = [], []
    for b in boxes:
        c, v = line_crop(image, b)
        crops.append(c)
        vertical.append(v)
    t2 = time.perf_counter()
    recs: dict[int, Recognition] = {}
    for batch in aspect_batches(crops, batch_size):
        got = recognize_batch([crops[i] for i in batch], engine, decoder, preprocess_config)
        recs.update(zip(batch, got, strict=True))
    t3 = time.perf_counter()
    lines = []
    for i, (b, c, v) in enumerate(zip(boxes, crops, vertical, strict=True)):
        rec = recs[i]
        conf = rec.best.mean_confidence if rec.best is not None else None
        lines.append(PageLine(b, rec.text, conf, v, c, rec))
    timings = {"detect": (t1 - t0) * 1000, "crop": (t2 - t1) * 1000, "recognize": (t3 - t2) * 1000}
    return PageResult(tuple(lines), detection, det.name, engine.name,
                      decoder.method if engine.has_ctc else "text", (t3 - t0) * 1000, timings)


# --------------------------------------------------------------------------------------------- CLI
def add_page_command(subparsers: argparse._SubParsersAction) -> None:
    """Register `page IMAGE [--detector classical|ppocr-det] [--engine E] [--decoder D] [--json]`."""
    p = subparsers.add_parser("page", help="read a whole page: find text lines, read them in order")
    p.add_argument("image")
    p.add_argument("--detector", choices=list(DETECTORS), default="classical",
                   help="line detector (default classical; ppocr-det for photos and busy pages)")
    p.add_argument("--engine", help="line engine (see `engines`); default: the best available")
    p.add_argument("--decoder", choices=["greedy", "beam", "beam_lm"], default="greedy")
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
    result = read_page(image, engine, args.detector, DecoderConfig(method=args.decoder))
    wall = (time.perf_counter() - t0) * 1000
    if args.json:
        out = result.to_dict()
        out["elapsed_ms"] = round(wall, 2)
        print(json.dumps(out, ensure_ascii=False, indent=2))
    else:
        print(result.text)
    return 0
