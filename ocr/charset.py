"""The CRNN charset: one character per line in ocr/data/charset.txt; index 0 is the CTC blank ("").

Why this set (see docs/model_card.md): every GB2312 Han character (6,763, the simplified characters of
everyday print), printable ASCII (95, space included), the GB2312 symbol rows that ddddocr's classifier
also knows, and full-width CJK punctuation. Full-width letters/digits are left out on purpose: they
NFKC-normalise to ASCII, and scoring compares NFKC text. Classes shared with ddddocr's 8,210 start from
its trained output rows; the rest start fresh. Size keeps the fp16 checkpoint under 25 MB.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

__all__ = [
    "CHARSET_FILE",
    "Charset",
    "build_charset",
    "charset_sha256",
    "extend_charset",
    "gb2312_chars",
    "jieba_words",
    "load_charset",
    "write_charset",
]

CHARSET_FILE = Path(__file__).resolve().parent / "data" / "charset.txt"

# Full-width / CJK punctuation kept as classes of their own (they stay distinct after NFKC or matter
# in Chinese text: ，。、“”《》…).
CJK_PUNCT = (
    "，。、；：？！“”‘’（）《》〈〉【】「」『』〔〕—…·～￥％＃＆＋－／＠＝＜＞＿｜"
    "﹏＊〇¥"
)


def gb2312_chars() -> list[str]:
    """All 7,445 GB2312 characters (rows 1-9 symbols + 6,763 Han), in code order."""
    out = []
    for hi in range(0xA1, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                out.append(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                continue
    return out


# Letters with tone marks used by Hanyu Pinyin and Taiwanese Pe̍h-ōe-jī / Tâi-lô romanisation (precomposed:
# NFKC keeps them composed), and symbols seen on forms, tickets and signs that stay distinct after NFKC.
ROMANISATION = (
    "āáǎàēéěèīíǐìōóǒòūúǔùǖǘǚǜüêôâîûńňǹḿ"
    "ĀÁǍÀĒÉĚÈĪÍǏÌŌÓǑÒŪÚǓÙÜÊÔÂ"
)
EXTRA_SYMBOLS = "°±×÷€£§‰※→←↑↓●○■□▲△◆◇★☆√∞≤≥≠∶·•「」『』〖〗♂♀"
OPENCC_CONFIGS = ("s2t", "s2tw", "s2hk", "s2twp")
EXTENSION_MASS = 0.994  # share of the character mass of jieba's dictionary + its traditional forms


def _is_han(ch: str) -> bool:
    return "\u4e00" <= ch <= "\u9fff"


def build_charset(ddddocr_classes: Iterable[str]) -> list[str]:
    """The charset (without the blank), from ddddocr's class list: ASCII, GB2312 Han, shared symbols."""
    known = set(ddddocr_classes)
    gb = gb2312_chars()
    ascii_ = [chr(c) for c in range(0x20, 0x7F)]
    han = [c for c in gb if _is_han(c)]
    symbols = [
        c for c in gb
        if not _is_han(c) and c in known and not ("\uff10" <= c <= "\uff5a") and c != "\u3000"
    ]
    out: list[str] = []
    seen: set[str] = set()
    for ch in [*ascii_, *CJK_PUNCT, *symbols, *han]:
        if ch not in seen:
            seen.add(ch)
            out.append(ch)
    return out


@lru_cache(maxsize=1)
def jieba_words() -> tuple[tuple[str, float], ...]:
    """(word, frequency) rows of jieba's dict.txt, in file order: the one reader of that dictionary
    (the charset extension, the synthetic-text corpus and the character LM all start from it)."""
    import importlib.util

    spec = importlib.util.find_spec("jieba")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("jieba is not installed; it ships the word dictionary (dict.txt)")
    path = Path(spec.origin).resolve().parent / "dict.txt"
    rows = []
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2:
            rows.append((parts[0], float(parts[1])))
    return tuple(rows)


def jieba_char_mass() -> list[tuple[str, float]]:
    """Characters of jieba's dictionary and of its OpenCC traditional conversions (s2t, s2tw, s2hk,
    s2twp), weighted by word frequency ** 0.5 (simplified forms weight 1, each conversion 0.5),
    most frequent first. Deterministic; needs `jieba` and `opencc`."""
    import opencc

    convs = [opencc.OpenCC(c) for c in OPENCC_CONFIGS]
    mass: dict[str, float] = {}
    for word, freq in jieba_words():
        f = freq ** 0.5
        for c in word:
            mass[c] = mass.get(c, 0.0) + f
        for cv in convs:
            for c in cv.convert(word):
                mass[c] = mass.get(c, 0.0) + 0.5 * f
    return sorted(mass.items(), key=lambda kv: (-kv[1], kv[0]))


def extend_charset(old: Iterable[str], mass: float = EXTENSION_MASS) -> list[str]:
    """`old` (blank first, kept in order so trained rows keep their index) + the most frequent
    characters of jieba_char_mass() up to `mass` of its total + ROMANISATION + EXTRA_SYMBOLS."""
    out = list(old)
    seen = set(out)
    ranked = jieba_char_mass()
    total = sum(v for _, v in ranked)
    acc = 0.0
    new: list[str] = []
    for c, v in ranked:
        if acc / total >= mass:
            break
        acc += v
        if c.isprintable() and not c.isspace():
            new.append(c)
    for ch in [*new, *ROMANISATION, *EXTRA_SYMBOLS]:
        if ch not in seen:
            seen.add(ch)
            out.append(ch)
    return out


class Charset:
    """Index <-> character mapping with the CTC blank at index 0.

    chars: tuple of C strings, chars[0] == "" (blank).
    """

    def __init__(self, chars: Iterable[str]) -> None:
        body = [c for c in chars if c != ""]
        if len(set(body)) != len(body):
            raise ValueError("charset has duplicate characters")
        self.chars: tuple[str, ...] = ("", *body)
        self.index: dict[str, int] = {c: i for i, c in enumerate(self.chars) if i}

    def __len__(self) -> int:
        return len(self.chars)

    def __contains__(self, ch: object) -> bool:
        return ch in self.index

    def encode(self, text: str) -> list[int]:
        """Label indices (1..C-1) of `text`. Raises KeyError on a character outside the charset."""
        return [self.index[c] for c in text]

    def decode(self, labels: Iterable[int]) -> str:
        """Join the characters of label indices (blank contributes nothing)."""
        return "".join(self.chars[i] for i in labels)

    def covers(self, text: str) -> bool:
        """True if every character of `text` is a class."""
        return all(c in self.index for c in text)

    @property
    def sha256(self) -> str:
        """sha256 of the charset file form (one char per line, blank not written)."""
        return charset_sha256(self.chars)


def charset_sha256(chars: Iterable[str]) -> str:
    """sha256 hex of "\\n".join(chars without the blank) + "\\n" encoded UTF-8."""
    body = [c for c in chars if c != ""]
    return hashlib.sha256(("\n".join(body) + "\n").encode("utf-8")).hexdigest()


def write_charset(chars: Iterable[str], path: Path = CHARSET_FILE) -> None:
    """Write one character per line (blank not written), UTF-8, LF."""
    body = [c for c in chars if c != ""]
    path.write_text("\n".join(body) + "\n", encoding="utf-8")


@lru_cache(maxsize=4)
def load_charset(path: Path = CHARSET_FILE) -> Charset:
    """Read a charset file: one character per line (a line holding one space is the space class)."""
    lines = path.read_text(encoding="utf-8").split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return Charset(lines)
