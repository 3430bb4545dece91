"""Engine speed and accuracy: ms/line for one line, lines/s batched, greedy CER on the real samples.

Usage: python benchmarks/bench_engines.py [--engines ppocr-v4,ddddocr] [--repeats 5] [--batch 16] [--real DIR]
Timings are medians over repeats of model time only (pipeline.run_model; preprocessing excluded); a busy
shared machine inflates them. Batched lines all have the same rendered width, so they share one model
run (a text-only engine reads them one after another). CER: greedy, through pipeline.recognize_batch.
"""

from __future__ import annotations

import argparse
import csv
import os
import statistics
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.engines.registry import available, engine_names, load_engine
from ocr.evaluation.metrics import cer
from ocr.imageio import load_image
from ocr.pipeline import prepare, recognize_batch, run_model

FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"
TEXT = "机器学习模型的训练需要大量数据"  # 15 characters
ROOT = Path(__file__).resolve().parents[1]
REAL = Path(os.environ.get("OCR_REAL_SAMPLES", ROOT.parent / "shared" / "real_samples")) / "cnocr_multiline"


def render(text: str, size: int = 32) -> np.ndarray:
    """Black on white (H, W, 3) uint8."""
    font = ImageFont.truetype(FONT, size, index=2)
    left, top, right, bottom = font.getbbox(text)
    im = Image.new("RGB", (right - left + 16, bottom - top + 16), "white")
    ImageDraw.Draw(im).text((8 - left, 8 - top), text, font=font, fill="black")
    return np.asarray(im)


def _median_s(fn, repeats: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench(name: str, repeats: int, batch: int, real_dir: Path) -> dict[str, object]:
    engine = load_engine(name)
    line = prepare(render(TEXT), engine)
    one = _median_s(lambda: run_model(engine, [line]), repeats)
    many = _median_s(lambda: run_model(engine, [line] * batch), repeats)
    with open(real_dir / "labels.tsv", encoding="utf-8") as f:
        real = [(load_image(real_dir / row[0]), row[1]) for row in csv.reader(f, delimiter="\t")]
    hyps = [r.text for r in recognize_batch([img for img, _ in real], engine)]  # greedy
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
    parser.add_argument("--engines", default=",".join(engine_names()), help="comma-separated (default: all)")
    parser.add_argument("--real", type=Path, default=REAL,
                        help="a labelled real-line folder (default: $OCR_REAL_SAMPLES/cnocr_multiline)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=16)
    args = parser.parse_args()
    print(f"{'engine':10s} {'ms/line':>8s} {'batched lines/s':>16s} {'real CER':>9s} {'exact':>6s}")
    for name in args.engines.split(","):
        ok, why = available(name)
        if not ok:
            print(f"{name:10s} unavailable: {why}")
            continue
        r = bench(name, args.repeats, args.batch, args.real)
        print(f"{name:10s} {r['ms_per_line']:8.1f} {r['batched_lines_per_s']:16.1f} {r['real_cer']:9.4f} "
              f"{r['real_lines_exact']:>3}/{r['real_lines']}", flush=True)


if __name__ == "__main__":
    main()
