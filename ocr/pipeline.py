"""image -> preprocess -> engine -> decoder, timed. The one path the CLI, app and benchmark use."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ocr.decoding import DecoderConfig, decode, load_default_lm
from ocr.engines.base import Engine
from ocr.preprocess import PreprocessConfig, Preprocessed, preprocess
from ocr.types import Decoded

__all__ = ["Recognition", "recognize", "recognize_batch", "recognize_each_decoder"]


@dataclass(frozen=True)
class Recognition:
    """One recognized line.

    best/nbest/logprobs are None/empty for text-only engines (no CTC matrix).
    logprobs: (T, C) float32; pre.model_image is what the model saw (H x W, padded).
    timings: milliseconds per step ("preprocess", "model", "decode").
    """

    text: str
    engine: str
    decoder: str
    best: Decoded | None
    nbest: tuple[Decoded, ...]
    logprobs: np.ndarray | None
    charset: tuple[str, ...]
    pre: Preprocessed
    elapsed_ms: float
    timings: dict[str, float] = field(default_factory=dict)


def _decode_all(
    engine: Engine, matrices: list[np.ndarray], decoder: DecoderConfig
) -> tuple[list[list[Decoded]], float]:
    lm = load_default_lm() if decoder.method == "beam_lm" else None
    t0 = time.perf_counter()
    results = [decode(m, engine.charset, decoder, lm=lm) for m in matrices]
    return results, (time.perf_counter() - t0) * 1000


def _recognition(
    engine: Engine, pre: Preprocessed, method: str, nbest: tuple[Decoded, ...], text: str,
    matrix: np.ndarray | None, timings: dict[str, float],
) -> Recognition:
    return Recognition(
        text=nbest[0].text if nbest else text, engine=engine.name, decoder=method,
        best=nbest[0] if nbest else None, nbest=nbest, logprobs=matrix, charset=engine.charset, pre=pre,
        elapsed_ms=sum(timings.values()), timings=dict(timings),
    )


def recognize_batch(
    images: list[np.ndarray],
    engine: Engine,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
) -> list[Recognition]:
    """Recognize line images (each (H, W, 3) uint8 RGB) with one batched model call.

    Elapsed time per line is the batch's total divided by its size.
    """
    decoder = decoder or DecoderConfig()
    config = preprocess_config or PreprocessConfig()
    if not images:
        return []
    t0 = time.perf_counter()
    pres = [preprocess(img, engine.input_spec, config) for img in images]
    t1 = time.perf_counter()
    if engine.has_ctc:
        matrices = engine.logprobs_batch([p.tensor for p in pres])
        t2 = time.perf_counter()
        decoded, decode_ms = _decode_all(engine, matrices, decoder)
        texts = [""] * len(pres)  # CTC engines take their text from the best decoding
    else:
        texts = [engine.read_text(p.model_image) for p in pres]
        t2 = time.perf_counter()
        matrices, decoded, decode_ms = [None] * len(pres), [[] for _ in pres], 0.0
    n = len(images)
    timings = {
        "preprocess": (t1 - t0) * 1000 / n,
        "model": (t2 - t1) * 1000 / n,
        "decode": decode_ms / n,
    }
    method = decoder.method if engine.has_ctc else "text"
    return [
        _recognition(engine, pre, method, tuple(decoded[i]), texts[i], matrices[i], timings)
        for i, pre in enumerate(pres)
    ]


def recognize(
    image: np.ndarray,
    engine: Engine,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
) -> Recognition:
    """Recognize one line image (H, W, 3) uint8 RGB."""
    return recognize_batch([image], engine, decoder, preprocess_config)[0]


def recognize_each_decoder(
    image: np.ndarray,
    engine: Engine,
    decoders: list[DecoderConfig],
    preprocess_config: PreprocessConfig | None = None,
) -> list[Recognition]:
    """One line through preprocess + model once, then each decoder on the same matrix.

    Each Recognition's elapsed_ms = the shared preprocess + model time + its own decode time, i.e. what
    a single call with that decoder costs. A text-only engine gives one Recognition (decoder "text").
    """
    if not engine.has_ctc or not decoders:
        return [recognize(image, engine, decoders[0] if decoders else None, preprocess_config)]
    config = preprocess_config or PreprocessConfig()
    t0 = time.perf_counter()
    pre = preprocess(image, engine.input_spec, config)
    t1 = time.perf_counter()
    matrix = engine.logprobs_batch([pre.tensor])[0]
    t2 = time.perf_counter()
    out = []
    for dec in decoders:
        decoded, decode_ms = _decode_all(engine, [matrix], dec)
        timings = {"preprocess": (t1 - t0) * 1000, "model": (t2 - t1) * 1000, "decode": decode_ms}
        out.append(_recognition(engine, pre, dec.method, tuple(decoded[0]), "", matrix, timings))
    return out
