"""The guided start: one-click examples, each landing on the page that shows its point best.

Every example image is one the project has or renders itself: sample_images/ (real lines, Apache-2.0),
examples/ (rendered by tools/make_examples.py) or a page rendered by
ocr.documents.synth_pages. An example sets the current image (or the Document page's page), the sidebar
choices it needs, and a one-line note shown where it lands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import streamlit as st

from ocr.decoding import DecoderConfig
from ui.current import CurrentImage, array_key, set_current, set_page

__all__ = ["EXAMPLES", "NOTE_KEY", "PENDING_KEY", "Example", "apply_example"]

_LIBRARY = DecoderConfig()  # the LM example uses the library's α, β and beam width (what the test checks)
NOTE_KEY = "example_note"  # the landing page shows it once
PENDING_KEY = "example_page"  # the page to switch to after the callback


@dataclass(frozen=True)
class Example:
    """A one-click example: its label, the page it lands on, what to look at there, the sidebar values
    it sets ({session key: value}, only where the engine can load here), and how to get its image."""

    title: str
    page: str
    note: str
    image: Callable[[], CurrentImage | None]
    whole_page: bool = False
    sidebar: dict[str, object] = field(default_factory=dict)


EXAMPLE_DIR = Path(__file__).resolve().parent.parent / "examples"


def _sample(name: str, label: str | None = None) -> Callable[[], CurrentImage | None]:
    """An example line from sample_images/ (name relative to it) or, for "examples/…", from examples/."""
    def make() -> CurrentImage | None:
        from ui.inputs import SAMPLE_DIR, file_current, sample_labels

        path = (EXAMPLE_DIR.parent if name.startswith("examples/") else SAMPLE_DIR) / name
        return file_current(path, name, f"example ({path.parent.name}/)",
                            label if label is not None else sample_labels().get(name))
    return make


def _upside_down_page() -> CurrentImage | None:
    from ui.document_view import cached_sample

    page = cached_sample("invoice", 2)
    image = np.ascontiguousarray(page.image[::-1, ::-1])
    return CurrentImage("rendered invoice, turned upside down", array_key(image), image,
                        "example (rendered by ocr.documents.synth_pages)", page.text)


EXAMPLES: dict[str, Example] = {
    "lm": Example(
        "LM: 参→叁", "pages/inspector.py",
        "Greedy decoding reads 参 where the 大写 amount needs 叁; beam + LM (the character language model) "
        "reads 叁. Compare the three decoder columns below the heatmap.",
        _sample("examples/lm_amount.png", "人民币叁仟伍佰元整"),
        sidebar={"sb_engine": "ppocr-v4", "sb_decoder": "beam_lm", "sb_lm_weight": _LIBRARY.lm_weight,
                 "sb_length_bonus": _LIBRARY.length_bonus, "sb_beam_width": _LIBRARY.beam_width}),
    "sign": Example(
        "Shop sign", "pages/recognize.py",
        "A real photo crop of a shop sign (3-D letters, dark background): every preprocessing stage is shown "
        "next to its switch.",
        _sample("real/word_1.jpg")),
    "hand": Example(
        "Handwriting-style", "pages/recognize.py",
        "A line in LXGW WenKai, a handwriting-like kai face (rendered, not real handwriting).",
        _sample("examples/handwriting_style.png", "明天下午三点在图书馆门口见面")),
    "trad": Example(
        "Traditional scan", "pages/recognize.py",
        "Traditional characters from a scan-like render, read by PP-OCRv6 (18,710 classes); switch the "
        "engine to PP-OCRv4 to see 華 come back as 华.",
        _sample("examples/traditional_scan.png", "中華民國臺灣省政府公報第一百號"),
        sidebar={"sb_engine": "ppocr-v6", "sb_decoder": "greedy"}),
    "page": Example(
        "Whole page, upside down", "pages/document.py",
        "A rendered invoice turned upside down: the detector finds the lines, the 0°/180° classifier turns "
        "the page, the text comes back in reading order.",
        _upside_down_page, whole_page=True),
}


def apply_example(name: str) -> None:
    """Set what example `name` needs (image, sidebar values, note) and where to go. Call from a widget
    callback; the caller switches to st.session_state[PENDING_KEY] in the script body."""
    from ui.resources import engine_status

    example = EXAMPLES[name]
    image = example.image()
    if image is None:
        st.session_state[NOTE_KEY] = f"The example {example.title!r} could not be loaded here."
        return
    if example.whole_page:
        set_page(image)
        st.session_state["doc_source"] = "Upload"  # the Document page's choice that shows the kept page
    else:
        set_current(image)
    status = engine_status()
    engine = example.sidebar.get("sb_engine")
    if engine is None or status.get(str(engine), (False, ""))[0]:
        st.session_state.update(example.sidebar)
    st.session_state[NOTE_KEY] = f"**Example: {example.title}.** {example.note}"
    st.session_state[PENDING_KEY] = example.page
