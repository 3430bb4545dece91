"""Training batches from shards: deterministic, width-bucketed, a pure function of (seed, step), so a
resumed run sees exactly the batches an uninterrupted one would."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from ocr.charset import Charset
from ocr.preprocess import border_level, pad_batch
from ocr.training.augment import jitter_line
from ocr.training.synth.shards import Shard, load_shard

__all__ = ["Batches", "rescale_batch", "shard_files"]


def shard_files(shards: Path | Sequence[Path]) -> list[Path]:
    """The shard_*.npz files of one folder or of several: folders in the order given, names sorted
    within each, so the same folders always give the same list (and resumed runs the same batches)."""
    folders = [Path(shards)] if isinstance(shards, str | Path) else [Path(d) for d in shards]
    missing = [str(d) for d in folders if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"shard folder(s) not found: {', '.join(missing)}")
    return [f for d in folders for f in sorted(d.glob("shard_*.npz"))]


class Batches:
    """Deterministic width-bucketed batches: batch(step) depends only on (seed, step)."""

    def __init__(self, paths: list[Path], charset: Charset, batch_size: int, max_width: int, seed: int,
                 augment: bool = False):
        if not paths:
            raise FileNotFoundError("no shard_*.npz files found")
        self.paths, self.charset, self.bs = paths, charset, batch_size
        self.max_width, self.seed, self.augment = max_width, seed, augment
        self._cache: OrderedDict[Path, tuple[Shard, np.ndarray]] = OrderedDict()

    def _shard(self, path: Path) -> tuple[Shard, np.ndarray]:
        if path not in self._cache:
            sh = load_shard(path)
            order = np.argsort(np.diff(sh.offsets), kind="stable")
            self._cache[path] = (sh, order)
            while len(self._cache) > 4:
                self._cache.popitem(last=False)
        return self._cache[path]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (B,1,H,W) float in [0,1], targets (sum L,), target_lengths (B,), widths (B,) in px)."""
        rng = np.random.default_rng([self.seed, step])
        sh, order = self._shard(self.paths[int(rng.integers(len(self.paths)))])
        start = int(rng.integers(0, max(1, len(order) - self.bs + 1)))
        idx = order[start:start + self.bs]
        imgs, labels = [], []
        for i in idx:
            img, text = sh.image(int(i)), sh.labels[int(i)]
            if not self.charset.covers(text) or not text:
                continue
            if self.augment:
                img = jitter_line(img, rng)
            if img.shape[1] > self.max_width:  # squeeze overly wide lines
                img = np.asarray(Image.fromarray(img).resize((self.max_width, img.shape[0]), Image.BILINEAR))
            imgs.append(img)
            labels.append(self.charset.encode(text))
        # (B, 1, H, W_max), each line right-padded with its own background level
        x = pad_batch([img[None].astype(np.float32) for img in imgs],
                      fill=[border_level(img) for img in imgs])
        x /= 255.0
        widths = torch.tensor([i.shape[1] for i in imgs], dtype=torch.long)
        tgt = torch.tensor([c for lab in labels for c in lab], dtype=torch.long)
        tgt_len = torch.tensor([len(lab) for lab in labels], dtype=torch.long)
        return torch.from_numpy(x), tgt, tgt_len, widths


def rescale_batch(x: torch.Tensor, widths: torch.Tensor, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1, H, W) images + widths (B,) -> the same lines at `height` px (area filter), new widths (B,)."""
    if x.shape[2] == height:
        return x, widths
    scale = height / x.shape[2]
    new_w = max(8, round(x.shape[3] * scale))
    small = torch.nn.functional.interpolate(x, size=(height, new_w), mode="area")
    return small, (widths.float() * scale).round().clamp(min=8).long()
