"""Issue 18 through AppTest: the shared current image, honest confidence, the upside-down and page-sized
hints, the examples' landing pages. Offline and deterministic; no timing is asserted."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from ocr.documents.orientation import orientation_available
from ocr.documents.synth_pages import render_page
from tests.render import render
from tests.test_app import error_texts, first_usable_ctc, html_bodies, need, start


def png(image: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="PNG")
    return buf.getvalue()


def captions(at: object) -> str:
    return " ".join(c.value for c in at.caption)  # type: ignore[attr-defined]


def test_upload_stays_the_current_image_across_pages() -> None:
    at = start(engine=first_usable_ctc())
    at.file_uploader(key="img_upload").upload("mine.png", png(render("当前图像")), "image/png")
    at.run()
    assert "Current image: **mine.png** · your upload" in captions(at)
    for page in ("inspector", "benchmark", "recognize"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        if page != "benchmark":
            assert "Current image: **mine.png** · your upload" in captions(at), page
    assert at.selectbox(key="img_sample").value is None  # the chooser shows no sample for an upload


def test_text_only_engine_is_grey_and_an_empty_result_has_no_mean_confidence() -> None:
    need("tesseract")
    at = start(engine="tesseract")
    at.file_uploader(key="img_upload").upload("line.png", png(render("中文识别")), "image/png")
    at.run()
    body = html_bodies(at)
    assert "ocr-noconf" in body and "hsl(120" not in body.split("confidence:")[0]
    at = start(engine=first_usable_ctc())
    at.file_uploader(key="img_upload").upload("blank.png", png(np.full((32, 200, 3), 255, np.uint8)),
                                              "image/png")
    at.run()
    body = html_bodies(at)
    assert "(nothing recognized)" in body
    assert ">—<" in body  # no mean confidence for nothing (it used to read 1.000)


def test_deleted_share_counts_what_a_decoder_leaves_out() -> None:
    from ui.render import deleted_share

    assert deleted_share("壹万贰仟叁佰", "壹万") == pytest.approx(4 / 6)
    assert deleted_share("中国人", "中国人") == 0.0
    assert deleted_share("中国人", "中囯人") == 0.0  # a substitution is not a deletion
    assert deleted_share("", "abc") == 0.0


@pytest.mark.skipif(not orientation_available()[0], reason="0/180 classifier unavailable")
def test_upside_down_line_offers_to_turn_it() -> None:
    at = start(engine=first_usable_ctc())
    line = render("增值税专用发票", size=32)
    at.file_uploader(key="img_upload").upload("turned.png", png(np.ascontiguousarray(line[::-1, ::-1])),
                                              "image/png")
    at.run()
    assert any("upside down" in w.value for w in at.warning)
    at.button(key="rec_turn").click().run()
    assert not at.exception, at.exception
    assert "turned.png (turned 180°)" in captions(at)
    assert not any("upside down" in w.value for w in at.warning)
    assert "增值税专用发票" in html_bodies(at)


def test_page_sized_image_points_to_the_document_page() -> None:
    at = start(engine=first_usable_ctc())
    page = render_page("paragraph", 2)
    at.file_uploader(key="img_upload").upload("page.png", png(page.image), "image/png")
    at.run()
    assert any("whole page" in w.value for w in at.warning)
    at.button(key="rec_to_document").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Document"
    assert "Page: **page.png**" in captions(at)
    assert not error_texts(at)


@pytest.mark.parametrize(("name", "title"), [("lm", "CTC inspector"), ("sign", "Recognize"),
                                             ("trad", "Recognize"), ("page", "Document")])
def test_example_lands_on_its_page_with_its_image(name: str, title: str) -> None:
    from ui.examples import EXAMPLES

    need("ppocr-v4")
    at = start(engine="ppocr-v4")
    at.button_group(key="hdr_example").set_value(name).run()
    assert not at.exception, at.exception
    assert at.title[0].value == title
    assert any(f"Example: {EXAMPLES[name].title}" in i.value for i in at.info)
    assert at.button_group(key="hdr_example").value is None  # a one-shot row, ready for the next click
    if name == "lm":
        assert at.session_state["sb_decoder"] == "beam_lm"
        body = html_bodies(at)
        greedy = body.split('insp-greedy"', 1)[1].split("</div>", 1)[0]
        fused = body.split('insp-beam_lm"', 1)[1].split("</div>", 1)[0]
        assert "参" in greedy and "叁" in fused
    elif name == "page":
        assert "turned 180°" in next(m.value for m in at.metric if m.label == "skew")
        assert "Page: **rendered invoice, turned upside down**" in captions(at)
    else:
        assert "example (" in captions(at)
