"""Paired bootstrap confidence intervals: is a CER or a difference between two rows real or noise?

Lines are resampled with replacement (the same resampled lines for every row, so differences are
paired); pooled CER = Σ edits / Σ reference characters of the resample, line accuracy = mean of exact
matches. 95 % intervals are the 2.5th and 97.5th percentiles of 1,000 resamples from a seeded
generator: the same inputs and seed give the same intervals.
A difference is "significant" when its interval excludes 0; otherwise the rows are indistinguishable
on this set.

    >>> a = LineStats(errors=[0, 1, 0, 2], chars=[4, 4, 4, 4], correct=[1, 0, 1, 0])
    >>> ci = bootstrap_ci(a, seed=0)
    >>> ci.cer[0] <= 3 / 16 <= ci.cer[1]
    True
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["DEFAULT_RESAMPLES", "DEFAULT_SEED", "Interval", "LineStats", "PairedDiff", "bootstrap_ci",
           "paired_diff"]

DEFAULT_RESAMPLES = 1000
DEFAULT_SEED = 20261126


@dataclass(frozen=True)
class LineStats:
    """Per-line edit counts, reference lengths and exact-match flags (normalised), one entry a line."""

    errors: Sequence[int]
    chars: Sequence[int]
    correct: Sequence[int]

    def arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        e, c, k = (np.asarray(x, dtype=np.float64) for x in (self.errors, self.chars, self.correct))
        if not (e.shape == c.shape == k.shape) or e.ndim != 1:
            raise ValueError("errors, chars and correct must be 1-D of one length")
        if e.size == 0:
            raise ValueError("no lines to resample")
        return e, c, k


@dataclass(frozen=True)
class Interval:
    """Point estimates and 95 % percentile intervals of pooled CER and line accuracy."""

    cer: tuple[float, float]
    line_acc: tuple[float, float]
    point_cer: float
    point_line_acc: float


@dataclass(frozen=True)
class PairedDiff:
    """B − A on the same lines: point difference, 95 % interval, and whether it excludes 0."""

    cer: float
    cer_ci: tuple[float, float]
    line_acc: float
    line_acc_ci: tuple[float, float]
    n: int

    @property
    def cer_significant(self) -> bool:
        return not (self.cer_ci[0] <= 0.0 <= self.cer_ci[1])

    @property
    def line_acc_significant(self) -> bool:
        return not (self.line_acc_ci[0] <= 0.0 <= self.line_acc_ci[1])

    def verdict(self, a: str = "A", b: str = "B") -> str:
        """A sentence for a table: which row (named a, b) has the lower CER, or that they are
        indistinguishable."""
        if not self.cer_significant:
            return "indistinguishable (CER difference CI includes 0)"
        return f"{b if self.cer < 0 else a}: lower CER (significant)"


def _pooled(e: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Pooled CER per resample row; a resample without reference characters counts as 0."""
    total = c.sum(axis=-1)
    return np.divide(e.sum(axis=-1), total, out=np.zeros_like(total), where=total > 0)


def _indices(n: int, resamples: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def _ci(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.percentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def bootstrap_ci(stats: LineStats, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED) -> Interval:
    """95 % intervals of pooled CER and line accuracy."""
    e, c, k = stats.arrays()
    idx = _indices(e.size, resamples, seed)
    return Interval(_ci(_pooled(e[idx], c[idx])), _ci(k[idx].mean(axis=1)),
                    float(_pooled(e, c)), float(k.mean()))


def paired_diff(a: LineStats, b: LineStats, resamples: int = DEFAULT_RESAMPLES, seed: int = DEFAULT_SEED
                ) -> PairedDiff:
    """B − A of pooled CER and line accuracy over the same lines (same order), with 95 % intervals.

    Raises ValueError when the two rows do not cover the same number of lines.
    """
    ea, ca, ka = a.arrays()
    eb, cb, kb = b.arrays()
    if ea.size != eb.size:
        raise ValueError(f"paired rows need the same lines: {ea.size} vs {eb.size}")
    idx = _indices(ea.size, resamples, seed)
    d_cer = _pooled(eb[idx], cb[idx]) - _pooled(ea[idx], ca[idx])
    d_acc = kb[idx].mean(axis=1) - ka[idx].mean(axis=1)
    return PairedDiff(float(_pooled(eb, cb) - _pooled(ea, ca)), _ci(d_cer), float(kb.mean() - ka.mean()),
                      _ci(d_acc), int(ea.size))
