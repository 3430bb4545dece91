"""Rendered test pages with line ground truth (boxes + text in reading order), deterministic per seed.

Kinds: "paragraph", "two_column" (book page, title spanning both columns), "invoice" (table rules,
amounts in 大写), "id_card", "vertical" (columns read right-to-left), "rotated" (a paragraph page turned
a few degrees), "skewed" (an invoice turned a few degrees), "one_line", "empty".

Ground-truth boxes are the ink bounding box of each line plus 0.15 x font size on every side, as 4
points (x, y) tl, tr, br, bl in page pixels (rotated with the page). Separate items on one row (label
and value, table cells) are at least 2.5 character widths apart, so "one line" is unambiguous.

Example:
    page = render_page("invoice", seed=3)
    page.image.shape, [g.text for g in page.lines][:3]
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageChops, ImageDraw, ImageFont

from ocr.documents.geometry import rotate_expanded
from ocr.training.synth import Corpus, FontSpec, amount_upper, available_fonts, font_covers

__all__ = ["PAGE_KINDS", "GTLine", "SynthPage", "degrade", "render_page", "sample_pages", "stack_lines"]

PAGE_KINDS = ("paragraph", "two_column", "invoice", "id_card", "vertical", "rotated", "skewed",
              "one_line", "empty")
# The page fonts: hei, song, kai (the brief's Debian fonts), whichever are installed.
_PAGE_FONTS = ("noto-sans-sc", "noto-serif-sc", "wqy-zenhei", "ukai-cn")


@dataclass(frozen=True, eq=False)
class GTLine:
    """One ground-truth line: points (4, 2) float32 tl, tr, br, bl; text; vertical column or not."""

    points: np.ndarray
    text: str
    vertical: bool = False


@dataclass(frozen=True, eq=False)
class SynthPage:
    """A rendered page: image (H, W, 3) uint8 RGB, lines in reading order, rotation applied (degrees,
    counter-clockwise on screen)."""

    kind: str
    seed: int
    image: np.ndarray
    lines: tuple[GTLine, ...]
    angle: float = 0.0

    @property
    def text(self) -> str:
        """Ground-truth text: lines in reading order joined by newlines."""
        return "\n".join(g.text for g in self.lines)


@lru_cache(maxsize=1)
def _corpus() -> Corpus:
    return Corpus()


@lru_cache(maxsize=64)
def _font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(path, size, index=index)


def _fonts() -> list[FontSpec]:
    fonts = [f for f in available_fonts() if f.name in _PAGE_FONTS]
    if not fonts:
        raise FileNotFoundError("no CJK page font installed (fonts-noto-cjk, fonts-wqy-zenhei, ...)")
    return fonts


class _Page:
    """A gray 'L' canvas that records the ink box of every text item drawn on it."""

    def __init__(self, width: int, height: int, paper: int, ink: int, font: FontSpec,
                 fonts: list[FontSpec]) -> None:
        self.img = Image.new("L", (width, height), paper)
        self.draw = ImageDraw.Draw(self.img)
        self.paper, self.ink, self.font, self.fonts = paper, ink, font, fonts
        self.lines: list[GTLine] = []

    def _face(self, text: str, size: int) -> ImageFont.FreeTypeFont:
        spec = self.font if font_covers(self.font, text) else next(
            (f for f in self.fonts if font_covers(f, text)), self.font)
        return _font(spec.path, spec.index, size)

    def text(self, x: float, y: float, text: str, size: int,
             record: bool = True) -> tuple[int, int, int, int]:
        """Draw `text` with its top-left ink corner near (x, y); returns the ink box (x0, y0, x1, y1)."""
        font = self._face(text, size)
        left, top, right, bottom = font.getbbox(text)
        patch = Image.new("L", (right - left + 4, bottom - top + 4), 255)
        ImageDraw.Draw(patch).text((2 - left, 2 - top), text, font=font, fill=0)
        arr = np.asarray(patch)
        ys, xs = np.nonzero(arr < 160)
        if xs.size == 0:
            return int(x), int(y), int(x), int(y)
        ox, oy = round(x) - 2, round(y) - 2
        self._paste(patch, ox, oy)
        box = (ox + int(xs.min()), oy + int(ys.min()), ox + int(xs.max()) + 1, oy + int(ys.max()) + 1)
        if record:
            self._record(box, text, size, vertical=False)
        return box

    def vtext(self, x: float, y: float, text: str, size: int) -> tuple[int, int, int, int]:
        """Draw `text` as a vertical column (upright characters, top to bottom); returns its ink box."""
        boxes = [self.text(x, y + i * size * 1.08, ch, size, record=False) for i, ch in enumerate(text)]
        box = (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
               max(b[3] for b in boxes))
        self._record(box, text, size, vertical=True)
        return box

    def _paste(self, patch: Image.Image, ox: int, oy: int) -> None:
        """Darken the page with the patch (ink tinted to self.ink)."""
        tinted = patch.point(lambda v: self.ink + (255 - self.ink) * v // 255)
        region = (ox, oy, ox + patch.width, oy + patch.height)
        self.img.paste(ImageChops.darker(self.img.crop(region), tinted), region[:2])

    def _record(self, box: tuple[int, int, int, int], text: str, size: int, vertical: bool) -> None:
        p = 0.15 * size
        x0, y0, x1, y1 = box[0] - p, box[1] - p, box[2] + p, box[3] + p
        pts = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float32)
        self.lines.append(GTLine(pts, text, vertical))

    def width_of(self, text: str, size: int) -> int:
        left, _, right, _ = self._face(text, size).getbbox(text)
        return right - left


def _setup(rng: np.random.Generator, width: int, height: int) -> _Page:
    fonts = _fonts()
    font = fonts[int(rng.integers(len(fonts)))]
    paper, ink = int(rng.integers(238, 256)), int(rng.integers(0, 50))
    return _Page(width, height, paper, ink, font, fonts)


def _sentence(rng: np.random.Generator, n: int) -> str:
    return _corpus().sentence(rng, n).strip() or "文字"


def _paragraph(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(24, 34))
    per_line = int(rng.integers(14, 22))
    n_lines = int(rng.integers(6, 12))
    margin = int(size * 1.5)
    width = 2 * margin + int(per_line * size * 1.05)
    pitch = size * float(rng.uniform(1.5, 1.9))
    height = int(2 * margin + size * 2.5 + n_lines * pitch)
    page = _setup(rng, width, height)
    page.text(margin, margin, _sentence(rng, int(rng.integers(6, 12))), int(size * 1.3))
    y = margin + size * 2.6
    for i in range(n_lines):
        n = per_line if i < n_lines - 1 else int(rng.integers(3, per_line))
        indent = 2 * size if i == 0 else 0
        page.text(margin + indent, y, _sentence(rng, n - (2 if i == 0 else 0)), size)
        y += pitch
    return page


def _two_column(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(22, 30))
    per_line = int(rng.integers(12, 17))
    n_lines = int(rng.integers(8, 14))
    margin, gutter = int(size * 1.5), int(size * float(rng.uniform(2.5, 4)))
    col_w = int(per_line * size * 1.05)
    width = 2 * margin + 2 * col_w + gutter
    pitch = size * float(rng.uniform(1.5, 1.8))
    height = int(2 * margin + size * 3 + n_lines * pitch)
    page = _setup(rng, width, height)
    title = _sentence(rng, int(rng.integers(8, 14)))
    tsize = int(size * 1.4)
    page.text((width - page.width_of(title, tsize)) / 2, margin, title, tsize)
    top = margin + size * 3
    for col in range(2):
        x = margin + col * (col_w + gutter)
        for i in range(n_lines):
            n = per_line if i < n_lines - 1 else int(rng.integers(3, per_line))
            page.text(x, top + i * pitch, _sentence(rng, n), size)
    return page


_ITEMS = ("办公用品", "打印纸", "技术服务费", "咨询费", "电脑配件", "餐饮服务", "运输费", "维修费",
          "软件许可")
_UNITS = ("个", "箱", "次", "套", "件", "项")


def _invoice(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(20, 26))
    cols = [10 * size, 5 * size, 4 * size, 6 * size, 7 * size]  # 项目名称 规格 数量 单价 金额
    margin = 2 * size
    width = 2 * margin + sum(cols)
    n_items = int(rng.integers(2, 5))
    row_h = int(size * 2.0)
    height = margin * 2 + size * 5 + row_h * (n_items + 4) + size * 3
    page = _setup(rng, width, height)
    title = "增值税普通发票"
    tsize = int(size * 1.6)
    page.text((width - page.width_of(title, tsize)) / 2, margin, title, tsize)
    y = margin + tsize + size
    code = "".join(str(int(d)) for d in rng.integers(0, 10, 12))
    page.text(margin, y, f"发票代码：{code}", size)
    yy, mm, dd = int(rng.integers(2015, 2027)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    date = f"开票日期：{yy}年{mm:02d}月{dd:02d}日"
    page.text(width - margin - page.width_of(date, size), y, date, size)
    top = int(y + size * 2.2)
    xs = [margin + sum(cols[:i]) for i in range(len(cols) + 1)]
    rows = [["项目名称", "规格型号", "数量", "单价", "金额"]]
    total = 0
    for _ in range(n_items):
        qty = int(rng.integers(1, 20))
        price = int(rng.integers(5, 900))
        total += qty * price
        spec = f"{int(rng.integers(1, 99))}{_UNITS[int(rng.integers(6))]}"
        rows.append([_ITEMS[int(rng.integers(len(_ITEMS)))], spec, str(qty), f"{price:.2f}",
                     f"{qty * price:.2f}"])
    rows.append(["合计", "", "", "", f"¥{total:.2f}"])
    thick = int(rng.integers(1, 3))
    for r, cells in enumerate(rows):
        ry = top + r * row_h
        for c, cell in enumerate(cells):
            if cell:
                page.text(xs[c] + size * 0.5, ry + (row_h - size) / 2, cell, size)
    last = top + len(rows) * row_h
    # two rows spanning the table: 价税合计（大写） | amount in words; then the amount in figures
    page.text(xs[0] + size * 0.5, last + (row_h - size) / 2, "价税合计（大写）", size)
    page.text(xs[1] + size * 0.5, last + (row_h - size) / 2, amount_upper(total), size)
    small = f"（小写）¥{total:.2f}"
    sx = xs[-1] - size * 0.5 - page.width_of(small, size)
    page.text(sx, last + row_h + (row_h - size) / 2, small, size)
    bottom = last + 2 * row_h
    for r in range(len(rows) + 3):
        ry = top + r * row_h
        page.draw.line([(xs[0], ry), (xs[-1], ry)], fill=page.ink, width=thick)
    for c, x in enumerate(xs):
        end = bottom if c in (0, len(xs) - 1) else last + row_h if c == 1 else last
        page.draw.line([(x, top), (x, end)], fill=page.ink, width=thick)
    seller = "销售方：" + _sentence(rng, int(rng.integers(4, 8))).rstrip("，。、；：？！") + "有限公司"
    page.text(margin, bottom + size, seller, size)
    return page


_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何林罗高"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂"
_NATIONS = ("汉", "回", "满", "壮", "苗", "蒙古")
_PLACES = ("北京市海淀区中关村大街", "上海市浦东新区世纪大道", "广东省广州市天河区天河路",
           "浙江省杭州市西湖区文三路", "四川省成都市武侯区人民南路", "湖北省武汉市洪山区珞喻路")


def _id_card(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(22, 28))
    width, height = int(size * 34), int(size * 21)
    page = _setup(rng, width, height)
    page.img.paste(int(rng.integers(225, 240)), (0, 0, width, height))
    photo = (int(width * 0.68), int(size * 2.5), int(width * 0.92), int(height * 0.62))
    page.draw.rectangle(photo, fill=page.paper - 20)  # light portrait area: not ink
    x_label, gap = size * 1.5, size * 2.5
    name = _SURNAMES[int(rng.integers(len(_SURNAMES)))] + "".join(
        _GIVEN[int(i)] for i in rng.integers(0, len(_GIVEN), int(rng.integers(1, 3))))
    y = size * 2.0
    pitch = size * 2.2

    def field(label: str, value: str, x: float, yy: float) -> float:
        box = page.text(x, yy, label, size)
        vb = page.text(box[2] + gap, yy, value, size)
        return vb[2]

    field("姓名", name, x_label, y)
    y += pitch
    right = field("性别", "男" if rng.random() < 0.5 else "女", x_label, y)
    field("民族", _NATIONS[int(rng.integers(len(_NATIONS)))], right + gap * 1.4, y)
    y += pitch
    yy, mm, dd = int(rng.integers(1950, 2010)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    field("出生", f"{yy}年{mm}月{dd}日", x_label, y)
    y += pitch
    addr = _PLACES[int(rng.integers(len(_PLACES)))] + f"{int(rng.integers(1, 300))}号"
    split = min(len(addr), 11)
    box = page.text(x_label, y, "住址", size)
    page.text(box[2] + gap, y, addr[:split], size)
    if split < len(addr):
        page.text(box[2] + gap, y + size * 1.5, addr[split:], size)
    y = height - size * 3.0
    number = "".join(str(int(d)) for d in rng.integers(0, 10, 17)) + ("X" if rng.random() < 0.2 else "7")
    field("公民身份号码", number, x_label, y)
    return page


def _vertical(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(26, 34))
    n_cols = int(rng.integers(5, 9))
    per_col = int(rng.integers(8, 14))
    margin, pitch = int(size * 1.5), size * float(rng.uniform(1.7, 2.1))
    width = int(2 * margin + (n_cols - 1) * pitch + size)
    height = int(2 * margin + per_col * size * 1.08)
    page = _setup(rng, width, height)
    for c in range(n_cols):  # right-to-left: the first column is on the right
        x = width - margin - size - c * pitch
        n = per_col if c < n_cols - 1 else int(rng.integers(3, per_col + 1))
        text = "".join(ch for ch in _sentence(rng, n + 3) if "\u4e00" <= ch <= "\u9fff")[:n] or "文字"
        page.vtext(x, margin, text, size)
    return page


def _one_line(rng: np.random.Generator) -> _Page:
    size = int(rng.integers(26, 40))
    text = _sentence(rng, int(rng.integers(6, 18)))
    page0 = _setup(rng, 10, 10)
    w = page0.width_of(text, size)
    margin = int(size * 1.2)
    page = _Page(w + 2 * margin, size + 2 * margin, page0.paper, page0.ink, page0.font, page0.fonts)
    page.text(margin, margin, text, size)
    return page


def _empty(rng: np.random.Generator) -> _Page:
    return _setup(rng, int(rng.integers(400, 900)), int(rng.integers(300, 900)))


def _rotate(image: np.ndarray, lines: list[GTLine], angle: float,
            paper: int) -> tuple[np.ndarray, list[GTLine]]:
    """Rotate the page by `angle` degrees counter-clockwise (canvas expanded), and its boxes with it."""
    out, m = rotate_expanded(image, angle, paper)
    moved = [GTLine((g.points @ m[:, :2].T + m[:, 2]).astype(np.float32), g.text, g.vertical) for g in lines]
    return out, moved


_BUILDERS = {
    "paragraph": _paragraph, "two_column": _two_column, "invoice": _invoice, "id_card": _id_card,
    "vertical": _vertical, "rotated": _paragraph, "skewed": _invoice, "one_line": _one_line, "empty": _empty,
}


def degrade(image: np.ndarray, seed: int = 0) -> np.ndarray:
    """A photo-like copy of a page (H, W, 3) uint8: uneven lighting (a linear gradient darkening one side
    by 25-45%), Gaussian blur (sigma 0.6-1.2), sensor noise (sigma 6) and JPEG at quality 45-65.
    Deterministic for the seed."""
    rng = np.random.default_rng([seed, 7919])
    h, w = image.shape[:2]
    t = math.radians(float(rng.uniform(0, 360)))
    ramp = (np.cos(t) * np.arange(w)[None, :] / w + np.sin(t) * np.arange(h)[:, None] / h)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    light = 1.0 - float(rng.uniform(0.25, 0.45)) * ramp
    out = image.astype(np.float64) * light[:, :, None]
    out = cv2.GaussianBlur(out, (0, 0), float(rng.uniform(0.6, 1.2)))
    out = np.clip(out + rng.normal(0, 6, out.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(45, 66))])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED) if ok else out


def render_page(kind: str, seed: int = 0, photo: bool = False) -> SynthPage:
    """One page of `kind` (see PAGE_KINDS), identical for the same (kind, seed); photo=True passes it
    through degrade() (uneven light, blur, noise, JPEG)."""
    if kind not in _BUILDERS:
        raise ValueError(f"unknown page kind {kind!r}; choose from {', '.join(PAGE_KINDS)}")
    rng = np.random.default_rng([seed, PAGE_KINDS.index(kind)])
    page = _BUILDERS[kind](rng)
    gray = np.asarray(page.img, dtype=np.uint8)
    if kind != "empty" and rng.random() < 0.5:  # mild sensor noise on half the pages
        noise = rng.normal(0, 4, gray.shape)
        gray = np.clip(gray.astype(np.float64) + noise, 0, 255).astype(np.uint8)
    image = np.repeat(gray[:, :, None], 3, axis=2)
    lines, angle = list(page.lines), 0.0
    if kind in ("rotated", "skewed"):
        mag = float(rng.uniform(1.5, 5.0)) if kind == "rotated" else float(rng.uniform(1.0, 3.0))
        angle = round(mag * (1 if rng.random() < 0.5 else -1), 2)
        image, lines = _rotate(image, lines, angle, page.paper)
    if photo:
        image = degrade(image, seed)
    return SynthPage(kind, seed, np.ascontiguousarray(image), tuple(lines), angle)


def sample_pages(n: int, seed: int = 0, kinds: tuple[str, ...] = PAGE_KINDS,
                 photo: bool = False) -> list[SynthPage]:
    """n pages cycling through `kinds`, page i rendered with seed + i (photo: see render_page)."""
    return [render_page(kinds[i % len(kinds)], seed + i, photo) for i in range(n)]


def stack_lines(images: list[np.ndarray], gap: int = 12, margin: int = 20,
                background: int = 255) -> tuple[np.ndarray, list[np.ndarray]]:
    """Line images (each (h, w, 3) uint8) stacked top to bottom, left-aligned, on a plain background.

    Returns the page (H, W, 3) uint8 and each line's box (4, 2) float32 in page pixels.
    """
    if not images:
        raise ValueError("no line images to stack")
    width = max(im.shape[1] for im in images) + 2 * margin
    height = sum(im.shape[0] for im in images) + gap * (len(images) - 1) + 2 * margin
    page = np.full((height, width, 3), background, dtype=np.uint8)
    boxes, y = [], margin
    for im in images:
        h, w = im.shape[:2]
        page[y:y + h, margin:margin + w] = im[:, :, :3] if im.ndim == 3 else im[:, :, None]
        corners = [[margin, y], [margin + w, y], [margin + w, y + h], [margin, y + h]]
        boxes.append(np.array(corners, np.float32))
        y += h + gap
    return page, boxes
