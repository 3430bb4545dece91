"""CTC prefix beam search in log space, with optional character n-gram LM shallow fusion."""

from __future__ import annotations

import heapq
import math
from collections.abc import Sequence
from typing import Protocol

import numpy as np

from ocr.decoding.align import align_many
from ocr.decoding.greedy import check_matrix
from ocr.types import Decoded

__all__ = ["CharScorer", "prefix_beam_search"]

NEG_INF = float("-inf")


class CharScorer(Protocol):
    """What the beam needs from a language model: log P(next_char | previous characters)."""

    order: int

    def score(self, context: tuple[str, ...] | str, next_char: str) -> float: ...


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for Python floats."""
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


def prefix_beam_search(
    logprobs: np.ndarray,
    charset: Sequence[str],
    beam_width: int = 10,
    nbest: int = 5,
    top_k: int = 16,
    prune_logprob: float = -10.0,
    lm: CharScorer | None = None,
    lm_weight: float = 0.0,
    length_bonus: float = 0.0,
) -> list[Decoded]:
    """The `nbest` best labellings of logprobs (T, C) (blank = 0), best first.

    Each prefix keeps two log-probabilities: of its alignments ending in blank and in its last label,
    so repeated characters need a blank between them. At each step only the `top_k` most likely labels
    with log p >= `prune_logprob` extend prefixes (the last label's self-loop is always kept).
    With an LM, beams are ranked by log P_ctc + lm_weight * log P_lm + length_bonus * L and that fused
    value is the returned score; without one the score is log P_ctc, summed over all alignments.
    Spans and confidences come from a Viterbi forced alignment of each returned labelling.
    """
    lp = check_matrix(logprobs, charset)
    if beam_width < 1 or nbest < 1 or top_k < 1:
        raise ValueError("beam_width, nbest and top_k must be >= 1")
    t_len, n_cls = lp.shape
    if t_len == 0:
        return [Decoded("", (), (), (), 0.0)]
    use_lm = lm is not None and (lm_weight != 0.0 or length_bonus != 0.0)
    k = min(top_k, n_cls - 1)
    # prefixes are nodes of a trie: node 0 is the empty prefix; child[(node, c)] -> node
    parent: list[int] = [-1]
    last_label: list[int] = [-1]
    fused: list[float] = [0.0]  # lm_weight * log P_lm + length_bonus * L of each node's prefix
    child: dict[tuple[int, int], int] = {}
    lm_cache: dict[tuple[tuple[int, ...], int], float] = {}

    def context(node: int, n: int) -> tuple[int, ...]:
        out: list[int] = []
        while node > 0 and len(out) < n:
            out.append(last_label[node])
            node = parent[node]
        return tuple(reversed(out))

    def extend(node: int, c: int) -> int:
        new = child.get((node, c))
        if new is None:
            new = len(parent)
            parent.append(node)
            last_label.append(c)
            extra = 0.0
            if use_lm:
                ctx = context(node, lm.order - 1) if lm.order > 1 else ()  # type: ignore[union-attr]
                extra = lm_cache.get((ctx, c), NEG_INF)
                if extra == NEG_INF:
                    chars = tuple(charset[i] for i in ctx)
                    lp_lm = lm.score(chars, charset[c])  # type: ignore[union-attr]
                    extra = lm_cache[(ctx, c)] = lm_weight * lp_lm + length_bonus
            fused.append(fused[node] + extra)
            child[(node, c)] = new
        return new

    # candidate labels per frame, selected for the whole matrix at once
    above = lp[:, 1:] >= prune_logprob
    per_row = above.sum(axis=1).tolist()
    cols = np.nonzero(above)[1] + 1
    bounds = np.concatenate(([0], np.cumsum(per_row))).tolist()
    cols_list = cols.tolist()
    blank_col = lp[:, 0].tolist()
    beams: dict[int, list[float]] = {0: [0.0, NEG_INF]}  # node -> [log P(.. blank), log P(.. label)]
    for t in range(t_len):
        if per_row[t] > k:
            cand = (np.argpartition(lp[t, 1:], -k)[-k:] + 1).tolist()
        else:
            cand = cols_list[bounds[t]:bounds[t + 1]]
        row = lp[t]
        pc = row[cand].tolist() if cand else []
        blank = blank_col[t]
        nxt: dict[int, list[float]] = {}
        for node, (pb, pnb) in beams.items():
            total = _lse(pb, pnb)
            entry = nxt.get(node)
            if entry is None:
                entry = nxt[node] = [NEG_INF, NEG_INF]
            entry[0] = _lse(entry[0], total + blank)
            last = last_label[node]
            if last > 0:  # the last label repeated without a blank stays the same prefix
                entry[1] = _lse(entry[1], pnb + float(row[last]))
            for c, p in zip(cand, pc, strict=True):
                new = extend(node, c)
                ext = nxt.get(new)
                if ext is None:
                    ext = nxt[new] = [NEG_INF, NEG_INF]
                # a repeat of the last label only extends paths that ended in blank
                ext[1] = _lse(ext[1], (pb if c == last else total) + p)
        if len(nxt) > beam_width:
            keep = heapq.nlargest(beam_width, nxt, key=lambda n: _lse(*nxt[n]) + fused[n])
            # (zero-probability prefixes rank last, so they only survive while the beam has room)
            beams = {n: nxt[n] for n in keep}
        else:
            beams = nxt
    # prefixes with no surviving path (e.g. a repeat that never saw a blank) have probability 0
    alive = [(node, pr) for node, pr in beams.items() if _lse(*pr) > NEG_INF]
    final = sorted(alive, key=lambda kv: _lse(*kv[1]) + fused[kv[0]], reverse=True)[:nbest]
    prefixes = [context(node, t_len) for node, _ in final]
    out = []
    alignments = align_many(lp, prefixes)
    for prefix, (node, (pb, pnb)), (spans, confs) in zip(prefixes, final, alignments, strict=True):
        out.append(Decoded(
            text="".join(charset[i] for i in prefix),
            labels=prefix,
            confidences=tuple(confs),
            spans=tuple(spans),
            score=_lse(pb, pnb) + fused[node],
        ))
    return out
