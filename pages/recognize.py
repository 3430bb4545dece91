"""Recognize: one line image through every preprocessing stage to text coloured by confidence."""

from __future__ import annotations

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ocr.errors import OCRError
from ocr.evaluation.metrics import cer
from ocr.pipeline import Recognition, recognize
from ui.inputs import STAGE_TITLES, display_image, image_picker, preprocess_config_from_state, stage_controls
from ui.render import (
    confidence_html,
    confidence_legend_html,
    diff_html,
    plain_text_html,
    stage_image_html,
    timings_html,
)
from ui.resources import get_engine
from ui.sidebar import current_settings, ensure_navigation

PREFIX = "rec"


def _result(box: DeltaGenerator, rec: Recognition, label: str | None) -> None:
    """The recognized text, coloured per character, with timings and (for a labelled sample) the diff."""
    with box:
        st.subheader("Recognized text")
        if rec.best is not None:
            best = rec.best
            chars = [rec.charset[i] for i in best.labels]
            st.html(confidence_html(chars, best.confidences))
            st.html(confidence_legend_html())
        else:
            st.html(confidence_html(list(rec.text), [1.0] * len(rec.text)))
            st.caption("This engine returns text only: no per-character confidence (shown as 1.0).")
        # Plain selectable text; st.code's syntax highlighter would add ~0.6 s to the first render.
        st.html(plain_text_html(rec.text))
        conf = rec.best.mean_confidence if rec.best is not None else None
        st.html(timings_html(rec.timings, rec.elapsed_ms, conf))
        if label is not None:
            ref_html, hyp_html = diff_html(label, rec.text)
            score = cer(label, rec.text)
            st.html(f'<div style="font-size:18px">label: {ref_html}<br>output: {hyp_html}'
                    f'<br><span style="font-size:13px;color:#555">CER {score:.3f} '
                    "(NFKC, spaces ignored)</span></div>")


def main() -> None:
    ensure_navigation()
    st.title("Recognize")
    st.caption("A single text line: each preprocessing stage is shown next to its switch, then the text the "
               "chosen engine and decoder (sidebar) read, each character coloured by its confidence.")
    picked = image_picker(PREFIX)
    settings = current_settings()
    if picked is None:
        return
    if not settings.engine_ok:
        st.error(f"The engine {settings.engine!r} is unavailable here: {settings.engine_reason}. "
                 "Choose another engine in the sidebar.")
        return

    result_box = st.container(border=True)
    st.subheader("Preprocessing")
    rows = ["input", *STAGE_TITLES, "resize + pad"]
    image_slots = {}
    for stage in rows:
        # A bordered box per row, not st.divider: seven markdown rules cost ~0.5 s of browser rendering.
        left, right = st.container(border=True).columns([1, 3], vertical_alignment="center")
        with left:
            if stage == "input":
                st.markdown(f"**Input** · {picked.name}")
            elif stage == "resize + pad":
                st.markdown("**Model input** (resize + pad)")
            else:
                stage_controls(PREFIX, stage)
        image_slots[stage] = right.empty()

    config = preprocess_config_from_state(PREFIX)
    try:
        engine = get_engine(settings.engine)
        rec = recognize(picked.image, engine, settings.decoder_config(), config)
    except (OCRError, ValueError) as exc:
        result_box.error(f"Recognition failed: {exc}")
        return

    shown = set()
    for stage in rec.pre.stages:
        slot = image_slots.get(stage.name)
        if slot is None:  # a stage this page has no row for: add it at the end
            slot = st.container()
            slot.markdown(f"**{stage.name}**")
        slot.html(stage_image_html(display_image(stage.image), stage.detail))
        shown.add(stage.name)
    for stage, slot in image_slots.items():
        if stage not in shown:
            slot.caption("off — the image passes through unchanged")
    _result(result_box, rec, picked.label)
    st.caption(f"Engine: {settings.engine} · decoder: {settings.decoder_label}")


main()
