"""On-disk training data: pre-rendered shards and the held-out labelled test set.

Shard format (`shard_XXXXX.npz`, written by `render_shards`):
    pixels:  (sum W_i, H) uint8 gray, line i = pixels[offsets[i]:offsets[i+1]].T  -> (H, W_i)
    offsets: (N + 1,) int64
    labels:  (N,) unicode strings
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.training.synth.fonts import HELD_OUT_FONT, FontSpec, font_by_name, training_fonts
from ocr.training.synth.render import corpus_lines

__all__ = ["TEST_LENGTHS", "Shard", "iter_shard_lines", "load_shard", "render_shards", "render_test_set"]


@dataclass(frozen=True)
class Shard:
    """One loaded shard: pixels (sum W, H) uint8, offsets (N+1,), labels list of N strings."""

    pixels: np.ndarray
    offsets: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int) -> np.ndarray:
        """Line i as (H, W_i) uint8."""
        return self.pixels[self.offsets[i]:self.offsets[i + 1]].T


def render_shards(out_dir: Path, n: int, seed: int = 0, height: int = 64, shard_size: int = 1000,
                  max_len: int = 24, augment: bool = True, fonts: list[FontSpec] | None = None,
                  progress: bool = False, kinds: dict[str, float] | None = None,
                  prose: float = 0.0) -> dict[str, float]:
    """Pre-render n training lines (training fonts, held-out font excluded) into shard_XXXXX.npz files.

    kinds: draw lines from these kinds of line with these shares (ocr.training.synth.kinds.KIND_MIX:
    simplified/traditional documents, form fields, plates, signs, handwriting-like) instead of the
    document-line corpus alone.
    prose: chance of a prose mark (——, ……, -, ·, ～) after each word of a sentence (Corpus(prose=...));
    0 renders the lines earlier sessions rendered for the same seed.

    Existing complete shards are kept (the call resumes). Returns {"lines", "seconds", "lines_per_s"}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fonts = fonts or training_fonts()
    if not fonts:
        raise FileNotFoundError("no training fonts installed (fonts-noto-cjk etc.)")
    t0, done = time.perf_counter(), 0
    n_shards = (n + shard_size - 1) // shard_size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="line", desc="render")
    for s in range(n_shards):
        path = out_dir / f"shard_{s:05d}.npz"
        count = min(shard_size, n - s * shard_size)
        if path.exists():
            if bar is not None:
                bar.update(count)
            continue
        cols, labels, offsets = [], [], [0]
        if kinds:
            from ocr.training.synth.kinds import kind_lines

            lines = kind_lines(count, seed * 100_003 + s, height, kinds, prose=prose)
        else:
            lines = corpus_lines(count, seed * 100_003 + s, fonts, height, augment, 1, max_len, prose)
        for text, img, _ in lines:
            cols.append(img.T)
            labels.append(text)
            offsets.append(offsets[-1] + img.shape[1])
            done += 1
            if bar is not None:
                bar.update(1)
        tmp = out_dir / f".shard_{s:05d}.tmp.npz"
        np.savez_compressed(tmp, pixels=np.concatenate(cols, axis=0), offsets=np.asarray(offsets, np.int64),
                            labels=np.asarray(labels, dtype=str))
        tmp.replace(path)
    if bar is not None:
        bar.close()
    secs = time.perf_counter() - t0
    return {"lines": float(done), "seconds": secs, "lines_per_s": done / secs if secs > 0 else 0.0}


def load_shard(path: Path) -> Shard:
    """Read a shard written by render_shards."""
    with np.load(path, allow_pickle=False) as z:
        return Shard(z["pixels"], z["offsets"], [str(x) for x in z["labels"]])


def iter_shard_lines(paths: list[Path]) -> Iterator[tuple[np.ndarray, str]]:
    """(image (H, W) uint8, text) over shards in order."""
    for p in paths:
        sh = load_shard(p)
        for i in range(len(sh)):
            yield sh.image(i), sh.labels[i]


# Test-set line lengths: (min, max, share) so CER can be reported per length bucket.
TEST_LENGTHS: tuple[tuple[int, int, float], ...] = ((2, 10, 0.40), (11, 30, 0.40), (31, 80, 0.15),
                                                    (81, 200, 0.05))


def render_test_set(out_dir: Path, n: int = 2000, seed: int = 20261124, height: int = 64,
                    font: str = HELD_OUT_FONT, augment: bool = True) -> Path:
    """Render a labelled test set with the held-out font: out_dir/img/XXXXX.png + labels.tsv
    (PaddleOCR format `img/XXXXX.png<TAB>text`). Lengths follow TEST_LENGTHS. Returns the labels path."""
    out_dir = Path(out_dir)
    (out_dir / "img").mkdir(parents=True, exist_ok=True)
    spec = font_by_name(font)
    if not Path(spec.path).exists():
        raise FileNotFoundError(f"held-out font {spec.name} missing: apt-get install {spec.package}")
    rows, i = [], 0
    counts = [int(n * share) for _, _, share in TEST_LENGTHS]
    counts[0] += n - sum(counts)
    for b, ((lo, hi, _), count) in enumerate(zip(TEST_LENGTHS, counts, strict=True)):
        for text, img, _ in corpus_lines(count, seed * 10 + b, [spec], height, augment, lo, hi):
            name = f"img/{i:05d}.png"
            Image.fromarray(img).save(out_dir / name)
            rows.append(f"{name}\t{text}\n")
            i += 1
    labels = out_dir / "labels.tsv"
    labels.write_text("".join(rows), encoding="utf-8")
    return labels
