"""Streamlit helpers for the Document page: settings from the shared sidebar, cached page reading,
the page figure (image + box outlines) and the TXT/JSON exports.

Pure builders (figure, exports) take arrays and results and return values; the cached functions key on
content digests, never on the arrays themselves.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from ocr.documents.detectors import DETECTORS, Detector, load_detector
from ocr.documents.synth_pages import SynthPage, render_page
from ui.render import png_data_uri

if TYPE_CHECKING:
    from ocr.decoding import DecoderConfig
    from ocr.documents.page import PageResult

__all__ = [
    "cached_read",
    "cached_sample",
    "export_json",
    "export_txt",
    "get_detector",
    "line_label",
    "page_figure",
]


@st.cache_resource(show_spinner="Loading the detector…")
def get_detector(name: str) -> Detector:
    """The detector, loaded once per process. Raises EngineUnavailable (not cached) with the reason."""
    return load_detector(name)


@st.cache_data(max_entries=16, show_spinner="Rendering the sample page…")
def cached_sample(kind: str, seed: int) -> SynthPage:
    """A rendered sample page (deterministic for kind, seed)."""
    return render_page(kind, seed)


@st.cache_data(max_entries=8, show_spinner="Reading the page…")
def _read(image_key: str, _image: np.ndarray, detector: str, engine: str,
          decoder_key: tuple[tuple[str, object], ...]) -> PageResult:
    from ocr.decoding import DecoderConfig
    from ocr.documents.page import read_page
    from ui.resources import get_engine

    config = DecoderConfig(**dict(decoder_key))  # type: ignore[arg-type]
    return read_page(_image, get_engine(engine), get_detector(detector), config)


def cached_read(image_key: str, image: np.ndarray, detector: str, engine: str,
                decoder: DecoderConfig) -> PageResult:
    """read_page cached per (image content key, detector, engine, decoder settings): the sidebar's engine
    and decoder settings (ui.sidebar.Settings.decoder_config()), as every other page uses them."""
    if detector not in DETECTORS:
        raise ValueError(f"unknown detector {detector!r}")
    return _read(image_key, image, detector, engine, tuple(sorted(asdict(decoder).items())))


def line_label(i: int, text: str, width: int = 28) -> str:
    """How a line is listed: its number and the start of its text."""
    shown = text if len(text) <= width else text[: width - 1] + "…"
    return f"{i + 1}. {shown or '(nothing read)'}"


def page_figure(image: np.ndarray, boxes: list[np.ndarray], texts: list[str], selected: int | None = None,
                max_width: int = 1400) -> go.Figure:
    """The page (H, W, 3) uint8 with each box (4, 2) outlined and numbered in reading order; the selected
    line is drawn thicker in another colour. Hovering a box shows its text."""
    h, w = image.shape[:2]
    fig = go.Figure()
    fig.add_trace(go.Image(source=png_data_uri(image), x0=0, y0=0, dx=1, dy=1, hoverinfo="skip"))
    for i, (pts, text) in enumerate(zip(boxes, texts, strict=True)):
        closed = np.vstack([pts, pts[:1]])
        chosen = i == selected
        fig.add_trace(go.Scatter(
            x=closed[:, 0], y=closed[:, 1], mode="lines", fill="toself",
            fillcolor="rgba(255,200,0,0.18)" if chosen else "rgba(220,40,40,0.04)",
            line={"color": "#f59e0b" if chosen else "#dc2626", "width": 4 if chosen else 2},
            name=f"{i + 1}", hoveron="fills", hoverinfo="text", text=f"{i + 1}. {text}", showlegend=False,
        ))
        fig.add_annotation(x=float(pts[0, 0]), y=float(pts[0, 1]), text=str(i + 1), showarrow=False,
                           xanchor="right", yanchor="bottom", font={"size": 11, "color": "#dc2626"})
    scale = min(1.0, max_width / max(w, 1))
    fig.update_xaxes(visible=False, range=[0, w])
    fig.update_yaxes(visible=False, range=[h, 0], scaleanchor="x")
    fig.update_layout(margin={"l": 0, "r": 0, "t": 0, "b": 0}, height=int(max(h * scale, 200)),
                      dragmode="pan")
    return fig


def export_txt(result: PageResult) -> str:
    """The page text in reading order, one line per line, newline-terminated."""
    return result.text + ("\n" if result.text else "")


def export_json(result: PageResult) -> str:
    """result.to_dict() as pretty UTF-8 JSON."""
    return json.dumps(result.to_dict(), ensure_ascii=False, indent=2)
