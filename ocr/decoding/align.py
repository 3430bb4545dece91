"""Viterbi forced alignment of labellings to a CTC matrix: where each label sits in time."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["align", "align_many"]

NEG = -1e30


def align_many(
    logprobs: np.ndarray, labellings: Sequence[Sequence[int]]
) -> list[tuple[list[tuple[int, int]], list[float]]]:
    """Best single alignment of each labelling (no blanks) to logprobs (T, C), blank = 0, batched.

    Returns, per labelling, per-label frame spans [start, end) (disjoint, increasing, within [0, T))
    and confidences (the label's highest probability within its aligned frames, in [0, 1]).
    Raises ValueError if a labelling cannot fit in T frames (a repeated label needs a blank between).
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
    emit = np.where(valid[None], logprobs[:, ext].astype(np.float64), NEG)  # (T, b, S)
    # One flat row per frame: each labelling's S states after two always-NEG columns ("no predecessor"),
    # so a step is three whole-row ufunc calls on views made up front. hist[t, r, 2 + s] is the best log
    # score of a path for labelling r in state s at frame t.
    width = s_len + 2
    emit_pad = np.full((t_len, b, width), NEG)
    emit_pad[:, :, 2:] = emit
    emit_rows = list(emit_pad.reshape(t_len, b * width)[:, 2:])
    skip_pad = np.zeros((b, width), dtype=bool)
    skip_pad[:, 2:] = skip
    skip_flat = skip_pad.reshape(-1)[2:]
    hist = np.full((t_len, b * width), NEG)
    hist.reshape(t_len, b, width)[0, :, 2:4] = emit[0, :, :2]
    same = list(hist[:, 2:])
    one_back = list(hist[:, 1:-1])
    two_back = list(hist[:, :-2])
    for t in range(1, t_len):
        cur = same[t]
        np.maximum(same[t - 1], one_back[t - 1], out=cur)
        np.maximum(cur, two_back[t - 1], out=cur, where=skip_flat)
        cur += emit_rows[t]
    h_all = hist.reshape(t_len, b, width).tolist()  # h_all[t][r][2 + s]
    skip_rows = skip_pad.tolist()
    at = logprobs.item
    for row, i in enumerate(todo):
        lab = labellings[i]
        n_lab = len(lab)
        s = 2 + 2 * n_lab  # padded index of the final blank state
        final = h_all[t_len - 1][row]
        if final[s - 1] > final[s]:
            s -= 1
        if final[s] <= NEG / 2:
            raise ValueError(f"{n_lab} labels cannot be aligned to {t_len} frames")
        sk = skip_rows[row]
        starts = [0] * n_lab
        ends = [0] * n_lab
        best = [NEG] * n_lab
        for t in range(t_len - 1, -1, -1):  # backtrack; label k is state 2k + 1 (padded 2k + 3)
            if s % 2 == 1:
                k = (s - 3) // 2
                if ends[k] == 0:
                    ends[k] = t + 1
                starts[k] = t
                v = at(t, lab[k])
                if v > best[k]:
                    best[k] = v
            if t:
                p = h_all[t - 1][row]  # best predecessor: stay, then s-1, then s-2 (first maximum)
                best_s, best_v = s, p[s]
                if p[s - 1] > best_v:
                    best_s, best_v = s - 1, p[s - 1]
                if sk[s] and p[s - 2] > best_v:
                    best_s = s - 2
                s = best_s
        out[i] = (list(zip(starts, ends, strict=True)), [min(1.0, math.exp(x)) for x in best])
    return out


def align(logprobs: np.ndarray, labels: Sequence[int]) -> tuple[list[tuple[int, int]], list[float]]:
    """Best single alignment of one labelling to logprobs (T, C); see align_many."""
    return align_many(logprobs, [labels])[0]
