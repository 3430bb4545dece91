"""HTML snippets for st.html: every piece of user or model text is escaped here."""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Mapping, Sequence

import numpy as np
from PIL import Image

from ocr.evaluation.metrics import diff_ops

__all__ = [
    "confidence_color",
    "confidence_html",
    "confidence_legend_html",
    "deleted_share",
    "diff_html",
    "plain_text_html",
    "png_data_uri",
    "stage_image_html",
    "thumbnail_uri",
    "timings_html",
]

_CJK_FONT = "'Noto Sans CJK SC','Noto Sans SC','WenQuanYi Zen Hei','Microsoft YaHei',sans-serif"


def confidence_color(conf: float) -> str:
    """Background colour for a confidence in [0, 1]: red (0) → amber (0.5) → green (1), pale."""
    c = min(max(float(conf), 0.0), 1.0)
    hue = 120.0 * c  # 0 = red, 60 = amber, 120 = green
    return f"hsl({hue:.0f}, 75%, 82%)"


NO_CONFIDENCE_COLOR = "#e4e2de"  # grey: the engine gives no per-character confidence


def confidence_html(chars: Sequence[str], confidences: Sequence[float] | None, size_px: int = 30) -> str:
    """Each character on a background coloured by its confidence; the tooltip gives the value.
    confidences None (a text-only engine): every character grey, the tooltip says there is no score."""
    spans = []
    for i, ch in enumerate(chars):
        shown = html.escape(ch) if ch.strip() else "&nbsp;"
        if confidences is None:
            title, color = f"{html.escape(ch)} (no confidence)", NO_CONFIDENCE_COLOR
            cls = "ocr-char ocr-noconf"
        else:
            conf = float(confidences[i])
            title, color, cls = f"{html.escape(ch)} {conf:.3f}", confidence_color(conf), "ocr-char"
        spans.append(
            f'<span class="{cls}" title="{title}" style="background:{color};padding:2px 1px;margin:0 1px;'
            f'border-radius:3px">{shown}</span>'
        )
    body = "".join(spans) or '<span style="color:#888">(nothing recognized)</span>'
    return (f'<div class="ocr-text" style="font-family:{_CJK_FONT};font-size:{size_px}px;'
            f'line-height:1.7;word-break:break-all">{body}</div>')


def plain_text_html(text: str) -> str:
    """The text as a plain, selectable block (for copying), monospace-free so CJK stays readable."""
    body = html.escape(text) if text else '<span style="color:#888">(empty)</span>'
    return (f'<pre class="ocr-plain" style="font-family:{_CJK_FONT};font-size:16px;background:#f4f1ec;'
            f'padding:8px 12px;border-radius:6px;white-space:pre-wrap;word-break:break-all;'
            f'user-select:all;margin:0">{body}</pre>')


def timings_html(timings: Mapping[str, float], total_ms: float, mean_confidence: float | None) -> str:
    """One row of labelled figures: each stage's ms, the total, and the mean confidence ("—" if none).

    Plain HTML rather than st.metric: five metric widgets cost a visible share of the page's first render.
    """
    items = [(name, f"{ms:.1f} ms") for name, ms in timings.items()]
    items.append(("total", f"{total_ms:.1f} ms"))
    items.append(("mean confidence", "—" if mean_confidence is None else f"{mean_confidence:.3f}"))
    cells = "".join(
        f'<div class="ocr-figure" style="margin-right:28px"><div class="ocr-figure-name" '
        f'style="font-size:13px;color:#555">{html.escape(name)}</div>'
        f'<div class="ocr-figure-value" style="font-size:24px">{html.escape(value)}</div></div>'
        for name, value in items
    )
    return f'<div class="ocr-timings" style="display:flex;flex-wrap:wrap">{cells}</div>'


def confidence_legend_html() -> str:
    """A small legend for confidence_html."""
    steps = "".join(
        f'<span style="background:{confidence_color(v)};padding:1px 6px;margin-right:2px">{v:.1f}</span>'
        for v in (0.0, 0.25, 0.5, 0.75, 1.0)
    )
    grey = f'<span style="background:{NO_CONFIDENCE_COLOR};padding:1px 6px">none</span>'
    return f'<div style="font-size:12px;color:#555">confidence: {steps} · {grey} (text-only engine)</div>'


