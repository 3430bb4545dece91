"""The Document page (pages/document.py) through AppTest, run as a page script on its own.

Offline and deterministic: pages are rendered by ocr.documents.synth_pages; no timing is asserted.
"""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from ocr.documents.detectors import detector_available
from ocr.documents.synth_pages import render_page

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
PAGE = ROOT / "pages" / "document.py"
TIMEOUT = 240  # seconds per run: the first run loads the detector and engine on a busy machine


@pytest.fixture(scope="module", autouse=True)
def need_engine() -> None:
    from ocr.engines.registry import available

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(why)


def start(**state: object) -> AppTest:
    """The app on the Document page, with the sidebar's engine ppocr-v4 and (unless given) the classical
    detector. Through app.py, as in a browser: the page switches to the inspector by its path."""
    state = {"sb_engine": "ppocr-v4", "doc_detector": "classical", **state}
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page(str(PAGE.relative_to(ROOT))).run()
    assert not at.exception, at.exception
    return at


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def test_sample_page_is_read_with_boxes_text_and_downloads() -> None:
    at = start(doc_kind="two_column", doc_seed=3)
    assert at.title[0].value == "Document"
    assert not at.error
    page = render_page("two_column", 3)
    assert int(metric(at, "lines")) == len(page.lines)
    assert float(metric(at, "page CER")) <= 0.05
    text = at.text_area[0].value
    assert text.count("\n") == len(page.lines) - 1
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["data"][0]["type"] == "image"
    assert len(spec["data"]) == 1 + len(page.lines)  # the page + one outline per line
    labels = [b.proto.label for b in at.get("download_button")]
    assert labels == ["Download TXT", "Download JSON"]


def test_selecting_a_line_shows_crop_and_sends_it_to_the_inspector() -> None:
    at = start(doc_kind="paragraph", doc_seed=1)
    box = at.selectbox(key="doc_line_sample:paragraph:1_classical")
    box.set_value(2).run()
    assert not at.exception
    code = [c.value for c in at.code]
    assert code and code[0].strip()
    at.button(key="doc_to_inspector").click().run()
    assert not at.exception, at.exception
    current = at.session_state["current_image"]  # the shared current image (ui.current)
    crop = current.image
    assert isinstance(crop, np.ndarray) and crop.dtype == np.uint8 and crop.ndim == 3
    assert current.name.startswith("line 3 of") and "Document" in current.source
    assert [t.value for t in at.title] == ["CTC inspector"]  # it went straight to the inspector
    assert at.get("plotly_chart")
    at.switch_page("pages/document.py").run()  # and the Document page still has its page
    assert int(metric(at, "lines")) > 0 and at.selectbox(key="doc_kind").value == "paragraph"


@pytest.mark.skipif(not detector_available("ppocr-det")[0], reason="ppocr-det unavailable")
def test_db_detector_on_vertical_text() -> None:
    at = start(doc_kind="vertical", doc_seed=2, doc_detector="ppocr-det")
    assert not at.error
    assert float(metric(at, "page CER")) <= 0.05
    captions = " ".join(img.caption for el in at.get("image") for img in el.proto.imgs)
    assert "counter-clockwise" in captions


def test_empty_page_says_so_without_error() -> None:
    at = start(doc_kind="empty", doc_seed=0)
    assert not at.error
    assert metric(at, "lines") == "0"
    assert any("No text lines" in i.value for i in at.info)


def test_upload_is_read() -> None:
    at = start()
    at.radio(key="doc_source").set_value("Upload").run()
    assert any("Upload a page image" in i.value for i in at.info)
    page = render_page("id_card", 4)
    at.file_uploader(key="doc_upload").upload("card.png", png(page.image), "image/png")
    at.run()
    assert not at.exception and not at.error
    assert int(metric(at, "lines")) == len(page.lines)


@pytest.mark.parametrize("name,data", [("bad.png", b"not an image at all"), ("x.tiff", b"II*\x00garbage")])
def test_bad_upload_shows_error_and_page_keeps_working(name: str, data: bytes) -> None:
    at = start()
    at.radio(key="doc_source").set_value("Upload").run()
    at.file_uploader(key="doc_upload").upload(name, data, "application/octet-stream")
    at.run()
    assert not at.exception
    assert at.error and name in at.error[0].value
    at.radio(key="doc_source").set_value("Rendered sample").run()
    assert not at.exception and not at.error
    assert int(metric(at, "lines")) > 0


def test_unavailable_engine_is_an_error_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.resources

    reason = "weights missing (test)"
    real = ui.resources.available
    monkeypatch.setattr(ui.resources, "available",
                        lambda name: (False, reason) if name == "ppocr-v4" else real(name))
    ui.resources.engine_status.clear()
    try:
        at = start()
        assert not at.exception
        assert any("ppocr-v4" in e.value and reason in e.value for e in at.error)
    finally:
        ui.resources.engine_status.clear()


def test_reads_with_the_sidebar_decoder_settings() -> None:
    """The page reads with the shared sidebar settings: decoder, beam width, LM weight and length bonus."""
    at = start(doc_kind="one_line", doc_seed=1, sb_decoder="beam_lm", sb_lm_weight=0.75,
               sb_length_bonus=2.5, sb_beam_width=7)
    assert not at.exception and not at.error
    caption = " ".join(c.value for c in at.caption)
    assert "beam + LM" in caption and "beam width 7" in caption
    assert "LM weight 0.75" in caption and "length bonus 2.5" in caption


@pytest.mark.skipif(not detector_available("ppocr-det")[0], reason="ppocr-det unavailable")
def test_default_detector_is_the_neural_one_and_an_upside_down_page_is_turned() -> None:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    at.session_state["sb_engine"] = "ppocr-v4"
    at.run()
    at.switch_page(str(PAGE.relative_to(ROOT))).run()
    assert not at.exception, at.exception
    assert at.radio(key="doc_detector").value == "ppocr-det"
    at.radio(key="doc_source").set_value("Upload").run()
    page = render_page("paragraph", 3)
    at.file_uploader(key="doc_upload").upload("turned.png", png(np.ascontiguousarray(page.image[::-1, ::-1])),
                                              "image/png")
    at.run()
    assert not at.exception, at.exception
    assert "turned 180°" in metric(at, "skew")
    assert float(metric(at, "lines")) > 0
