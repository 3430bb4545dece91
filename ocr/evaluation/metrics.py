"""Accuracy metrics for text lines.

Definitions (as in "Benchmarking Chinese Text Recognition", Chen et al. 2021):
- CER  = edit distance(ref, hyp) / len(ref), pooled over a set: sum of distances / sum of lengths.
  An empty reference counts len(hyp) errors over a length of 0; pooled CER stays defined.
- NED  = edit distance / max(len(ref), len(hyp)); we report 1-NED averaged over lines (higher is better).
- line accuracy = share of lines whose normalised hypothesis equals the normalised reference.
Normalisation (stated, optional; ocr/evaluation/normalize.py): NFKC, full -> half width, case folding,
traditional -> simplified (OpenCC), punctuation removal, spaces keep/collapse/remove, and named presets
("default": NFKC + spaces removed; "bctr": the protocol of Chen et al. 2021).
Edit distance is rapidfuzz's Levenshtein (unit costs), on Unicode code points.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rapidfuzz.distance import Levenshtein

from ocr.evaluation.normalize import DEFAULT_NORM, Normalization, normalize

__all__ = ["Normalization", "Score", "cer", "diff_ops", "edit_distance", "ned", "normalize", "score_lines"]


def edit_distance(ref: str, hyp: str) -> int:
    """Levenshtein distance in code points."""
    return int(Levenshtein.distance(ref, hyp))


def cer(ref: str, hyp: str, norm: Normalization = DEFAULT_NORM) -> float:
    """Character error rate of one line; an empty reference gives 0.0 if hyp is empty else 1.0."""
    r, h = normalize(ref, norm), normalize(hyp, norm)
    if not r:
        return 0.0 if not h else 1.0
    return edit_distance(r, h) / len(r)


def ned(ref: str, hyp: str, norm: Normalization = DEFAULT_NORM) -> float:
    """Normalised edit distance in [0, 1] (0 = identical)."""
    r, h = normalize(ref, norm), normalize(hyp, norm)
    longest = max(len(r), len(h))
    return edit_distance(r, h) / longest if longest else 0.0


def diff_ops(ref: str, hyp: str) -> list[tuple[str, int, int, int, int]]:
    """Opcodes turning ref into hyp: (tag, ref_start, ref_end, hyp_start, hyp_end), tag in
    equal/replace/delete/insert — for marking the differing characters in a UI."""
    return [(op.tag, op.src_start, op.src_end, op.dest_start, op.dest_end)
            for op in Levenshtein.opcodes(ref, hyp)]


@dataclass(frozen=True)
class Score:
    """Pooled scores over a set of lines."""

    n: int
    line_acc: float
    cer: float
    ned: float  # 1 - mean NED (higher is better)
    chars: int
    errors: int


def score_lines(pairs: Iterable[tuple[str, str]], norm: Normalization = DEFAULT_NORM) -> Score:
    """Pooled line accuracy, CER (sum of distances / sum of reference lengths) and 1-NED."""
    n = correct = chars = errors = 0
    ned_sum = 0.0
    for ref, hyp in pairs:
        r, h = normalize(ref, norm), normalize(hyp, norm)
        d = edit_distance(r, h)
        n += 1
        correct += int(r == h)
        chars += len(r)
        errors += d
        longest = max(len(r), len(h))
        ned_sum += d / longest if longest else 0.0
    if n == 0:
        return Score(0, 0.0, 0.0, 0.0, 0, 0)
    pooled = errors / chars if chars else float(errors > 0)
    return Score(n, correct / n, pooled, 1.0 - ned_sum / n, chars, errors)
