"""Benchmark engines x decoders on a labelled set: accuracy (line acc, CER, 1-NED) and latency.

Latency is per line: preprocess + model + decode of one line at a time (image decoding from disk is
excluded), after one warm-up call. The model runs once per line and engine; each decoder's latency is
that shared preprocess + model time plus its own decode time. With batch_size > 1 a second, batched
pass measures throughput (lines_per_s); otherwise lines_per_s = lines / total single-line time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING

import numpy as np

from ocr.decoding import DECODERS, DecoderConfig
from ocr.engines.base import Engine
from ocr.engines.registry import ENGINES, load_engine
from ocr.errors import OCRError
from ocr.evaluation.datasets import LabelledSet, Sample
from ocr.evaluation.metrics import DEFAULT_NORM, Normalization, cer, score_lines
from ocr.evaluation.report import row_extras
from ocr.imageio import load_image
from ocr.pipeline import TEXT_DECODER, decoders_for, recognize_batch, recognize_each_decoder
from ocr.preprocess import PreprocessConfig

if TYPE_CHECKING:
    from ocr.pipeline import Recognition

__all__ = ["LENGTH_BUCKETS", "BenchResult", "SampleResult", "bucket_cer", "run_bench"]

LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 80), (81, 200))
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class SampleResult:
    """One line's outcome. error: why it was not run (or failed); prediction is "" then."""

    key: str
    label: str
    prediction: str
    cer: float | None
    ms: float | None
    confidence: float | None = None
    error: str | None = None
    warning: str | None = None
    char_confidences: tuple[float, ...] | None = None  # one per character of prediction; None: text-only
    subset: str = ""


@dataclass
class BenchResult:
    """Scores of one engine x decoder over the runnable samples."""

    engine: str
    decoder: str
    n: int
    line_acc: float
    cer: float
    ned: float
    p50_ms: float
    p95_ms: float
    lines_per_s: float
    batch_size: int = 1
    failed: int = 0
    cer_by_length: dict[str, float | None] = field(default_factory=dict)
    # issue 20 (ocr/evaluation/report.py): CIs, calibration, confusions, the normalisation, subsets
    ci95_cer: list[float] | None = None
    ci95_line_acc: list[float] | None = None
    ece: float | None = None
    ece_char: float | None = None
    confusions: list[dict[str, object]] = field(default_factory=list)
    normalization: dict[str, object] = field(default_factory=dict)
    by_subset: dict[str, dict[str, float]] = field(default_factory=dict)
    samples: list[SampleResult] = field(default_factory=list)

    def summary(self) -> dict[str, object]:
        """The CLI/JSON object (no per-sample rows)."""
        d = asdict(self)
        d.pop("samples")
        for k in ("line_acc", "cer", "ned"):
            d[k] = round(d[k], 5)
        for k in ("p50_ms", "p95_ms", "lines_per_s"):
            d[k] = round(d[k], 2)
        return d


def bucket_cer(pairs: list[tuple[str, str]], norm: Normalization = DEFAULT_NORM) -> dict[str, float | None]:
    """CER per reference-length bucket (LENGTH_BUCKETS) of (reference, hypothesis) pairs; None where a
    bucket has no line."""
    out: dict[str, float | None] = {}
    for lo, hi in LENGTH_BUCKETS:
        sel = [(r, h) for r, h in pairs if lo <= len(r) <= hi]
        out[f"{lo}-{hi}"] = score_lines(sel, norm).cer if sel else None
    return out


def run_bench(
    lset: LabelledSet,
    engines: list[str],
    decoders: list[str],
    progress: Progress | None = None,
    batch_size: int = 1,
    norm: Normalization = DEFAULT_NORM,
    preprocess_config: PreprocessConfig | None = None,
    decoder_template: DecoderConfig | None = None,
) -> list[BenchResult]:
    """Run every engine x decoder over the set. Raises only for an unknown/unavailable engine.

    decoder_template carries beam width, LM weight etc.; its method is replaced by each decoder.
    """
    for name in engines:
        if name not in ENGINES:
            raise OCRError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    for d in decoders:
        if d not in DECODERS:
            raise OCRError(f"unknown decoder {d!r}; choose from {', '.join(DECODERS)}")
    loaded = {name: load_engine(name) for name in engines}
    images: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    for s in lset.runnable:
        try:
            images[s.key] = load_image(s.image_path)  # type: ignore[arg-type]
        except OCRError as exc:
            failures[s.key] = str(exc)
    template = decoder_template or DecoderConfig()
    configs = [replace(template, method=d) for d in decoders]  # type: ignore[arg-type]
    total = len(engines) * len(lset.samples)
    done = 0
    results: list[BenchResult] = []
    for name in engines:
        engine = loaded[name]
        decs = decoders_for(engine, configs)
        rows: dict[int, list[SampleResult]] = {i: [] for i in range(len(decs))}
        ok = [s for s in lset.samples if s.key in images]
        if ok:  # warm-up: lazy init must not count as latency
            recognize_each_decoder(images[ok[0].key], engine, configs, preprocess_config)
        for s in lset.samples:
            got = _run_one(s, images, failures, engine, configs, len(decs), preprocess_config, norm)
            for i, row in enumerate(got):
                rows[i].append(row)
            done += 1
            if progress:
                progress(done, total, name)
        for i, dec in enumerate(decs):
            results.append(_summarise(name, dec, rows[i], images, engine, preprocess_config, batch_size,
                                      norm))
    return results


