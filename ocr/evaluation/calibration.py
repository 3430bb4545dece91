"""Can the engine's confidence be trusted? Reliability diagrams, ECE and accuracy–coverage curves.

Per line: the confidence is the product of the line's per-character confidences (the probability
that every character is right if errors were independent), the outcome is "the normalised line equals
its label". Per character: each hypothesis character's confidence, the outcome is "it is aligned to
the same reference character" (see ocr.evaluation.confusions.align_chars).

ECE (expected calibration error) = Σ_bins (n_bin / n) · |accuracy_bin − mean confidence_bin| over
equal-width confidence bins (10 by default), in [0, 1]; 0 is perfectly calibrated.
Text-only engines (Tesseract) give no confidence: their results are "uncalibrated" (None), never 1.0.

    >>> c = calibrate([0.9, 0.8, 0.3, 0.2], [True, True, False, True])
    >>> round(c.ece, 3), c.accuracy_at_coverage(0.5)
    (0.35, 1.0)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

__all__ = ["Calibration", "ReliabilityBin", "calibrate", "flag_for_review"]


@dataclass(frozen=True)
class ReliabilityBin:
    """One confidence bin [lo, hi): how many items, their mean confidence and their accuracy."""

    lo: float
    hi: float
    n: int
    confidence: float | None
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    """Calibration of n (confidence, correct) items.

    bins: the reliability diagram; coverage/accuracy: the accuracy–coverage curve — keeping the
    coverage[i] most confident share of the items gives accuracy[i] (coverage ascending, ending at 1).
    """

    n: int
    ece: float
    bins: tuple[ReliabilityBin, ...]
    coverage: tuple[float, ...]
    accuracy: tuple[float, ...]

    def accuracy_at_coverage(self, coverage: float) -> float:
        """Accuracy when only the `coverage` most confident share is kept (e.g. 0.9: reject 10 %)."""
        if not self.coverage:
            return float("nan")
        i = int(np.searchsorted(np.asarray(self.coverage), coverage - 1e-12))
        return self.accuracy[min(i, len(self.accuracy) - 1)]

    def as_dict(self) -> dict[str, object]:
        """JSON form (rounded)."""
        return {"n": self.n, "ece": round(self.ece, 5),
                "bins": [{"lo": b.lo, "hi": b.hi, "n": b.n,
                          "confidence": None if b.confidence is None else round(b.confidence, 5),
                          "accuracy": None if b.accuracy is None else round(b.accuracy, 5)}
                         for b in self.bins],
                "accuracy_at_90pct_coverage": round(self.accuracy_at_coverage(0.9), 5)}


def calibrate(confidence: Sequence[float], correct: Sequence[bool], n_bins: int = 10) -> Calibration:
    """Reliability bins, ECE and accuracy–coverage of items with confidences in [0, 1].

    Raises ValueError on mismatched lengths, no items, or a confidence outside [0, 1].
    """
    conf = np.asarray(confidence, dtype=np.float64)
    ok = np.asarray(correct, dtype=bool)
    if conf.shape != ok.shape or conf.ndim != 1:
        raise ValueError(f"confidence {conf.shape} and correct {ok.shape} must be 1-D of one length")
    if conf.size == 0:
        raise ValueError("no items to calibrate")
    if np.any((conf < 0) | (conf > 1)) or np.any(np.isnan(conf)):
        raise ValueError("confidences must lie in [0, 1]")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.minimum((conf * n_bins).astype(int), n_bins - 1)  # 1.0 goes into the last bin
    bins = []
    ece = 0.0
    for b in range(n_bins):
        sel = idx == b
        k = int(sel.sum())
        if k:
            mc, acc = float(conf[sel].mean()), float(ok[sel].mean())
            ece += k / conf.size * abs(acc - mc)
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), k, mc, acc))
        else:
            bins.append(ReliabilityBin(float(edges[b]), float(edges[b + 1]), 0, None, None))
    order = np.argsort(-conf, kind="stable")
    hits = np.cumsum(ok[order])
    kept = np.arange(1, conf.size + 1)
    return Calibration(int(conf.size), float(ece), tuple(bins), tuple((kept / conf.size).tolist()),
                       tuple((hits / kept).tolist()))


def flag_for_review(confidence: Sequence[float | None], threshold: float) -> list[bool]:
    """True for items whose confidence is below threshold, or unknown (None: always reviewed)."""
    return [c is None or c < threshold for c in confidence]
