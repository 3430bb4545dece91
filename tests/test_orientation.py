"""The 0°/180° line classifier and upside-down pages in read_page (ocr.documents.orientation)."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.documents.detectors import default_detector, detector_available
from ocr.documents.geometry import TextBox
from ocr.documents.orientation import flip_box, load_orientation, orientation_available
from ocr.documents.page import read_page
from ocr.documents.synth_pages import render_page
from ocr.evaluation.metrics import cer
from tests.render import render


@pytest.fixture(scope="module")
def classifier():
    ok, why = orientation_available()
    if not ok:
        pytest.skip(why)
    return load_orientation()


@pytest.fixture(scope="module")
def engine():
    from ocr.engines.registry import available, load_engine

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(why)
    return load_engine("ppocr-v4")


def test_classifier_tells_upright_from_upside_down(classifier) -> None:
    lines = [render(text, size=32) for text in ("增值税专用发票", "我们的未来在于创新", "合同编号 HT-2024")]
    p = classifier.upside_down([*lines, *(np.rot90(x, 2) for x in lines)])
    assert p.shape == (6,) and np.all((p >= 0) & (p <= 1))
    assert np.all(p[:3] < 0.5) and np.all(p[3:] > 0.5), p


def test_flip_box_maps_corners_and_keeps_order() -> None:
    box = TextBox(np.array([[10, 20], [110, 20], [110, 40], [10, 40]], np.float32), 0.9)
    flipped = flip_box(box, 200, 100)
    np.testing.assert_allclose(flipped.points, [[89, 59], [189, 59], [189, 79], [89, 79]])
    assert flipped.score == 0.9
    np.testing.assert_allclose(flip_box(flipped, 200, 100).points, box.points)


def test_default_detector_is_the_neural_one_where_it_loads() -> None:
    expected = "ppocr-det" if detector_available("ppocr-det")[0] else "classical"
    assert default_detector() == expected


def test_upside_down_page_reads_like_the_upright_page(engine, classifier) -> None:
    page = render_page("paragraph", 3)
    upright = read_page(page.image, engine, "classical")
    turned = read_page(np.ascontiguousarray(page.image[::-1, ::-1]), engine, "classical")
    assert upright.turned == 0 and turned.turned == 180
    assert all(line.upside_down for line in turned.lines)
    assert cer(page.text, turned.text) <= cer(page.text, upright.text) + 0.01
    assert cer(page.text, turned.text) < 0.05
    without = read_page(np.ascontiguousarray(page.image[::-1, ::-1]), engine, "classical", orient=False)
    assert without.turned == 0 and cer(page.text, without.text) > 0.5
    # boxes stay in the input's coordinates: every box lies inside the page
    h, w = page.image.shape[:2]
    for line in turned.lines:
        assert line.box.points[:, 0].min() >= 0 and line.box.points[:, 0].max() <= w - 1
        assert line.box.points[:, 1].min() >= 0 and line.box.points[:, 1].max() <= h - 1
    assert turned.to_dict()["turned"] == 180


def test_single_upside_down_line_is_read_turned(engine, classifier) -> None:
    page = render_page("paragraph", 5)
    image = page.image.copy()
    det = read_page(image, engine, "classical", orient=False)
    box = det.lines[0].box
    x0, y0 = np.floor(box.points.min(axis=0)).astype(int)
    x1, y1 = np.ceil(box.points.max(axis=0)).astype(int) + 1
    image[y0:y1, x0:x1] = image[y0:y1, x0:x1][::-1, ::-1]  # turn the first line alone
    result = read_page(image, engine, "classical")
    assert result.turned == 0
    assert result.lines[0].upside_down and not any(line.upside_down for line in result.lines[1:])
    assert cer(det.lines[0].text, result.lines[0].text) < 0.1


def test_db_boxes_tilted_past_45_degrees_read_along_their_long_side() -> None:
    """A sticker line tilted 50° stays a line (its long side on top, not a vertical column); an upright
    column stays vertical."""
    import cv2

    from ocr.documents.db import line_quad

    tilted = cv2.boxPoints(((300.0, 300.0), (400.0, 60.0), 50.0)).astype(np.float32)
    box = TextBox(line_quad(tilted), 1.0)
    assert not box.vertical and box.width > 5 * box.height
    tl, tr = box.points[0], box.points[1]
    assert tr[0] > tl[0] and tr[1] > tl[1]  # read from upper left to lower right
    column = cv2.boxPoints(((300.0, 300.0), (60.0, 400.0), 5.0)).astype(np.float32)
    assert TextBox(line_quad(column), 1.0).vertical
    upright = cv2.boxPoints(((300.0, 300.0), (400.0, 60.0), 10.0)).astype(np.float32)
    np.testing.assert_allclose(TextBox(line_quad(upright), 1.0).width, 400.0, rtol=1e-3)
