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
    # hist[t, r, 2 + s]: best log score of a path for labelling r in state s at frame t (two NEG columns
    # on the left stand for "no predecessor", so each step is three whole-array ufunc calls)
    hist = np.full((t_len, b, s_len + 2), NEG)
    hist[0, :, 2:4] = emit[0, :, :2]
    skip2 = skip.copy()  # where s-2 -> s is allowed
    for t in range(1, t_len):
        prev, cur = hist[t - 1], hist[t, :, 2:]
        np.maximum(prev[:, 2:], prev[:, 1:-1], out=cur)
        np.maximum(cur, prev[:, :-2], out=cur, where=skip2)
        cur += emit[t]
    hist = hist[:, :, 2:]
    skip_rows = skip.tolist()
    for row, i in enumerate(todo):
        n_lab = len(labellings[i])
        last = 2 * n_lab
        h = hist[:, row, :last + 1].tolist()
        s = last if h[-1][last] >= h[-1][last - 1] else last - 1
        if h[-1][s] <= NEG / 2:
            raise ValueError(f"{n_lab} labels cannot be aligned to {t_len} frames")
        states = [0] * t_len
        sk = skip_rows[row]
        for t in range(t_len - 1, 0, -1):  # backtrack: the best predecessor (stay, then s-1, then s-2)
            states[t] = s
            p = h[t - 1]
            best_s, best_v = s, p[s]
            if s >= 1 and p[s - 1] > best_v:
                best_s, best_v = s - 1, p[s - 1]
            if s >= 2 and sk[s] and p[s - 2] > best_v:
                best_s = s - 2
            s = best_s
        states[0] = s
        st = np.asarray(states)
        frames = np.flatnonzero(st % 2 == 1)  # frames spent on labels; label k is state 2k + 1
        k_of = st[frames] // 2
        first = np.flatnonzero(np.diff(k_of, prepend=-1))  # run starts; one run per label
        vals = emit[frames, row, st[frames]]
        conf = np.exp(np.maximum.reduceat(vals, first))
        run_end = np.append(first[1:], frames.size) - 1
        spans = [(int(a), int(e) + 1) for a, e in zip(frames[first], frames[run_end], strict=True)]
        out[i] = (spans, [min(1.0, float(c)) for c in conf])
    return out


def align(logprobs: np.ndarray, labels: Sequence[int]) -> tuple[list[tuple[int, int]], list[float]]:
    """Best single alignment of one labelling to logprobs (T, C); see align_many."""
    return align_many(logprobs, [labels])[0]
