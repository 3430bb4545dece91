"""Greedy (best-path) CTC decoding, vectorised."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ocr.types import Decoded

__all__ = ["check_matrix", "greedy_decode"]


def check_matrix(logprobs: np.ndarray, charset: Sequence[str]) -> np.ndarray:
    """Validate a (T, C) log-probability matrix against its charset; returns it as float32."""
    if not isinstance(logprobs, np.ndarray) or logprobs.ndim != 2:
        raise ValueError(f"expected a (T, C) log-probability matrix, got shape {np.shape(logprobs)}")
    if logprobs.shape[1] != len(charset):
        raise ValueError(f"matrix has {logprobs.shape[1]} classes but the charset has {len(charset)}")
    if len(charset) < 2:
        raise ValueError("the charset needs the blank (index 0) and at least one character")
    return np.asarray(logprobs, dtype=np.float32)


def greedy_decode(logprobs: np.ndarray, charset: Sequence[str]) -> Decoded:
    """Best path: argmax per frame, merge repeats, drop blanks (index 0).

    logprobs: (T, C) log-probabilities. Per label: span = its run of frames [start, end); confidence
    = the highest probability of that label within its run. score = log-probability of the best path
    (a lower bound on the labelling's probability, which sums over all its alignments).
    """
    lp = check_matrix(logprobs, charset)
    t = lp.shape[0]
    if t == 0:
        return Decoded("", (), (), (), 0.0)
    best = lp.argmax(axis=1)
    best_lp = lp[np.arange(t), best]
    change = np.empty(t, dtype=bool)
    change[0] = True
    change[1:] = best[1:] != best[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], t)
    run_labels = best[starts]
    run_conf = np.exp(np.maximum.reduceat(best_lp, starts))
    keep = run_labels != 0
    labels = tuple(int(x) for x in run_labels[keep])
    return Decoded(
        text="".join(charset[i] for i in labels),
        labels=labels,
        confidences=tuple(float(min(1.0, c)) for c in run_conf[keep]),
        spans=tuple((int(s), int(e)) for s, e in zip(starts[keep], ends[keep], strict=True)),
        score=float(best_lp.sum()),
    )
