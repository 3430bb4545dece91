"""Cached loaders: engines and the language model once per process (st.cache_resource, never mutated),
images and CTC matrices per input (st.cache_data).

The model's (T, C) matrix is cached per (image digest, engine, preprocess config), and decoder output per
(matrix key, decoder config), so moving a slider on the inspector only redoes the cheap parts.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ocr.engines.registry import ENGINES, available, default_engine, load_engine
from ocr.errors import EngineUnavailable

if TYPE_CHECKING:
    from ocr.decoding import CharNgramLM, DecoderConfig
    from ocr.engines.base import Engine
    from ocr.pipeline import Recognition
    from ocr.preprocess import PreprocessConfig, Preprocessed
    from ocr.types import Decoded

__all__ = [
    "MatrixResult",
    "cached_decode",
    "cached_matrix",
    "cached_recognition",
    "default_engine_name",
    "digest",
    "engine_status",
    "get_engine",
    "get_lm",
    "load_image_cached",
    "upside_down_probability",
]


def digest(data: bytes) -> str:
    """A short content hash used as the cache key of an uploaded or sample image."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


@st.cache_data(ttl=600, show_spinner=False)
def _engine_status(user_models: object) -> dict[str, tuple[bool, str]]:
    return {name: available(name) for name in ENGINES}


def engine_status() -> dict[str, tuple[bool, str]]:
    """{engine name: (available, reason)} for every registered engine, in registry order; recomputed
    at once when a fine-tuned user model appears, changes or goes."""
    from ocr.engines.user import user_models_signature

    return _engine_status(user_models_signature())


engine_status.clear = _engine_status.clear  # type: ignore[attr-defined]  # callers reset the cache as before


@st.cache_data(ttl=600, show_spinner=False)
def default_engine_name() -> str | None:
    """The registry's default engine, or None when no engine can load here."""
    try:
        return default_engine()
    except EngineUnavailable:
        return None


@st.cache_resource(show_spinner="Loading the recognizer…")
def _get_engine(name: str, version: object) -> Engine:
    return load_engine(name)


def get_engine(name: str) -> Engine:
    """The engine, loaded once per process (again when a user model's file is replaced). Raises
    EngineUnavailable (not cached) with the reason."""
    from ocr.engines.user import USER_PREFIX, model_version

    return _get_engine(name, model_version(name) if name.startswith(USER_PREFIX) else None)


@st.cache_resource(show_spinner="Loading the language model…")
def get_lm() -> CharNgramLM:
    """The default character language model for beam+LM decoding, loaded once per process."""
    from ocr.decoding import load_default_lm

    return load_default_lm()


IMAGE_CACHE_ENTRIES = 16  # decoded uploads kept ...
IMAGE_CACHE_TTL_S = 900  # ... for at most 15 minutes each
IMAGE_CACHE_MAX_PIXELS = 4_000_000  # larger images are decoded each time, never cached (12 MB as RGB)


@st.cache_data(max_entries=IMAGE_CACHE_ENTRIES, ttl=IMAGE_CACHE_TTL_S, show_spinner=False)
def _decode_cached(data: bytes) -> np.ndarray:
    from ocr.imageio import load_image

    return load_image(data)


def load_image_cached(data: bytes) -> np.ndarray:
    """Decode image bytes to (H, W, 3) uint8 RGB. Raises ocr.errors.ImageError (never cached).

    Cached per content for images up to IMAGE_CACHE_MAX_PIXELS (at most IMAGE_CACHE_ENTRIES of them,
    each for IMAGE_CACHE_TTL_S), so the cache holds at most ~200 MB whatever is uploaded."""
    from ocr.imageio import declared_size, load_image

    size = declared_size(data)
    if size is None or size[0] * size[1] > IMAGE_CACHE_MAX_PIXELS:
        return load_image(data)
    return _decode_cached(data)


@dataclass(frozen=True)
class MatrixResult:
    """What the model produced for one (image, engine, preprocess config)."""

    pre: Preprocessed
    logprobs: np.ndarray | None  # (T, C) log-probabilities; None for text-only engines
    text: str | None  # the engine's own text for text-only engines
    preprocess_ms: float
    model_ms: float


