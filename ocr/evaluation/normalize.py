"""Text normalisation before scoring: every option is explicit, named in every table and in the JSON.

Options (applied in this order):
- nfkc:     Unicode NFKC (folds full-width Latin/digits/punctuation, ligatures, circled digits …).
- width:    full-width → half-width only (U+FF01–FF5E → ASCII, U+3000 → space), as BCTR's `strQ2B`;
            narrower than NFKC, which also rewrites compatibility characters.
- casefold: Unicode case folding (lower case).
- t2s:      traditional → simplified Chinese with OpenCC 't2s' (phrase-aware); needs `opencc`.
- punct:    remove punctuation and symbols (Unicode categories P* and S*).
- spaces:   "keep" (as written), "collapse" (runs → one space, trimmed) or "remove".

Presets (PRESETS): "default" (NFKC, spaces removed — what this project always used), "raw" (nothing),
and "bctr", the protocol of "Benchmarking Chinese Text Recognition" (Chen et al. 2021; their
`util.equal`): lower case, spaces removed, full → half width, traditional → simplified. BCTR converts
with `zhconv`; we use OpenCC t2s, which agrees on ordinary characters (both map 臺灣 → 台湾).

    >>> normalize("ＡＢ 臺灣", PRESETS["bctr"])
    'ab台湾'
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import asdict, dataclass
from functools import lru_cache
from typing import Literal

__all__ = ["DEFAULT_NORM", "PRESETS", "Normalization", "Spaces", "describe", "normalize", "normalize_chars",
           "preset_name"]

Spaces = Literal["keep", "collapse", "remove"]
SPACES: tuple[Spaces, ...] = ("keep", "collapse", "remove")


@dataclass(frozen=True)
class Normalization:
    """How texts are normalised before comparison. Default: NFKC on, spaces removed, nothing else.

    Spaces are removed by default because Chinese has none and engines differ in whether they emit
    them between Latin words; set spaces="keep" to count them.
    """

    nfkc: bool = True
    spaces: Spaces = "remove"
    width: bool = False
    casefold: bool = False
    t2s: bool = False
    punct: bool = False

    def __post_init__(self) -> None:
        if self.spaces not in SPACES:
            raise ValueError(f"spaces must be one of {', '.join(SPACES)}, got {self.spaces!r}")

    def as_dict(self) -> dict[str, object]:
        """The options as a JSON object, with the preset's name ("custom" if none matches)."""
        return {"preset": preset_name(self), **asdict(self)}


DEFAULT_NORM = Normalization()
PRESETS: dict[str, Normalization] = {
    "default": DEFAULT_NORM,
    "raw": Normalization(nfkc=False, spaces="keep"),
    "bctr": Normalization(nfkc=False, spaces="remove", width=True, casefold=True, t2s=True),
}
_SPACE_RUN = re.compile(r"\s+")


def preset_name(norm: Normalization) -> str:
    """The preset `norm` equals, or "custom"."""
    return next((name for name, p in PRESETS.items() if p == norm), "custom")


def describe(norm: Normalization) -> str:
    """One line for a table caption, e.g. "bctr: full→half width, case fold, …, spaces removed"."""
    options = ((norm.nfkc, "NFKC"), (norm.width, "full→half width"), (norm.casefold, "case fold"),
               (norm.t2s, "traditional→simplified (OpenCC)"), (norm.punct, "punctuation removed"))
    parts = [label for on, label in options if on]
    parts.append(f"spaces {dict(keep='kept', collapse='collapsed', remove='removed')[norm.spaces]}")
    return f"{preset_name(norm)}: " + ", ".join(parts)


@lru_cache(maxsize=1)
def _t2s():  # -> opencc.OpenCC
    try:
        import opencc
    except ImportError:
        raise ImportError("traditional→simplified normalisation needs OpenCC: "
                          "pip install opencc==1.4.2") from None
    return opencc.OpenCC("t2s")


def _fold_width(text: str) -> str:
    return "".join(chr(o - 0xFEE0) if 0xFF01 <= (o := ord(c)) <= 0xFF5E else (" " if o == 0x3000 else c)
                   for c in text)


def _is_punct(ch: str) -> bool:
    return unicodedata.category(ch)[0] in "PS"


def normalize(text: str, norm: Normalization = DEFAULT_NORM) -> str:
    """Apply `norm` to one text (see the module docstring for the order)."""
    if norm.nfkc:
        text = unicodedata.normalize("NFKC", text)
    if norm.width:
        text = _fold_width(text)
    if norm.casefold:
        text = text.casefold()
    if norm.t2s and text:
        text = _t2s().convert(text)
    if norm.punct:
        text = "".join(c for c in text if not _is_punct(c))
    if norm.spaces == "remove":
        return _SPACE_RUN.sub("", text)
    if norm.spaces == "collapse":
        return _SPACE_RUN.sub(" ", text).strip()
    return text


def normalize_chars(chars: list[str], values: list[float], norm: Normalization = DEFAULT_NORM
                    ) -> tuple[str, list[float]]:
    """Normalise a text given as characters each with a value (e.g. a confidence), one character at a
    time, so every output character keeps the value of the input character it came from.

    Returns (text, values) with len(values) == len(text). Character-wise, so OpenCC converts without
    phrase context and "collapse" behaves like "remove" inside a text; used for per-character calibration.
    """
    out: list[str] = []
    vals: list[float] = []
    one_char = Normalization(nfkc=norm.nfkc, spaces="remove" if norm.spaces != "keep" else "keep",
                             width=norm.width, casefold=norm.casefold, t2s=norm.t2s, punct=norm.punct)
    for ch, v in zip(chars, values, strict=True):
        n = normalize(ch, one_char)
        out.append(n)
        vals.extend([v] * len(n))
    return "".join(out), vals
