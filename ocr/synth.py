"""Synthetic Chinese text lines: fonts, an offline corpus, a renderer with document-like augmentations,
and pre-rendered numpy shards for training.

Everything is deterministic for a seed (numpy Generator only; no global RNG). Fonts come from Debian
packages (see FONTS); one font (HELD_OUT_FONT) is never used for training and renders the test set.

Shard format (`shard_XXXXX.npz`, written by `render_shards`):
    pixels:  (sum W_i, H) uint8 gray, line i = pixels[offsets[i]:offsets[i+1]].T  -> (H, W_i)
    offsets: (N + 1,) int64
    labels:  (N,) unicode strings
"""

from __future__ import annotations

import io
import math
import time
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ocr.charset import Charset, load_charset

__all__ = [
    "FONTS",
    "HELD_OUT_FONT",
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


@dataclass(frozen=True)
class FontSpec:
    """A font face: file path, face index inside a .ttc, style (hei/song/kai/fang), Debian package."""

    name: str
    path: str
    index: int
    style: str
    package: str


FONTS: tuple[FontSpec, ...] = (
    FontSpec("noto-sans-sc", "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc", 2, "hei",
             "fonts-noto-cjk"),
    FontSpec("noto-sans-sc-bold", "/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc", 2, "hei",
             "fonts-noto-cjk"),
    FontSpec("noto-serif-sc", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Regular.ttc", 2, "song",
             "fonts-noto-cjk"),
    FontSpec("noto-serif-sc-bold", "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc", 2, "song",
             "fonts-noto-cjk"),
    FontSpec("wqy-zenhei", "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc", 0, "hei", "fonts-wqy-zenhei"),
    FontSpec("wqy-microhei", "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc", 0, "hei",
             "fonts-wqy-microhei"),
    FontSpec("ukai-cn", "/usr/share/fonts/truetype/arphic/ukai.ttc", 0, "kai", "fonts-arphic-ukai"),
    FontSpec("uming-cn", "/usr/share/fonts/truetype/arphic/uming.ttc", 0, "song", "fonts-arphic-uming"),
    FontSpec("lxgw-wenkai", "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf", 0, "kai",
             "fonts-lxgw-wenkai"),
    FontSpec("gkai00mp", "/usr/share/fonts/truetype/arphic-gkai00mp/gkai00mp.ttf", 0, "kai",
             "fonts-arphic-gkai00mp"),
    FontSpec("smiley-sans", "/usr/share/fonts/truetype/smiley-sans/SmileySans-Oblique.ttf", 0, "hei",
             "fonts-smiley-sans"),
)

# Held out of training; renders the held-out test set (a song/ming face unlike the Noto Serif one).
HELD_OUT_FONT = "uming-cn"


def available_fonts() -> list[FontSpec]:
    """FONTS whose files exist on this machine."""
    return [f for f in FONTS if Path(f.path).exists()]


def training_fonts() -> list[FontSpec]:
    """Available fonts minus the held-out one."""
    return [f for f in available_fonts() if f.name != HELD_OUT_FONT]


def font_by_name(name: str) -> FontSpec:
    """The FontSpec called `name` (KeyError if unknown)."""
    for f in FONTS:
        if f.name == name:
            return f
    raise KeyError(f"unknown font {name!r}")


@lru_cache(maxsize=256)
def _pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


@lru_cache(maxsize=64)
def _missing_masks(path: str, index: int) -> tuple[bytes, bytes]:
    """The bitmaps the face draws for characters it lacks (.notdef box, and an unassigned code point)."""
    font = _pil_font(path, index, 24)
    return bytes(font.getmask("\U0010fffd")), bytes(font.getmask("\uffff"))


@lru_cache(maxsize=1 << 20)
def _has_glyph(path: str, index: int, ch: str) -> bool:
    """The face draws `ch` with a real glyph (not the .notdef box, not empty); a space always counts."""
    if ch == " ":
        return True
    m = _pil_font(path, index, 24).getmask(ch)
    b = bytes(m)
    return m.size[0] > 0 and any(b) and b not in _missing_masks(path, index)


def font_covers(font: FontSpec, text: str) -> bool:
    """True if the face has a glyph for every character of `text` (checked per character, cached)."""
    return all(_has_glyph(font.path, font.index, c) for c in text)


# --------------------------------------------------------------------------------------------- corpus
_DIGITS_UPPER = "零壹贰叁肆伍陆柒捌玖"
_UNITS_UPPER = ["", "拾", "佰", "仟"]
_DIGITS_LOWER = "〇一二三四五六七八九"
_LATIN_WORDS = (
    "the", "of", "and", "to", "in", "is", "for", "on", "with", "by", "from", "at", "as", "are", "this",
    "that", "be", "or", "not", "you", "your", "we", "our", "all", "new", "more", "data", "system",
    "service", "report", "total", "price", "order", "invoice", "number", "date", "time", "name",
    "address", "phone", "email", "office", "bank", "account", "amount", "payment", "tax", "company",
    "limited", "china", "beijing", "shanghai", "shenzhen", "road", "street", "building", "floor",
    "room", "model", "type", "version", "page", "table", "figure", "note", "item", "unit", "qty",
    "code", "user", "login", "error", "OK", "PDF", "USB", "CPU", "GPU", "API", "HTTP", "WiFi", "iPhone",
    "Android", "Windows", "Linux", "Python", "OCR", "AI", "ID", "VIP", "CEO", "GDP", "LED", "App",
)
_PUNCT_CN = "，。、；：？！"
_PUNCT_EN = ",.;:?!"
_PAIRS_CN = ("“”", "‘’", "（）", "《》", "【】", "「」")
_PAIRS_EN = ('""', "()", "[]")


def amount_upper(yuan: int, jiao: int = 0, fen: int = 0) -> str:
    """Chinese financial uppercase amount: 1234.5 -> 壹仟贰佰叁拾肆元伍角 (yuan < 10**12)."""

    def four(n: int) -> str:
        s, zero = "", False
        for pos in range(3, -1, -1):
            d = (n // 10**pos) % 10
            if d == 0:
                zero = bool(s)
            else:
                if zero:
                    s += "零"
                    zero = False
                s += _DIGITS_UPPER[d] + _UNITS_UPPER[pos]
        return s

    groups = []  # 4-digit groups, lowest first
    n = yuan
    while n > 0:
        groups.append(n % 10000)
        n //= 10000
    s, gap, prev = "", False, 0
    for g in range(len(groups) - 1, -1, -1):
        q = groups[g]
        if q == 0:
            gap = bool(s)  # a whole zero group between non-zero ones reads as one 零
            continue
        # zeros between the previous non-zero digit and this group's first one read as one 零:
        # the higher group ends in 0, this group starts with 0, or a whole group was skipped
        if s and (gap or q < 1000 or prev % 10 == 0):
            s += "零"
        s += four(q) + ["", "万", "亿"][g]
        gap, prev = False, q
    s = s or "零"
    s += "元"
    if jiao == 0 and fen == 0:
        return s + "整"
    if jiao:
        s += _DIGITS_UPPER[jiao] + "角"
    elif fen:
        s += "零"
    if fen:
        s += _DIGITS_UPPER[fen] + "分"
    return s


@lru_cache(maxsize=1)
def _jieba_words() -> tuple[tuple[str, ...], np.ndarray]:
    """(words, cumulative weights) from jieba's dict.txt, weights = freq ** 0.5 (flattens the head)."""
    import jieba

    path = Path(jieba.__file__).resolve().parent / "dict.txt"
    cs = load_charset()
    words, weights = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) < 2 or not cs.covers(parts[0]) or not parts[0].strip():
                continue
            words.append(parts[0])
            weights.append(float(parts[1]) ** 0.5)
    cum = np.cumsum(np.asarray(weights, dtype=np.float64))
    return tuple(words), cum / cum[-1]


class Corpus:
    """Random text lines from an offline mix: jieba-dictionary sentences, uniform rare characters,
    numbers/dates/amounts (incl. 大写), IDs, phone numbers, Latin words and mixed lines.

    Every line uses only charset characters. Deterministic for the Generator passed to `line`.
    """

    def __init__(self, charset: Charset | None = None) -> None:
        self.charset = charset or load_charset()
        self.words, self._cum = _jieba_words()
        self.han = [c for c in self.charset.chars[1:] if "\u4e00" <= c <= "\u9fff"]

    def _word(self, rng: np.random.Generator) -> str:
        return self.words[int(np.searchsorted(self._cum, rng.random()))]

    def sentence(self, rng: np.random.Generator, n_chars: int) -> str:
        """Jieba words sampled by frequency, with Chinese punctuation, about `n_chars` long."""
        out = ""
        pairs = None
        while len(out) < n_chars:
            out += self._word(rng)
            r = rng.random()
            if r < 0.12 and len(out) < n_chars - 2:
                out += _PUNCT_CN[int(rng.integers(0, 3))]
            elif r < 0.15 and pairs is None and len(out) < n_chars - 4:
                pairs = _PAIRS_CN[int(rng.integers(len(_PAIRS_CN)))]
                out += pairs[0]
            elif r < 0.25 and pairs is not None:
                out += pairs[1]
                pairs = None
        out = out[:n_chars]
        if pairs is not None and pairs[0] in out and len(out) > 2:
            out = out[:-1] + pairs[1]
        if rng.random() < 0.3 and len(out) > 3:
            out = out[:-1] + _PUNCT_CN[int(rng.integers(len(_PUNCT_CN)))]
        return out

    def rare(self, rng: np.random.Generator, n_chars: int) -> str:
        """Uniformly drawn Han characters (teaches classes that the word list rarely shows)."""
        return "".join(self.han[int(i)] for i in rng.integers(0, len(self.han), n_chars))

    def number(self, rng: np.random.Generator) -> str:
        """A date, amount, phone, ID, time, percentage or code."""
        k = int(rng.integers(0, 11))
        y, m, d = int(rng.integers(1950, 2040)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
        if k == 0:
            return f"{y}年{m}月{d}日"
        if k == 1:
            return f"{y}-{m:02d}-{d:02d}" if rng.random() < 0.5 else f"{y}/{m}/{d}"
        if k == 2:
            return "".join(_DIGITS_LOWER[int(c)] for c in str(y)) + "年" + f"{m}月"
        if k == 3:
            v = int(rng.integers(1, 10 ** int(rng.integers(2, 9))))
            return amount_upper(v, int(rng.integers(0, 10)) * (rng.random() < 0.4),
                                int(rng.integers(0, 10)) * (rng.random() < 0.3))
        if k == 4:
            v = rng.integers(1, 10**7) / 100
            return ("￥" if rng.random() < 0.5 else "¥" if rng.random() < 0.5 else "") + f"{v:,.2f}"
        if k == 5:
            return "1" + "".join(str(int(c)) for c in rng.integers(0, 10, 10))
        if k == 6:
            a = "".join(str(int(c)) for c in rng.integers(0, 10, 17))
            return a + ("X" if rng.random() < 0.2 else str(int(rng.integers(0, 10))))
        if k == 7:
            return f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"
        if k == 8:
            return f"{rng.random() * 100:.1f}%"
        if k == 9:
            return f"0{int(rng.integers(10, 999))}-{int(rng.integers(1000000, 99999999))}"
        letters = "ABCDEFGHJKLMNPQRSTUVWXYZ"
        return "".join(letters[int(i)] for i in rng.integers(0, len(letters), int(rng.integers(1, 4)))) + str(
            int(rng.integers(100, 10**6))
        )

    def latin(self, rng: np.random.Generator, n_words: int) -> str:
        """Latin words with ASCII punctuation."""
        words = [_LATIN_WORDS[int(i)] for i in rng.integers(0, len(_LATIN_WORDS), n_words)]
        if rng.random() < 0.3:
            words[0] = words[0].capitalize()
        s = " ".join(words)
        if rng.random() < 0.3:
            s += _PUNCT_EN[int(rng.integers(len(_PUNCT_EN)))]
        if rng.random() < 0.15:
            p = _PAIRS_EN[int(rng.integers(len(_PAIRS_EN)))]
            s = p[0] + s + p[1]
        return s

    def line(self, rng: np.random.Generator, min_len: int = 1, max_len: int = 24) -> str:
        """One line, min_len..max_len characters (lengths skewed short)."""
        n = int(min_len + (max_len - min_len) * rng.random() ** 1.3)
        r = rng.random()
        if r < 0.50:
            s = self.sentence(rng, max(n, 1))
        elif r < 0.60:
            s = self.rare(rng, max(n, 1))
        elif r < 0.72:
            s = self.number(rng)
            if rng.random() < 0.5:
                s = self.sentence(rng, max(n - len(s), 2)) + ("：" if rng.random() < 0.5 else "") + s
        elif r < 0.80:
            s = self.latin(rng, max(1, n // 5))
        else:
            parts = []
            while sum(map(len, parts)) < n:
                q = rng.random()
                parts.append(self.sentence(rng, int(rng.integers(2, 8))) if q < 0.55 else
                             self.number(rng) if q < 0.8 else self.latin(rng, 1))
            s = "".join(parts)
        s = s[:max_len].strip() or self.rare(rng, max(min_len, 1))
        while len(s) < min_len:
            s += self.sentence(rng, min_len - len(s))
        return s[:max_len]


# ------------------------------------------------------------------------------------------- renderer
def _draw_text(text: str, font: ImageFont.FreeTypeFont, spacing: float, ink: int, paper: int,
               pad: tuple[int, int, int, int]) -> Image.Image:
    """Text drawn on an 'L' canvas; spacing is extra pixels between characters (may be negative)."""
    ascent, descent = font.getmetrics()
    advances = [font.getlength(c) for c in text]
    width = math.ceil(sum(advances) + spacing * max(len(text) - 1, 0)) + pad[0] + pad[2]
    height = ascent + descent + pad[1] + pad[3]
    img = Image.new("L", (max(width, 4), height), paper)
    draw = ImageDraw.Draw(img)
    if spacing == 0:
        draw.text((pad[0], pad[1]), text, font=font, fill=ink)
    else:
        x = float(pad[0])
        for c, adv in zip(text, advances, strict=True):
            draw.text((x, pad[1]), c, font=font, fill=ink)
            x += adv + spacing
    return img


def _augment_canvas(img: Image.Image, rng: np.random.Generator, ink: int, paper: int) -> np.ndarray:
    """Document-like degradations on the full-resolution canvas; returns (h, w) uint8."""
    a = np.asarray(img, dtype=np.float32)
    h, w = a.shape
    # table lines / underline / box edges
    if rng.random() < 0.25:
        color = float(rng.uniform(ink, (ink + paper) / 2))
        t = int(rng.integers(1, 3))
        if rng.random() < 0.6:
            y = int(rng.integers(h - max(4, h // 6), h - 1))
            a[y:y + t, :] = color
        if rng.random() < 0.3:
            y = int(rng.integers(0, max(2, h // 8)))
            a[y:y + t, :] = color
        if rng.random() < 0.3:
            x = int(rng.integers(0, max(2, w // 30)))
            a[:, x:x + t] = color
            x = int(rng.integers(w - max(2, w // 30), w))
            a[:, max(x - t, 0):x] = color
    # stamp-like overlay: a partial ring plus a few strokes, in mid-gray (a red stamp seen in gray)
    if rng.random() < 0.08:
        stamp = Image.new("L", (w, h), 0)
        d = ImageDraw.Draw(stamp)
        r = float(rng.uniform(h * 0.6, h * 1.5))
        cx, cy = float(rng.uniform(0, w)), float(rng.uniform(-r / 2, h + r / 2))
        d.ellipse((cx - r, cy - r, cx + r, cy + r), outline=255, width=max(2, int(r / 12)))
        s = np.asarray(stamp, dtype=np.float32) / 255.0
        level = float(rng.uniform(0.2, 0.5))
        a = a * (1 - s * level) + s * level * float(rng.uniform(60, 140))
    # rotation / perspective
    if rng.random() < 0.35:
        # limit the tilt so the line ends move at most 8% of the height (long lines stay in the crop)
        limit = math.degrees(math.atan(0.16 * h / w))
        angle = float(np.clip(rng.normal(0, 0.8), -limit, limit))
        m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
        a = cv2.warpAffine(a, m, (w, h), borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_LINEAR)
    if rng.random() < 0.2:
        j = h * 0.08
        src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
        dst = src + rng.uniform(-j, j, (4, 2)).astype(np.float32)
        a = cv2.warpPerspective(a, cv2.getPerspectiveTransform(src, dst), (w, h),
                                borderMode=cv2.BORDER_REPLICATE, flags=cv2.INTER_LINEAR)
    # uneven light (a linear gradient), low contrast
    if rng.random() < 0.3:
        g = np.linspace(float(rng.uniform(0.6, 1.0)), float(rng.uniform(0.8, 1.15)), w, dtype=np.float32)
        a = a * (g[None, :] if rng.random() < 0.7 else np.linspace(g[0], g[-1], h, dtype=np.float32)[:, None])
    # blur
    if rng.random() < 0.3:
        k = float(rng.uniform(0.3, 1.2)) * h / 40
        a = cv2.GaussianBlur(a, (0, 0), sigmaX=max(k, 0.3))
    # low resolution: down then up
    if rng.random() < 0.25:
        f = float(rng.uniform(0.3, 0.7))
        small = cv2.resize(a, (max(4, int(w * f)), max(4, int(h * f))), interpolation=cv2.INTER_AREA)
        a = cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    # noise
    if rng.random() < 0.4:
        a = a + rng.normal(0, float(rng.uniform(2, 14)), a.shape).astype(np.float32)
    if rng.random() < 0.05:  # salt-and-pepper specks
        mask = rng.random(a.shape) < 0.004
        a[mask] = float(rng.choice([ink, paper]))
    out = np.clip(a, 0, 255).astype(np.uint8)
    # JPEG artefacts
    if rng.random() < 0.35:
        buf = io.BytesIO()
        Image.fromarray(out).save(buf, format="JPEG", quality=int(rng.integers(15, 75)))
        out = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("L"))
    return out


def render_line(
    text: str, font: FontSpec, height: int = 64, seed: int = 0, augment: bool = True
) -> np.ndarray:
    """Render one text line: (height, W) uint8 gray, dark text on a light background, W >= height // 2.

    Deterministic for (text, font, height, seed, augment). With augment=False: black on white, tight
    vertical margins, font size 48, no degradation.
    """
    rng = np.random.default_rng([seed, 7919])
    if augment:
        size = int(rng.integers(20, 64))
        ink = int(rng.integers(0, 90))
        paper = int(rng.integers(max(ink + 70, 150), 256))
        spacing = float(rng.normal(0, 0.06) * size) if rng.random() < 0.35 else 0.0
        spacing = max(spacing, -0.08 * size)
        pad = tuple(int(v) for v in rng.integers(0, max(2, size // 3), 4))
    else:
        size, ink, paper, spacing, pad = 48, 0, 255, 0.0, (4, 2, 4, 2)
    pil_font = _pil_font(font.path, font.index, size)
    canvas = _draw_text(text, pil_font, spacing, ink, paper, pad)  # type: ignore[arg-type]
    # crop vertically to the drawn ink plus the chosen margins (fonts put text at different heights)
    arr = np.asarray(canvas)
    rows = np.where((arr < (ink + paper) / 2).any(axis=1))[0]
    if rows.size:
        top = max(0, rows[0] - pad[1])
        bottom = min(arr.shape[0], rows[-1] + 1 + pad[3])
        # keep at least ~0.9 size of height so a line of "一" or "..." is not blown up to full height
        need = int(size * 1.1) + pad[1] + pad[3]
        if bottom - top < need:
            extra = need - (bottom - top)
            top = max(0, top - extra // 2)
            bottom = min(arr.shape[0], bottom + extra - extra // 2)
        canvas = canvas.crop((0, top, canvas.width, bottom))
    a = _augment_canvas(canvas, rng, ink, paper) if augment else np.asarray(canvas)
    h, w = a.shape
    new_w = max(height // 2, round(w * height / h))
    interp = cv2.INTER_AREA if h > height else cv2.INTER_LINEAR
    return cv2.resize(a, (new_w, height), interpolation=interp)


# --------------------------------------------------------------------------------------------- shards
@dataclass(frozen=True)
class Shard:
    """One loaded shard: pixels (sum W, H) uint8, offsets (N+1,), labels list of N strings."""

    pixels: np.ndarray
    offsets: np.ndarray
    labels: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def image(self, i: int) -> np.ndarray:
        """Line i as (H, W_i) uint8."""
        return self.pixels[self.offsets[i]:self.offsets[i + 1]].T


def _pick_font(text: str, fonts: list[FontSpec], rng: np.random.Generator) -> FontSpec | None:
    order = rng.permutation(len(fonts))
    for i in order:
        if font_covers(fonts[int(i)], text):
            return fonts[int(i)]
    return None


def _lines(n: int, seed: int, fonts: list[FontSpec], height: int, augment: bool, min_len: int,
           max_len: int) -> Iterator[tuple[str, np.ndarray, str]]:
    """(text, image (H, W), font name) for n lines; line i is fully determined by (seed, i)."""
    corpus = Corpus()
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        while True:
            text = corpus.line(rng, min_len, max_len)
            font = _pick_font(text, fonts, rng)
            if font is not None:
                break
        yield text, render_line(text, font, height, int(rng.integers(2**31)), augment), font.name


def render_shards(out_dir: Path, n: int, seed: int = 0, height: int = 64, shard_size: int = 1000,
                  max_len: int = 24, augment: bool = True, fonts: list[FontSpec] | None = None,
                  progress: bool = False, kinds: dict[str, float] | None = None) -> dict[str, float]:
    """Pre-render n training lines (training fonts, held-out font excluded) into shard_XXXXX.npz files.

    kinds: draw lines from these kinds of line with these shares (ocr.training.synth.kinds.KIND_MIX:
    simplified/traditional documents, form fields, plates, signs, handwriting-like) instead of the
    document-line corpus alone.

    Existing complete shards are kept (the call resumes). Returns {"lines", "seconds", "lines_per_s"}.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    fonts = fonts or training_fonts()
    if not fonts:
        raise FileNotFoundError("no training fonts installed (fonts-noto-cjk etc.)")
    t0, done = time.perf_counter(), 0
    n_shards = (n + shard_size - 1) // shard_size
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=n, unit="line", desc="render")
    for s in range(n_shards):
        path = out_dir / f"shard_{s:05d}.npz"
        count = min(shard_size, n - s * shard_size)
        if path.exists():
            if bar is not None:
                bar.update(count)
            continue
        cols, labels, offsets = [], [], [0]
        if kinds:
            from ocr.training.synth.kinds import kind_lines

            lines = kind_lines(count, seed * 100_003 + s, height, kinds)
        else:
            lines = _lines(count, seed * 100_003 + s, fonts, height, augment, 1, max_len)
        for text, img, _ in lines:
            cols.append(img.T)
            labels.append(text)
            offsets.append(offsets[-1] + img.shape[1])
            done += 1
            if bar is not None:
                bar.update(1)
        tmp = out_dir / f".shard_{s:05d}.tmp.npz"
        np.savez_compressed(tmp, pixels=np.concatenate(cols, axis=0), offsets=np.asarray(offsets, np.int64),
                            labels=np.asarray(labels, dtype=str))
        tmp.replace(path)
    if bar is not None:
        bar.close()
    secs = time.perf_counter() - t0
    return {"lines": float(done), "seconds": secs, "lines_per_s": done / secs if secs > 0 else 0.0}


def load_shard(path: Path) -> Shard:
    """Read a shard written by render_shards."""
    with np.load(path, allow_pickle=False) as z:
        return Shard(z["pixels"], z["offsets"], [str(x) for x in z["labels"]])


def iter_shard_lines(paths: list[Path]) -> Iterator[tuple[np.ndarray, str]]:
    """(image (H, W) uint8, text) over shards in order."""
    for p in paths:
        sh = load_shard(p)
        for i in range(len(sh)):
            yield sh.image(i), sh.labels[i]


# Test-set line lengths: (min, max, share) so CER can be reported per length bucket.
TEST_LENGTHS: tuple[tuple[int, int, float], ...] = ((2, 10, 0.40), (11, 30, 0.40), (31, 80, 0.15),
                                                    (81, 200, 0.05))


def render_test_set(out_dir: Path, n: int = 2000, seed: int = 20261124, height: int = 64,
                    font: str = HELD_OUT_FONT, augment: bool = True) -> Path:
    """Render a labelled test set with the held-out font: out_dir/img/XXXXX.png + labels.tsv
    (PaddleOCR format `img/XXXXX.png<TAB>text`). Lengths follow TEST_LENGTHS. Returns the labels path."""
    out_dir = Path(out_dir)
    (out_dir / "img").mkdir(parents=True, exist_ok=True)
    spec = font_by_name(font)
    if not Path(spec.path).exists():
        raise FileNotFoundError(f"held-out font {spec.name} missing: apt-get install {spec.package}")
    rows, i = [], 0
    counts = [int(n * share) for _, _, share in TEST_LENGTHS]
    counts[0] += n - sum(counts)
    for b, ((lo, hi, _), count) in enumerate(zip(TEST_LENGTHS, counts, strict=True)):
        for text, img, _ in _lines(count, seed * 10 + b, [spec], height, augment, lo, hi):
            name = f"img/{i:05d}.png"
            Image.fromarray(img).save(out_dir / name)
            rows.append(f"{name}\t{text}\n")
            i += 1
    labels = out_dir / "labels.tsv"
    labels.write_text("".join(rows), encoding="utf-8")
    return labels