def _summarise(
    name: str, dec: DecoderConfig | None, rows: list[SampleResult], images: dict[str, np.ndarray],
    engine: Engine, pre: PreprocessConfig | None, batch_size: int, norm: Normalization,
) -> BenchResult:
    timed = [r for r in rows if r.ms is not None]
    ms = np.array([r.ms for r in timed]) if timed else np.zeros(1)
    pairs = [(r.label, r.prediction) for r in timed]
    sc = score_lines(pairs, norm)
    lines_per_s = len(timed) / (ms.sum() / 1000) if timed and ms.sum() > 0 else 0.0
    if batch_size > 1 and timed:
        lines_per_s = _throughput([images[r.key] for r in timed], engine, dec, pre, batch_size)
    return BenchResult(
        engine=name, decoder=dec.method if dec is not None else TEXT_DECODER, n=sc.n, line_acc=sc.line_acc,
        cer=sc.cer, ned=sc.ned, p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)),
        lines_per_s=lines_per_s, batch_size=batch_size, failed=len(rows) - len(timed),
        cer_by_length=bucket_cer(pairs, norm), samples=rows, **row_extras(rows, norm),
    )


def _run_one(
    s: Sample,
    images: dict[str, np.ndarray],
    failures: dict[str, str],
    engine: Engine,
    decoders: list[DecoderConfig],
    n_rows: int,
    pre: PreprocessConfig | None,
    norm: Normalization,
) -> list[SampleResult]:
    """One sample through the engine once and every decoder; n_rows rows (one per decoder pass)."""
    def failed(msg: str | None) -> list[SampleResult]:
        row = SampleResult(s.key, s.text, "", None, None, error=msg, warning=s.warning, subset=s.subset)
        return [row] * n_rows

    if s.error is not None or s.key not in images:
        return failed(s.error or failures.get(s.key))
    try:
        recs = recognize_each_decoder(images[s.key], engine, decoders, pre)
    except OCRError as exc:
        return failed(str(exc))
    except Exception as exc:  # a bug on one line is reported on that row, not a crash of the whole run
        return failed(f"internal error: {type(exc).__name__}: {exc}")
    return [
        SampleResult(s.key, s.text, rec.text, cer(s.text, rec.text, norm), rec.elapsed_ms,
                     rec.best.mean_confidence if rec.best is not None else None,
                     warning="; ".join(w for w in (s.warning, *rec.pre.warnings) if w) or None,
                     char_confidences=_char_confidences(rec), subset=s.subset)
        for rec in recs
    ]


def _char_confidences(rec: Recognition) -> tuple[float, ...] | None:
    """One confidence per character of rec.text (a charset entry's confidence for each of its
    characters); None for a text-only engine."""
    if rec.best is None:
        return None
    return tuple(round(float(c), 5) for lab, c in zip(rec.best.labels, rec.best.confidences, strict=True)
                 for _ in rec.charset[lab])


def _throughput(
    images: list[np.ndarray], engine: Engine, dec: DecoderConfig | None, pre: PreprocessConfig | None,
    batch_size: int,
) -> float:
    """Lines/s of batched recognition (batches sorted by aspect ratio to limit padding), after one
    untimed warm-up batch (a runtime's first call at a new batch shape allocates its buffers)."""
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
    recognize_batch([images[i] for i in order[:batch_size]], engine, dec, pre)
    t0 = time.perf_counter()
    for start in range(0, len(order), batch_size):
        batch = [images[i] for i in order[start:start + batch_size]]
        recognize_batch(batch, engine, dec, pre)
    return len(images) / (time.perf_counter() - t0)
