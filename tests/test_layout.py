"""Line detection, box geometry, reading order and rendered pages (ocr.documents)."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.documents.classical import ClassicalConfig, ClassicalDetector, estimate_skew
from ocr.documents.db import DBConfig
from ocr.documents.detectors import (
    Detection,
    UnknownDetector,
    detector_available,
    detector_names,
    load_detector,
)
from ocr.documents.geometry import TextBox, box_iou, crop_box, merge_column_fragments, order_points
from ocr.documents.reading_order import reading_order
from ocr.documents.synth_pages import PAGE_KINDS, render_page, stack_lines
from ocr.preprocess import Stage

pytest.importorskip("cv2")


def rect(x0: float, y0: float, x1: float, y1: float, score: float = 1.0) -> TextBox:
    return TextBox(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32), score)


def recall_precision(gt: list[np.ndarray], boxes: list[TextBox], thr: float = 0.5) -> tuple[float, float]:
    """Greedy one-to-one matching at IoU >= thr."""
    used: set[int] = set()
    hits = 0
    for g in gt:
        ious = [(box_iou(g, b.points), i) for i, b in enumerate(boxes) if i not in used]
        if ious:
            best, i = max(ious)
            if best >= thr:
                hits += 1
                used.add(i)
    recall = hits / len(gt) if gt else 1.0
    precision = hits / len(boxes) if boxes else 1.0
    return recall, precision


@pytest.fixture(scope="module")
def classical() -> ClassicalDetector:
    return ClassicalDetector()


@pytest.fixture(scope="module")
def db():
    ok, why = detector_available("ppocr-det")
    if not ok:
        pytest.skip(why)
    return load_detector("ppocr-det")


# ------------------------------------------------------------------------------------------ geometry
def test_order_points_from_any_start() -> None:
    pts = np.array([[10, 0], [10, 5], [0, 5], [0, 0]], np.float32)  # tr, br, bl, tl
    out = order_points(pts)
    assert out.tolist() == [[0, 0], [10, 0], [10, 5], [0, 5]]


def test_textbox_geometry_and_vertical() -> None:
    b = rect(0, 0, 100, 20)
    assert b.width == pytest.approx(100) and b.height == pytest.approx(20)
    assert b.angle == pytest.approx(0) and not b.vertical
    assert rect(0, 0, 20, 100).vertical
    assert b.as_list() == [[0.0, 0.0], [100.0, 0.0], [100.0, 20.0], [0.0, 20.0]]


def test_rotated_box_angle_is_counter_clockwise() -> None:
    t = np.radians(5)
    r = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]])  # on screen (y down): CCW
    pts = np.array([[0, 0], [100, 0], [100, 20], [0, 20]], float) @ r.T + 200
    assert TextBox(order_points(pts), 1.0).angle == pytest.approx(5, abs=0.01)


def test_box_iou() -> None:
    a = rect(0, 0, 10, 10).points
    assert box_iou(a, a) == pytest.approx(1.0)
    assert box_iou(a, rect(20, 20, 30, 30).points) == 0.0
    assert box_iou(a, rect(5, 0, 15, 10).points) == pytest.approx(1 / 3, abs=1e-3)


def test_crop_box_axis_aligned_is_the_slice() -> None:
    img = np.random.default_rng(0).integers(0, 255, (50, 80, 3), dtype=np.uint8)
    crop = crop_box(img, rect(10, 5, 40, 25))
    assert crop.shape == (20, 30, 3)
    assert np.abs(crop.astype(int) - img[5:25, 10:40].astype(int)).mean() < 2


# ------------------------------------------------------------------------------------- reading order
def test_reading_order_rows_left_to_right() -> None:
    boxes = [rect(300, 100, 500, 130), rect(10, 10, 400, 40), rect(10, 100, 200, 130), rect(10, 55, 380, 85)]
    assert reading_order(boxes) == [1, 3, 2, 0]


def test_reading_order_two_columns_with_title() -> None:
    boxes = [rect(100, 10, 700, 50)]  # title across both columns
    for i in range(6):  # left column, then right column, same line heights (lines align across)
        boxes.append(rect(20, 80 + 40 * i, 380, 110 + 40 * i))
    for i in range(6):
        boxes.append(rect(440, 80 + 40 * i, 800, 110 + 40 * i))
    order = list(range(len(boxes)))
    shuffled = np.random.default_rng(1).permutation(order).tolist()
    got = reading_order([boxes[i] for i in shuffled])
    assert [shuffled[i] for i in got] == order


def test_reading_order_table_is_row_major() -> None:
    boxes = []
    for r in range(4):
        for c, (x0, x1) in enumerate([(10, 110), (200, 240), (300, 380)]):
            boxes.append(rect(x0, 20 + 50 * r, x1 + 10 * c, 50 + 50 * r))
    assert reading_order(boxes) == list(range(12))


def test_reading_order_vertical_right_to_left() -> None:
    boxes = [rect(400 - 60 * i, 20, 440 - 60 * i, 400 - 20 * i) for i in range(5)]
    shuffled = [3, 0, 4, 1, 2]
    got = reading_order([boxes[i] for i in shuffled])
    assert [shuffled[i] for i in got] == [0, 1, 2, 3, 4]


def test_reading_order_empty() -> None:
    assert reading_order([]) == []


def test_merge_column_fragments() -> None:
    pieces = [rect(100, 10, 140, 90), rect(100, 95, 140, 200), rect(30, 10, 70, 200)]
    merged = merge_column_fragments(pieces)
    assert len(merged) == 2
    assert max(b.height for b in merged) == pytest.approx(190)


# ------------------------------------------------------------------------------------------ synth
def test_synth_pages_are_deterministic() -> None:
    a, b = render_page("invoice", 5), render_page("invoice", 5)
    assert np.array_equal(a.image, b.image) and a.text == b.text
    assert a.image.dtype == np.uint8 and a.image.ndim == 3 and a.image.shape[2] == 3
    assert not np.array_equal(a.image.shape, render_page("invoice", 6).image.shape) or \
        a.text != render_page("invoice", 6).text


@pytest.mark.parametrize("kind", PAGE_KINDS)
def test_synth_page_ground_truth(kind: str) -> None:
    page = render_page(kind, 0)
    h, w = page.image.shape[:2]
    if kind == "empty":
        assert page.lines == () and page.text == ""
        return
    assert page.lines and all(g.text for g in page.lines)
    for g in page.lines:
        assert g.points.shape == (4, 2)
        assert (g.points[:, 0] >= -5).all() and (g.points[:, 0] <= w + 5).all()
        assert (g.points[:, 1] >= -5).all() and (g.points[:, 1] <= h + 5).all()
    if kind == "invoice":
        assert any(t.endswith(("元整", "角", "分")) for t in (g.text for g in page.lines))
        assert page.lines[0].text == "增值税普通发票"
    if kind == "vertical":
        assert all(g.vertical for g in page.lines)
        xs = [g.points[:, 0].mean() for g in page.lines]
        assert xs == sorted(xs, reverse=True)  # reading order: right to left


def test_stack_lines() -> None:
    lines = [np.zeros((10, 30, 3), np.uint8), np.zeros((12, 50, 3), np.uint8)]
    page, boxes = stack_lines(lines, gap=5, margin=7)
    assert page.shape == (10 + 12 + 5 + 14, 50 + 14, 3)
    assert boxes[1].tolist()[0] == [7.0, 7 + 10 + 5]


# --------------------------------------------------------------------------------- classical detector
def test_registry() -> None:
    assert detector_names() == ["classical", "ppocr-det"]
    assert load_detector("classical") is load_detector("classical")
    with pytest.raises(UnknownDetector):
        load_detector("nope")


def test_config_validation() -> None:
    with pytest.raises(ValueError):
        ClassicalConfig(binarize="magic")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        DBConfig(thresh=1.5)


def test_classical_stages_for_display(classical: ClassicalDetector) -> None:
    det = classical.analyze(render_page("invoice", 2).image)
    assert isinstance(det, Detection)
    names = [s.name for s in det.stages]
    assert names[:3] == ["input", "gray", "binarize"]
    assert {"table rules", "text ink", "joined lines", "boxes"} <= set(names)
    assert all(isinstance(s, Stage) and s.image.dtype == np.uint8 for s in det.stages)
    assert det.char_height and det.char_height > 5
    assert all(0.0 <= b.score <= 1.0 for b in det.boxes)


def test_table_rules_stage_is_never_blank(classical: ClassicalDetector) -> None:
    """Without rules the stage still shows the page's ink (grey) and says nothing was removed; with them
    the removed rules are red."""
    plain = {s.name: s for s in classical.analyze(render_page("paragraph", 1).image).stages}["table rules"]
    assert plain.image.ndim == 3 and plain.image.std() > 5  # not a uniform white box
    assert "nothing removed" in plain.detail
    ruled = {s.name: s for s in classical.analyze(render_page("invoice", 2).image).stages}["table rules"]
    red = (ruled.image[..., 0] > 200) & (ruled.image[..., 1] < 80)
    assert red.sum() > 100 and "removed (red)" in ruled.detail


@pytest.mark.parametrize("kind", ["paragraph", "two_column", "invoice", "id_card", "vertical", "rotated",
                                  "skewed"])
def test_classical_recall_on_rendered_pages(classical: ClassicalDetector, kind: str) -> None:
    page = render_page(kind, 11)
    boxes = classical.detect(page.image)
    recall, precision = recall_precision([g.points for g in page.lines], boxes)
    assert recall >= 0.9, (kind, recall)
    assert precision >= 0.8, (kind, precision)


def test_classical_invoice_grid_is_not_a_box(classical: ClassicalDetector) -> None:
    page = render_page("invoice", 4)
    h = page.image.shape[0]
    for b in classical.detect(page.image):
        assert b.height < 0.1 * h  # the table grid would be one tall box


def test_classical_empty_page(classical: ClassicalDetector) -> None:
    page = render_page("empty", 3)
    assert classical.detect(page.image) == []
    assert classical.detect(np.full((200, 300, 3), 255, np.uint8)) == []


@pytest.mark.parametrize("kind", ["empty", "invoice", "skewed"])
def test_classical_on_photo_like_pages(classical: ClassicalDetector, kind: str) -> None:
    """Uneven light, blur, noise and JPEG (synth_pages.degrade): no boxes from the lighting gradient."""
    page = render_page(kind, 12, photo=True)
    boxes = classical.detect(page.image)
    recall, precision = recall_precision([g.points for g in page.lines], boxes)
    assert recall >= 0.9 and precision >= 0.8, (kind, recall, precision)


def test_degrade_is_deterministic() -> None:
    a, b = render_page("paragraph", 3, photo=True), render_page("paragraph", 3, photo=True)
    assert np.array_equal(a.image, b.image)
    assert not np.array_equal(a.image, render_page("paragraph", 3).image)


def test_classical_one_line(classical: ClassicalDetector) -> None:
    page = render_page("one_line", 3)
    boxes = classical.detect(page.image)
    assert len(boxes) == 1
    assert box_iou(boxes[0].points, page.lines[0].points) >= 0.5


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_classical_deskew(classical: ClassicalDetector, seed: int) -> None:
    page = render_page("rotated", seed)
    det = classical.analyze(page.image)
    assert det.angle == pytest.approx(page.angle, abs=0.5)
    order = reading_order(list(det.boxes), det.angle)
    assert len(order) == len(page.lines)


def test_estimate_skew_blank() -> None:
    assert estimate_skew(np.zeros((50, 50), np.uint8)) == 0.0


def test_classical_vertical_page(classical: ClassicalDetector) -> None:
    page = render_page("vertical", 5)
    det = classical.analyze(page.image)
    assert det.orientation == "vertical"
    boxes = list(det.boxes)
    order = reading_order(boxes)
    # the i-th box in reading order overlaps the i-th ground-truth column
    assert len(order) == len(page.lines)
    for i, g in zip(order, page.lines, strict=True):
        assert box_iou(boxes[i].points, g.points) >= 0.5


def test_classical_two_column_order(classical: ClassicalDetector) -> None:
    page = render_page("two_column", 7)
    boxes = classical.detect(page.image)
    order = reading_order(boxes)
    matched = [max(range(len(page.lines)), key=lambda k, b=boxes[i]: box_iou(b.points, page.lines[k].points))
               for i in order]
    assert matched == list(range(len(page.lines)))


def test_classical_rejects_bad_arrays(classical: ClassicalDetector) -> None:
    from ocr.errors import ImageError

    with pytest.raises(ImageError):
        classical.detect(np.zeros((0, 0, 3), np.uint8))
    with pytest.raises(ImageError):
        classical.detect(np.zeros((10, 10, 3), np.float32))


# ---------------------------------------------------------------------------------------- DB detector
@pytest.mark.parametrize("kind", ["paragraph", "two_column", "id_card", "rotated", "vertical"])
def test_db_recall_on_rendered_pages(db, kind: str) -> None:
    page = render_page(kind, 11)
    det = db.analyze(page.image)
    recall, precision = recall_precision([g.points for g in page.lines], list(det.boxes))
    assert recall >= 0.85, (kind, recall)
    assert precision >= 0.8, (kind, precision)
    assert [s.name for s in det.stages] == ["input", "probability", "threshold", "boxes"]
    assert all(0.0 <= b.score <= 1.0 for b in det.boxes)


def test_db_rotated_boxes_follow_the_page(db) -> None:
    page = render_page("rotated", 2)
    det = db.analyze(page.image)
    assert det.angle == pytest.approx(page.angle, abs=0.7)


def test_db_empty_and_tiny(db) -> None:
    assert db.detect(np.full((300, 400, 3), 250, np.uint8)) == []
    assert db.detect(np.full((8, 8, 3), 250, np.uint8)) == []
