"""CTC inspector: the model input above its per-timestep probabilities, and the decoders compared.

The model's (T, C) matrix is cached per (image, engine, preprocessing); decoder outputs per decoder
settings. A slider change only redoes the cheap plotting (and decoding, when a decoder setting moved).
"""

from __future__ import annotations

import html

import numpy as np
import pandas as pd
import streamlit as st

from ocr.decoding import DECODER_TITLES, DECODERS
from ocr.engines.registry import ENGINES
from ocr.errors import OCRError
from ocr.evaluation.metrics import diff_ops
from ocr.types import Decoded
from ui.figures import char_label, ctc_figure
from ui.inputs import STAGE_TITLES, image_picker, preprocess_config_from_state, stage_controls
from ui.resources import cached_decode, cached_matrix, get_engine
from ui.sidebar import current_settings, ensure_navigation

PREFIX = "insp"
LEGEND = ("**How to read it:** darker cells = higher probability of that class at that timestep. "
          "Red dots joined by a line: the greedy path (the most probable class at each timestep, drawn "
          "where that class is one of the rows). Red boxes on the image: the timesteps each character of "
          "the chosen decoder's best reading spans, with the character above its box.")


def _marked(greedy: str, text: str) -> str:
    """text as HTML with the characters that differ from the greedy output highlighted."""
    out = []
    for tag, _g0, _g1, t0, t1 in diff_ops(greedy, text):
        part = html.escape(text[t0:t1])
        out.append(part if tag == "equal" else f'<mark style="background:#ffe08a">{part}</mark>')
    return "".join(out)


def _decoder_column(method: str, nbest: list[Decoded], ms: float, greedy_text: str) -> None:
    best = nbest[0] if nbest else None
    text = best.text if best is not None else ""
    same = text == greedy_text
    badge = "" if method == "greedy" else (" · agrees with greedy" if same else " · **differs from greedy**")
    st.markdown(f"**{DECODER_TITLES[method]}**{badge}")
    st.html(f'<div class="insp-best insp-{method}" style="font-size:24px;line-height:1.6">'
            f'{_marked(greedy_text, text) or "&nbsp;"}</div>')
    st.caption(f"decode {ms:.1f} ms · score {best.score:.3f}" if best is not None else "no output")


@st.fragment
def _heatmap(model_image: np.ndarray, logprobs: np.ndarray, charset: tuple[str, ...],
             best: Decoded | None) -> None:
    """The K slider, the span switch and the figure: a fragment, so moving the slider reruns only this
    (the matrix and decoder outputs come in as arguments, already computed)."""
    st.session_state.setdefault(f"{PREFIX}_k", 12)
    k_col, span_col = st.columns([3, 2])
    k = k_col.slider("Rows: blank + top-K characters by peak probability", 1, 40, key=f"{PREFIX}_k")
    st.session_state.setdefault(f"{PREFIX}_show_spans", True)
    show_spans = span_col.toggle("Outline the chosen decoder's character spans on the image",
                                 key=f"{PREFIX}_show_spans")
    spans = best.spans if (best is not None and show_spans) else ()
    chars = [charset[i] for i in best.labels] if (best is not None and show_spans) else []
    with st.spinner("Drawing the probability heatmap…"):
        fig = ctc_figure(model_image, logprobs, charset, k=k, spans=spans, span_chars=chars)
    if fig.layout.width:  # a long line at its true proportions: the chart scrolls sideways
        st.html("<style>.st-key-insp_plot{overflow-x:auto}</style>")
    with st.container(key=f"{PREFIX}_plot"):
        st.plotly_chart(fig, key=f"{PREFIX}_heatmap", config={"displaylogo": False},
                        width="content" if fig.layout.width else "stretch")
    st.caption(LEGEND)


