"""CRNN hyper-parameters and size arithmetic, without torch (the inference side reads these from a model
file's metadata; ocr.models.crnn builds the torch module from them)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypeVar

__all__ = ["CRNNConfig", "output_length"]

W = TypeVar("W")


@dataclass(frozen=True)
class CRNNConfig:
    """Architecture hyper-parameters.

    widths/expand/depths: per stage (stage 0 follows the stride-2 stem; stages 1.. start with a
    stride-2 expand conv). height must make the CNN output height = height / 8 exactly.
    head_rank: 0 = one Linear(2*hidden -> C); r > 0 = a low-rank head Linear(2*hidden -> r, no bias) then
    Linear(r -> C), which cuts the per-frame classifier cost by (2*hidden + C) * r / (2*hidden * C).
    """

    num_classes: int
    height: int = 64
    widths: tuple[int, ...] = (24, 48, 64)
    expand: tuple[int, ...] = (1, 4, 4)
    depths: tuple[int, ...] = (2, 3, 3)
    hidden: int = 512
    head_rank: int = 0

    def to_dict(self) -> dict[str, object]:
        """Plain dict for checkpoint metadata."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict[str, object]) -> CRNNConfig:
        """Inverse of to_dict."""
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})  # type: ignore[arg-type]

    def conv_count(self) -> int:
        """Convolutions in the CNN: the stem, then per stage a stride-2 expand + project pair (not
        stage 0) and two per fused block."""
        return 1 + sum((2 if s else 0) + 2 * d for s, d in enumerate(self.depths))

    def parameter_count(self) -> int:
        """Trainable parameters of ocr.models.crnn.CRNN(self)."""
        w, e, d = self.widths, self.expand, self.depths

        def conv(cin: int, cout: int, k: int) -> int:
            return cin * cout * k * k + cout

        n = conv(1, w[0], 3)
        for s in range(len(w)):
            if s > 0:
                n += conv(w[s - 1], w[s - 1] * e[s], 3) + conv(w[s - 1] * e[s], w[s], 1)
            n += d[s] * (conv(w[s], w[s] * e[s], 3) + conv(w[s] * e[s], w[s], 1))
        feats, h = w[-1] * (self.height // 2 ** len(w)), self.hidden
        n += 2 * (4 * h * (feats + h) + 8 * h)  # BiLSTM: W_ih, W_hh, b_ih, b_hh per direction
        r = self.head_rank
        n += (2 * h * r + r * self.num_classes) if r else 2 * h * self.num_classes
        return n + self.num_classes


def output_length(width: W, stages: int = 3) -> W:
    """T for an input width W (an int or an integer tensor): W -> ceil(W / 2) once per stride-2 conv."""
    for _ in range(stages):
        width = (width + 1) // 2  # type: ignore[operator]
    return width
