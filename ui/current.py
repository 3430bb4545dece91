"""The one "current image" the line pages share (Recognize, CTC inspector) and the Document page's page.

Both live in plain session state (not widget state), so an upload survives a visit to another page:
Streamlit forgets a file_uploader's value once a run does not draw it, but not these records.
Changes come only from user actions (an upload, a sample picked, an example, a line sent from the
Document page), through set_current / set_page.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import streamlit as st

from ui.resources import digest

__all__ = [
    "CURRENT_KEY",
    "PAGE_KEY",
    "CurrentImage",
    "array_key",
    "get_current",
    "get_page",
    "keep_current",
    "set_current",
    "set_page",
]

CURRENT_KEY = "current_image"
PAGE_KEY = "current_page"


@dataclass(frozen=True)
class CurrentImage:
    """An image the user chose: display name, content key, pixels (H, W, 3) uint8 RGB, where it came
    from (shown on every page that uses it) and the ground truth when it is a labelled sample."""

    name: str
    key: str
    image: np.ndarray
    source: str
    label: str | None = None


def array_key(image: np.ndarray) -> str:
    """A content key of an array (shape, dtype and bytes)."""
    return digest(repr((image.shape, image.dtype.str)).encode() + np.ascontiguousarray(image).tobytes())


def get_current() -> CurrentImage | None:
    """The current line image, or None before the user (or a default) chose one."""
    value = st.session_state.get(CURRENT_KEY)
    return value if isinstance(value, CurrentImage) else None


def set_current(image: CurrentImage) -> None:
    """Make `image` the current line image of Recognize and the CTC inspector."""
    st.session_state[CURRENT_KEY] = image


def get_page() -> CurrentImage | None:
    """The Document page's current page, or None (then it shows a rendered sample)."""
    value = st.session_state.get(PAGE_KEY)
    return value if isinstance(value, CurrentImage) else None


def set_page(image: CurrentImage | None) -> None:
    """Make `image` the Document page's page (None: back to the rendered samples)."""
    st.session_state[PAGE_KEY] = image


# Document-page widgets whose values should survive a visit to another page (Streamlit drops the state
# of widgets a run does not draw; re-assigning a value makes it plain session state).
KEPT_KEYS = ("doc_kind", "doc_seed", "doc_detector", "doc_source")


def keep_current() -> None:
    """Keep the Document page's choices across page switches. Call once per run, before the page."""
    for key in KEPT_KEYS:
        if key in st.session_state:
            st.session_state[key] = st.session_state[key]
