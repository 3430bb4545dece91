"""Shared result types."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Decoded"]


@dataclass(frozen=True)
class Decoded:
    """One CTC labelling with its alignment.

    text:        the labelling as a string (charset entries joined).
    labels:      charset indices of the labelling, len L (no blanks, 0 never appears).
    confidences: per-label confidence in [0, 1], len L.
    spans:       per-label frame span [start, end) in the (T, C) matrix, len L.
    score:       log score of the labelling (log-probability for greedy/beam; the fused
                 score log P + alpha * log P_lm + beta * L when a language model is used).
    """

    text: str
    labels: tuple[int, ...]
    confidences: tuple[float, ...]
    spans: tuple[tuple[int, int], ...]
    score: float

    def chars(self, charset: tuple[str, ...] | list[str]) -> list[dict[str, object]]:
        """Per-label records: {"char", "confidence", "start", "end"} (the CLI/API JSON form)."""
        return [
            {"char": charset[lab], "confidence": round(float(c), 4), "start": s, "end": e}
            for lab, c, (s, e) in zip(self.labels, self.confidences, self.spans, strict=True)
        ]

    @property
    def mean_confidence(self) -> float:
        """Mean per-label confidence (1.0 for an empty labelling)."""
        return float(sum(self.confidences) / len(self.confidences)) if self.confidences else 1.0
