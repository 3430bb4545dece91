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

__all__ = ["CharScorer", "candidate_table", "prefix_beam_search"]

NEG_INF = float("-inf")


class CharScorer(Protocol):
    """What the beam needs from a language model: log P(next_char | previous characters)."""

    order: int

    def score(self, context: tuple[str, ...] | str, next_char: str) -> float: ...


def _lse(a: float, b: float) -> float:
    """log(exp(a) + exp(b)) for Python floats (either may be -inf)."""
    if a < b:
        a, b = b, a
    if b == NEG_INF:
        return a
    return a + math.log1p(math.exp(b - a))


def candidate_table(
    lp: np.ndarray, top_k: int, prune_logprob: float
) -> tuple[list[int], list[int], np.ndarray]:
    """Per-frame candidate labels of lp (T, C), all frames at once.

    Returns (bounds, labels, values): frame t's candidates are labels[bounds[t]:bounds[t + 1]], the at
    most top_k labels (blank excluded) with log p >= prune_logprob, sorted by log p descending, with
    their log-probabilities values[bounds[t]:bounds[t + 1]] (float64).
    """
    t_len = lp.shape[0]
    flat = np.flatnonzero(lp >= prune_logprob)  # (np.nonzero on 2-D is ~10x slower)
    rows, cols = np.divmod(flat, lp.shape[1])
    blank = cols == 0
    if blank.any():
        rows, cols, flat = rows[~blank], cols[~blank], flat[~blank]
    vals = lp.ravel()[flat].astype(np.float64)
    order = np.lexsort((-vals, rows))  # by frame, then by log p descending
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(t_len))
    keep = np.arange(rows.size) - starts[rows] < top_k
    rows, cols, vals = rows[keep], cols[keep], vals[keep]
    bounds = np.searchsorted(rows, np.arange(t_len + 1)).tolist()
    return bounds, cols.tolist(), vals


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
    with log p >= `prune_logprob` create new prefixes (a prefix already in the beam always receives its
    own self-loop and its parent's extension, whatever their probability).
    With an LM, beams are ranked by log P_ctc + lm_weight * log P_lm + length_bonus * L and that fused
    value is the returned score; without one the score is log P_ctc summed over the alignments the
    search kept (all of them when nothing was pruned).
    Spans and confidences come from a Viterbi forced alignment of each returned labelling (align.py).
    Raises ValueError on a malformed matrix or beam_width/nbest/top_k < 1.
    """
    lp = check_matrix(logprobs, charset)
    if beam_width < 1 or nbest < 1 or top_k < 1:
        raise ValueError("beam_width, nbest and top_k must be >= 1")
    t_len = lp.shape[0]
    if t_len == 0:
        return [Decoded("", (), (), (), 0.0)]
    use_lm = lm is not None and (lm_weight != 0.0 or length_bonus != 0.0)
    # the largest fused term a new character can add (log P_lm <= 0), for the exact pruning bound below
    bonus_max = (max(length_bonus, 0.0) if lm_weight >= 0.0 else math.inf) if use_lm else 0.0

    bounds, cand_labels, cand_vals = candidate_table(lp, top_k, prune_logprob)
    at = lp.item  # at(t, c) -> log p as a Python float, without a numpy scalar
    cand_p = cand_vals.tolist()
    blank_col = lp[:, 0].astype(np.float64).tolist()

    # Prefixes are nodes of a tree: node 0 is the empty prefix; a node stores its parent and last label.
    # Nodes are made only for prefixes that enter the beam (at most one node per prefix is in the beam).
    parent: list[int] = [-1]
    last_label: list[int] = [0]
    fused: list[float] = [0.0]  # lm_weight * log P_lm + length_bonus * L of each node's prefix
    lm_ctx: list[tuple[int, ...]] = [()]  # the last (order - 1) labels of each node's prefix
    n_ctx = max(lm.order - 1, 0) if lm is not None else 0
    lm_cache: dict[tuple[tuple[int, ...], int], float] = {}

    def lm_term(node: int, c: int) -> float:
        """lm_weight * log P_lm(c | prefix of node) + length_bonus, cached per (context, c)."""
        key = (lm_ctx[node], c)
        val = lm_cache.get(key)
        if val is None:
            assert lm is not None
            chars = tuple(charset[i] for i in key[0])
            val = lm_cache[key] = lm_weight * lm.score(chars, charset[c]) + length_bonus
        return val

    # beams: node -> (log P(prefix, paths ending in blank), .. ending in its last label, log P(prefix))
    beams: dict[int, tuple[float, float, float]] = {0: (0.0, NEG_INF, 0.0)}
    log1p, exp = math.log1p, math.exp
    for t in range(t_len):
        blank = blank_col[t]
        kids: dict[int, set[int]] = {}  # node -> labels of its children that are in the beam
        # entries: (rank, index); index < 0 is an existing node -index - 1, else new_items[index]
        ranked: list[tuple[float, int]] = []
        stay: dict[int, tuple[float, float, float]] = {}
        for node, (_pb, pnb, total) in beams.items():
            # staying: a blank, or the last label repeated without a blank (same prefix)
            new_b = total + blank
            if node:
                c = last_label[node]
                new_nb = pnb + at(t, c)
                par = parent[node]
                if par in beams:  # the parent's extension by this node's label lands here too
                    kids.setdefault(par, set()).add(c)
                    par_b, _, par_total = beams[par]
                    new_nb = _lse(new_nb, (par_b if c == last_label[par] else par_total) + at(t, c))
                # new_total = log(exp(new_b) + exp(new_nb)), inlined
                if new_b >= new_nb:
                    new_total = new_b if new_nb == NEG_INF else new_b + log1p(exp(new_nb - new_b))
                else:
                    new_total = new_nb if new_b == NEG_INF else new_nb + log1p(exp(new_b - new_nb))
            else:
                new_nb, new_total = NEG_INF, new_b
            stay[node] = (new_b, new_nb, new_total)
            ranked.append((new_total + fused[node], -node - 1))
        # Exact pruning: these ranks are final; once the beam is full, a new prefix scoring below the
        # W-th of them (theta) cannot enter it. A new prefix scores base + p + fused[parent] + (its LM
        # term <= bonus_max), and candidates are sorted by p, so each parent stops at its first miss.
        lo, hi = bounds[t], bounds[t + 1]
        if lo == hi:  # no candidate label at this frame: the beam keeps its prefixes
            beams = stay
            continue
        theta = heapq.nlargest(beam_width, ranked)[-1][0] if len(ranked) >= beam_width else NEG_INF
        new_items: list[tuple[int, int, float]] = []  # (parent node, label, log P of paths ending in it)
        for node, (pb, _pnb, total) in beams.items():
            floor = theta - fused[node] - bonus_max
            last = last_label[node]
            in_beam = kids.get(node, ())
            for i in range(lo, hi):
                p = cand_p[i]
                if total + p < floor:
                    break
                c = cand_labels[i]
                if c in in_beam:
                    continue  # already merged above
                base = pb if c == last else total  # a repeat only extends paths that ended in blank
                if base == NEG_INF:
                    continue
                rank = base + p + fused[node] + (lm_term(node, c) if use_lm else 0.0)
                if rank >= theta:
                    ranked.append((rank, len(new_items)))
                    new_items.append((node, c, base + p))
        if len(ranked) > beam_width:
            ranked = heapq.nlargest(beam_width, ranked)
        beams = {}
        for _, idx in ranked:
            if idx < 0:
                beams[-idx - 1] = stay[-idx - 1]
                continue
            node, c, score = new_items[idx]
            new = len(parent)
            parent.append(node)
            last_label.append(c)
            if use_lm:
                fused.append(fused[node] + lm_term(node, c))
                lm_ctx.append((lm_ctx[node] + (c,))[-n_ctx:] if n_ctx else ())
            else:
                fused.append(0.0)
                lm_ctx.append(())
            beams[new] = (NEG_INF, score, score)
    # prefixes with no surviving path (e.g. a repeat that never saw a blank) have probability 0
    alive = [(total + fused[node], node) for node, (_, _, total) in beams.items() if total > NEG_INF]
    final = heapq.nlargest(nbest, alive)
    prefixes = []
    for _, node in final:
        labels: list[int] = []
        while node > 0:
            labels.append(last_label[node])
            node = parent[node]
        prefixes.append(tuple(reversed(labels)))
    out = []
    for prefix, (score, _node), (spans, confs) in zip(prefixes, final, align_many(lp, prefixes), strict=True):
        out.append(Decoded(
            text="".join(charset[i] for i in prefix),
            labels=prefix,
            confidences=tuple(confs),
            spans=tuple(spans),
            score=score,
        ))
    return out
