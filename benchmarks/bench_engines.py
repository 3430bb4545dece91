"""Engine speed and accuracy: ms/line for one line, lines/s batched, greedy CER on the real samples.

Usage: python benchmarks/bench_engines.py [--engines ppocr-v4,ddddocr] [--repeats 5] [--batch 16]
Timings are medians over repeats of model time only (preprocessing excluded); a busy shared machine
inflates them. Batched lines all have the same rendered width, so they share one model run.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.engines.registry import available, load_engine
from ocr.imageio import load_image
from ocr.metrics import cer
from ocr.preprocess import preprocess

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TEXT = "机器学习模型的训练需要大量数据"  # 15 characters
REAL = Path("/work/shared/real_samples/cnocr_multiline")


def render(text: str, size: int = 32) -> np.ndarray:
    """Black on white (H, W, 3) uint8."""
    font = ImageFont.truetype(FONT, size, index=2)
    left, top, right, bottom = font.getbbox(text)
    im = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
    ImageDraw.Draw(im).text((8 - left, 8 - top), text, font=font, fill="black")
    return np.asarray(im)


def greedy(lp: np.ndarray, charset: tuple[str, ...]) -> str:
    best = lp.argmax(1)
    return "".join(charset[k] for i, k in enumerate(best) if k and (i == 0 or best[i - 1] != k))


def _median_s(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(name: str, repeats: int, batch: int) -> dict[str, object]:
    engine = load_engine(name)
    line = preprocess(render(TEXT), engine.input_spec)
    real = []
    with open(REAL / "labels.tsv", encoding="utf-8") as f:
        for row in csv.reader(f, delimiter="\t"):
            real.append((preprocess(load_image(REAL / row[0]), engine.input_spec), row[1]))
    if engine.has_ctc:
        one = _median_s(lambda: engine.logprobs_batch([line.tensor]), repeats)
        many = _median_s(lambda: engine.logprobs_batch([line.tensor] * batch), repeats)
        lps = engine.logprobs_batch([p.tensor for p, _ in real])
        hyps = [greedy(lp, engine.charset) for lp in lps]
    else:
        one = _median_s(lambda: engine.read_text(line.model_image), repeats)
        many = one * batch
        hyps = [engine.read_text(p.model_image) for p, _ in real]
    errors = sum(cer(ref, hyp) * len(ref) for (_, ref), hyp in zip(real, hyps, strict=True))
    return {
        "engine": name,
        "ms_per_line": round(one * 1000, 1),
        "batched_lines_per_s": round(batch / many, 1),
        "real_cer": round(errors / sum(len(ref) for _, ref in real), 4),
        "real_lines_exact": sum(h == r for (_, r), h in zip(real, hyps, strict=True)),
        "real_lines": len(real),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="ppocr-v4,ppocr-v6,ddddocr,tesseract")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(f"{'engine':10s} {'ms/line':>8s} {'batched lines/s':>16s} {'real CER':>9s} {'exact':>6s}")
    for name in args.engines.split(","):
        ok, why = available(name)
        if not ok:
            print(f"{name:10s} unavailable: {why}")
            continue
        r = bench(name, args.repeats, args.batch)
        print(f"{name:10s} {r['ms_per_line']:8.1f} {r['batched_lines_per_s']:16.1f} {r['real_cer']:9.4f} "
              f"{r['real_lines_exact']:>3}/{r['real_lines']}", flush=True)


if __name__ == "__main__":
    main()
