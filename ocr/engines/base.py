"""The engine interface every recognizer implements."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

__all__ = ["Engine", "InputSpec"]


@dataclass(frozen=True)
class InputSpec:
    """What an engine expects as input; preprocessing honours it.

    height:      input height in pixels; None means "no resize" (text-only engines such as Tesseract).
    channels:    1 (gray) or 3 (RGB).
    mean, std:   normalisation applied to x/255: (x/255 - mean) / std.
    downsample:  input pixels per output frame along the width (T = W // downsample).
    min_width:   the smallest width the model accepts (narrow images are padded up to it).
    max_width:   the widest input fed in one piece (wider lines are squeezed to fit).
    width_multiple: the padded width is rounded up to a multiple of this.
    pad_value:   gray level (0..255) used to pad on the right.
    pad_background: pad with the line's own background level (its border-ring median) instead of
                 pad_value, as our CRNNs were trained; white padding beside a grey background
                 corrupts their last character.
    """

    height: int | None
    channels: int
    mean: float = 0.0
    std: float = 1.0
    downsample: int = 4
    min_width: int = 16
    max_width: int = 3200
    width_multiple: int = 8
    pad_value: int = 0
    pad_background: bool = False


class Engine(ABC):
    """A text-line recognizer.

    CTC engines (has_ctc=True) expose `charset` (index 0 = blank, "") and `logprobs_batch`.
    Text-only engines (has_ctc=False, e.g. Tesseract) expose `read_text` and no matrix.
    Engines are loaded once per process by the registry and never mutated after load;
    `logprobs_batch` and `read_text` must be safe to call from several threads at once.
    """

    name: str
    title: str
    has_ctc: bool
    input_spec: InputSpec
    charset: tuple[str, ...] = ()

    def logprobs_batch(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """Per-timestep log-probabilities for preprocessed inputs.

        tensors: each (channels, height, W_i) float32, already normalised per `input_spec`.
        returns: each (T_i, len(charset)) float32 log-probabilities (rows log-sum-exp to 0).
        """
        raise NotImplementedError(f"{self.name} yields no CTC matrix")

    def read_text(self, image: np.ndarray) -> str:
        """Text of a preprocessed line image (H, W) or (H, W, 3) uint8 (text-only engines)."""
        raise NotImplementedError(f"{self.name} is read through its CTC matrix")

    @abstractmethod
    def describe(self) -> dict[str, object]:
        """Static facts for display: model file, classes, input size, licence."""
