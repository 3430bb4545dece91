"""Synthetic Chinese text lines for training and testing.

Everything is deterministic for a seed (numpy Generator only; no global RNG). Fonts come from Debian
packages; one font (HELD_OUT_FONT) is never used for training and renders the test set.

- fonts.py   FONTS, installed/training/held-out faces, glyph coverage
- corpus.py  Corpus: offline text lines (jieba words, numbers, amounts, IDs, Latin)
- render.py  render_line: one line with document-like degradations
- shards.py  render_shards / load_shard (training data), render_test_set (labelled held-out set)
- kinds.py   kinds of line users bring (traditional, forms, plates, signs, handwriting-like)
"""

from ocr.training.synth.corpus import Corpus, amount_upper
from ocr.training.synth.fonts import (
    FONTS,
    HELD_OUT_FONT,
    FontSpec,
    available_fonts,
    font_by_name,
    font_covers,
    training_fonts,
)
from ocr.training.synth.render import render_line
from ocr.training.synth.shards import (
    TEST_LENGTHS,
    Shard,
    iter_shard_lines,
    load_shard,
    render_shards,
    render_test_set,
)

__all__ = [
    "FONTS",
    "HELD_OUT_FONT",
    "TEST_LENGTHS",
    "Corpus",
    "FontSpec",
    "Shard",
    "amount_upper",
    "available_fonts",
    "font_by_name",
    "font_covers",
    "iter_shard_lines",
    "load_shard",
    "render_line",
    "render_shards",
    "render_test_set",
    "training_fonts",
]
