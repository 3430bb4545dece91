"""The one registry of engines, in display order: it feeds the app's sidebar, the CLI, the API and the
benchmark. Titles and order live here only.

ENGINES holds the built-in engines, then one `user:NAME` entry per model fine-tuned here
(ocr.engines.user, read from the user-models folder on access), so a finished fine-tune appears at
once everywhere the registry is read."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping
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


BUILTIN: dict[str, EngineInfo] = {
    info.name: info
    for info in (
        EngineInfo("ppocr-v4", "PP-OCRv4 mobile rec", True, "ocr.engines.ppocr",
                   "PP-OCRv4 recognizer (SVTR-LCNet, 6,625 classes) from the rapidocr_onnxruntime wheel"),
        EngineInfo("ppocr-v6", "PP-OCRv6 small rec", True, "ocr.engines.ppocr",
                   "PP-OCRv6 small recognizer (18.7 k classes) from the rapidocr 3.x wheel"),
        EngineInfo("ddddocr", "ddddocr CRNN", True, "ocr.engines.ddddocr",
                   "CNN + BiLSTM + CTC (8,210 classes, MIT) from the ddddocr wheel"),
        EngineInfo("crnn", "Our CRNN", True, "ocr.engines.crnn",
                   "the project's own CRNN, trained here (models/crnn.onnx, int8)"),
        EngineInfo("crnn-fast", "Our CRNN (fast, 32 px)", True, "ocr.engines.crnn",
                   "a small 32-px CRNN for speed (models/crnn_fast.onnx)"),
        EngineInfo("tesseract", "Tesseract 5 chi_sim", False, "ocr.engines.tesseract",
                   "Tesseract 5 LSTM, chi_sim, --psm 7; text only, no CTC matrix"),
    )
}


class _Engines(Mapping[str, EngineInfo]):
    """Built-in engines, then the user models in the user-models folder (re-listed when it changes)."""

    def __init__(self) -> None:
        self._key: object = None
        self._user: dict[str, EngineInfo] = {}

    def _current(self) -> dict[str, EngineInfo]:
        from ocr.engines import user

        key = user.user_models_signature()
        if key != self._key:
            self._user = {m.engine: EngineInfo(m.engine, m.title, True, "ocr.engines.user", m.summary)
                          for m in user.list_user_models()}
            self._key = key
        return {**BUILTIN, **self._user}

    def __getitem__(self, name: str) -> EngineInfo:
        return self._current()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._current()))

    def __len__(self) -> int:
        return len(self._current())


ENGINES: Mapping[str, EngineInfo] = _Engines()


def _version(name: str) -> object:
    """A user model's file version (a replaced model is loaded again); None for built-in engines."""
    from ocr.engines import user

    return user.model_version(name) if name.startswith(user.USER_PREFIX) else None


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


_REGISTRY: Registry[Engine] = Registry("engine", lambda: list(ENGINES), _why_not, _build,
                                         unknown=UnknownEngine, version=_version)


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
