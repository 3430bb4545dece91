"""A character n-gram language model for shallow fusion in beam search.

Built offline from jieba's dictionary (~350 k words with corpus frequencies), the same words converted to
traditional characters with OpenCC 's2t' (each variant that differs, at the word's frequency, so
traditional text is modelled too), plus 3,000 generated financial uppercase amounts (`python -m ocr build-lm`)
and stored in ocr/data/ as one compressed npz: per order, sorted packed code-point keys (21 bits per
character) and float16 log-probabilities, plus Witten-Bell back-off weights per history.

Model: interpolated Witten-Bell over characters of words, weighted by word frequency, each word framed
by a word-start marker (BOS) and a word-end marker (EOW). Word boundaries in a line are unknown, so a
character is scored as "continues the current word or the current word ends and a new one starts":
    P(c | h) = P_wb(c | h) + P_wb(EOW | h) * P_wb(c | BOS)
which still sums to ~1 over the vocabulary (exactly 1 - P(EOW | h) * P(EOW | BOS)). Without the second
term every cross-word pair is an unseen n-gram and backs off to near nothing (log P ~ -19 for 的→未).
Lines are scored from BOS. Only CJK ideographs are modelled: anything else (Latin, digits, punctuation)
and unseen ideographs get a flat log-probability OOV_LOGP (log 1e-4, near a typical character's), so
the LM neither favours nor crushes non-Chinese text; after a non-CJK character a new word starts (BOS).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = ["DEFAULT_LM_PATH", "CharNgramLM", "build_lm", "is_cjk", "load_default_lm"]

DEFAULT_LM_PATH = Path(__file__).resolve().parents[1] / "data" / "lm_jieba_char3.npz"
BOS = "\x02"
EOW = "\x03"
OOV_LOGP = math.log(1e-4)
_BITS = 21
CACHE_ENTRIES = 65_536  # (context, char) scores kept per model, about 13 MB at most


def is_cjk(ch: str) -> bool:
    """A CJK unified ideograph (the LM's vocabulary; everything else gets the flat OOV_LOGP)."""
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0x20000 <= o <= 0x2EBEF or 0xF900 <= o <= 0xFAFF


def _pack(chars: tuple[str, ...] | str) -> int:
    key = 0
    for ch in chars:
        key = (key << _BITS) | ord(ch)
    return key


def _amount_lines(n: int = 3000, weight: float = 200.0, seed: int = 0) -> list[tuple[str, float]]:
    """Financial uppercase amounts (壹万贰仟叁佰肆拾伍元整 …), generated: jieba has almost none, and
    invoices are full of them. Deterministic for the seed."""
    from ocr.training.synth.corpus import amount_upper

    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        yuan = int(10 ** rng.uniform(0, 9))
        jiao, fen = (int(rng.integers(0, 10)), int(rng.integers(0, 10))) if rng.random() < 0.4 else (0, 0)
        out.append((amount_upper(yuan, jiao, fen), weight))
    return out


def _traditional(words: list[tuple[str, float]]) -> list[tuple[str, float]]:
    """OpenCC 's2t' variants of the words that change under conversion, at the same frequencies."""
    try:
        import opencc
    except ImportError:
        raise ImportError("the traditional half of the LM needs OpenCC: pip install opencc==1.4.2") from None
    conv = opencc.OpenCC("s2t")
    known = {w for w, _ in words}
    out = []
    for word, freq in words:
        t = conv.convert(word)
        if t != word and t not in known:
            out.append((t, freq))
    return out


def build_lm(out: Path = DEFAULT_LM_PATH, order: int = 3, min_count: float = 2.0,
             traditional: bool = True) -> dict[str, int]:
    """Count, smooth and store the LM from jieba's words (plus their OpenCC traditional forms when
    `traditional`) and generated uppercase amounts. n-grams seen with total weight < min_count are
    dropped (their mass goes to back-off). Returns sizes per order."""
    counts: list[Counter[str]] = [Counter() for _ in range(order + 1)]  # counts[n][ngram]
    from ocr.charset import jieba_words

    words = list(jieba_words())
    if traditional:
        words += _traditional(words)
    for word, freq in words + _amount_lines():
        if not all(is_cjk(c) for c in word):
            continue  # words with Latin/digits: those characters are outside the LM's vocabulary
        seq = BOS + word + EOW
        for n in range(1, order + 1):
            for i in range(1 if n == 1 else 0, len(seq) - n + 1):
                gram = seq[i:i + n]
                if n > 1 or gram != BOS:
                    counts[n][gram] += freq
    arrays: dict[str, np.ndarray] = {"order": np.array([order])}
    total1 = sum(counts[1].values())
    vocab = len(counts[1])
    uni = {c: (v + 1.0) / (total1 + vocab) for c, v in counts[1].items()}  # add-one over the vocabulary
    probs: dict[str, float] = dict(uni)
    sizes = {"1": len(uni)}
    arrays["k1"] = np.array([ord(c) for c in uni], dtype=np.uint64)
    arrays["p1"] = np.log(np.array(list(uni.values()))).astype(np.float16)
    lams: dict[str, float] = {}  # history -> Witten-Bell lambda (weight of the history's own counts)
    for n in range(2, order + 1):
        hist_total: dict[str, float] = defaultdict(float)
        hist_types: dict[str, int] = defaultdict(int)
        for gram, v in counts[n].items():
            hist_total[gram[:-1]] += v
            hist_types[gram[:-1]] += 1
        lam = {h: hist_total[h] / (hist_total[h] + hist_types[h]) for h in hist_total}
        kept: dict[str, float] = {}
        for gram, v in counts[n].items():
            if v < min_count:
                continue
            h = gram[:-1]
            lower = _backoff_prob(gram[1:], probs, lams, uni)
            kept[gram] = lam[h] * v / hist_total[h] + (1 - lam[h]) * lower
        probs.update(kept)
        lams.update(lam)
        sizes[str(n)] = len(kept)
        keys = np.array([_pack(g) for g in kept], dtype=np.uint64)
        vals = np.log(np.array(list(kept.values()), dtype=np.float64)).astype(np.float16)
        order_idx = np.argsort(keys)
        arrays[f"k{n}"], arrays[f"p{n}"] = keys[order_idx], vals[order_idx]
        hkeys = np.array([_pack(h) for h in lam], dtype=np.uint64)
        hbow = np.log(np.array([1 - lam[h] for h in lam], dtype=np.float64)).astype(np.float16)
        hidx = np.argsort(hkeys)
        arrays[f"h{n}"], arrays[f"b{n}"] = hkeys[hidx], hbow[hidx]
    order1 = np.argsort(arrays["k1"])
    arrays["k1"], arrays["p1"] = arrays["k1"][order1], arrays["p1"][order1]
    out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(out, **arrays)
    return {k: int(v) for k, v in sizes.items()}


def _backoff_prob(gram: str, probs: dict[str, float], lam: dict[str, float], uni: dict[str, float]) -> float:
    """P(gram[-1] | gram[:-1]) for an n-gram that was dropped or unseen, from lower orders."""
    if len(gram) == 1:
        return uni.get(gram, math.exp(OOV_LOGP))
    if gram in probs:
        return probs[gram]
    h = gram[:-1]
    bow = 1 - lam[h] if h in lam else 1.0
    return bow * _backoff_prob(gram[1:], probs, lam, uni)


class CharNgramLM:
    """Scores log P(next_char | context) with back-off; thread-safe. The latest `cache_entries`
    (context, char) scores are cached (least recently used dropped first), so memory stays bounded
    however much new text is decoded."""

    def __init__(self, path: Path = DEFAULT_LM_PATH, cache_entries: int = CACHE_ENTRIES) -> None:
        if not path.exists():
            raise FileNotFoundError(f"no language model at {path}; build it with `python -m ocr build-lm`")
        with np.load(path) as z:
            self.order = int(z["order"][0])
            self._k = {n: z[f"k{n}"] for n in range(1, self.order + 1)}
            self._p = {n: z[f"p{n}"].astype(np.float32) for n in range(1, self.order + 1)}
            self._h = {n: z[f"h{n}"] for n in range(2, self.order + 1)}
            self._b = {n: z[f"b{n}"].astype(np.float32) for n in range(2, self.order + 1)}
        self.path = path
        self._cached = lru_cache(maxsize=cache_entries)(self._score_uncached)  # thread-safe

    @staticmethod
    def _find(keys: np.ndarray, vals: np.ndarray, key: int) -> float | None:
        i = int(np.searchsorted(keys, np.uint64(key)))
        if i < keys.size and int(keys[i]) == key:
            return float(vals[i])
        return None

    def _logp(self, context: str, ch: str) -> float:
        if len(context) == 0:
            p = self._find(self._k[1], self._p[1], ord(ch))
            return OOV_LOGP if p is None else p
        n = len(context) + 1
        p = self._find(self._k[n], self._p[n], _pack(context + ch))
        if p is not None:
            return p
        bow = self._find(self._h[n], self._b[n], _pack(context))
        return (bow or 0.0) + self._logp(context[1:], ch)

    def score(self, context: tuple[str, ...] | str, next_char: str) -> float:
        """Natural-log P(next_char | context); context is the characters before it in the line
        (only the last order-1 are used; the line start is prepended)."""
        if len(next_char) != 1 or not is_cjk(next_char):
            return OOV_LOGP
        chars = list(context)[-(self.order - 1):] if self.order > 1 else []
        # the context starts after the last non-CJK character (or multi-character token): a new word
        for i in range(len(chars) - 1, -1, -1):
            if len(chars[i]) != 1 or not is_cjk(chars[i]):
                chars = chars[i + 1:]
                break
        ctx = (BOS + "".join(chars))[-(self.order - 1):] if self.order > 1 else ""
        return self._cached(ctx, next_char)

    def _score_uncached(self, ctx: str, next_char: str) -> float:
        val = self._logp(ctx, next_char)
        if self.order > 1 and ctx != BOS:  # or the word ends here and c starts the next one
            val = float(np.logaddexp(val, self._logp(ctx, EOW) + self._logp(BOS, next_char)))
        return min(val, 0.0)  # float16 rounding can nudge a near-certain log-probability above 0

    def cache_info(self) -> tuple[int, int]:
        """(entries cached now, the most kept)."""
        info = self._cached.cache_info()
        return info.currsize, info.maxsize or 0

    def unigram(self, char: str) -> float:
        """Natural-log unconditional P(char) (OOV_LOGP for anything outside the vocabulary)."""
        if len(char) != 1 or not is_cjk(char):
            return OOV_LOGP
        return min(self._logp("", char), 0.0)

    def sentence_logprob(self, text: str) -> float:
        """log P(text) from the line start, summed per character."""
        return sum(self.score(text[:i], ch) for i, ch in enumerate(text))


@lru_cache(maxsize=1)
def load_default_lm() -> CharNgramLM:
    """The committed LM (loaded once per process)."""
    return CharNgramLM(DEFAULT_LM_PATH)
