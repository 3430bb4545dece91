"""Decoder latency on a real engine matrix: greedy, prefix beam (widths 1/5/10/20), beam + LM.

Run: .venv/bin/python benchmarks/bench_decoders.py [IMAGE] [--engine ppocr-v4]
Prints median wall and CPU milliseconds per line over many repeats, and the load average (timings on
a busy 2-core machine are inflated; compare CPU ms).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ocr.decoding import DecoderConfig, decode, load_default_lm
from ocr.engines.registry import load_engine
from ocr.imageio import load_image
from ocr.preprocess import preprocess


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("image", nargs="?", default="sample_images/real/multi-line_cn1_0.png")
    ap.add_argument("--engine", default="ppocr-v4")
    ap.add_argument("--repeats", type=int, default=100)
    args = ap.parse_args()
    engine = load_engine(args.engine)
    matrix = engine.logprobs_batch([preprocess(load_image(args.image), engine.input_spec).tensor])[0]
    lm = load_default_lm()
    print(f"{args.engine}: T={matrix.shape[0]}, C={matrix.shape[1]}; load average {os.getloadavg()[0]:.2f}")
    cases = [("greedy", DecoderConfig("greedy"))]
    cases += [(f"beam w={w}", DecoderConfig("beam", beam_width=w)) for w in (1, 5, 10, 20)]
    cases += [("beam+LM w=10", DecoderConfig("beam_lm", beam_width=10))]
    for name, cfg in cases:
        decode(matrix, engine.charset, cfg, lm=lm)  # warm-up (LM cache is per call, not kept)
        wall, cpu = [], []
        for _ in range(args.repeats):
            t, c = time.perf_counter(), time.process_time()
            out = decode(matrix, engine.charset, cfg, lm=lm)
            cpu.append(time.process_time() - c)
            wall.append(time.perf_counter() - t)
        w_ms, c_ms = np.median(wall) * 1000, np.median(cpu) * 1000
        print(f"{name:<14} wall median {w_ms:7.3f} ms   cpu median {c_ms:7.3f} ms   -> {out[0].text}")


if __name__ == "__main__":
    main()
