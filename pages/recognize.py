"""Recognize: one line image through every preprocessing stage to text coloured by confidence."""

from __future__ import annotations

import numpy as np
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from ocr.errors import OCRError
from ocr.evaluation.metrics import cer
from ocr.pipeline import Recognition
from ui.current import CurrentImage, array_key, get_current, set_current, set_page
from ui.inputs import (
    STAGE_TITLES,
    PickedImage,
    display_image,
    pick_image,
    picker_widgets,
    preprocess_config_from_state,
    stage_controls,
)
from ui.paint import pause_after_first_text
from ui.render import (
    confidence_html,
    confidence_legend_html,
    deleted_share,
    diff_html,
    plain_text_html,
    stage_image_html,
    timings_html,
)
from ui.resources import cached_recognition, upside_down_probability
from ui.sidebar import current_settings, ensure_navigation

PREFIX = "rec"


DELETION_WARNING = 0.3  # warn when the chosen decoder leaves out this share of the greedy characters
PAGE_LIKE_HEIGHT = 160  # px: a line image this tall and not wide is more likely a whole page


def looks_like_page(image: np.ndarray) -> bool:
    """A whole page uploaded as a line: tall (≥ PAGE_LIKE_HEIGHT px) and less than 3 times wider than tall."""
    h, w = image.shape[:2]
    return h >= PAGE_LIKE_HEIGHT and w < 3 * h


def _result(box: DeltaGenerator, rec: Recognition, label: str | None) -> None:
    """The recognized text, coloured per character, with timings and (for a labelled sample) the diff."""
    with box:
        st.subheader("Recognized text")
        best = rec.best
        if best is not None and best.labels:
            chars = [rec.charset[i] for i in best.labels]
            st.html(confidence_html(chars, best.confidences))
            st.html(confidence_legend_html())
        elif best is not None:
            st.html(confidence_html([], []))
        else:
            st.html(confidence_html(list(rec.text), None))
            st.caption("This engine returns text only: it gives no per-character confidence, so the "
                       "characters are grey.")
        if best is not None and rec.logprobs is not None and rec.decoder != "greedy":
            from ocr.decoding import DecoderConfig, decode

            greedy = decode(rec.logprobs, rec.charset, DecoderConfig(method="greedy"))
            greedy_text = greedy[0].text if greedy else ""
            share = deleted_share(greedy_text, rec.text)
            if share >= DELETION_WARNING and len(greedy_text) >= 2:
                st.warning(f"The {rec.decoder} decoder left out {share:.0%} of the characters the greedy "
                           f"path reads ({greedy_text!r} → {rec.text!r}). Mean confidence only scores the "
                           "characters that remain: lower the LM weight α or raise the length bonus β.")
        # Plain selectable text; st.code's syntax highlighter would add ~0.6 s to the first render.
        st.html(plain_text_html(rec.text))
        conf = best.mean_confidence if best is not None and best.labels else None
        st.html(timings_html(rec.timings, rec.elapsed_ms, conf))
        if label is not None:
            ref_html, hyp_html = diff_html(label, rec.text)
            score = cer(label, rec.text)
            st.html(f'<div style="font-size:18px">label: {ref_html}<br>output: {hyp_html}'
                    f'<br><span style="font-size:13px;color:#555">CER {score:.3f} '
                    "(NFKC, spaces ignored)</span></div>")


def _upside_down_hint(picked: PickedImage) -> None:
    """Offer to turn the line when the 0°/180° classifier finds it upside down (p ≥ FLIP_LINE_P)."""
    from ocr.documents.orientation import FLIP_LINE_P

    p = upside_down_probability(picked.key, picked.image)
    if p is None or p < FLIP_LINE_P:
        return
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.warning(f"This line looks upside down (0°/180° line classifier: p = {p:.2f}). The engines read "
                 "left to right, top up.")
    if right.button("Turn it 180°", key=f"{PREFIX}_turn"):
        current = get_current()
        if current is not None:
            turned = np.ascontiguousarray(current.image[::-1, ::-1])
            set_current(CurrentImage(f"{current.name} (turned 180°)", array_key(turned), turned,
                                     f"{current.source}, turned 180°", current.label))
        st.rerun()


def _page_hint(picked: PickedImage) -> None:
    """Point to the Document page when the image looks like a whole page rather than a line."""
    h, w = picked.image.shape[:2]
    left, right = st.columns([4, 1], vertical_alignment="center")
    left.warning(f"This image is {w}×{h} px: more like a whole page than one text line. A line engine reads "
                 "one row of text; the Document page finds the lines first.")
    if right.button("Read it as a page", key=f"{PREFIX}_to_document"):
        current = get_current()
        if current is not None:
            set_page(current)
            st.session_state["doc_source"] = "Upload"  # the Document page's choice that shows the kept page
        st.switch_page("pages/document.py")


def main() -> None:
    ensure_navigation()
    st.title("Recognize")
    st.caption("A single text line: the text the chosen engine and decoder (sidebar) read, each character "
               "coloured by its confidence, then every preprocessing stage next to its switch.")
    picker_box = st.container()  # the picker's place; its widgets come after the result (ui/paint.py)
    picked = pick_image()
    _read(picked)
    with picker_box:
        picker_widgets()


def _read(picked: PickedImage | None) -> None:
    """Hints, the recognized text, then the preprocessing stage rows of the current image."""
    settings = current_settings()
    if picked is None:
        return
    if looks_like_page(picked.image):
        _page_hint(picked)
    else:
        _upside_down_hint(picked)
    if not settings.engine_ok:
        st.error(f"The engine {settings.engine!r} is unavailable here: {settings.engine_reason}. "
                 "Choose another engine in the sidebar.")
        return

    # The result first, in the order the browser receives elements: it paints before the stage rows
    # arrive. The stage switches' values are already in session state (defaults before the first run).
    config = preprocess_config_from_state(PREFIX)
    result_box = st.container(border=True)
    try:
        rec = cached_recognition(picked.key, picked.image, settings.engine, config, settings.decoder_config())
    except (OCRError, ValueError) as exc:
        result_box.error(f"Recognition failed: {exc}")
        return
    _result(result_box, rec, picked.label)
    pause_after_first_text()  # the widgets below (and the picker, header and sidebar) come after a pause
    st.caption(f"Engine: {settings.engine} · decoder: {settings.decoder_label}")

    st.subheader("Preprocessing")
    stages = {stage.name: stage for stage in rec.pre.stages}
    for row in ["input", *STAGE_TITLES, "resize + pad"]:
        # A bordered box per row, not st.divider: seven markdown rules cost ~0.5 s of browser rendering.
        left, right = st.container(border=True).columns([1, 3], vertical_alignment="center")
        with left:
            if row == "input":
                st.markdown(f"**Input** · {picked.name}")
            elif row == "resize + pad":
                st.markdown("**Model input** (resize + pad)")
            else:
                stage_controls(PREFIX, row)
        stage = stages.pop(row, None)
        if stage is not None:
            right.html(stage_image_html(display_image(stage.image), stage.detail))
        else:
            right.caption("off — the image passes through unchanged")
    for stage in stages.values():  # a stage this page has no row for: add it at the end
        st.markdown(f"**{stage.name}**")
        st.html(stage_image_html(display_image(stage.image), stage.detail))

main()
