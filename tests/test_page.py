"""Whole-page reading (ocr.documents.page): crops, batching, reading order end to end, the `page` command."""

from __future__ import annotations

import argparse
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest

from ocr.documents.detectors import detector_available
from ocr.documents.geometry import TextBox
from ocr.documents.page import VERTICAL_TURN, add_page_command, aspect_batches, line_crop, read_page
from ocr.documents.synth_pages import render_page, stack_lines
from ocr.evaluation.metrics import cer


def rect(x0: float, y0: float, x1: float, y1: float) -> TextBox:
    return TextBox(np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32), 1.0)


@pytest.fixture(scope="module")
def engine():
    from ocr.engines.registry import available, load_engine

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(why)
    return load_engine("ppocr-v4")


@lru_cache(maxsize=64)
def _read(kind: str, seed: int, detector: str):
    from ocr.engines.registry import load_engine

    page = render_page(kind, seed)
    return page, read_page(page.image, load_engine("ppocr-v4"), detector)


def _detectors() -> list[str]:
    return ["classical"] + (["ppocr-det"] if detector_available("ppocr-det")[0] else [])


# ------------------------------------------------------------------------------------ pure helpers
def test_aspect_batches_groups_similar_shapes() -> None:
    crops = [np.zeros((10, w, 3), np.uint8) for w in (100, 10, 50, 95, 12, 48)]
    batches = aspect_batches(crops, 2)
    assert batches == [[1, 4], [5, 2], [3, 0]]
    assert sorted(i for b in batches for i in b) == list(range(6))
    assert aspect_batches([], 4) == []
    with pytest.raises(ValueError):
        aspect_batches(crops, 0)


def test_vertical_crop_is_turned_counter_clockwise() -> None:
    img = np.full((200, 100, 3), 255, np.uint8)
    img[20:40, 30:70] = 0  # a mark at the top of the column
    crop, vertical = line_crop(img, rect(25, 10, 75, 190))
    assert vertical and VERTICAL_TURN == "counter-clockwise"
    assert crop.shape[:2] == (50, 180)  # turned: the column's height is the line's width
    dark = np.nonzero(crop.min(axis=(0, 2)) < 128)[0]
    assert dark.max() < 60  # the top of the column is now the left end


def test_horizontal_crop_is_not_turned() -> None:
    img = np.full((100, 300, 3), 255, np.uint8)
    crop, vertical = line_crop(img, rect(10, 10, 210, 40))
    assert not vertical and crop.shape == (30, 200, 3)


# ------------------------------------------------------------------------------- read with ppocr-v4
@pytest.mark.parametrize("detector", _detectors())
@pytest.mark.parametrize("kind", ["paragraph", "two_column", "vertical", "rotated", "skewed", "id_card"])
def test_page_cer(engine, detector: str, kind: str) -> None:
    page, result = _read(kind, 21, detector)
    assert cer(page.text, result.text) <= 0.05, (kind, detector, result.text)


def test_invoice_reads_amount_in_words(engine) -> None:
    page, result = _read("invoice", 21, "classical")
    assert cer(page.text, result.text) <= 0.05
    upper = next(g.text for g in page.lines if g.text.endswith(("元整", "角", "分")))
    assert upper in result.text.split("\n")


def test_two_columns_read_left_column_first(engine) -> None:
    page, result = _read("two_column", 22, "classical")
    n_left = (len(page.lines) - 1) // 2
    first_right = page.lines[1 + n_left].text
    texts = result.text.split("\n")
    # the first line of the right column comes after every line of the left column
    assert cer(first_right, texts[1 + n_left]) <= 0.2


@pytest.mark.parametrize("detector", _detectors())
def test_vertical_lines_flagged(engine, detector: str) -> None:
    _, result = _read("vertical", 23, detector)
    assert result.lines and all(line.vertical for line in result.lines)
    assert all(line.crop.shape[1] > line.crop.shape[0] for line in result.lines)


@pytest.mark.parametrize("detector", _detectors())
def test_empty_page(engine, detector: str) -> None:
    _, result = _read("empty", 3, detector)
    assert result.text == "" and result.lines == ()
    assert result.to_dict()["lines"] == []


@pytest.mark.parametrize("detector", _detectors())
def test_one_line_page(engine, detector: str) -> None:
    page, result = _read("one_line", 4, detector)
    assert len(result.lines) == 1
    assert cer(page.text, result.text) <= 0.05


def test_result_contract(engine) -> None:
    _, result = _read("id_card", 5, "classical")
    d = result.to_dict()
    assert d["text"] == "\n".join(line["text"] for line in d["lines"] if line["text"])
    for line in d["lines"]:
        assert np.asarray(line["box"]).shape == (4, 2)
        assert 0.0 <= line["confidence"] <= 1.0
    assert set(result.timings) == {"detect", "crop", "recognize"}
    json.dumps(d, ensure_ascii=False)


def test_real_lines_stacked_into_a_page(engine, real_samples: Path) -> None:
    folder = real_samples / "cnocr_multiline"
    from ocr.imageio import load_image

    rows = [ln.split("\t", 1) for ln in (folder / "labels.tsv").read_text(encoding="utf-8").splitlines()
            if "\t" in ln]
    page, _ = stack_lines([load_image(folder / p) for p, _ in rows])
    truth = "\n".join(t for _, t in rows)
    result = read_page(page, engine, "classical")
    assert len(result.lines) >= len(rows)
    assert cer(truth, result.text) <= 0.03, result.text


# ------------------------------------------------------------------------------------------- CLI
def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ocr")
    add_page_command(parser.add_subparsers(dest="command", required=True))
    return parser


def test_cli_registers_page_command() -> None:
    args = _parser().parse_args(["page", "x.png"])
    # detector None: read_page takes default_detector() (ppocr-det where it can load, else classical)
    assert (args.detector, args.engine, args.decoder, args.json, args.orient) == (None, None, "greedy", False,
                                                                                  True)
    assert _parser().parse_args(["page", "x.png", "--no-orient"]).orient is False
    with pytest.raises(SystemExit):
        _parser().parse_args(["page", "x.png", "--detector", "magic"])


def test_cli_json_shape(engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    page = render_page("paragraph", 8)
    path = tmp_path / "page.png"
    Image.fromarray(page.image).save(path)
    args = _parser().parse_args(["page", str(path), "--engine", "ppocr-v4", "--json"])
    assert args.func(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert {"text", "lines", "elapsed_ms"} <= set(out)
    assert isinstance(out["elapsed_ms"], float) and out["elapsed_ms"] >= 0
    assert out["text"] == "\n".join(line["text"] for line in out["lines"] if line["text"])
    assert len(out["lines"]) == len(page.lines)
    for line in out["lines"]:
        assert {"box", "text", "confidence"} <= set(line)
        assert len(line["box"]) == 4 and all(len(p) == 2 for p in line["box"])
    assert cer(page.text, out["text"]) <= 0.05


def test_cli_text_mode(engine, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from PIL import Image

    page = render_page("one_line", 9)
    path = tmp_path / "line.png"
    Image.fromarray(page.image).save(path)
    args = _parser().parse_args(["page", str(path), "--engine", "ppocr-v4"])
    assert args.func(args) == 0
    assert cer(page.text, capsys.readouterr().out.strip()) <= 0.05


def test_cli_bad_image_raises_library_error(engine, tmp_path: Path) -> None:
    from ocr.errors import ImageError

    path = tmp_path / "bad.png"
    path.write_bytes(b"not an image")
    args = _parser().parse_args(["page", str(path), "--engine", "ppocr-v4"])
    with pytest.raises(ImageError):
        args.func(args)
