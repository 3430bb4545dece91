"""Render the latency set of issue #3: text lines exactly 32 px high and 280 px wide, labelled.

    python benchmarks/make_lines_32x280.py data/lines_32x280 [--n 100]
    python -m ocr bench data/lines_32x280/labels.tsv --engine crnn-fast,crnn,ppocr-v4 --batch-size 16

Each line is a corpus sentence of 7-9 characters in the held-out font, rendered clean at 32 px, then
fitted into 280 px: padded with the paper colour when narrower, squeezed horizontally when wider.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.training.synth import HELD_OUT_FONT, Corpus, font_by_name, render_line

ROOT = Path(__file__).resolve().parents[1]

HEIGHT, WIDTH = 32, 280


def fit(img: np.ndarray, width: int = WIDTH) -> np.ndarray:
    """(32, W) uint8 -> (32, width): pad right with the paper colour, or squeeze if wider."""
    if img.shape[1] >= width:
        return np.asarray(Image.fromarray(img).resize((width, img.shape[0]), Image.Resampling.BOX))
    out = np.full((img.shape[0], width), int(np.median(img[:, -2:])), np.uint8)
    out[:, : img.shape[1]] = img
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--n", type=int, default=100)
    ap.add_argument("--seed", type=int, default=32280)
    args = ap.parse_args()
    out = Path(args.out)
    (out / "img").mkdir(parents=True, exist_ok=True)
    corpus, font = Corpus(), font_by_name(HELD_OUT_FONT)
    rng = np.random.default_rng(args.seed)
    rows = []
    for i in range(args.n):
        text = corpus.sentence(rng, int(rng.integers(7, 10)))[:9]
        img = fit(render_line(text, font, height=HEIGHT, seed=args.seed + i, augment=False))
        name = f"img/{i:04d}.png"
        Image.fromarray(img).save(out / name)
        rows.append(f"{name}\t{text}\n")
    (out / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    print(out / "labels.tsv")


if __name__ == "__main__":
    main()
