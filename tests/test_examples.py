"""The guided-start examples (ui/examples.py) show what they say: files exist, and the LM example's
greedy reading has 参 where beam + LM reads 叁 (PP-OCRv4, the committed character LM, default α and β)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from ui.examples import EXAMPLE_DIR, EXAMPLES


def test_every_example_lands_on_a_page_and_has_its_image() -> None:
    from pathlib import Path

    pages = {p.name for p in (Path(__file__).resolve().parent.parent / "pages").glob("*.py")}
    for example in EXAMPLES.values():
        assert example.page.removeprefix("pages/") in pages
    for name in ("lm_amount.png", "handwriting_style.png", "traditional_scan.png"):
        assert (EXAMPLE_DIR / name).is_file()


def test_lm_example_greedy_reads_can_lm_reads_san() -> None:
    from ocr.decoding import DecoderConfig, decode, load_default_lm
    from ocr.engines.registry import available, load_engine
    from ocr.pipeline import prepare, run_model

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(why)
    engine = load_engine("ppocr-v4")
    image = np.asarray(Image.open(EXAMPLE_DIR / "lm_amount.png").convert("RGB"))
    logprobs = run_model(engine, [prepare(image, engine, None)])[0].logprobs
    greedy = decode(logprobs, engine.charset, DecoderConfig(method="greedy"))[0].text
    fused = decode(logprobs, engine.charset, DecoderConfig(method="beam_lm"), lm=load_default_lm())[0].text
    assert "参" in greedy and "叁" not in greedy
    assert fused == "人民币叁仟伍佰元整"
