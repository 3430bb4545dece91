"""Knowledge distillation from a teacher CRNN to a student with fewer output frames."""

from __future__ import annotations

import torch

__all__ = ["distill_targets"]


def distill_targets(teacher_logp: torch.Tensor, t_len: torch.Tensor, s_len: torch.Tensor) -> torch.Tensor:
    """Teacher log-probs (B, Tt, C) -> per-student-frame target log-probs (B, Ts, C), Ts = max(s_len).

    Student frame s covers teacher frames [floor(s*r), floor((s+1)*r)), r = t_len/s_len per item; the
    target is the covered teacher frame least likely to be blank, so a character the teacher emits in
    one of two pooled frames is kept instead of being averaged into a half-blank frame."""
    b, _, c = teacher_logp.shape
    ts = int(s_len.max())
    out = torch.empty(b, ts, c, dtype=teacher_logp.dtype)
    for i in range(b):
        tt, sl = int(t_len[i]), int(s_len[i])
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
