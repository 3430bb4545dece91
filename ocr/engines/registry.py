"""The one registry of engines, in display order: it feeds the app's sidebar, the CLI, the API and the
benchmark. Titles and order live here only."""

from __future__ import annotations

import importlib
from dataclasses import dataclass

from ocr.engines.base import Engine
from ocr.errors import EngineUnavailable, UnknownEngine
from ocr.registry import Registry

__all__ = [
    "ENGINES", "EngineInfo", "available", "default_engine", "engine_names", "engine_title", "load_engine",
]


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


def _why_not(name: str) -> str | None:
    """Why the engine cannot load here (None when it can): a missing optional import or its check()."""
    info = ENGINES[name]
    try:
        module = importlib.import_module(info.module)
    except ImportError as exc:  # a missing optional dependency
        return f"cannot import {info.module}: {exc}"
    return module.check(name)


def _build(name: str) -> Engine:
    return importlib.import_module(ENGINES[name].module).load(name)


_REGISTRY: Registry[Engine] = Registry("engine", ENGINES, _why_not, _build, unknown=UnknownEngine)


def engine_names() -> list[str]:
    """Registered engine names, in display order."""
    return _REGISTRY.names()


def engine_title(name: str) -> str:
    """The engine's display title (raises UnknownEngine)."""
    return ENGINES[_REGISTRY.require(name)].title


def available(name: str) -> tuple[bool, str]:
    """(True, "") if the engine can load here, else (False, reason)."""
    return _REGISTRY.available(name)


def load_engine(name: str) -> Engine:
    """The engine, loaded once per process (thread-safe). Raises EngineUnavailable with the reason."""
    return _REGISTRY.load(name)


def default_engine() -> str:
    """The default engine: the first available in registry (display) order (see README for why)."""
    for name in ENGINES:
        if available(name)[0]:
            return name
    raise EngineUnavailable("no engine is available; run `make install`")
