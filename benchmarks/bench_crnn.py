"""Benchmarks for our CRNN (models/crnn.pt, or --checkpoint).

    python benchmarks/bench_crnn.py latency [--threads 2] [--runtime onnxruntime|torch]  # one Hx280 line
    python benchmarks/bench_crnn.py accuracy --labels data/synth_test/labels.tsv [--limit 0] [--out x.json]

latency: median ms of one (1, 1, H, 280) forward pass (H = the checkpoint's input height) over 30 runs
after 3 warm-ups, and lines/s for batches of 16 such lines, model only, in onnxruntime (what the engine
runs; the graph includes log_softmax) or eager PyTorch (logits); accuracy: greedy CER / line accuracy /
CER by length over a labelled set, through the engine's preprocessing and decoding
(ocr.training.evaluate).
Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ocr.models.checkpoint import load_checkpoint
from ocr.models.crnn import CRNN
from ocr.training.evaluate import evaluate

ROOT = Path(__file__).resolve().parents[1]


def latency(model: CRNN, threads: int, runtime: str = "onnxruntime", width: int = 280, batch: int = 16,
            runs: int = 30) -> dict[str, object]:
    """{"one_line_ms_p50", "one_line_ms_p90", "batched_lines_per_s", ...} for (1, 1, H, width) inputs."""
    h = model.config.height
    frames = int(CRNN.output_length(width))
    if runtime == "onnxruntime":
        from ocr.engines.onnx_ctc import make_session
        from ocr.models.onnx_export import to_onnx

        session = make_session(to_onnx(model), threads)

        def forward(b: int) -> Callable[[], object]:
            x = np.random.default_rng(b).random((b, 1, h, width), dtype=np.float32)
            lengths = np.full(b, frames, dtype=np.int64)
            return lambda: session.run(None, {"x": x, "lengths": lengths})  # type: ignore[attr-defined]
    else:
        torch.set_num_threads(threads)

        def forward(b: int) -> Callable[[], object]:
            x = torch.rand(b, 1, h, width)

            def run() -> torch.Tensor:
                with torch.inference_mode():
                    return model(x)
            return run
    one, many = forward(1), forward(batch)
    for _ in range(3):
        one()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        one()
        times.append((time.perf_counter() - t0) * 1000)
    many()
    t0 = time.perf_counter()
    reps = 5
    for _ in range(reps):
        many()
    bsec = time.perf_counter() - t0
    times.sort()
    return {
        "runtime": runtime,
        "threads": threads,
        "input": f"1x1x{h}x{width}",
        "one_line_ms_p50": round(statistics.median(times), 2),
        "one_line_ms_p90": round(times[int(0.9 * (len(times) - 1))], 2),
        "batch": batch,
        "batched_lines_per_s": round(batch * reps / bsec, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("mode", choices=("latency", "accuracy"))
    p.add_argument("--checkpoint", type=Path, default=ROOT / "models" / "crnn.pt")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--runtime", choices=("onnxruntime", "torch"), default="onnxruntime")
    p.add_argument("--labels", type=Path, action="append", default=[])
    p.add_argument("--limit", type=int, default=0)
    p.add_argument("--out", type=Path)
    p.add_argument("--pairs-out", type=Path, help="write every (reference, hypothesis) pair as JSON")
    args = p.parse_args(argv)
    model, meta = load_checkpoint(args.checkpoint)
    if args.mode == "latency":
        result: dict[str, object] = latency(model, args.threads, args.runtime)
    else:
        torch.set_num_threads(args.threads)
        result = {"checkpoint": str(args.checkpoint), "steps": meta.get("steps"), "sets": []}
        all_pairs: list[tuple[str, str]] = []
        for labels in args.labels:
            r, pairs = evaluate(model, labels, meta["charset"], args.limit)  # type: ignore[arg-type]
            all_pairs += pairs
            result["sets"].append({**asdict(r), "labels": str(labels),  # type: ignore[union-attr]
                                   "errors_sample": [(ref, hyp) for ref, hyp in pairs if ref != hyp][:10]})
        if args.pairs_out:
            args.pairs_out.write_text(json.dumps(all_pairs, ensure_ascii=False), encoding="utf-8")
    text = json.dumps(result, ensure_ascii=False, indent=1)
    if args.out:
        args.out.write_text(text + "\n", encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
