"""The shared sidebar (engine, decoder, beam width, LM weight), rendered by app.py on every page.

Pages read the choice with current_settings(); decoder settings travel as call arguments
(Settings.decoder_config), never as state on a loaded model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import streamlit as st

from ocr.decoding import DECODER_TITLES, DECODERS
from ocr.engines.registry import ENGINES
from ui.resources import default_engine_name, engine_status

if TYPE_CHECKING:
    from ocr.decoding import DecoderConfig

__all__ = [
    "Settings",
    "current_settings",
    "ensure_navigation",
    "keep_page_state",
    "render_sidebar",
]

KEY_ENGINE, KEY_DECODER, KEY_BEAM, KEY_LM = "sb_engine", "sb_decoder", "sb_beam_width", "sb_lm_weight"
KEY_BONUS = "sb_length_bonus"


@dataclass(frozen=True)
class Settings:
    """The sidebar's choice. engine_ok False means the engine cannot load here (reason says why)."""

    engine: str
    engine_ok: bool
    engine_reason: str
    has_ctc: bool
    decoder: str
    beam_width: int
    lm_weight: float
    length_bonus: float

    def decoder_config(self, method: str | None = None) -> DecoderConfig:
        """A DecoderConfig for `method` (default: the sidebar's decoder) with the sidebar's beam width,
        LM weight and length bonus."""
        from ocr.decoding import DecoderConfig

        return DecoderConfig.from_options(method or self.decoder, beam_width=self.beam_width,
                                          lm_weight=self.lm_weight, length_bonus=self.length_bonus)

    @property
    def decoder_label(self) -> str:
        return DECODER_TITLES[self.decoder] if self.has_ctc else "text only"


def _defaults() -> None:
    from ocr.decoding import DecoderConfig

    library = DecoderConfig()
    st.session_state.setdefault(KEY_ENGINE, default_engine_name() or next(iter(ENGINES)))
    st.session_state.setdefault(KEY_DECODER, library.method)
    st.session_state.setdefault(KEY_BEAM, library.beam_width)
    st.session_state.setdefault(KEY_LM, float(library.lm_weight))
    st.session_state.setdefault(KEY_BONUS, float(library.length_bonus))


def current_settings() -> Settings:
    """The sidebar's current values (defaults if the sidebar has not been drawn yet)."""
    _defaults()
    status = engine_status()
    name = st.session_state[KEY_ENGINE]
    if name not in ENGINES:
        name = next(iter(ENGINES))
    ok, reason = status.get(name, (False, "not registered"))
    return Settings(
        engine=name, engine_ok=ok, engine_reason=reason, has_ctc=ENGINES[name].has_ctc,
        decoder=st.session_state[KEY_DECODER], beam_width=int(st.session_state[KEY_BEAM]),
        lm_weight=float(st.session_state[KEY_LM]), length_bonus=float(st.session_state[KEY_BONUS]),
    )


def _engine_label(name: str) -> str:
    ok, _ = engine_status()[name]
    info = ENGINES[name]
    suffix = "" if ok else " — unavailable"
    kind = "" if info.has_ctc else " (text only)"
    return f"{info.title}{kind}{suffix}"


def render_sidebar() -> Settings:
    """Draw the shared sidebar and return its settings."""
    _defaults()
    status = engine_status()
    with st.sidebar:
        st.header("Recognizer")
        st.selectbox("Engine", list(ENGINES), key=KEY_ENGINE, format_func=_engine_label,
                     help="Every registered engine is listed; unavailable ones cannot be used here.")
        name = st.session_state[KEY_ENGINE]
        st.caption(ENGINES[name].summary)
        ok, reason = status[name]
        if not ok:
            st.error(f"{ENGINES[name].title} is unavailable: {reason}")
        missing = [(n, r) for n, (o, r) in status.items() if not o]
        if missing:
            with st.expander(f"{len(missing)} engine(s) unavailable here"):
                for n, r in missing:
                    st.caption(f"**{ENGINES[n].title}**: {r}")

        st.header("Decoder")
        text_only = not ENGINES[name].has_ctc
        st.radio("Decoding", DECODERS, key=KEY_DECODER, format_func=DECODER_TITLES.__getitem__,
                 disabled=text_only, horizontal=True)
        if text_only:
            st.caption(f"{ENGINES[name].title} returns text only (no CTC matrix): decoder settings do "
                       "not apply.")
        decoder = st.session_state[KEY_DECODER]
        st.slider("Beam width", 1, 50, key=KEY_BEAM, disabled=text_only or decoder == "greedy",
                  help="Prefixes kept per timestep by the CTC prefix beam search.")
        st.slider("LM weight (α)", 0.0, 2.0, step=0.05, key=KEY_LM,
                  disabled=text_only or decoder != "beam_lm",
                  help="Weight of the character language model when beam + LM re-chooses the characters the "
                       "recognizer hesitated over (default 0.6; 0 = plain beam search).")
        st.slider("Length bonus (β)", 0.0, 5.0, step=0.25, key=KEY_BONUS,
                  disabled=text_only or decoder != "beam_lm",
                  help="Only for the older shallow fusion (`--lm-fusion shallow` on the command line): "
                       "beam + LM here keeps the line's length, so this bonus does not change its output.")
    return current_settings()


# Widget values that should survive a visit to another page (Streamlit drops the state of widgets
# that a run does not draw; re-assigning a value makes it plain session state).
PERSISTENT_PREFIXES = ("sb_", "rec_pre_", "insp_pre_", "insp_k", "insp_show", "bench_engines",
                       "bench_decoders", "rec_sample", "insp_sample")


def keep_page_state() -> None:
    """Keep the pages' settings across page switches. Call once per run, before the page is drawn."""
    for key in list(st.session_state.keys()):
        if isinstance(key, str) and key.startswith(PERSISTENT_PREFIXES):
            st.session_state[key] = st.session_state[key]


def ensure_navigation() -> None:
    """Call first in every page file: make sure the page runs inside app.py's st.navigation.

    Streamlit keeps a relic of its old `pages/` folder mode: on a fresh server (and in every AppTest run)
    the first request naming a page file's stem (/inspector, app.py's own url_path) runs
    pages/<page>.py alone, without app.py (no sidebar, no page config). This runs app.py in its place,
    in the same script run (its st.navigation finds the same url_path and runs this page inside it, so a
    click that started the run is not lost), then stops the bare run.
    """
    try:
        from streamlit.runtime.pages_manager import PagesManager
    except ImportError:  # a Streamlit without the relic
        return
    if getattr(PagesManager, "uses_pages_directory", False):
        import runpy
        from pathlib import Path

        PagesManager.uses_pages_directory = False
        runpy.run_path(str(Path(__file__).resolve().parent.parent / "app.py"), run_name="__main__")
        st.stop()
