"""Knowledge distillation: teachers (one of our CRNN checkpoints, or PP-OCRv6 / v4 through onnxruntime
with its charset mapped onto ours) and the per-student-frame targets taken from their frames.

    teacher = load_teacher("ppocr-v6", charset.chars)
    t_logp, t_len = teacher(x, widths)        # x (B, 1, H, W) in [0, 1] -> (B, Tt, C) log-probs, (B,)
    target = distill_targets(t_logp, t_len, student_lengths)
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["PPOCR_TEACHERS", "Teacher", "charset_map", "distill_targets", "load_teacher"]

# (x (B, 1, H, W) float in [0, 1], widths (B,) px) -> (log-probs (B, Tt, C) over our charset, lengths (B,))
Teacher = Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]
PPOCR_TEACHERS = ("ppocr-v4", "ppocr-v6")


def charset_map(theirs: Sequence[str], ours: Sequence[str]) -> np.ndarray:
    """For each of their classes, our class index (exact match, else NFKC match), or -1. Blank -> 0."""
    index = {c: i for i, c in enumerate(ours) if i}
    nfkc = {unicodedata.normalize("NFKC", c): i for c, i in reversed(list(index.items()))}
    out = np.full(len(theirs), -1, dtype=np.int64)
    out[0] = 0
    for j, c in enumerate(theirs[1:], start=1):
        out[j] = index.get(c, nfkc.get(unicodedata.normalize("NFKC", c), -1))
    return out


class _PpocrTeacher:
    """PP-OCR recognizer (rapidocr wheel, onnxruntime) as a teacher: each line (its own width) is resized
    to the engine's input (48 px, 3 channels, its normalisation) and run through the engine's batched
    log-probs; each frame's probabilities are summed onto our classes, the mass on classes we lack is
    dropped and the rest renormalised."""

    def __init__(self, name: str, ours: Sequence[str]) -> None:
        from ocr.engines.registry import load_engine

        self.engine = load_engine(name)
        cmap = torch.from_numpy(charset_map(self.engine.charset, ours))
        self.keep = (cmap >= 0).nonzero().squeeze(1)  # their classes we have
        self.target = cmap[self.keep]  # our index of each kept class
        self.n_ours = len(ours)
        self.coverage = float(len(self.keep)) / len(self.engine.charset)

    @torch.no_grad()
    def __call__(self, x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        spec = self.engine.input_spec
        h = spec.height
        lines = []
        for i, w in enumerate(widths.tolist()):
            w48 = max(spec.min_width, round(w * h / x.shape[2]))
            y = F.interpolate(x[i: i + 1, :, :, :w], size=(h, w48), mode="bilinear", align_corners=False,
                              antialias=True)[0]  # (1, 48, w48)
            lines.append(((y - spec.mean) / spec.std).expand(spec.channels, h, w48).numpy())
        logps = self.engine.logprobs_batch(lines)  # each (T_i, C_theirs)
        t_len = torch.tensor([lp.shape[0] for lp in logps])
        mapped = torch.zeros(len(logps), int(t_len.max()), self.n_ours)
        for i, lp in enumerate(logps):
            probs = torch.from_numpy(np.exp(lp))  # (T_i, C_theirs)
            mapped[i, : lp.shape[0]].index_add_(1, self.target, probs[:, self.keep])
        mapped = mapped / mapped.sum(-1, keepdim=True).clamp(min=1e-12)
        return mapped.clamp(min=1e-30).log(), t_len


def load_teacher(spec: str, ours: Sequence[str]) -> tuple[Teacher, dict[str, object]]:
    """A teacher for TrainConfig.teacher: "ppocr-v6" / "ppocr-v4", or the path of one of our exported
    checkpoints on the same charset (input height = the batches' height). Returns (teacher, facts)."""
    if spec in PPOCR_TEACHERS:
        t = _PpocrTeacher(spec, ours)
        return t, {"teacher": spec, "teacher_charset_coverage": round(t.coverage, 4)}
    from ocr.models.checkpoint import load_checkpoint
    from ocr.models.crnn import CRNN

    model, meta = load_checkpoint(Path(spec))
    if tuple(meta["charset"]) != tuple(ours):  # type: ignore[arg-type]
        raise ValueError(f"teacher {spec} was trained on another charset")
    model.eval().requires_grad_(False)

    @torch.no_grad()
    def crnn_teacher(x: torch.Tensor, widths: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t_len = CRNN.output_length(widths)
        return model(x, t_len).log_softmax(-1), t_len

    return crnn_teacher, {"teacher": spec, "teacher_steps": meta.get("steps")}


def distill_targets(teacher_logp: torch.Tensor, t_len: torch.Tensor, s_len: torch.Tensor) -> torch.Tensor:
    """Teacher log-probs (B, Tt, C) -> per-student-frame target log-probs (B, Ts, C), Ts = max(s_len).

    Student frame s covers teacher frames [floor(s*r), floor((s+1)*r)), r = t_len/s_len per item; the
    target is the covered teacher frame least likely to be blank, so a character the teacher emits in
    one of two pooled frames is kept instead of being averaged into a half-blank frame. A teacher with
    fewer frames than the student (r < 1) gives each student frame its nearest teacher frame."""
    b, _, c = teacher_logp.shape
    ts = int(s_len.max())
    out = torch.empty(b, ts, c, dtype=teacher_logp.dtype)
    for i in range(b):
        tt, sl = int(t_len[i]), int(s_len[i])
        if tt < sl:  # upsample: nearest teacher frame (repeats collapse under CTC)
            near = ((torch.arange(sl, dtype=torch.float64) + 0.5) * tt / sl).floor().long().clamp(max=tt - 1)
            out[i, :sl] = teacher_logp[i, near]
            out[i, sl:] = teacher_logp[i, near[-1]]
            continue
        edges = (torch.arange(sl + 1, dtype=torch.float64) * tt / sl).floor().long().clamp(max=tt)
        frame = torch.arange(tt)
        group = torch.bucketize(frame, edges[1:], right=True).clamp(max=sl - 1)  # (tt,) student frame
        blank = teacher_logp[i, :tt, 0].double().clamp(min=-1000.0)
        order = torch.argsort(group.double() * 1e4 + blank, stable=True)  # by group, then blank ascending
        sorted_group = group[order]
        first = torch.ones(tt, dtype=torch.bool)
        first[1:] = sorted_group[1:] != sorted_group[:-1]
        pick = torch.zeros(sl, dtype=torch.long)
        pick[sorted_group[first]] = frame[order][first]  # per student frame: its least-blank teacher frame
        out[i, :sl] = teacher_logp[i, pick]
        out[i, sl:] = teacher_logp[i, pick[-1]]
    return out
