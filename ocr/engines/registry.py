"""The one registry of engines: it feeds the app's sidebar, the CLI and the benchmark."""

from __future__ import annotations

import importlib
import threading
from dataclasses import dataclass

from ocr.engines.base import Engine
from ocr.errors import EngineUnavailable, UnknownEngine

__all__ = ["ENGINES", "EngineInfo", "available", "default_engine", "engine_names", "load_engine"]


@dataclass(frozen=True)
class EngineInfo:
    """A registered engine: `module` defines `check() -> str | None` (why unavailable) and `load()`."""

    name: str
    title: str
    has_ctc: bool
    module: str
    summary: str


ENGINES: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("ppocr-v4", "PP-OCRv4 mobile rec", True, "ocr.engines.ppocr",
                   "PP-OCRv4 recognizer (SVTR-LCNet, 6,625 classes) from the rapidocr_onnxruntime wheel"),
        EngineInfo("ppocr-v6", "PP-OCRv6 small rec", True, "ocr.engines.ppocr",
                   "PP-OCRv6 small recognizer (18.7 k classes) from the rapidocr 3.x wheel"),
        EngineInfo("ddddocr", "ddddocr CRNN", True, "ocr.engines.ddddocr",
                   "CNN + BiLSTM + CTC (8,210 classes, MIT) from the ddddocr wheel"),
        EngineInfo("crnn", "Our CRNN", True, "ocr.engines.crnn",
                   "the project's own PyTorch CRNN, trained here (models/crnn.pt)"),
        EngineInfo("crnn-fast", "Our CRNN (fast, 32 px)", True, "ocr.engines.crnn",
                   "a 1.2 M-parameter 32-px CRNN for speed (models/crnn_fast.pt)"),
        EngineInfo("tesseract", "Tesseract 5 chi_sim", False, "ocr.engines.tesseract",
                   "Tesseract 5 LSTM, chi_sim, --psm 7; text only, no CTC matrix"),
    )
}

_loaded: dict[str, Engine] = {}
_lock = threading.Lock()


def engine_names() -> list[str]:
    """Registered engine names, in display order."""
    return list(ENGINES)


def _info(name: str) -> EngineInfo:
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngine(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}") from None


def available(name: str) -> tuple[bool, str]:
    """(True, "") if the engine can load here, else (False, reason)."""
    info = _info(name)
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:  # a missing optional dependency
        return False, f"cannot import {info.module}: {exc}"
    reason = module.check(name)
    return (reason is None), (reason or "")


def load_engine(name: str) -> Engine:
    """The engine, loaded once per process (thread-safe). Raises EngineUnavailable with the reason."""
    with _lock:
        if name in _loaded:
            return _loaded[name]
        ok, reason = available(name)
        if not ok:
            raise EngineUnavailable(f"engine {name!r} is unavailable: {reason}")
        engine = importlib.import_module(_info(name).module).load(name)
        _loaded[name] = engine
        return engine


def default_engine() -> str:
    """The default engine: the first available of the preferred order (see README for why)."""
    for name in ("ppocr-v4", "ppocr-v6", "ddddocr", "crnn", "tesseract"):
        if available(name)[0]:
            return name
    raise EngineUnavailable("no engine is available; run `make install`")
