"""CTC decoders: pure functions on (T, C) log-probabilities (blank = 0) returning `Decoded`.

- greedy_decode: best path, vectorised.
- prefix_beam_search: N best labellings, each scored over all its alignments.
- beam + LM: the same search with a character n-gram LM fused in (weight alpha, length bonus beta).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from ocr.decoding.align import align
from ocr.decoding.beam import prefix_beam_search
from ocr.decoding.greedy import greedy_decode
from ocr.decoding.lm import CharNgramLM, load_default_lm
from ocr.decoding.rescore import rescore_decoded
from ocr.types import Decoded

__all__ = [
    "DECODERS",
    "DECODER_TITLES",
    "FUSIONS",
    "CharNgramLM",
    "DecoderConfig",
    "align",
    "decode",
    "greedy_decode",
    "load_default_lm",
    "prefix_beam_search",
]

Method = Literal["greedy", "beam", "beam_lm"]
Fusion = Literal["rescore", "shallow"]
FUSIONS: tuple[Fusion, ...] = ("rescore", "shallow")
# The one list of decoders, in display order, with their titles: CLI choices, the API schema, the sidebar
# and the benchmark page are derived from it.
DECODER_TITLES: dict[Method, str] = {"greedy": "greedy", "beam": "beam search", "beam_lm": "beam + LM"}
DECODERS: tuple[Method, ...] = tuple(DECODER_TITLES)


@dataclass(frozen=True)
class DecoderConfig:
    """Decoder settings (call arguments, never global state).

    "beam_lm" settings. fusion="rescore" (default, ocr/decoding/rescore.py): the beam's best labelling,
    with the characters the recognizer hesitated over (probability within lm_margin of the chosen one)
    re-chosen by LM context; lm_weight = alpha on the LM's pointwise mutual information, switch_cost =
    log-probability a change must win by; lengths never change. Defaults (0.6, 0.4, 1.0) chosen on
    rendered simplified + traditional dev lines, never on the real sets.
    fusion="shallow": the older log P_ctc + alpha log P_lm + beta L at every beam step (length_bonus =
    beta); its sweep on synthetic matrices chose alpha 0.25, beta 1.5 — pass those with it. It made
    real lines worse (issue 20) and is kept for comparison only.
    """

    method: Method = "greedy"
    beam_width: int = 10
    nbest: int = 5
    top_k: int = 16
    prune_logprob: float = -10.0
    lm_weight: float = 0.6
    length_bonus: float = 1.5
    fusion: Fusion = "rescore"
    lm_margin: float = 0.4
    switch_cost: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in DECODERS:
            raise ValueError(f"unknown decoder {self.method!r}; choose from {', '.join(DECODERS)}")
        if self.beam_width < 1 or self.nbest < 1 or self.top_k < 1:
            raise ValueError("beam_width, nbest and top_k must be >= 1")
        if self.fusion not in FUSIONS:
            raise ValueError(f"unknown LM fusion {self.fusion!r}; choose from {', '.join(FUSIONS)}")
        if not 0.0 <= self.lm_margin <= 1.0:
            raise ValueError(f"lm_margin is a probability difference in [0, 1], got {self.lm_margin}")

    @classmethod
    def from_options(
        cls,
        method: str = "greedy",
        *,
        lm: bool = False,
        beam_width: int | None = None,
        nbest: int | None = None,
        lm_weight: float | None = None,
        length_bonus: float | None = None,
    ) -> DecoderConfig:
        """The config for user options (CLI flags, API fields, sidebar widgets): the one place options
        become a DecoderConfig. lm=True selects beam_lm whatever `method` says; None keeps the default.
        Raises ValueError for an unknown method or an out-of-range value."""
        base = cls()
        return cls(
            method="beam_lm" if lm else method,  # type: ignore[arg-type]
            beam_width=base.beam_width if beam_width is None else beam_width,
            nbest=base.nbest if nbest is None else nbest,
            top_k=base.top_k,
            prune_logprob=base.prune_logprob,
            lm_weight=base.lm_weight if lm_weight is None else lm_weight,
            length_bonus=base.length_bonus if length_bonus is None else length_bonus,
        )


def decode(
    logprobs: np.ndarray, charset: Sequence[str], config: DecoderConfig, lm: CharNgramLM | None = None
) -> list[Decoded]:
    """Decode one (T, C) matrix; best first (greedy gives one, beam up to config.nbest).

    beam_lm with fusion "rescore": the first is the LM-rescored best labelling, the rest are the beam's
    other labellings with their beam scores."""
    if config.method == "greedy":
        return [greedy_decode(logprobs, charset)]
    if config.method == "beam_lm" and lm is None:
        raise ValueError("beam_lm needs a language model (load_default_lm())")
    if config.method == "beam_lm" and config.fusion == "rescore":
        assert lm is not None
        found = prefix_beam_search(logprobs, charset, beam_width=config.beam_width, nbest=config.nbest,
                                   top_k=config.top_k, prune_logprob=config.prune_logprob)
        best = rescore_decoded(np.asarray(logprobs, dtype=np.float32), charset, found[0], lm,
                               config.lm_weight, config.lm_margin, config.switch_cost)
        # the rescored best first, then the beam's other labellings (their beam scores, not rescored)
        return [best, *(d for d in found if d.labels != best.labels)][:config.nbest]
    use_lm = config.method == "beam_lm"
    return prefix_beam_search(
        logprobs, charset, beam_width=config.beam_width, nbest=config.nbest, top_k=config.top_k,
        prune_logprob=config.prune_logprob, lm=lm if use_lm else None,
        lm_weight=config.lm_weight if use_lm else 0.0, length_bonus=config.length_bonus if use_lm else 0.0,
    )
