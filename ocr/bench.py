"""Benchmark engines x decoders on a labelled set: accuracy (line acc, CER, 1-NED) and latency.

Latency is per line: preprocess + model + decode of one line at a time (image decoding from disk is
excluded), after one warm-up call. With batch_size > 1 a second, batched pass measures throughput
(lines_per_s); otherwise lines_per_s = lines / total single-line time.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from ocr.datasets import LabelledSet, Sample
from ocr.decoding import DecoderConfig
from ocr.engines.registry import load_engine
from ocr.errors import OCRError
from ocr.imageio import load_image
from ocr.metrics import DEFAULT_NORM, Normalization, cer, score_lines
from ocr.pipeline import recognize, recognize_batch
from ocr.preprocess import PreprocessConfig

__all__ = ["LENGTH_BUCKETS", "BenchResult", "SampleResult", "run_bench"]

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


def _bucket_cer(pairs: list[tuple[str, str]], norm: Normalization) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for lo, hi in LENGTH_BUCKETS:
        sel = [(r, h) for r, h in pairs if lo <= len(r) <= hi]
        out[f"{lo}-{hi}"] = score_lines(sel, norm).cer if sel else None
    return out


def _plan(
    engines: list[str], decoders: list[str], template: DecoderConfig
) -> list[tuple[str, DecoderConfig | None]]:
    """engine x decoder pairs; a text-only engine runs once (decoder None)."""
    from ocr.engines.registry import ENGINES

    plan: list[tuple[str, DecoderConfig | None]] = []
    for name in engines:
        if not ENGINES[name].has_ctc:
            plan.append((name, None))
        else:
            plan.extend((name, replace(template, method=d)) for d in decoders)
    return plan


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
    from ocr.engines.registry import ENGINES

    for name in engines:
        if name not in ENGINES:
            raise OCRError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    for d in decoders:
        if d not in ("greedy", "beam", "beam_lm"):
            raise OCRError(f"unknown decoder {d!r}; choose from greedy, beam, beam_lm")
    loaded = {name: load_engine(name) for name in engines}
    images: dict[str, np.ndarray] = {}
    failures: dict[str, str] = {}
    for s in lset.runnable:
        try:
            images[s.key] = load_image(s.image_path)  # type: ignore[arg-type]
        except OCRError as exc:
            failures[s.key] = str(exc)
    plan = _plan(engines, decoders, decoder_template or DecoderConfig())
    total = len(plan) * len(lset.samples)
    done = 0
    results: list[BenchResult] = []
    for name, dec in plan:
        engine = loaded[name]
        label = dec.method if dec is not None else "text"
        rows: list[SampleResult] = []
        ok_keys = [s for s in lset.samples if s.key in images]
        if ok_keys:  # warm-up: lazy init must not count as latency
            recognize(images[ok_keys[0].key], engine, dec, preprocess_config)
        for s in lset.samples:
            rows.append(_run_one(s, images, failures, engine, dec, preprocess_config, norm))
            done += 1
            if progress:
                progress(done, total, f"{name}/{label}")
        timed = [r for r in rows if r.ms is not None]
        ms = np.array([r.ms for r in timed]) if timed else np.zeros(1)
        pairs = [(r.label, r.prediction) for r in timed]
        sc = score_lines(pairs, norm)
        lines_per_s = len(timed) / (ms.sum() / 1000) if timed and ms.sum() > 0 else 0.0
        if batch_size > 1 and timed:
            lines_per_s = _throughput([images[r.key] for r in timed], engine, dec, preprocess_config,
                                      batch_size)
        results.append(BenchResult(
            engine=name, decoder=label, n=sc.n, line_acc=sc.line_acc, cer=sc.cer, ned=sc.ned,
            p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)),
            lines_per_s=lines_per_s, batch_size=batch_size, failed=len(rows) - len(timed),
            cer_by_length=_bucket_cer(pairs, norm), samples=rows,
        ))
    return results


def _run_one(
    s: Sample,
    images: dict[str, np.ndarray],
    failures: dict[str, str],
    engine: object,
    dec: DecoderConfig | None,
    pre: PreprocessConfig | None,
    norm: Normalization,
) -> SampleResult:
    if s.error is not None or s.key not in images:
        return SampleResult(s.key, s.text, "", None, None, error=s.error or failures.get(s.key),
                            warning=s.warning)
    try:
        rec = recognize(images[s.key], engine, dec, pre)  # type: ignore[arg-type]
    except OCRError as exc:
        return SampleResult(s.key, s.text, "", None, None, error=str(exc), warning=s.warning)
    except Exception as exc:  # a bug on one line is reported on that row, not a crash of the whole run
        msg = f"internal error: {type(exc).__name__}: {exc}"
        return SampleResult(s.key, s.text, "", None, None, error=msg, warning=s.warning)
    conf = rec.best.mean_confidence if rec.best is not None else None
    return SampleResult(s.key, s.text, rec.text, cer(s.text, rec.text, norm), rec.elapsed_ms, conf,
                        warning=s.warning)


def _throughput(
    images: list[np.ndarray], engine: object, dec: DecoderConfig | None, pre: PreprocessConfig | None,
    batch_size: int,
) -> float:
    """Lines/s of batched recognition (batches sorted by aspect ratio to limit padding)."""
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
    t0 = time.perf_counter()
    for start in range(0, len(order), batch_size):
        batch = [images[i] for i in order[start:start + batch_size]]
        recognize_batch(batch, engine, dec, pre)  # type: ignore[arg-type]
    return len(images) / (time.perf_counter() - t0)
