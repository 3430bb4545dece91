"""Large evaluations: the benchmark's scores computed through the batch execution layer (ocr.batch), so
a million-line set runs on a Ray cluster and its per-sample rows go to Parquet.

    with open_labelled_set("big/labels.tsv") as lset, RaySession() as ray:
        results = run_bench_bulk(lset, ["ppocr-v4"], ["greedy"], ray.run)
    write_samples(results, Path("samples.parquet"))

Differences from run_bench (the latency benchmark): images are read by the workers, never all held in
memory at once; lines are batched by width (ocr.pipeline.recognize_lines), so p50/p95 are per-line
shares of batched calls, not single-line latency; lines_per_s = lines / wall time of the pass (engine
loading and, on Ray, actor start-up included); each decoder is its own pass over the set.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from ocr.batch.execute import Job
from ocr.batch.inputs import Item
from ocr.decoding import DECODERS, DecoderConfig
from ocr.engines.registry import ENGINES
from ocr.errors import OCRError
from ocr.evaluation.bench import BenchResult, Progress, SampleResult, bucket_cer
from ocr.evaluation.datasets import LabelledSet
from ocr.evaluation.metrics import DEFAULT_NORM, Normalization, cer, score_lines
from ocr.evaluation.report import row_extras
from ocr.preprocess import PreprocessConfig

__all__ = ["Runner", "run_bench_bulk", "sample_rows", "write_samples"]

Runner = Callable[[Sequence[Item], Job], Iterator[list[dict[str, object]]]]  # run_local or RaySession.run


def _score(name: str, decoder: str, rows: list[SampleResult], seconds: float, batch_size: int,
           norm: Normalization) -> BenchResult:
    timed = [r for r in rows if r.ms is not None]
    ms = np.array([r.ms for r in timed]) if timed else np.zeros(1)
    pairs = [(r.label, r.prediction) for r in timed]
    sc = score_lines(pairs, norm)
    return BenchResult(
        engine=name, decoder=decoder, n=sc.n, line_acc=sc.line_acc, cer=sc.cer, ned=sc.ned,
        p50_ms=float(np.percentile(ms, 50)), p95_ms=float(np.percentile(ms, 95)),
        lines_per_s=len(rows) / seconds if seconds > 0 else 0.0, batch_size=batch_size,
        failed=len(rows) - len(timed), cer_by_length=bucket_cer(pairs, norm), samples=rows,
        **row_extras(rows, norm),  # issue 20: CIs, calibration, confusions, normalisation, subsets
    )


def run_bench_bulk(
    lset: LabelledSet,
    engines: list[str],
    decoders: list[str],
    runner: Runner,
    progress: Progress | None = None,
    batch_size: int = 16,
    norm: Normalization = DEFAULT_NORM,
    preprocess_config: PreprocessConfig | None = None,
    decoder_template: DecoderConfig | None = None,
) -> list[BenchResult]:
    """Every engine x decoder over the set through `runner`; samples in set order.

    Raises OCRError for an unknown engine or decoder, or a runner that lost records.
    """
    for name in engines:
        if name not in ENGINES:
            raise OCRError(f"unknown engine {name!r}; choose from {', '.join(ENGINES)}")
    for d in decoders:
        if d not in DECODERS:
            raise OCRError(f"unknown decoder {d!r}; choose from {', '.join(DECODERS)}")
    template = decoder_template or DecoderConfig()
    samples = lset.samples
    items = [Item(s.key, str(s.image_path) if s.image_path is not None else "", s.text, s.error)
             for s in samples]
    passes = [(name, replace(template, method=d))  # type: ignore[arg-type]
              for name in engines for d in (decoders if ENGINES[name].has_ctc else decoders[:1])]
    total = len(passes) * len(samples)
    done = 0
    results = []
    for name, dec in passes:
        job = Job(engine=name, decoder=dec, preprocess=preprocess_config or PreprocessConfig(),
                  batch_size=batch_size)
        got: dict[str, dict[str, object]] = {}
        t0 = time.perf_counter()
        for records in runner(items, job):
            for r in records:
                got[str(r["path"])] = r
            done += len(records)
            if progress:
                progress(min(done, total), total, name)
        seconds = time.perf_counter() - t0
        lost = [s.key for s in samples if s.key not in got]
        if lost:
            raise OCRError(f"{len(lost)} sample(s) came back without a result (first: {lost[0]}); rerun")
        rows = []
        for s in samples:
            r = got[s.key]
            text, err = str(r["text"]), r["error"]
            confs = [float(c["confidence"]) for c in r["chars"]]  # type: ignore[union-attr]
            conf = (sum(confs) / len(confs) if confs else 1.0) if ENGINES[name].has_ctc else None
            per_char = (tuple(float(c["confidence"]) for c in r["chars"]  # type: ignore[union-attr]
                              for _ in str(c["char"])) if ENGINES[name].has_ctc else None)
            if err is not None:
                rows.append(SampleResult(s.key, s.text, "", None, None, error=str(err), warning=s.warning,
                                         subset=s.subset))
            else:
                rows.append(SampleResult(s.key, s.text, text, cer(s.text, text, norm),  # type: ignore[arg-type]
                                         float(r["elapsed_ms"]), conf, warning=s.warning,
                                         char_confidences=per_char, subset=s.subset))
        decoder = str(next(iter(got.values()))["decoder"]) if got else dec.method
        results.append(_score(name, decoder, rows, seconds, batch_size, norm))
    return results


def sample_rows(results: Sequence[BenchResult]) -> list[dict[str, object]]:
    """One row per run and sample: {"engine", "decoder", "key", "label", "prediction", "cer", "ms",
    "confidence", "error", "warning"}."""
    return [{"engine": r.engine, "decoder": r.decoder, **asdict(s)} for r in results for s in r.samples]


def write_samples(results: Sequence[BenchResult], path: Path) -> None:
    """Per-sample rows to `path`: Parquet (.parquet), JSON Lines (.jsonl) or else one JSON array."""
    rows = sample_rows(results)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        try:
            import pyarrow as pa
            import pyarrow.parquet as pq
        except ImportError:
            raise OCRError("Parquet output needs pyarrow (requirements.txt pins it)") from None
        schema = pa.schema([("engine", pa.string()), ("decoder", pa.string()), ("key", pa.string()),
                            ("label", pa.string()), ("prediction", pa.string()), ("cer", pa.float64()),
                            ("ms", pa.float64()), ("confidence", pa.float64()), ("error", pa.string()),
                            ("warning", pa.string())])
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), path)
    elif suffix == ".jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    else:
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
