"""The detector interface (Detector.analyze -> Detection) and the one registry of detectors.

Detectors share `Detector.detect(image) -> list[TextBox]` and `analyze`, which also returns the
intermediate stages for display. Implementations: ocr.documents.classical, ocr.documents.db.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from ocr.documents.geometry import TextBox
from ocr.errors import OCRError
from ocr.preprocess import Stage
from ocr.registry import Registry

__all__ = [
    "DETECTORS",
    "Detection",
    "Detector",
    "UnknownDetector",
    "default_detector",
    "detector_available",
    "detector_names",
    "load_detector",
]


class UnknownDetector(OCRError):
    """No detector of that name is registered."""


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


# ---------------------------------------------------------------------------------------- registry
DETECTORS: dict[str, str] = {
    "classical": "Classical (OpenCV): binarise, remove table rules, deskew, join characters into lines",
    "ppocr-det": "PP-OCRv4 DB detector (rapidocr_onnxruntime wheel, onnxruntime)",
}


def _why_not(name: str) -> str | None:
    """Why the detector cannot load here (None when it can)."""
    if name == "classical":
        return None
    from ocr.documents.db import DB_MODELS
    from ocr.engines.onnx_ctc import package_file

    if package_file("onnxruntime", "__init__.py")[1]:
        return "onnxruntime is not installed"
    package, rel, _ = DB_MODELS[name]
    return package_file(package, rel)[1]


def _build(name: str) -> Detector:
    if name == "classical":
        from ocr.documents.classical import ClassicalDetector

        return ClassicalDetector()
    from ocr.documents.db import DBDetector

    return DBDetector(model=name)


_REGISTRY: Registry[Detector] = Registry("detector", DETECTORS, _why_not, _build, unknown=UnknownDetector)


# The default: on 12 real document photos the classical detector's lines came back with CER 0.345, the
# PP-OCR DB detector's with 0.008 (issue 18); classical stays for rendered pages and machines without
# onnxruntime.
DEFAULT_DETECTORS = ("ppocr-det", "classical")


def default_detector() -> str:
    """The first of DEFAULT_DETECTORS that can load here ("ppocr-det", else "classical")."""
    for name in DEFAULT_DETECTORS:
        if _REGISTRY.available(name)[0]:
            return name
    return DEFAULT_DETECTORS[-1]


def detector_names() -> list[str]:
    """Registered detector names, in display order."""
    return _REGISTRY.names()


def detector_available(name: str) -> tuple[bool, str]:
    """(True, "") if the detector can load here, else (False, reason)."""
    return _REGISTRY.available(name)


def load_detector(name: str) -> Detector:
    """The detector, loaded once per process (thread-safe). Raises EngineUnavailable / UnknownDetector."""
    return _REGISTRY.load(name)
