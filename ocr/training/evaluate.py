"""Scoring a model while it trains, on the path the engines run.

A labelled set is opened with ocr.evaluation.datasets, its images decoded with ocr.imageio, and each
line goes through ocr.pipeline (prepare -> run_model -> greedy decode_output) with the model wrapped as
an engine (TorchCrnnEngine: the crnn engine's input spec and padding, run eagerly in PyTorch); scores are
ocr.evaluation.metrics.score_lines and the benchmark's length buckets. So the CER a checkpoint records is
measured the way `python -m ocr bench` measures the exported engine.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ocr.decoding import DecoderConfig
from ocr.engines.base import Engine
from ocr.engines.crnn import crnn_input_spec
from ocr.evaluation.bench import bucket_cer
from ocr.evaluation.datasets import open_labelled_set
from ocr.evaluation.metrics import score_lines
from ocr.imageio import load_image
from ocr.models.crnn import CRNN
from ocr.pipeline import recognize_batch
from ocr.preprocess import border_level, pad_batch

__all__ = ["EvalResult", "TorchCrnnEngine", "evaluate"]


@dataclass(frozen=True)
class EvalResult:
    """Greedy-decoding scores over one labelled set (stored in run logs and export metadata)."""

    name: str
    n: int
    cer: float
    line_acc: float
    cer_by_length: dict[str, float | None]
    ms_per_line: float


class TorchCrnnEngine(Engine):
    """A CRNN held in memory (one being trained) behind the engine interface: the crnn engine's input
    spec (1 x H x W gray, x/255, right-padded with each line's background) and outputs ((T_i, C)
    log-probabilities, T_i = ceil(W_i / 8), each item's length passed to the LSTM), run in PyTorch.

    charset may be longer than the model's classes (a charset extended after the model was trained:
    old rows keep their index); the first num_classes entries are used.
    """

    has_ctc = True

    def __init__(self, model: CRNN, charset: Sequence[str], name: str = "crnn (in training)") -> None:
        classes = model.config.num_classes
        if len(charset) < classes or charset[0] != "":
            raise ValueError(f"the charset has {len(charset)} entries (blank first needed); the model "
                             f"has {classes} classes")
        self.model = model
        self.name = self.title = name
        self.charset = tuple(charset[:classes])
        self.input_spec = crnn_input_spec(model.config.height)

    def logprobs_batch(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """tensors: each (1, H, W_i) float32 -> each (ceil(W_i / 8), C) float32 log-probabilities."""
        if not tensors:
            return []
        x = pad_batch(tensors, fill=[border_level(t[0]) for t in tensors])  # (B, 1, H, W_max)
        lengths = [int(CRNN.output_length(t.shape[-1])) for t in tensors]
        self.model.eval()
        with torch.inference_mode():
            logp = self.model(torch.from_numpy(x), torch.tensor(lengths)).log_softmax(-1).numpy()
        return [np.ascontiguousarray(logp[b, :t], dtype=np.float32) for b, t in enumerate(lengths)]

    def describe(self) -> dict[str, object]:
        """Static facts for display."""
        return {"model": "in memory (PyTorch, eager)", "classes": len(self.charset),
                "input": f"1 x {self.input_spec.height} x W gray, x/255, T = ceil(W / 8)"}


def evaluate(model: CRNN, labels: Path, chars: Sequence[str], limit: int = 0,
             batch_size: int = 8) -> tuple[EvalResult, list[tuple[str, str]]]:
    """Greedy CER of `model` over a labelled set (labels file, folder or .zip; limit > 0: that many
    runnable lines, evenly spaced), batches of `batch_size` lines of similar aspect ratio.
    Also the (reference, hypothesis) pairs, in the set's order."""
    engine = TorchCrnnEngine(model, chars)
    with open_labelled_set(Path(labels)) as lset:
        rows = lset.runnable
        if limit and len(rows) > limit:
            rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]
        images = [load_image(s.image_path) for s in rows]  # type: ignore[arg-type]
    order = sorted(range(len(images)), key=lambda i: images[i].shape[1] / images[i].shape[0])
    greedy = DecoderConfig()
    hyps: dict[int, str] = {}
    t0 = time.perf_counter()
    for start in range(0, len(order), batch_size):
        idx = order[start:start + batch_size]
        for i, rec in zip(idx, recognize_batch([images[i] for i in idx], engine, greedy), strict=True):
            hyps[i] = rec.text
    ms = (time.perf_counter() - t0) * 1000 / max(len(images), 1)
    pairs = [(s.text, hyps[i]) for i, s in enumerate(rows)]
    score = score_lines(pairs)
    name = Path(labels).parent.name if Path(labels).is_file() else Path(labels).name
    return EvalResult(name, score.n, score.cer, score.line_acc, bucket_cer(pairs), ms), pairs