def deleted_share(greedy: str, text: str) -> float:
    """Share of the greedy reading's characters that `text` (another decoder's reading) leaves out:
    deletions in the alignment of greedy to text, over len(greedy); 0.0 for an empty greedy reading."""
    if not greedy:
        return 0.0
    deleted = 0
    for tag, g0, g1, t0, t1 in diff_ops(greedy, text):
        if tag == "delete":
            deleted += g1 - g0
        elif tag == "replace":
            deleted += max(0, (g1 - g0) - (t1 - t0))
    return deleted / len(greedy)


_MARK = {
    "ins": "background:#cde8ff;text-decoration:underline",
    "del": "background:#ffd6d6;text-decoration:line-through",
    "sub": "background:#ffe9a8",
    "norm": "text-decoration:underline dotted #999",  # differs only before normalisation
}
_NORM_TITLE = "differs only before normalisation (NFKC, spaces): not counted as an error"


def _mark(text: str, style: str | None) -> str:
    esc = html.escape(text)
    if not style:
        return esc
    title = f' title="{_NORM_TITLE}"' if style == "norm" else ""
    return f'<span class="diff-{style}" style="{_MARK[style]}"{title}>{esc}</span>'


def diff_html(ref: str, hyp: str, counted: bool = True) -> tuple[str, str]:
    """(ref HTML, hyp HTML) with differing characters marked: substitutions amber, characters missing
    from hyp struck through red in ref, extra characters in hyp underlined blue.

    counted=False (the texts are equal after the metric's normalisation, e.g. ',' vs '，'): every
    difference gets a dotted underline instead, since it is not scored as an error.
    """
    ref_parts: list[str] = []
    hyp_parts: list[str] = []
    for tag, r0, r1, h0, h1 in diff_ops(ref, hyp):
        style = {"equal": None, "replace": "sub", "delete": "del", "insert": "ins"}[tag]
        if style and not counted:
            style = "norm"
        if tag != "insert":
            ref_parts.append(_mark(ref[r0:r1], style))
        if tag != "delete":
            hyp_parts.append(_mark(hyp[h0:h1], style))
    return "".join(ref_parts), "".join(hyp_parts)


def png_data_uri(image: np.ndarray) -> str:
    """A data: URI of a PNG of an (H, W) or (H, W, 3) uint8 image."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buf, format="PNG", optimize=False)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def stage_image_html(image: np.ndarray, caption: str, max_width: int = 1600) -> str:
    """A preprocessing stage as an <img class="ocr-stage"> (PNG data URI, at most max_width px wide,
    pixels kept sharp) with its caption below.

    One st.html per stage instead of st.image: Streamlit's image element (toolbar, fullscreen wrapper,
    resize observer) made the Recognize page's first render ~0.6 s slower in headless Chromium.
    """
    h, w = image.shape[:2]
    if w > max_width:
        small = Image.fromarray(np.ascontiguousarray(image))
        image = np.asarray(small.resize((max_width, max(1, round(h * max_width / w))), Image.Resampling.BOX))
    return (f'<img class="ocr-stage" alt="{html.escape(caption)}" src="{png_data_uri(image)}" '
            'style="max-width:100%;image-rendering:pixelated">'
            f'<div class="ocr-stage-caption" style="font-size:13px;color:#555">{html.escape(caption)}</div>')


def thumbnail_uri(image: np.ndarray, height: int = 28, max_width: int = 360) -> str:
    """A small PNG data: URI of a line image, `height` px high, at most `max_width` px wide."""
    h, w = image.shape[:2]
    scale = height / max(h, 1)
    new_w = max(1, min(max_width, round(w * scale)))
    small = Image.fromarray(np.ascontiguousarray(image)).resize((new_w, height), Image.Resampling.BILINEAR)
    return png_data_uri(np.asarray(small))
