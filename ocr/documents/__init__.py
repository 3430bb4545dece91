"""Whole documents: find text lines on a page, order them, read them with a line engine.

- geometry.py       TextBox, crops, IoU, page angle, column merging
- reading_order.py  reading_order(boxes) -> indices
- detectors.py      the Detector interface and the one detector registry
- classical.py      OpenCV line detector ("classical")
- db.py             PP-OCRv4 DB line detector ("ppocr-det")
- page.py           read_page: detect -> order -> crop -> recognize in aspect-ratio batches
- synth_pages.py    rendered test pages with line ground truth

Example:
    det = load_detector("classical")
    boxes = det.detect(image)                     # image: (H, W, 3) uint8 RGB
    order = reading_order(boxes)                  # indices into boxes
    crops = [crop_box(image, boxes[i]) for i in order]
"""

from ocr.documents.detectors import DETECTORS, Detection, Detector, detector_available, load_detector
from ocr.documents.geometry import TextBox, crop_box
from ocr.documents.reading_order import reading_order

__all__ = [
    "DETECTORS",
    "Detection",
    "Detector",
    "TextBox",
    "crop_box",
    "detector_available",
    "load_detector",
    "reading_order",
]
