"""image -> preprocess -> engine -> decoder, timed: the one place the steps are composed.

The CLI, the app's pages and inspector, the API, the benchmark, whole-page reading and training's
evaluation all go through these functions:

- prepare(image, engine, config) -> Preprocessed          the engine's input (its InputSpec honoured)
- run_model(engine, pres) -> [ModelOutput]                 (T, C) log-probabilities, or a text-only
                                                           engine's own text (yields_matrix decides)
- decode_output(output, charset, decoder) -> [Decoded]     N-best, best first ([] for text output)
- recognize / recognize_batch / recognize_each_decoder     the three composed, timed -> Recognition
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np

from ocr.decoding import CharNgramLM, DecoderConfig, decode, load_default_lm
from ocr.engines.base import Engine
from ocr.preprocess import PreprocessConfig, Preprocessed, preprocess
from ocr.types import Decoded

__all__ = [
    "TEXT_DECODER",
    "ModelOutput",
    "Recognition",
    "decode_output",
    "decoder_name",
    "decoders_for",
    "iter_recognize_lines",
    "prepare",
    "recognize",
    "recognize_batch",
    "recognize_each_decoder",
    "recognize_lines",
    "run_model",
    "yields_matrix",
]

TEXT_DECODER = "text"  # the decoder name reported for a text-only engine (no CTC matrix to decode)


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


@dataclass(frozen=True)
class ModelOutput:
    """What the engine gave for one line: a (T, C) float32 log-probability matrix (CTC engines, text None)
    or its own text (text-only engines, logprobs None)."""

    logprobs: np.ndarray | None
    text: str | None = None


def yields_matrix(engine: Engine) -> bool:
    """Whether the engine's output is a CTC matrix to decode (else its own text): the one has_ctc
    decision, which run_model and decoders_for follow."""
    return engine.has_ctc


def decoders_for(engine: Engine, decoders: Sequence[DecoderConfig]) -> list[DecoderConfig | None]:
    """The decoder passes an engine's output takes: every decoder for a CTC engine; one pass with no
    decoder (None, reported as "text") for a text-only engine."""
    return list(decoders) if yields_matrix(engine) else [None]


def decoder_name(engine: Engine, decoder: DecoderConfig) -> str:
    """The decoder name a result reports: decoder.method, or "text" for a text-only engine."""
    chosen = decoders_for(engine, [decoder])[0]
    return chosen.method if chosen is not None else TEXT_DECODER


def prepare(image: np.ndarray, engine: Engine, config: PreprocessConfig | None = None) -> Preprocessed:
    """Preprocess a line image (H, W, 3) uint8 RGB for `engine` (its InputSpec: height, channels, pad)."""
    return preprocess(image, engine.input_spec, config or PreprocessConfig())


def run_model(engine: Engine, pres: Sequence[Preprocessed]) -> list[ModelOutput]:
    """One batched engine call over preprocessed lines: a ModelOutput per line, in order."""
    if yields_matrix(engine):
        return [ModelOutput(m) for m in engine.logprobs_batch([p.tensor for p in pres])]
    return [ModelOutput(None, engine.read_text(p.model_image)) for p in pres]


def decode_output(
    output: ModelOutput, charset: Sequence[str], decoder: DecoderConfig, lm: CharNgramLM | None = None
) -> list[Decoded]:
    """N-best decodings of one line's output, best first; [] for a text-only output.

    beam_lm uses `lm`, or the default LM (loaded once per process) when none is given.
    """
    if output.logprobs is None:
        return []
    if decoder.method == "beam_lm" and lm is None:
        lm = load_default_lm()
    return decode(output.logprobs, charset, decoder, lm=lm)


def _recognition(
    engine: Engine, pre: Preprocessed, decoder: DecoderConfig | None, output: ModelOutput,
    nbest: list[Decoded], timings: dict[str, float],
) -> Recognition:
    text = nbest[0].text if nbest else (output.text or "")
    return Recognition(
        text=text, engine=engine.name, decoder=decoder.method if decoder is not None else TEXT_DECODER,
        best=nbest[0] if nbest else None, nbest=tuple(nbest), logprobs=output.logprobs,
        charset=engine.charset, pre=pre, elapsed_ms=sum(timings.values()), timings=dict(timings),
    )


def _decode_timed(
    engine: Engine, outputs: list[ModelOutput], decoder: DecoderConfig | None
) -> tuple[list[list[Decoded]], float]:
    """Decode every output with one decoder (None: text-only, nothing to decode); (results, ms)."""
    if decoder is None:
        return [[] for _ in outputs], 0.0
    lm = load_default_lm() if decoder.method == "beam_lm" else None
    t0 = time.perf_counter()
    results = [decode_output(o, engine.charset, decoder, lm) for o in outputs]
    return results, (time.perf_counter() - t0) * 1000


def recognize_batch(
    images: list[np.ndarray],
    engine: Engine,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
) -> list[Recognition]:
    """Recognize line images (each (H, W, 3) uint8 RGB) with one batched model call.

    Elapsed time per line is the batch's total divided by its size.
    """
    if not images:
        return []
    dec = decoders_for(engine, [decoder or DecoderConfig()])[0]
    t0 = time.perf_counter()
    pres = [prepare(img, engine, preprocess_config) for img in images]
    t1 = time.perf_counter()
    outputs = run_model(engine, pres)
    t2 = time.perf_counter()
    decoded, decode_ms = _decode_timed(engine, outputs, dec)
    n = len(images)
    timings = {"preprocess": (t1 - t0) * 1000 / n, "model": (t2 - t1) * 1000 / n, "decode": decode_ms / n}
    return [_recognition(engine, pre, dec, outputs[i], decoded[i], timings) for i, pre in enumerate(pres)]


def iter_recognize_lines(
    images: Sequence[np.ndarray],
    engine: Engine,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
    batch_size: int = 16,
) -> Iterator[tuple[int, Recognition]]:
    """Recognize many line images (each (H, W, 3) uint8 RGB) in width buckets; yields (index, Recognition)
    a model call at a time, in bucket order, so a caller that keeps only what it needs holds one call's
    (T, C) matrices at a time (a PP-OCR line's matrix is ~1 MB).

    Only lines whose model input has the same shape share a model call (at most batch_size a call), so
    no line is padded beyond what it gets alone and each result equals recognize() on that line:
    padding changes PP-OCR's outputs (its SVTR blocks attend over the whole width) and our CRNNs'
    (their convolutions see it). elapsed_ms per line: its own preprocessing plus its call's model and
    decode time divided among the call's lines.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, not {batch_size}")
    dec = decoders_for(engine, [decoder or DecoderConfig()])[0]
    pres: list[Preprocessed | None] = []
    pre_ms: list[float] = []
    buckets: dict[tuple[int, ...], list[int]] = {}
    for i, img in enumerate(images):
        t0 = time.perf_counter()
        pre = prepare(img, engine, preprocess_config)
        pre_ms.append((time.perf_counter() - t0) * 1000)
        pres.append(pre)
        buckets.setdefault(tuple(pre.model_image.shape), []).append(i)
    for _, members in sorted(buckets.items()):
        for start in range(0, len(members), batch_size):
            group = members[start:start + batch_size]
            batch = [pres[i] for i in group]
            t1 = time.perf_counter()
            outputs = run_model(engine, batch)  # type: ignore[arg-type]
            model_ms = (time.perf_counter() - t1) * 1000
            decoded, decode_ms = _decode_timed(engine, outputs, dec)
            k = len(group)
            for j, i in enumerate(group):
                timings = {"preprocess": pre_ms[i], "model": model_ms / k, "decode": decode_ms / k}
                yield i, _recognition(engine, batch[j], dec, outputs[j], decoded[j], timings)  # type: ignore[arg-type]
                pres[i] = None


def recognize_lines(
    images: Sequence[np.ndarray],
    engine: Engine,
    decoder: DecoderConfig | None = None,
    preprocess_config: PreprocessConfig | None = None,
    batch_size: int = 16,
) -> list[Recognition]:
    """iter_recognize_lines' results in input order (every matrix held at once: for many lines, iterate)."""
    out: dict[int, Recognition] = dict(iter_recognize_lines(images, engine, decoder, preprocess_config,
                                                            batch_size))
    return [out[i] for i in range(len(images))]


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
    """One line through preprocess + model once, then each decoder on the same output.

    Each Recognition's elapsed_ms = the shared preprocess + model time + its own decode time, i.e. what
    a single call with that decoder costs. A text-only engine gives one Recognition (decoder "text").
    """
    if not decoders:
        return [recognize(image, engine, None, preprocess_config)]
    t0 = time.perf_counter()
    pre = prepare(image, engine, preprocess_config)
    t1 = time.perf_counter()
    output = run_model(engine, [pre])[0]
    t2 = time.perf_counter()
    out = []
    for dec in decoders_for(engine, decoders):
        decoded, decode_ms = _decode_timed(engine, [output], dec)
        timings = {"preprocess": (t1 - t0) * 1000, "model": (t2 - t1) * 1000, "decode": decode_ms}
        out.append(_recognition(engine, pre, dec, output, decoded[0], timings))
    return out