def main() -> None:
    ensure_navigation()
    st.title("CTC inspector")
    st.caption("What the model sees, what it outputs at each timestep, and how greedy, beam and beam + LM "
               "decoding read the same matrix.")
    settings = current_settings()
    info = ENGINES[settings.engine]
    if not info.has_ctc:
        st.info(f"{info.title} returns text only, with no CTC matrix to inspect. Choose a CTC engine "
                f"({', '.join(ENGINES[n].title for n in ENGINES if ENGINES[n].has_ctc)}) in the sidebar.")
        return
    if not settings.engine_ok:
        st.error(f"The engine {settings.engine!r} is unavailable here: {settings.engine_reason}. "
                 "Choose another engine in the sidebar.")
        return
    picked = image_picker(PREFIX)
    if picked is None:
        return
    with st.expander("Preprocessing", expanded=False):
        cols = st.columns(len(STAGE_TITLES))
        for col, stage in zip(cols, STAGE_TITLES, strict=True):
            with col:
                stage_controls(PREFIX, stage)
    config = preprocess_config_from_state(PREFIX)

    try:
        engine = get_engine(settings.engine)
        result = cached_matrix(picked.key, picked.image, settings.engine, config)
    except (OCRError, ValueError) as exc:
        st.error(f"The model could not run on {picked.name}: {exc}")
        return
    logprobs = result.logprobs
    if logprobs is None or logprobs.shape[0] == 0:
        st.warning("The model produced no timesteps for this image.")
        return
    charset = engine.charset

    decoded: dict[str, tuple[list[Decoded], float]] = {}
    errors: dict[str, str] = {}
    for method in DECODERS:
        try:
            decoded[method] = cached_decode(picked.key, picked.image, settings.engine, config,
                                            settings.decoder_config(method))
        except (OCRError, OSError, ValueError) as exc:
            errors[method] = str(exc)
    chosen = decoded.get(settings.decoder) or decoded.get("greedy")
    best = chosen[0][0] if chosen and chosen[0] else None

    t_steps, classes = logprobs.shape
    st.caption(f"{picked.name} · model input {result.pre.model_image.shape[1]}×"
               f"{result.pre.model_image.shape[0]} px (content {result.pre.content_width} px) → "
               f"T = {t_steps} timesteps × {classes} classes · model {result.model_ms:.0f} ms "
               "(cached per image, engine and preprocessing)")
    _heatmap(result.pre.model_image, logprobs, charset, best)

    st.subheader("Decoders side by side")
    greedy_text = decoded["greedy"][0][0].text if decoded.get("greedy") and decoded["greedy"][0] else ""
    cols = st.columns(len(DECODERS))
    for col, method in zip(cols, DECODERS, strict=True):
        with col:
            if method in decoded:
                nbest, ms = decoded[method]
                _decoder_column(method, nbest, ms, greedy_text)
            else:
                st.markdown(f"**{DECODER_TITLES[method]}**")
                st.error(f"{DECODER_TITLES[method]} failed: {errors[method]}")
    st.caption(f"Beam width {settings.beam_width}, LM weight {settings.lm_weight:g}, length bonus "
               f"{settings.length_bonus:g} (sidebar). "
               "Highlighted characters differ from the greedy output.")
    # One full-width table of every decoder's N best (three narrow tables cut their texts off).
    nbest_rows = [{"decoder": DECODER_TITLES[method], "#": i + 1, "text": d.text,
                   "log score": round(d.score, 4),
                   "mean conf": round(d.mean_confidence, 3) if d.labels else None}
                  for method, (nbest, _ms) in decoded.items() for i, d in enumerate(nbest)]
    st.dataframe(pd.DataFrame(nbest_rows), hide_index=True, width="stretch",
                 column_config={"text": st.column_config.TextColumn("text", width="large")})

    st.subheader(f"Per character ({DECODER_TITLES.get(settings.decoder, settings.decoder)})")
    if best is None or not best.labels:
        st.info("Nothing decoded.")
        return
    table = pd.DataFrame([
        {"char": char_label(charset, lab), "confidence": round(float(c), 4), "start": s, "end": e,
         "frames": e - s}
        for lab, c, (s, e) in zip(best.labels, best.confidences, best.spans, strict=True)
    ])
    st.dataframe(table, hide_index=False, width="stretch",
                 column_config={"confidence": st.column_config.ProgressColumn(
                     "confidence", min_value=0.0, max_value=1.0, format="%.3f")})


main()
