"""The first paint of a browser session: the page's text before the widgets' code.

Measured (benchmarks/bench_first_text.py and a DOM/WebSocket timeline in headless Chromium, idle
machine): a fresh session's whole first run reaches the browser in one burst within ~50 ms, but the
browser then loads the code of every kind of widget it contains (selectbox, slider, toggle, uploader,
pills) before it paints anything after the title, so the recognized text painted at ~0.6-0.7 s although
it was sent at ~0.35 s. Sending the text, pausing FIRST_PAINT_PAUSE_S, then the widgets paints the text
at ~0.45 s; the last widget appears up to ~0.1 s later than without the pause (0.90-1.02 s against
0.93 s, medians of 5, README "App timings"). Only a session's first run pauses:
afterwards the widgets' code is loaded.
"""

from __future__ import annotations

import time

import streamlit as st

__all__ = ["FIRST_PAINT_PAUSE_S", "pause_after_first_text"]

# 0.1-0.15 s was too short to help in the measurement (the browser had not painted yet); 0.2-0.3 s helped
FIRST_PAINT_PAUSE_S = 0.25
_DONE_KEY = "_first_paint_done"
_sleep = time.sleep  # a module attribute, so that a test can count the pauses


def pause_after_first_text() -> None:
    """Call right after a page has sent its result and before its widgets: on the session's first run,
    wait FIRST_PAINT_PAUSE_S so that the browser paints the result first; later runs return at once."""
    if st.session_state.get(_DONE_KEY):
        return
    st.session_state[_DONE_KEY] = True
    _sleep(FIRST_PAINT_PAUSE_S)
