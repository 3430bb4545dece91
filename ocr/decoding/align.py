"""Viterbi forced alignment of labellings to a CTC matrix: where each label sits in time."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["align", "align_many"]

NEG = -1e30


def align_many(
    logprobs: np.ndarray, labellings: Sequence[Sequence[int]]
) -> list[tuple[list[tuple[int, int]], list[float]]]:
    """Best single alignment of each labelling (no blanks) to logprobs (T, C), blank = 0, batched.

    Returns, per labelling, per-label frame spans [start, end) and confidences (the label's highest
    probability within its frames). Raises ValueError if a labelling cannot fit in T frames.
    """
    t_len = logprobs.shape[0]
    out: list[tuple[list[tuple[int, int]], list[float]]] = [([], []) for _ in labellings]
    todo = [i for i, lab in enumerate(labellings) if len(lab) > 0]
    if not todo:
        return out
    b = len(todo)
    s_len = 2 * max(len(labellings[i]) for i in todo) + 1
    ext = np.zeros((b, s_len), dtype=np.int64)  # blank, l1, blank, l2, ..., blank (padded with blanks)
    valid = np.zeros((b, s_len), dtype=bool)
    for row, i in enumerate(todo):
        lab = np.asarray(labellings[i], dtype=np.int64)
        ext[row, 1:2 * lab.size:2] = lab
        valid[row, :2 * lab.size + 1] = True
    # a label state may be entered from two states back when it differs from the label there
    skip = np.zeros((b, s_len), dtype=bool)
    skip[:, 3::2] = ext[:, 3::2] != ext[:, 1:-2:2]
    skip &= valid
    emit = np.where(valid[None], logprobs[:, ext], NEG)  # (T, b, S)
    score = np.full((b, s_len), NEG)
    score[:, 0] = emit[0, :, 0]
    score[:, 1] = emit[0, :, 1]
    back = np.zeros((t_len, b, s_len), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    p1 = np.full((b, s_len), NEG)
    p2 = np.full((b, s_len), NEG)
    skip2 = skip[:, 2:]
    no_skip = np.full((b, s_len - 2), NEG)
    for t in range(1, t_len):
        p1[:, 1:] = score[:, :-1]
        np.copyto(p2[:, 2:], np.where(skip2, score[:, :-2], no_skip))
        from1 = p1 > score
        best = np.maximum(p1, score)
        from2 = p2 > best
        back[t] = np.where(from2, 2, from1)
        score = np.maximum(p2, best) + emit[t]
    for row, i in enumerate(todo):
        lab = list(labellings[i])
        last = 2 * len(lab)
        end = last if score[row, last] >= score[row, last - 1] else last - 1
        if score[row, end] <= NEG / 2:
            raise ValueError(f"{len(lab)} labels cannot be aligned to {t_len} frames")
        states = np.empty(t_len, dtype=np.int64)
        s = end
        for t in range(t_len - 1, -1, -1):
            states[t] = s
            s -= int(back[t, row, s])
        label_of_frame = np.where(states % 2 == 1, states // 2, -1)
        spans: list[tuple[int, int]] = []
        confs: list[float] = []
        for k, c in enumerate(lab):
            frames = np.flatnonzero(label_of_frame == k)
            spans.append((int(frames[0]), int(frames[-1]) + 1))
            confs.append(float(min(1.0, np.exp(logprobs[frames, c].max()))))
        out[i] = (spans, confs)
    return out


def align(logprobs: np.ndarray, labels: Sequence[int]) -> tuple[list[tuple[int, int]], list[float]]:
    """Best single alignment of one labelling; see align_many."""
    return align_many(logprobs, [labels])[0]