def _config_key(config: PreprocessConfig) -> tuple[tuple[str, object], ...]:
    return tuple(sorted(asdict(config).items()))


@st.cache_data(max_entries=16, show_spinner="Running the model…")
def _matrix(image_key: str, _image: np.ndarray, engine_name: str,
            config_key: tuple[tuple[str, object], ...]) -> MatrixResult:
    from ocr.pipeline import prepare, run_model
    from ocr.preprocess import PreprocessConfig

    engine = get_engine(engine_name)
    config = PreprocessConfig(**dict(config_key))
    t0 = time.perf_counter()
    pre = prepare(_image, engine, config)
    t1 = time.perf_counter()
    output = run_model(engine, [pre])[0]
    t2 = time.perf_counter()
    return MatrixResult(pre, output.logprobs, output.text, (t1 - t0) * 1000, (t2 - t1) * 1000)


def cached_matrix(image_key: str, image: np.ndarray, engine_name: str,
                  config: PreprocessConfig) -> MatrixResult:
    """Preprocess + model output for an image, cached per (image_key, engine, preprocess config).

    image_key must identify the image's content (see digest()); the array itself is not hashed.
    """
    return _matrix(image_key, image, engine_name, _config_key(config))


@st.cache_data(max_entries=64, show_spinner=False)
def _decode(image_key: str, _image: np.ndarray, engine_name: str,
            config_key: tuple[tuple[str, object], ...],
            decoder_key: tuple[tuple[str, object], ...]) -> tuple[list[Decoded], float]:
    from ocr.decoding import DecoderConfig
    from ocr.pipeline import ModelOutput, decode_output
    from ocr.preprocess import PreprocessConfig

    engine = get_engine(engine_name)
    result = cached_matrix(image_key, _image, engine_name, PreprocessConfig(**dict(config_key)))
    config = DecoderConfig(**dict(decoder_key))
    lm = get_lm() if config.method == "beam_lm" else None
    t0 = time.perf_counter()
    out = decode_output(ModelOutput(result.logprobs, result.text), engine.charset, config, lm=lm)
    return out, (time.perf_counter() - t0) * 1000


def cached_decode(image_key: str, image: np.ndarray, engine_name: str, config: PreprocessConfig,
                  decoder: DecoderConfig) -> tuple[list[Decoded], float]:
    """(N-best list best first, decode ms) for the cached matrix of this input under `decoder`."""
    return _decode(image_key, image, engine_name, _config_key(config),
                   tuple(sorted(asdict(decoder).items())))


@st.cache_data(max_entries=32, show_spinner="Running the model…")
def _recognition(image_key: str, _image: np.ndarray, engine_name: str,
                 config_key: tuple[tuple[str, object], ...],
                 decoder_key: tuple[tuple[str, object], ...]) -> Recognition:
    from ocr.decoding import DecoderConfig
    from ocr.pipeline import recognize
    from ocr.preprocess import PreprocessConfig

    return recognize(_image, get_engine(engine_name), DecoderConfig(**dict(decoder_key)),  # type: ignore[arg-type]
                     PreprocessConfig(**dict(config_key)))


def cached_recognition(image_key: str, image: np.ndarray, engine_name: str, config: PreprocessConfig,
                       decoder: DecoderConfig) -> Recognition:
    """ocr.pipeline.recognize cached per (image content key, engine, preprocess config, decoder config):
    coming back to an image (another page, a rerun) shows its result without running the model again.
    The Recognition's timings are those of the run that computed it."""
    return _recognition(image_key, image, engine_name, _config_key(config),
                        tuple(sorted(asdict(decoder).items())))


@st.cache_data(max_entries=64, show_spinner=False)
def _upside_down(image_key: str, _image: np.ndarray) -> float | None:
    from ocr.documents.orientation import load_orientation, orientation_available

    if not orientation_available()[0]:
        return None
    return float(load_orientation().upside_down([_image])[0])


def upside_down_probability(image_key: str, image: np.ndarray) -> float | None:
    """The 0°/180° line classifier's probability that this line image (H, W, 3) uint8 is upside down,
    cached per content key; None where the classifier cannot load."""
    return _upside_down(image_key, image)
