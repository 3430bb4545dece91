"""Language-model rescoring that only acts where the recognizer hesitated: the "beam + LM" decoder.

Shallow fusion (log P_ctc + α log P_lm + β L at every step of the beam) made real text worse here: the
LM pulled rare characters towards common ones, dropped characters it found unlikely (β could not
balance it everywhere) and knew no traditional characters. This decoder keeps the beam's best labelling
and changes it only by substitutions, only at uncertain positions, only between Chinese characters:

1. options: for each label of the labelling, the CJK characters whose best probability inside the
   label's frame span is within `margin` of the label's own (the label first; at most `max_options`).
   Labels that are not CJK ideographs (Latin, digits, punctuation) keep a single option: neutral.
   Script variants of the label (same character after OpenCC t2s: 將/将, 無/无, 灣/湾) are never
   options: whether a line is written in traditional or simplified characters is the image's call,
   not the LM's (a corpus converted by OpenCC cannot know local usage such as 台灣 against 臺灣).
2. choose the sequence maximising  Σ log p(option) − switch_cost · (#changed) + α · Σ PMI, where
   PMI = log P_lm(c | previous characters) − log P_lm(c) (the context's support beyond the character's
   own frequency, so random rare-character strings are not rewritten into common characters), by a
   beam over positions (the LM is an n-gram: state = the last order-1 characters).

Lengths never change, so the LM can neither drop nor insert a character. The defaults (α = 0.6,
margin = 0.4, switch cost = 1.0) were chosen on rendered dev lines (300 simplified + 300 OpenCC-traditional
lines in the held-out uming font, engines ppocr-v4, ppocr-v6, crnn: CER ≤ greedy on all six) and the
rendered ambiguity cases (未米 → 未来, 参 → 叁). The script-variant rule was added after a first
measurement on ../shared/real_dev showed 將 → 将 style changes there (so that set informed that rule;
no number was tuned on it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np

from ocr.types import Decoded

__all__ = ["ContextScorer", "lm_options", "rescore_decoded", "rescore_options"]


class ContextScorer(Protocol):
    """What rescoring needs from an LM: log P(c | context) and the unconditional log P(c)."""

    order: int

    def score(self, context: tuple[str, ...] | str, next_char: str) -> float: ...

    def unigram(self, char: str) -> float: ...


@lru_cache(maxsize=65_536)
def _simplified(ch: str) -> str:
    """ch converted by OpenCC t2s (one character; script variants share the result)."""
    return _t2s().convert(ch)


@lru_cache(maxsize=1)
def _t2s():  # -> opencc.OpenCC
    try:
        import opencc
    except ImportError:
        raise ImportError("beam + LM rescoring needs OpenCC to tell script variants apart: "
                          "pip install opencc==1.4.2") from None
    return opencc.OpenCC("t2s")


def _is_cjk(ch: str) -> bool:
    o = ord(ch) if len(ch) == 1 else 0
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2EBEF


def lm_options(
    logprobs: np.ndarray, charset: Sequence[str], decoded: Decoded, margin: float, max_options: int = 4
) -> list[list[tuple[int, float]]]:
    """Per label of `decoded`: [(label, log p), ...], the label itself first, then the CJK characters
    whose best probability within the label's span exceeds the label's own minus `margin` (best first).

    logprobs: (T, C) log-probabilities, blank = 0. log p of an option = its highest log-probability
    within the span of the label it could replace.
    """
    out: list[list[tuple[int, float]]] = []
    for lab, (start, end) in zip(decoded.labels, decoded.spans, strict=True):
        seg = logprobs[start:max(end, start + 1)]
        best = seg.max(axis=0)
        own = float(best[lab])
        opts = [(lab, own)]
        if _is_cjk(charset[lab]):
            floor = math.exp(own) - margin
            near = np.flatnonzero(best > (math.log(floor) if floor > 0 else -np.inf))
            for c in near[np.argsort(-best[near], kind="stable")]:
                c = int(c)
                if len(opts) >= max_options:
                    break
                if c not in (0, lab) and _is_cjk(charset[c]) and \
                        _simplified(charset[c]) != _simplified(charset[lab]):
                    opts.append((c, float(best[c])))
        out.append(opts)
    return out


def rescore_options(
    options: list[list[tuple[int, float]]], charset: Sequence[str], lm: ContextScorer, weight: float,
    switch_cost: float, beam: int = 16,
) -> tuple[tuple[int, ...], float]:
    """The labelling (one option per position) maximising Σ log p − switch_cost · changes + weight · Σ PMI,
    with its score. Positions with one option still give context to their neighbours."""
    n_ctx = max(lm.order - 1, 1)
    hyps: list[tuple[float, tuple[int, ...]]] = [(0.0, ())]
    uni: dict[int, float] = {}
    for opts in options:
        grown = []
        for score, labs in hyps:
            ctx = tuple(charset[x] for x in labs[-n_ctx:])
            for j, (c, lp) in enumerate(opts):
                ch = charset[c]
                if c not in uni:
                    uni[c] = lm.unigram(ch) if _is_cjk(ch) else 0.0
                pmi = lm.score(ctx, ch) - uni[c] if _is_cjk(ch) else 0.0
                grown.append((score + lp - (switch_cost if j else 0.0) + weight * pmi, (*labs, c)))
        grown.sort(key=lambda x: -x[0])
        hyps = grown[:beam]
    return hyps[0][1], hyps[0][0]


def rescore_decoded(
    logprobs: np.ndarray, charset: Sequence[str], decoded: Decoded, lm: ContextScorer, weight: float,
    margin: float, switch_cost: float,
) -> Decoded:
    """`decoded` with its uncertain CJK characters re-chosen by the LM (same spans, same length).

    Confidence of a position = exp(log p) of the chosen option; score = the rescoring objective.
    Returns `decoded` itself when no position has an alternative.
    """
    opts = lm_options(logprobs, charset, decoded, margin)
    if all(len(o) == 1 for o in opts):
        return decoded
    labels, score = rescore_options(opts, charset, lm, weight, switch_cost)
    conf = tuple(min(1.0, math.exp(dict(o)[c])) for o, c in zip(opts, labels, strict=True))
    return Decoded("".join(charset[c] for c in labels), labels, conf, decoded.spans, score)
