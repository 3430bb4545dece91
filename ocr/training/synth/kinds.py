"""Kinds of line a user brings, rendered for training: simplified and traditional documents, form
fields, licence-plate-like lines, signs, handwriting-like lines.

    text, img = render_kind("plate", rng, height=64)   # img: (64, W) uint8, dark text on light

Every line is returned as the engines see it after preprocessing: gray, and inverted when its
background is dark (ocr.preprocess.background_is_dark, the rule of invert="auto"), so training sees
what inference feeds the model. Deterministic for the generator's state. Fonts come from Debian
packages; one traditional face (HELD_OUT_TC_FONT) is never used for training.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw

from ocr.errors import MissingFont
from ocr.preprocess import background_is_dark
from ocr.training.augment import warp_corners
from ocr.training.synth.fonts import FontSpec, font_covers, pil_font
from ocr.training.synth.render import render_line

__all__ = [
    "EXTRA_KINDS",
    "HAND_FONTS",
    "HELD_OUT_PLATE_FONTS",
    "HELD_OUT_TC_FONT",
    "KINDS",
    "KIND_MIX",
    "SC_SONG_FONTS",
    "SIGN_FONTS",
    "TC_FONTS",
    "kind_lines",
    "kind_sampler",
    "render_kind",
    "render_kind_test_set",
    "tc_fonts",
]

_NOTO = "/usr/share/fonts/opentype/noto/"
_TW = "/usr/share/fonts/truetype/"
TC_FONTS: tuple[FontSpec, ...] = (
    FontSpec("noto-sans-tc", _NOTO + "NotoSansCJK-Regular.ttc", 3, "hei", "fonts-noto-cjk"),
    FontSpec("noto-sans-tc-bold", _NOTO + "NotoSansCJK-Bold.ttc", 3, "hei", "fonts-noto-cjk"),
    FontSpec("noto-sans-hk", _NOTO + "NotoSansCJK-Regular.ttc", 4, "hei", "fonts-noto-cjk"),
    FontSpec("noto-serif-tc", _NOTO + "NotoSerifCJK-Regular.ttc", 3, "song", "fonts-noto-cjk"),
    FontSpec("noto-serif-tc-bold", _NOTO + "NotoSerifCJK-Bold.ttc", 3, "song", "fonts-noto-cjk"),
    FontSpec("noto-serif-tc-light", _NOTO + "NotoSerifCJK-Light.ttc", 3, "song", "fonts-noto-cjk-extra"),
    FontSpec("bsmi00lp", _TW + "arphic-bsmi00lp/bsmi00lp.ttf", 0, "song", "fonts-arphic-bsmi00lp"),
    FontSpec("bkai00mp", _TW + "arphic-bkai00mp/bkai00mp.ttf", 0, "kai", "fonts-arphic-bkai00mp"),
    FontSpec("tw-sung", _TW + "cns11643/TW-Sung-98_1.ttf", 0, "song", "fonts-cns11643-sung"),
    FontSpec("tw-kai", _TW + "cns11643/TW-Kai-98_1.ttf", 0, "kai", "fonts-cns11643-kai"),
    FontSpec("cwming", _TW + "cwtex/cwming.ttf", 0, "song", "fonts-cwtex-ming"),
    FontSpec("cwkai", _TW + "cwtex/cwkai.ttf", 0, "kai", "fonts-cwtex-kai"),
    FontSpec("cwheib", _TW + "cwtex/cwheib.ttf", 0, "hei", "fonts-cwtex-heib"),
    FontSpec("cwyen", _TW + "cwtex/cwyen.ttf", 0, "hei", "fonts-cwtex-yen"),
    FontSpec("cwfs", _TW + "cwtex/cwfs.ttf", 0, "fang", "fonts-cwtex-fs"),
)
# Never used for training (a ming face, like most printed books), and not by the held-out sets either
# (they draw in faces every machine has: render_kind); the fine-tune's reference set reads it when installed.
HELD_OUT_TC_FONT = "cwming"
SIGN_FONTS: tuple[FontSpec, ...] = (
    FontSpec("noto-sans-sc-black", _NOTO + "NotoSansCJK-Black.ttc", 2, "hei", "fonts-noto-cjk-extra"),
    FontSpec("noto-sans-tc-black", _NOTO + "NotoSansCJK-Black.ttc", 3, "hei", "fonts-noto-cjk-extra"),
    FontSpec("noto-serif-sc-black", _NOTO + "NotoSerifCJK-Black.ttc", 2, "song", "fonts-noto-cjk-extra"),
    FontSpec("noto-sans-sc-bold", _NOTO + "NotoSansCJK-Bold.ttc", 2, "hei", "fonts-noto-cjk"),
    FontSpec("noto-sans-sc-medium", _NOTO + "NotoSansCJK-Medium.ttc", 2, "hei", "fonts-noto-cjk-extra"),
    FontSpec("wqy-zenhei", _TW + "wqy/wqy-zenhei.ttc", 0, "hei", "fonts-wqy-zenhei"),
    FontSpec("smiley-sans", _TW + "smiley-sans/SmileySans-Oblique.ttf", 0, "hei", "fonts-smiley-sans"),
    FontSpec("cwheib", _TW + "cwtex/cwheib.ttf", 0, "hei", "fonts-cwtex-heib"),
)
# Song/Ming faces that draw simplified text, beside the two Noto Serif SC weights of fonts.FONTS. Without
# them nearly every ming-style line in training was traditional (TC_FONTS), and the model read
# simplified characters on an unseen ming face as their traditional forms (纸 -> 紙).
SC_SONG_FONTS: tuple[FontSpec, ...] = (
    FontSpec("noto-serif-sc-light", _NOTO + "NotoSerifCJK-Light.ttc", 2, "song", "fonts-noto-cjk-extra"),
    FontSpec("noto-serif-sc-extralight", _NOTO + "NotoSerifCJK-ExtraLight.ttc", 2, "song",
             "fonts-noto-cjk-extra"),
    FontSpec("noto-serif-sc-medium", _NOTO + "NotoSerifCJK-Medium.ttc", 2, "song", "fonts-noto-cjk-extra"),
    FontSpec("noto-serif-sc-semibold", _NOTO + "NotoSerifCJK-SemiBold.ttc", 2, "song",
             "fonts-noto-cjk-extra"),
    FontSpec("babelstone-han", _TW + "babelstone/BabelStoneHan.ttf", 0, "song", "fonts-babelstone-han"),
)
# The sign faces held-out plates draw their region character in: those of the packages `make install` puts
# on every machine (before session 26 held-out plates drew from every installed sign face, so the held-out
# sets' plates changed with the training faces a machine had).
HELD_OUT_PLATE_FONTS = ("noto-sans-sc-bold", "wqy-zenhei", "smiley-sans")
HAND_FONTS = ("ukai-cn", "lxgw-wenkai", "gkai00mp", "bkai00mp", "tw-kai", "cwkai")

ACCEPT_TRIES = 400  # texts render_kind draws for a line before it gives up on `accept`
# Share of each kind in a training shard (sums to 1).
KIND_MIX: dict[str, float] = {
    "doc_sc": 0.30, "doc_tc": 0.30, "form": 0.12, "plate": 0.08, "sign": 0.12, "hand": 0.08,
}

# Kinds outside the default mix (KIND_MIX, which the held-out kinds set and the fine-tune's rehearsal
# use unchanged): "plate_cam", plates as traffic and parking cameras crop them (_plate_camera: an
# even-stroke letter face, rivets, slant, dim or glaring light, motion blur); "symbol", lines around
# the symbols documents, forms and lab reports carry (Corpus.symbolic), rendered as document lines;
# "scene", shop-sign crops as a camera sees them (_scene: extruded 3-D letters, wide spacing, glyphs
# cut at the top or bottom by a tight crop); "contact", the web addresses, e-mails, hotlines, opening hours
# and starred notes of ads, signs and tickets (Corpus.contact, session 25), as document lines or, one in
# four, as signs; "receipt", shop receipts and printed tickets (Corpus.receipt, session 26) as thermal or
# dot-matrix printers print them (_receipt); "label", clothing care labels and product labels (Corpus.label,
# session 26) as woven ribbons or printed stickers, flat or round a bottle (_label); "facade", shop-front
# lettering on a building's face (_facade, session 28: slats, brick, tiles, metal; hollow, rimmed, neon and
# cut letters, cast shadows, grooves through the strokes), words as "scene" draws them. Name one in a mix
# (`--kinds ...,symbol=0.1`) to draw it.
EXTRA_KINDS: tuple[str, ...] = ("plate_cam", "scene", "symbol", "contact", "receipt", "label", "facade")
KINDS: tuple[str, ...] = (*sorted(KIND_MIX), *EXTRA_KINDS)

_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"
_PLATE_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
_FORM_FIELDS = (
    ("发票号码", "INVOICE NO."), ("发票代码", "INVOICE CODE"), ("开票日期", "DATE"), ("金额", "AMOUNT"),
    ("税额", "TAX"), ("合计", "TOTAL"), ("姓名", "NAME"), ("性别", "SEX"), ("出生日期", "DATE OF BIRTH"),
    ("航班", "FLIGHT"), ("座位", "SEAT"), ("登机口", "GATE"), ("日期", "DATE"), ("车次", "TRAIN NO."),
    ("检验项目", "TEST"), ("结果", "RESULT"), ("参考范围", "REF. RANGE"), ("单位", "UNIT"),
    ("证件号码", "ID NO."), ("订单号", "ORDER NO."), ("电话", "TEL"), ("地址", "ADDRESS"),
    ("成分", "COMPOSITION"), ("货号", "ITEM NO."), ("规格", "SPEC"), ("数量", "QTY"), ("单价", "PRICE"),
)
_UNITS = ("mmol/L", "g/L", "U/L", "%", "mg/dL", "℃", "kg", "cm", "mL", "元", "¥", "RMB", "HKD", "NT$")
_OPENCC = ("s2t", "s2tw", "s2hk", "s2twp")
_CUT_KINDS = ("form", "symbol", "contact", "receipt", "label")  # kinds whose text max_chars cuts
# the kinds that draw traditional lines (all of doc_tc, 40 % of the others)
_TRAD_KINDS = ("doc_tc", "form", "sign", "hand", "scene", "contact", "receipt", "label", "facade")


@lru_cache(maxsize=8)
def _converter(config: str):
    import opencc

    return opencc.OpenCC(config)


def tc_fonts(held_out: bool = False) -> list[FontSpec]:
    """Installed traditional-capable faces: the training ones, or only the held-out one."""
    fonts = [f for f in TC_FONTS if _exists(f)]
    return [f for f in fonts if (f.name == HELD_OUT_TC_FONT) == held_out]


def _exists(f: FontSpec) -> bool:
    return Path(f.path).exists()


def _sc_fonts() -> list[FontSpec]:
    """Installed training faces for simplified text: fonts.training_fonts() + SC_SONG_FONTS."""
    from ocr.training.synth.fonts import training_fonts

    return training_fonts() + [f for f in SC_SONG_FONTS if _exists(f)]


def _pick(text: str, fonts: list[FontSpec], rng: np.random.Generator) -> FontSpec | None:
    for i in rng.permutation(len(fonts)):
        if font_covers(fonts[int(i)], text):
            return fonts[int(i)]
    return None


def _to_model_view(rgb_or_gray: np.ndarray, height: int) -> np.ndarray:
    """Gray, inverted when the background is dark (invert="auto"), resized to `height`: (H, W) uint8."""
    g = rgb_or_gray if rgb_or_gray.ndim == 2 else cv2.cvtColor(rgb_or_gray, cv2.COLOR_RGB2GRAY)
    if background_is_dark(g)[0]:
        g = 255 - g
    h, w = g.shape
    new_w = max(height // 2, round(w * height / h))
    return cv2.resize(g, (new_w, height), interpolation=cv2.INTER_AREA if h > height else cv2.INTER_LINEAR)


def _low_res(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Text 12-24 px high before the resize to the model's height, as in phone crops."""
    h, w = img.shape[:2]
    target = int(rng.integers(12, 25))
    if target >= h:
        return img
    f = target / h
    small = cv2.resize(img, (max(4, round(w * f)), target), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _slivers(img: np.ndarray, font: FontSpec, text: str, rng: np.random.Generator) -> np.ndarray:
    """Add cut-off strokes of the neighbouring lines above and/or below (a tight crop of a page)."""
    h, w = img.shape
    other = render_line(text[::-1] or "一", font, h, int(rng.integers(2**31)), augment=False)
    other = cv2.resize(other, (w, h), interpolation=cv2.INTER_LINEAR)
    other = np.clip(other.astype(np.int16) + int(np.median(img)) - 255, 0, 255).astype(np.uint8)
    k = int(h * rng.uniform(0.08, 0.22))
    parts = [img]
    if rng.random() < 0.6:
        parts.insert(0, other[h - k:])
    if rng.random() < 0.6 or len(parts) == 1:
        parts.append(other[:k])
    return np.concatenate(parts, axis=0)


def _elastic(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Smooth random displacement (alpha ~ 3 % of the height): wobbly strokes of a hand-written line."""
    h, w = img.shape
    sigma = h / 6
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    alpha = h * 0.03 / max(float(np.abs(dx).max()), float(np.abs(dy).max()), 1e-6)
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, xs + alpha * dx, ys + alpha * dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _hand_line(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """Characters drawn one by one with jittered size, baseline and rotation, then elastic warp."""
    size = int(rng.integers(36, 60))
    ink, paper = int(rng.integers(0, 80)), int(rng.integers(190, 256))
    pad = size // 3
    glyphs = []
    for c in text:
        s = max(12, int(size * rng.uniform(0.85, 1.12)))
        f = pil_font(font.path, font.index, s)
        adv = max(1, math.ceil(f.getlength(c)))
        tile = Image.new("L", (adv + 2 * pad, size + 2 * pad), paper)
        ImageDraw.Draw(tile).text((pad, pad + int(rng.integers(-size // 16, size // 16 + 1))), c, font=f,
                                  fill=ink)
        tile = tile.rotate(float(rng.normal(0, 4)), resample=Image.BILINEAR, fillcolor=paper)
        gap = int(adv * rng.uniform(-0.05, 0.15))
        glyphs.append(np.asarray(tile)[:, pad - min(gap, pad) // 2: pad + adv + max(gap, 0)])
    line = np.concatenate(glyphs, axis=1) if glyphs else np.full((size + 2 * pad, size), paper, np.uint8)
    rows = np.where((line < (ink + paper) / 2).any(axis=1))[0]
    if rows.size:  # crop to the ink plus a margin, as render_line does
        m = int(size * rng.uniform(0.05, 0.25))
        line = line[max(0, rows[0] - m): rows[-1] + 1 + m]
    return _elastic(line, rng)


def _plate_text(rng: np.random.Generator) -> str:
    n = 6 if rng.random() < 0.2 else 5  # new-energy plates carry one more character
    tail = "".join(_PLATE_ALNUM[int(i)] for i in rng.integers(0, len(_PLATE_ALNUM), n))
    return _PROVINCES[int(rng.integers(len(_PROVINCES)))] + _PLATE_ALNUM[int(rng.integers(0, 24))] + tail


# Plate colour schemes (background RGB, character RGB, rim RGB) and their shares. Blue/white is the
# ordinary car plate; yellow/black trucks and learner cars; white/black police; black/white foreign-owned.
_PLATE_SCHEMES = (((20, 70, 190), (245, 245, 245), (235, 235, 235)),
                  ((235, 190, 30), (15, 15, 15), (15, 15, 15)),
                  ((240, 240, 240), (15, 15, 15), (15, 15, 15)),
                  ((20, 20, 20), (240, 240, 240), (240, 240, 240)))
_PLATE_SCHEME_P = (0.78, 0.12, 0.05, 0.05)
_PLATE_ALNUM_FONTS = ("/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed-Bold.ttf",
                      "/usr/share/fonts/truetype/dejavu/DejaVuSansCondensed.ttf")  # fonts-dejavu-core


def _fill_cell(tile: np.ndarray, c: str, size: tuple[int, int]) -> np.ndarray:
    """The ink of one drawn character (uint8 tile, 0 = no ink) cropped to its bounds and stretched to fill
    a (w, h) = `size` cell, as the plate face does; a '1' keeps its narrow stem, centred: (h, w) float
    mask in [0, 1]."""
    ys, xs = np.where(tile > 0)
    if not ys.size:
        return np.zeros((size[1], size[0]), np.float32)
    a = tile[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    w = size[0] if c != "1" else max(4, size[0] // 3)
    g = cv2.resize(a, (w, size[1]), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    out = np.zeros((size[1], size[0]), np.float32)
    x0 = (size[0] - w) // 2
    out[:, x0: x0 + w] = g
    return out


def _plate_glyph(c: str, font: FontSpec, alnum_font: str, size: tuple[int, int]) -> np.ndarray:
    """One character stretched to fill its cell, as the plate face does: (h, w) float mask in [0, 1]."""
    path, index = (font.path, font.index) if not c.isascii() or not Path(alnum_font).exists() \
        else (alnum_font, 0)
    f = pil_font(path, index, 96)
    tile = Image.new("L", (160, 160), 0)
    ImageDraw.Draw(tile).text((20, 10), c, font=f, fill=255)
    return _fill_cell(np.asarray(tile), c, size)


def _stroke_glyph(c: str, size: tuple[int, int], thickness: int, face: int) -> np.ndarray:
    """One letter or digit of a stroke font (OpenCV's Hershey faces: even strokes, rounded ends, as the
    plate's own alphanumeric face has), `thickness` px at a ~105-px cap height, in its cell (_fill_cell)."""
    tile = np.zeros((170, 170), np.uint8)
    cv2.putText(tile, c, (25, 140), face, 5.0, 255, thickness, cv2.LINE_AA)
    return _fill_cell(tile, c, size)


def _plate(text: str, rng: np.random.Generator, camera: bool = False, held_out: bool = False) -> np.ndarray:
    """A plate laid out as the standard plate is (440 x 140 mm at 1 px/mm: characters 45 x 90 in cells
    12 apart, a dot after the region letter, a rim), in its colours (new-energy plates, with six
    characters after the letter, are green, the rest mostly blue), then cropped, tilted, shrunk to a
    ~94 x 24 photo crop and degraded: (h, w, 3) uint8 RGB.

    camera=True (the `plate_cam` kind) draws it as a roadside or parking camera does (_plate_camera):
    letters and digits in an even-stroke face of random weight, the rim's rivets, shades of the
    blue, slant and perspective, dim or glaring light, motion blur. camera=False draws exactly the
    lines of the `plate` kind (the held-out kinds set re-renders unchanged).

    held_out=True draws the region character in HELD_OUT_PLATE_FONTS only (MissingFont when one is not
    installed), so a held-out set's plates do not depend on which training faces a machine has."""
    new_energy = len(text) == 8
    if new_energy:  # white-to-green gradient, black characters
        t = np.linspace(0, 1, 140)[:, None, None]
        bg = ((1 - t) * np.array([235, 245, 235]) + t * np.array([60, 190, 100])) * np.ones((1, 480, 3))
        fg, rim = (15, 15, 15), (40, 40, 40)
    else:
        back, fg, rim = _PLATE_SCHEMES[int(rng.choice(len(_PLATE_SCHEMES), p=_PLATE_SCHEME_P))]
        if camera and back == _PLATE_SCHEMES[0][0]:  # blue plates range from navy to cyan in photos
            back = (int(rng.integers(0, 90)), int(rng.integers(40, 150)), int(rng.integers(150, 256)))
        bg = np.ones((140, 480, 3)) * np.array(back)
    bg = np.clip(bg + rng.integers(-25, 26, 3), 0, 255)
    if held_out:
        fonts = [f for f in SIGN_FONTS if f.name in HELD_OUT_PLATE_FONTS]
        if missing := [f.package for f in fonts if not _exists(f)]:
            raise MissingFont(f"held-out plates need {', '.join(missing)} (scripts/install_system.sh)")
        fonts = [f for f in fonts if font_covers(f, text[:1])]
    else:
        fonts = [f for f in SIGN_FONTS if _exists(f) and font_covers(f, text[:1])] or _sc_fonts()
    if camera:  # the plate's region character is a plain hei: regular weights beside the bold sign faces
        fonts += [f for f in _sc_fonts() if f.style == "hei" and f not in fonts and font_covers(f, text[:1])]
    font = fonts[int(rng.integers(len(fonts)))]
    alnum_font = _PLATE_ALNUM_FONTS[int(rng.integers(len(_PLATE_ALNUM_FONTS)))]
    stroke = (int(rng.integers(6, 15)), (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX)[
        int(rng.integers(2))]) if camera and rng.random() < 0.7 else None
    cw, gap, dot = (43, 9, 30) if new_energy else (45, 12, 34)
    width = 2 * cw + gap + dot + (len(text) - 2) * cw + (len(text) - 3) * gap
    x = (480 - width) / 2 + rng.uniform(-6, 6)
    ink = np.zeros((140, 480), np.float32)
    for i, c in enumerate(text):
        x0 = round(x)
        g = _stroke_glyph(c, (cw, 90), *stroke) if stroke and c.isascii() else \
            _plate_glyph(c, font, alnum_font, (cw, 90))
        ink[25: 115, x0: x0 + cw] = np.maximum(ink[25: 115, x0: x0 + cw], g[:, : max(0, min(cw, 480 - x0))])
        x += cw + (dot if i == 1 else gap)
        if i == 1:  # the separator dot
            cv2.circle(ink, (round(x - dot / 2), 70), 5, 1.0, -1)
    img = bg * (1 - ink[..., None]) + np.array(fg) * ink[..., None]
    cv2.rectangle(img, (14, 4), (465, 135), rim, 3)
    if camera:
        return _plate_camera(img, rng)
    img = np.clip(img, 0, 255).astype(np.uint8)
    # crop: around the rim, sometimes tighter (cutting it) or looser (the car around it)
    m = rng.uniform(-8, 10, 4).astype(int)
    img = cv2.copyMakeBorder(img, 20, 20, 20, 20, cv2.BORDER_CONSTANT,
                             value=tuple(int(v) for v in rng.integers(0, 200, 3)))
    img = img[max(0, 24 - m[0]): 156 + m[1], max(0, 34 - m[2]): 486 + m[3]]
    h, w = img.shape[:2]
    img = warp_corners(img, rng.uniform(0, 0.08) * h, rng)
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.normal(0, 2.5)), 1.0)
    img = cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    if rng.random() < 0.4:  # uneven light over the plate
        img = np.clip(img * np.linspace(rng.uniform(0.6, 1.0), rng.uniform(0.8, 1.2), w)[None, :, None],
                      0, 255).astype(np.uint8)
    size = (94, 24) if rng.random() < 0.7 else (int(rng.integers(60, 140)), int(rng.integers(16, 36)))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    return _photo_degrade(small, rng)


def _plate_camera(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The plate face (140, 480, 3) float RGB as a traffic or parking camera crops it: rivets on the rim,
    washed-out or low-contrast ink, slant (the plate seen from the side) and perspective, a tilt, a
    crop around the plate that may cut the rim or show the car, dim, glaring or tinted light, a ~94 x 24
    crop with motion or focus blur, noise and JPEG: (h, w, 3) uint8 RGB."""
    img = face.copy()
    for rx in (int(rng.integers(90, 130)), int(rng.integers(350, 390))):  # rivets above the characters
        tone = img[14, rx] * rng.uniform(0.6, 1.4)
        cv2.circle(img, (rx, 14), int(rng.integers(4, 8)), tuple(float(v) for v in tone), -1)
    if rng.random() < 0.3:  # faded paint: ink pulled toward the background
        back = np.median(img.reshape(-1, 3), axis=0)
        img = img + (back - img) * rng.uniform(0.1, 0.35)
    img = np.clip(img, 0, 255).astype(np.uint8)
    m = rng.uniform(-10, 14, 4).astype(int)
    img = cv2.copyMakeBorder(img, 24, 24, 24, 24, cv2.BORDER_CONSTANT,
                             value=tuple(int(v) for v in rng.integers(0, 200, 3)))
    h, w = img.shape[:2]
    shear = float(rng.normal(0, 0.08))  # slant: the camera beside or above the lane
    rot = cv2.getRotationMatrix2D((w / 2, h / 2), float(rng.normal(0, 4.0)), 1.0)
    rot[0, 1] += shear
    rot[0, 2] -= shear * h / 2
    img = cv2.warpAffine(img, rot, (w, h), borderMode=cv2.BORDER_REPLICATE)
    img = warp_corners(img, rng.uniform(0, 0.12) * h, rng)
    img = img[max(0, 28 - m[0]): 164 + m[1], max(0, 38 - m[2]): 490 + m[3]]
    light = rng.uniform(0.35, 1.3) * np.exp(rng.normal(0, 0.12, 3))  # exposure and a colour cast
    img = img.astype(np.float32) * light
    if rng.random() < 0.4:  # uneven light: a shadow or a headlamp's glare across the plate
        across = rng.random() < 0.7
        ramp = np.linspace(rng.uniform(0.5, 1.0), rng.uniform(0.8, 1.5), img.shape[1 if across else 0],
                           dtype=np.float32)
        img = img * (ramp[None, :, None] if across else ramp[:, None, None])
    img = np.clip(img, 0, 255).astype(np.uint8)
    size = (94, 24) if rng.random() < 0.7 else (int(rng.integers(60, 140)), int(rng.integers(16, 36)))
    small = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.3:  # horizontal motion blur of a passing car
        k = int(rng.integers(2, 5))
        small = cv2.filter2D(small, -1, np.full((1, k), 1.0 / k, np.float32))
    return _photo_degrade(small, rng)


def _photo_degrade(a: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Perspective, blur, noise, JPEG on a small RGB crop."""
    h, w = a.shape[:2]
    if rng.random() < 0.5:
        a = warp_corners(a, min(h, w) * 0.12, rng)
    if rng.random() < 0.5:
        a = cv2.GaussianBlur(a, (0, 0), float(rng.uniform(0.3, 1.0)))
    if rng.random() < 0.5:
        a = np.clip(a + rng.normal(0, rng.uniform(2, 10), a.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        ok, buf = cv2.imencode(".jpg", a, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(20, 80))])
        a = cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else a
    return a


def _contrasting_colours(rng: np.random.Generator, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """(background, text) RGB colours, int64 (3,), whose luminances differ by more than `floor`."""
    def luma(c: np.ndarray) -> float:
        return float(0.299 * c[0] + 0.587 * c[1] + 0.114 * c[2])

    while True:
        bg, fg = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        if abs(luma(bg) - luma(fg)) > floor:
            return bg, fg


def _smooth_noise(h: int, w: int, sigma_x: float, sigma_y: float, peak: tuple[float, float],
                  rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise blurred by (sigma_x, sigma_y) and scaled so its largest magnitude is a level drawn
    from `peak` (grey levels): blotches on a panel, grain in wood. (h, w) float32."""
    field = cv2.GaussianBlur(rng.normal(0, 1, (h, w)).astype(np.float32), (0, 0),
                             sigmaX=sigma_x, sigmaY=sigma_y)
    return field * (rng.uniform(*peak) / max(float(np.abs(field).max()), 1e-6))


def _crop_through_letters(a: np.ndarray, rows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """In 40 %, a tight crop that cuts 5-30 % of the letters' height (rows: the image rows holding ink)
    off their top or their bottom, as a camera's crop of a sign does; else `a` unchanged."""
    if rows.size and rng.random() < 0.4:
        top, bottom = int(rows[0]), int(rows[-1])
        cut = int((bottom - top) * rng.uniform(0.05, 0.3))
        a = a[top + cut:] if rng.random() < 0.5 else a[: bottom - cut + 1]
    return a


def _sign(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """Colour text on a colour, textured background with enough luminance contrast to read in gray."""
    bg, fg = _contrasting_colours(rng, 70)
    size = int(rng.integers(32, 64))
    f = pil_font(font.path, font.index, size)
    pad = int(size * rng.uniform(0.1, 0.5))
    w = int(f.getlength(text)) + 2 * pad
    h = int(size * 1.3) + 2 * pad // 2
    base = np.zeros((h, w, 3), np.float32) + bg.astype(np.float32)
    # texture: a gradient plus smooth blotches
    grad = np.linspace(rng.uniform(-30, 0), rng.uniform(0, 30), w, dtype=np.float32)[None, :, None]
    base = base + grad + _smooth_noise(h, w, size / 3, size / 3, (0, 25), rng)[..., None]
    img = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    d = ImageDraw.Draw(img)
    if rng.random() < 0.3:  # outline / shadow
        off = max(1, size // 20)
        d.text((pad + off, pad // 2 + off), text, font=f, fill=tuple(int(v) for v in 255 - fg))
    d.text((pad, pad // 2), text, font=f, fill=tuple(int(v) for v in fg))
    return _photo_degrade(np.asarray(img), rng)


def _scene(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """A shop sign as a camera crops it (real_samples' 3-D and cut-off sign words): bold letters, often
    extruded (the face drawn over 2-12 copies stepped along one direction in a side colour) and widely
    spaced, on a sign panel; the crop often cuts 5-30 % off the top or the bottom of the letters. Then
    perspective, blur, noise and JPEG: (h, w, 3) uint8 RGB."""
    bg, fg = _contrasting_colours(rng, 60)
    size = int(rng.integers(36, 72))
    f = pil_font(font.path, font.index, size)
    spacing = size * rng.uniform(0.05, 0.7) if rng.random() < 0.5 else 0.0
    depth = int(rng.integers(2, max(3, size // 5))) if rng.random() < 0.6 else 0
    dx, dy = [(1, 1), (-1, 1), (0, 1), (1, 0), (1, -1)][int(rng.integers(5))]
    side = fg * rng.uniform(0.2, 0.6) if rng.random() < 0.5 else bg * rng.uniform(0.3, 0.7) + 20
    side = np.clip(side, 0, 255)
    advances = [f.getlength(c) + spacing for c in text]
    pad = int(size * rng.uniform(0.15, 0.5))
    w = int(sum(advances) - spacing) + 2 * pad + depth
    h = int(size * 1.25) + pad + depth
    panel = np.zeros((h, w, 3), np.float32) + bg.astype(np.float32)
    grad = np.linspace(rng.uniform(-40, 0), rng.uniform(0, 40), h, dtype=np.float32)[:, None, None]
    img = Image.fromarray(np.clip(panel + grad, 0, 255).astype(np.uint8))
    mask = Image.new("L", (w, h), 0)
    d, dm = ImageDraw.Draw(img), ImageDraw.Draw(mask)
    x0 = pad + (depth if dx < 0 else 0)
    y0 = pad // 2 + (depth if dy < 0 else 0)
    for step in range(depth, 0, -1):  # the extrusion, back to front
        x = x0
        for c, adv in zip(text, advances, strict=True):
            d.text((x + step * dx, y0 + step * dy), c, font=f, fill=tuple(int(v) for v in side))
            x += adv
    x = x0
    for c, adv in zip(text, advances, strict=True):
        d.text((x, y0), c, font=f, fill=tuple(int(v) for v in fg))
        dm.text((x, y0), c, font=f, fill=255)
        x += adv
    a = _crop_through_letters(np.asarray(img), np.where(np.asarray(mask).max(axis=1) > 0)[0], rng)
    return _photo_degrade(np.ascontiguousarray(a), rng)


def _wall(h: int, w: int, bg: np.ndarray, size: int,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A building's face behind shop lettering: (texture (h, w, 3) float32, shade (h, w) float32).

    texture: the background colour with one of slats (vertical cladding, louvres), siding, brick, tiles,
    perforated metal, wood grain or a plain panel with blotches. shade: the relief of slats and siding
    (1 on a board, darker in its grooves), which lettering mounted on them takes too; 1 elsewhere."""
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    shade = np.ones((h, w), np.float32)
    tex = np.zeros((h, w), np.float32)  # added to the colour, in grey levels
    style = ("slats", "siding", "brick", "tiles", "mesh", "wood", "plain")[
        int(rng.choice(7, p=(0.25, 0.1, 0.15, 0.1, 0.1, 0.1, 0.2)))]
    if style in ("slats", "siding"):
        period = size * rng.uniform(0.15, 0.4)
        pos = (xx if style == "slats" else yy) / period % 1.0  # 0..1 across one board
        groove = rng.uniform(0.1, 0.3)  # the share of a period in the groove
        board = 1.0 - rng.uniform(0, 0.25) * pos  # light falls across each board
        shade = np.where(pos < groove, rng.uniform(0.5, 0.8), board).astype(np.float32)
    elif style == "brick":
        bh = size * rng.uniform(0.2, 0.45)
        row = np.floor(yy / bh)
        bx = (xx + (row % 2) * bh) / (2 * bh)
        ids = (row * 997 + np.floor(bx)).astype(np.int64) % 257
        tex += rng.normal(0, 14, 257).astype(np.float32)[ids]  # each brick its own tone
        mortar = (yy % bh < bh * 0.12) | (bx % 1.0 < 0.06)
        tex = np.where(mortar, rng.uniform(-60, 60), tex)
    elif style == "tiles":
        t = size * rng.uniform(0.3, 0.9)
        tex = np.where((yy % t < 2) | (xx % t < 2), rng.uniform(-70, 70), 0).astype(np.float32)
    elif style == "mesh":
        p = rng.uniform(4, 9)
        holes = ((xx % p - p / 2) ** 2 + (yy % p - p / 2) ** 2) < (p * rng.uniform(0.15, 0.3)) ** 2
        tex = np.where(holes, -rng.uniform(20, 60), 0).astype(np.float32)
    elif style == "wood":
        tex = _smooth_noise(h, w, size, 1.5, (15, 40), rng)
    else:
        tex = _smooth_noise(h, w, size / 3, size / 3, (0, 30), rng)
    return bg.astype(np.float32) + tex[..., None], shade


def _facade(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """Shop-front lettering on a building as a phone photographs it (real_samples' word_4 and word_5: 3-D
    letters on slatted cladding, a display face with cuts through its strokes, tops cut off by the crop).

    The wall (_wall: slats, siding, brick, tiles, perforated metal, wood, a plain panel). The letters:
    condensed or extended, bolder or thinner, sometimes hollow (an outline) or with a rim of a second
    colour, sometimes cut by thin bands as stencil and display faces are, sometimes glowing (neon); mounted
    with a cast shadow on the wall, and on slats or siding taking their grooves, which can break the
    strokes. Light falls unevenly, an awning's shadow can darken part of the line, and the crop often cuts
    the top or bottom of the letters. Then perspective, blur, noise and JPEG: (h, w, 3) uint8 RGB."""
    bg, fg = _contrasting_colours(rng, 90)  # shop fronts are lettered to be read from the street
    size = int(rng.integers(36, 72))
    f = pil_font(font.path, font.index, size)
    spacing = size * rng.uniform(0.05, 0.6) if rng.random() < 0.5 else 0.0
    advances = [f.getlength(c) + spacing for c in text]
    pad = int(size * rng.uniform(0.15, 0.5))
    w0, h = int(sum(advances) - spacing) + 2 * pad, int(size * 1.3) + pad
    canvas = Image.new("L", (w0, h), 0)
    draw, x = ImageDraw.Draw(canvas), float(pad)
    for c, adv in zip(text, advances, strict=True):
        draw.text((x, pad // 2), c, font=f, fill=255)
        x += adv
    ink = np.asarray(canvas, np.float32) / 255  # (h, w0) the letters' coverage
    if rng.random() < 0.5:  # condensed or extended lettering
        ink = cv2.resize(ink, (max(8, int(w0 * rng.uniform(0.7, 1.35))), h), interpolation=cv2.INTER_AREA)
    w = ink.shape[1]
    k = max(1, size // 16)
    # a heavy face (most of its ink survives an erosion by a twelfth of the size) can be thinned or hollowed
    core = cv2.erode(ink, np.ones((max(2, size // 12),) * 2, np.uint8))
    heavy = float(core.sum()) > 0.3 * float(ink.sum())
    r = rng.random()
    if r < 0.25:  # a bolder weight
        ink = cv2.dilate(ink, np.ones((k + 1, k + 1), np.uint8))
    elif r < 0.35 and heavy:  # a thinner one
        ink = cv2.erode(ink, np.ones((2, 2), np.uint8))
    if rng.random() < 0.2:  # display cuts: thin bands through every stroke, across or along the line
        for _ in range(int(rng.integers(1, 4))):
            t = max(1, int(size * rng.uniform(0.03, 0.07)))
            if rng.random() < 0.6:
                y = int(rng.integers(pad // 2, pad // 2 + size))
                ink[y:y + t] = 0
            else:
                for x0 in rng.integers(0, w, int(rng.integers(2, 2 + len(text) * 2))):
                    ink[:, x0:x0 + t] = 0
    wall, shade = _wall(h, w, bg, size, rng)
    img = wall
    if rng.random() < 0.5:  # the letters' cast shadow on the wall
        dx, dy = (int(v) for v in rng.integers(-k * 3, k * 3 + 1, 2))
        shadow = cv2.GaussianBlur(np.roll(ink, (dy, dx), axis=(0, 1)), (0, 0), rng.uniform(0.5, 3.0))
        img = img * (1 - rng.uniform(0.3, 0.7) * shadow)[..., None]
    style = rng.random()
    if style < 0.15 and heavy:  # hollow letters: only their outline in the letter colour
        ink = np.clip(cv2.dilate(ink, np.ones((k + 2, k + 2), np.uint8)) - ink, 0, 1)
    elif style < 0.3:  # a rim round the face, light round dark letters and dark round light ones
        rim = cv2.dilate(ink, np.ones((k + 2, k + 2), np.uint8))
        tone = rng.uniform(200, 255, 3) if fg.mean() < 128 else rng.uniform(0, 60, 3)
        img = img * (1 - rim[..., None]) + tone.astype(np.float32) * rim[..., None]
    elif style < 0.4:  # neon: a glow round the letters
        glow = cv2.GaussianBlur(ink, (0, 0), size / 10)
        img = img + glow[..., None] * (fg.astype(np.float32) - img) * rng.uniform(0.3, 0.8)
    img = img * (1 - ink[..., None]) + fg.astype(np.float32) * ink[..., None]
    mounted = rng.random() < 0.7  # on the boards the letters take the grooves too; in front, only the wall
    img = img * (shade if mounted else np.where(ink > 0.5, 1.0, shade))[..., None]
    gray = img @ np.float32([0.299, 0.587, 0.114])  # (h, w)
    on, off = ink > 0.5, ink < 0.05
    if on.any() and off.any():  # textures and grooves must not take the letters' contrast away
        wall_level = float(gray[off].mean())
        if abs(float(gray[on].mean()) - wall_level) < 50:
            target = 0.0 if wall_level > 128 else 255.0
            img = img + (ink * 0.6)[..., None] * (target - img)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = (np.cos(angle) * xx / w + np.sin(angle) * yy / h)  # uneven light across the sign
    img = img * (1 + rng.uniform(-0.25, 0.25) * ramp)[..., None]
    if rng.random() < 0.15:  # an awning's or a neighbour's shadow over part of the line
        edge = rng.uniform(0.2, 0.8) * w + (yy - h / 2) * rng.uniform(-1.5, 1.5)
        img = img * np.where(xx < edge, rng.uniform(0.45, 0.75), 1.0)[..., None]
    a = _crop_through_letters(np.clip(img, 0, 255).astype(np.uint8), np.where(ink.max(axis=1) > 0.5)[0], rng)
    return _photo_degrade(np.ascontiguousarray(a), rng)


def _receipt(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """A receipt or ticket line as a thermal or dot-matrix printer prints it and a phone photographs it.

    Glyphs are drawn without anti-aliasing on the printer's grid (14-28 px characters) in fixed cells (a
    full cell for CJK, half for ASCII, as receipt printers lay text out). Thermal print (60 %): grey to
    black ink that fades unevenly along the line, sometimes with white streaks where a head element is
    dead. Dot-matrix print (40 %): every pixel of the grid struck as a round dot of ribbon ink (black, blue
    or purple). Then warm paper, an enlargement to the photo's scale and the photo degradations:
    (h, w, 3) uint8 RGB."""
    dots = rng.random() < 0.4
    size = int(rng.integers(14, 25) if dots else rng.integers(16, 29))
    f = pil_font(font.path, font.index, size)
    cells = [size if not c.isascii() else (size + 1) // 2 for c in text]
    pad_x, pad_y = int(rng.integers(1, size)), int(rng.integers(1, size // 3 + 2))
    w, h = sum(cells) + 2 * pad_x, int(size * 1.2) + 2 * pad_y
    canvas = Image.new("L", (w, h), 0)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"  # no anti-aliasing: the printer's dots are on or off
    x = pad_x
    for c, cw in zip(text, cells, strict=True):
        if not c.isspace():
            draw.text((x + (cw - f.getlength(c)) / 2, pad_y), c, font=f, fill=255)
        x += cw
    ink = (np.asarray(canvas) > 127).astype(np.float32)  # (h, w) 1 = a dot printed
    if dots:  # each grid pixel a round dot k x k
        k = int(rng.integers(3, 5))
        yy, xx = np.mgrid[:k, :k] - (k - 1) / 2
        disc = ((yy ** 2 + xx ** 2) <= (0.5 * k) ** 2 * rng.uniform(0.6, 1.0)).astype(np.float32)
        alpha = np.kron(ink, disc) * rng.uniform(0.6, 1.0)
        colour = np.array([(20, 20, 25), (40, 50, 140), (90, 40, 120)][int(rng.integers(3))], np.float32)
    else:
        fade = np.linspace(rng.uniform(0.35, 1.0), rng.uniform(0.35, 1.0), w, dtype=np.float32)[None, :]
        alpha = ink * np.clip(fade * rng.uniform(0.85, 1.15, ink.shape).astype(np.float32), 0, 1)
        for _ in range(int(rng.choice(3, p=(0.7, 0.2, 0.1)))):  # dead head elements: white streaks
            alpha[:, int(rng.integers(w))] = 0
        colour = np.full(3, rng.uniform(10, 70), np.float32)
    paper = np.array([rng.uniform(232, 255), rng.uniform(228, 252), rng.uniform(215, 248)], np.float32)
    img = paper * (1 - alpha[..., None]) + colour * alpha[..., None]
    img = img + rng.normal(0, rng.uniform(1, 6), img.shape[:2])[..., None]  # paper grain
    scale = rng.uniform(1.3, 3.2) / (k if dots else 1) * (2 if dots else 1)
    img = cv2.resize(np.clip(img, 0, 255).astype(np.uint8), None, fx=scale, fy=scale,
                     interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    return _photo_degrade(img, rng)


def _label(text: str, font: FontSpec, rng: np.random.Generator) -> np.ndarray:
    """A care label or a product label as a phone photographs it.

    Woven care labels (half): small text on a ribbon whose weave shows as a fine grid of threads that
    softens the strokes, dark thread on white or cream, or light thread on black satin, the ribbon wavy.
    Printed labels: text on a coloured sticker or package, sometimes a glare band, sometimes wrapped round
    a bottle (the line squeezed and darkened toward its ends). Then the photo degradations: (h, w, 3)
    uint8 RGB."""
    woven = rng.random() < 0.5
    size = int(rng.integers(18, 40))
    f = pil_font(font.path, font.index, size)
    pad_x, pad_y = int(size * rng.uniform(0.1, 0.6)), int(size * rng.uniform(0.05, 0.3))
    w, h = int(f.getlength(text)) + 2 * pad_x, int(size * 1.3) + 2 * pad_y
    mask = Image.new("L", (w, h), 0)
    ImageDraw.Draw(mask).text((pad_x, pad_y), text, font=f, fill=255)
    ink = np.asarray(mask, np.float32) / 255  # (h, w)
    yy, xx = np.mgrid[:h, :w].astype(np.float32)
    if woven:
        satin = rng.random() < 0.25  # light thread on black satin
        tint = rng.uniform(0.92, 1.0, 3)
        bg = np.full(3, rng.uniform(15, 55) if satin else rng.uniform(210, 250)) * tint
        fg = np.full(3, rng.uniform(190, 240) if satin else rng.uniform(15, 90))
        period = rng.uniform(2.0, 4.0)  # px between threads
        weft = period * rng.uniform(0.8, 1.2)
        weave = 0.5 * (np.sin(2 * np.pi * xx / period) + np.sin(2 * np.pi * yy / weft))  # (h, w) in [-1, 1]
        ink = np.clip(cv2.GaussianBlur(ink, (0, 0), period / 3) * (1 + 0.3 * weave), 0, 1)
        img = bg * (1 + 0.05 * weave[..., None]) * (1 - ink[..., None]) + fg * ink[..., None]
        amp, wave = rng.uniform(0, 0.06 * h), rng.uniform(0.5, 2.0) * w  # the ribbon's waves
        ys = yy + amp * np.sin(2 * np.pi * xx / wave + rng.uniform(0, 2 * np.pi))
        img = cv2.remap(img.astype(np.float32), xx, ys.astype(np.float32), cv2.INTER_LINEAR,
                        borderMode=cv2.BORDER_REPLICATE)
    else:
        bg, fg = _contrasting_colours(rng, 80)
        img = bg * (1 - ink[..., None]) + fg * ink[..., None]
        if rng.random() < 0.4:  # a glare band across the line
            centre, width = rng.uniform(0, w), rng.uniform(0.03, 0.15) * w
            img = img + (np.exp(-(((xx - centre) / width) ** 2)) * rng.uniform(25, 80))[..., None]
        if rng.random() < 0.5:  # wrapped round a bottle: the line spans +-phi of the cylinder
            phi = rng.uniform(0.3, 1.1)
            radius = (w / 2) / phi
            out_w = max(8, int(2 * radius * np.sin(phi)))
            u = (np.arange(out_w, dtype=np.float32) - out_w / 2) / radius  # sin of each column's angle
            angle = np.arcsin(np.clip(u, -1, 1))
            src = (radius * angle + w / 2).astype(np.float32)
            img = cv2.remap(img.astype(np.float32), np.broadcast_to(src, (h, out_w)).copy(),
                            np.broadcast_to(np.arange(h, dtype=np.float32)[:, None], (h, out_w)).copy(),
                            cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
            img = img * (0.55 + 0.45 * np.cos(angle))[None, :, None]  # the far side turns away from the light
    return _photo_degrade(np.clip(img, 0, 255).astype(np.uint8), rng)


def _form_text(corpus: object, rng: np.random.Generator) -> str:
    cn, en = _FORM_FIELDS[int(rng.integers(len(_FORM_FIELDS)))]
    label = [cn, f"{cn} {en}", f"{cn}/{en}", f"{en}", f"{cn}({en})"][int(rng.integers(5))]
    r = rng.random()
    if r < 0.5:
        value = corpus.number(rng)  # type: ignore[attr-defined]
    elif r < 0.7:
        value = f"{rng.uniform(0, 999):.{int(rng.integers(0, 3))}f}{_UNITS[int(rng.integers(len(_UNITS)))]}"
    elif r < 0.85:
        n = int(rng.integers(4, 12))
        value = "".join(_PLATE_ALNUM[int(i)] for i in rng.integers(0, len(_PLATE_ALNUM), n))
    else:
        value = corpus.sentence(rng, int(rng.integers(2, 8)))  # type: ignore[attr-defined]
    sep = ["：", ":", " ", "  "][int(rng.integers(4))]
    return f"{label}{sep}{value}"


def render_kind(kind: str, rng: np.random.Generator, corpus: object, height: int = 64,
                held_out: bool = False, max_chars: int = 0, accept: Callable[[str], bool] | None = None,
                ) -> tuple[str, np.ndarray, str]:
    """(text, image (height, W) uint8 as the model sees it, font name) for one line of `kind`.

    corpus: an ocr.training.synth.Corpus. held_out=True draws every text line in the held-out face
    (HELD_OUT_FONT, uming-cn, which draws traditional text too) and plates in HELD_OUT_PLATE_FONTS: faces of
    the packages `make install` provides and training never uses for text lines, so a held-out set is the
    same set on every machine (MissingFont when one is not installed). Before session 26 held-out
    traditional lines also drew HELD_OUT_TC_FONT, and plates every sign face, when installed: the sets
    changed with the training faces a machine had.
    max_chars > 0: at most that many characters (text lines are drawn shorter, form fields cut there, as a
    tight crop cuts them): short lines for a fine-tune's rehearsal, where width is compute.
    accept: a text it refuses is redrawn before anything is rendered (LookupError after
    ACCEPT_TRIES refusals); None keeps every line as before.
    """
    from ocr.training.synth.fonts import HELD_OUT_FONT, font_by_name

    sc = [font_by_name(HELD_OUT_FONT)] if held_out else _sc_fonts()
    tc = [] if held_out else tc_fonts()  # held-out traditional lines: the held-out face too
    if held_out and not _exists(sc[0]):
        raise MissingFont(f"held-out lines need the held-out face {HELD_OUT_FONT!r} ({sc[0].package}; "
                          "scripts/install_system.sh installs it)")
    seed = int(rng.integers(2**31))
    for _ in range(50 if accept is None else ACCEPT_TRIES):
        sign = kind == "sign"
        if kind in ("doc_sc", "doc_tc", "hand", "sign"):
            n_max = 12 if kind == "sign" else 30
            text = corpus.line(rng, 1, min(n_max, max_chars or n_max))  # type: ignore[attr-defined]
        elif kind in ("scene", "facade"):  # a shop name or slogan: words, digits and letters, no punctuation
            n_max = min(10, max_chars or 10)
            text = "".join(c for c in corpus.line(rng, 2, n_max) if c.isalnum())  # type: ignore[attr-defined]
            if not text:
                continue
        elif kind == "form":
            text = _form_text(corpus, rng)
        elif kind in ("plate", "plate_cam"):
            text = _plate_text(rng)
        elif kind == "symbol":
            text = corpus.symbolic(rng, int(rng.integers(2, max(3, min(24, max_chars or 24)))))  # type: ignore[attr-defined]
        elif kind == "contact":
            text = corpus.contact(rng)  # type: ignore[attr-defined]
            sign = rng.random() < 0.25  # one contact line in four drawn as a sign
        elif kind == "receipt":
            text = corpus.receipt(rng)  # type: ignore[attr-defined]
        elif kind == "label":
            text = corpus.label(rng)  # type: ignore[attr-defined]
        else:
            raise ValueError(f"unknown line kind {kind!r}; choose from {', '.join(KINDS)}")
        if max_chars and kind in _CUT_KINDS:  # cut where a tight crop would
            text = text[:max_chars].rstrip()
        trad = kind == "doc_tc" or (kind in _TRAD_KINDS and rng.random() < 0.4)
        if trad:
            text = _converter(_OPENCC[int(rng.integers(len(_OPENCC)))]).convert(text)
            if not corpus.charset.covers(text):  # type: ignore[attr-defined]  # a rare converted form
                continue
        if accept is not None and not accept(text):
            continue
        if kind in ("plate", "plate_cam"):
            plate = _plate(text, rng, camera=kind == "plate_cam", held_out=held_out)
            return text, _to_model_view(plate, height), kind
        if sign or kind in ("scene", "facade"):
            pool = [f for f in SIGN_FONTS if _exists(f)] if not held_out else sc + tc
        elif kind == "hand":
            pool = [f for f in [*_sc_fonts(), *tc_fonts()] if f.name in HAND_FONTS] if not held_out else sc
        else:
            pool = (tc + sc) if trad else sc
        font = _pick(text, pool, rng)
        if font is None:
            continue
        if sign:
            img = _sign(text, font, rng)
        elif kind == "scene":
            img = _scene(text, font, rng)
        elif kind == "facade":
            img = _facade(text, font, rng)
        elif kind == "hand":
            img = _hand_line(text, font, rng)
        elif kind == "receipt":
            img = _receipt(text, font, rng)
        elif kind == "label":
            img = _label(text, font, rng)
        else:
            img = render_line(text, font, max(height, 64), seed, augment=True)
            if rng.random() < 0.15:
                img = _slivers(img, font, text, rng)
        if rng.random() < 0.25:
            img = _low_res(img, rng)
        return text, _to_model_view(img, height), font.name
    if accept is not None:
        raise LookupError(f"none of {ACCEPT_TRIES} drawn {kind} lines was accepted")
    raise RuntimeError(f"no installed font covers 50 drawn {kind} lines (install the fonts in FACTS.md)")


def kind_sampler(mix: dict[str, float] | None = None) -> Callable[[np.random.Generator], str]:
    """A function drawing one kind name from `mix` (default KIND_MIX; shares need not sum to 1) with the
    given generator."""
    mix = mix or KIND_MIX
    names = sorted(mix)
    p = np.asarray([mix[k] for k in names], dtype=np.float64)
    if (p < 0).any() or p.sum() <= 0:
        raise ValueError(f"kind shares must be >= 0 and not all 0: {mix}")
    p = p / p.sum()
    return lambda rng: names[int(rng.choice(len(names), p=p))]


def kind_lines(n: int, seed: int, height: int = 64, mix: dict[str, float] | None = None,
               held_out: bool = False, prose: float = 0.0) -> Iterator[tuple[str, np.ndarray, str]]:
    """(text, image (height, W), kind/font) for n lines drawn from `mix` (default KIND_MIX); line i is
    fully determined by (seed, i). prose: Corpus(prose=...), the chance of a dash or ellipsis after a
    word."""
    from ocr.training.synth.corpus import Corpus

    draw_kind = kind_sampler(mix)
    corpus = Corpus(prose=prose)
    for i in range(n):
        rng = np.random.default_rng([seed, i, 17])
        kind = draw_kind(rng)
        text, img, font = render_kind(kind, rng, corpus, height, held_out)
        yield text, img, f"{kind}/{font}"


def render_kind_test_set(out_dir: Path, n: int = 600, seed: int = 20261126, height: int = 64,
                         mix: dict[str, float] | None = None, prose: float = 0.0) -> Path:
    """A labelled held-out set of the kinds (held-out faces only): out_dir/KIND/XXXXX.png +
    labels.tsv (`KIND/XXXXX.png<TAB>text`: the first folder names the kind). prose: as kind_lines (0, the
    default, renders the sets earlier sessions measured). Returns the labels path."""
    out_dir = Path(out_dir)
    rows = []
    for i, (text, img, kind) in enumerate(kind_lines(n, seed, height, mix, held_out=True, prose=prose)):
        name = f"{kind.split('/')[0]}/{i:05d}.png"
        (out_dir / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img).save(out_dir / name)
        rows.append(f"{name}\t{text}\n")
    labels = out_dir / "labels.tsv"
    labels.write_text("".join(rows), encoding="utf-8")
    return labels
