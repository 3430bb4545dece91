"""ocr: a Chinese text-line recognition library (preprocess -> engine -> CTC decoder).

Importable without Streamlit. Data flow:
image (H, W, 3) uint8 RGB -> preprocess stages -> tensor (C, H', W') float32 -> engine ->
log-probabilities (T, C) -> decoder -> Decoded.

Example (run from the repository root):

>>> from ocr import DecoderConfig, load_engine, load_image, recognize
>>> engine = load_engine("ppocr-v4")                                # loaded once per process
>>> line = load_image("sample_images/rendered/invoice_title.png")  # (H, W, 3) uint8 RGB
>>> rec = recognize(line, engine)                                    # greedy CTC decoding by default
>>> rec.text
'增值税专用发票'
>>> 0.0 <= rec.best.mean_confidence <= 1.0
True
>>> recognize(line, engine, DecoderConfig(method="beam")).nbest[0].text
'增值税专用发票'

The public names below are imported on first use, so `import ocr.<module>` stays light.
Packages: engines/ (recognizers + their registry), decoding/ (greedy, beam, LM), models/ (architectures,
checkpoints), documents/ (pages: detectors, reading order), evaluation/ (datasets, metrics, bench),
training/ (synthetic data, training loop), api/ (REST); pipeline.py composes the steps.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING

# onnxruntime's telemetry (a device id and an event database under ~/.cache/Microsoft, uploads where it
# can) starts when onnxruntime is imported; every engine and detector here runs in onnxruntime, so it
# is turned off before any import of it (ORT_DISABLE_TELEMETRY=0 in the environment turns it back on).
os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

__version__ = "0.1.0"

__all__ = [
    "DecoderConfig",
    "Recognition",
    "engine_names",
    "load_engine",
    "load_image",
    "recognize",
    "recognize_batch",
]

_HOME = {
    "DecoderConfig": "ocr.decoding",
    "Recognition": "ocr.pipeline",
    "engine_names": "ocr.engines.registry",
    "load_engine": "ocr.engines.registry",
    "load_image": "ocr.imageio",
    "recognize": "ocr.pipeline",
    "recognize_batch": "ocr.pipeline",
}

if TYPE_CHECKING:
    from ocr.decoding import DecoderConfig
    from ocr.engines.registry import engine_names, load_engine
    from ocr.imageio import load_image
    from ocr.pipeline import Recognition, recognize, recognize_batch


def __getattr__(name: str) -> object:
    """The public names, imported from their home module on first use."""
    if name not in _HOME:
        raise AttributeError(f"module 'ocr' has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
