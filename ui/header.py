"""The header drawn above every page: what the studio is, in one line, and the guided-start examples."""

from __future__ import annotations

import streamlit as st

from ui.examples import EXAMPLES, NOTE_KEY, PENDING_KEY, apply_example

__all__ = ["TAGLINE", "follow_example", "render_header"]

TAGLINE = ("Chinese OCR studio — read Chinese text lines and whole pages offline, and see inside: the "
           "preprocessing, the CTC matrix, greedy vs beam vs language-model decoding, benchmarks.")
# Streamlit's default top padding (6rem) pushes a page's result below the fold at 1280×720.
_STYLE = '<style>[data-testid="stMainBlockContainer"]{padding-top:2.5rem}</style>'
PILLS_KEY = "hdr_example"


def _picked() -> None:
    name = st.session_state.get(PILLS_KEY)
    st.session_state[PILLS_KEY] = None  # a one-shot button row, not a lasting choice
    if name in EXAMPLES:
        apply_example(name)


def follow_example() -> None:
    """Switch to the page of the example picked in the last run, if any. Call before the page runs."""
    target = st.session_state.pop(PENDING_KEY, None)
    if target:
        st.switch_page(target)


def render_header() -> None:
    """The tagline and a row of one-click examples."""
    name, rest = TAGLINE.split(" — ", 1)
    st.html(f'{_STYLE}<div class="studio-tagline" style="font-size:15px;color:#444;line-height:1.35">'
            f"<b>{name}</b> — {rest} <i>Try an example:</i></div>")
    st.pills("Try an example:", list(EXAMPLES), key=PILLS_KEY, on_change=_picked,
             format_func=lambda n: EXAMPLES[n].title, label_visibility="collapsed")
    note = st.session_state.pop(NOTE_KEY, None)
    if note:
        st.info(note, icon=":material/lightbulb:")
