"""Issue 20: beam + LM rescoring changes only uncertain CJK characters, never lengths or scripts."""

from __future__ import annotations

import numpy as np
import pytest

from ocr.decoding import DecoderConfig, decode, load_default_lm
from ocr.decoding.rescore import lm_options, rescore_decoded


def _matrix(text: str, charset: list[str], confusions: dict[int, tuple[str, float]]) -> np.ndarray:
    """Blank, char, blank per character; at position i the model prefers confusions[i] = (wrong, p)."""
    idx = {ch: i for i, ch in enumerate(charset)}
    p = np.full((3 * len(text) + 1, len(charset)), 1e-6)
    p[:, 0] = 1.0
    for i, ch in enumerate(text):
        f = 3 * i + 1
        p[f, 0] = 0.01
        if i in confusions:
            wrong, pw = confusions[i]
            p[f, idx[wrong]], p[f, idx[ch]] = pw, 0.99 - pw
        else:
            p[f, idx[ch]] = 0.99
    return np.log(p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _decode(text: str, confusions: dict[int, tuple[str, float]], **config: object) -> tuple[str, str]:
    charset = ["", *sorted(set(text) | {w for w, _ in confusions.values()})]
    lp = _matrix(text, charset, confusions)
    beam = decode(lp, charset, DecoderConfig(method="beam"))[0].text
    fused = decode(lp, charset, DecoderConfig(method="beam_lm", **config), lm=load_default_lm())[0].text  # type: ignore[arg-type]
    return beam, fused


@pytest.mark.parametrize(("text", "confusions"), [
    ("我们的未来在于创新", {4: ("米", 0.55)}),
    ("壹万贰仟叁佰肆拾伍元整", {4: ("参", 0.55)}),
    ("我們的未來在於創新", {4: ("米", 0.55)}),  # traditional text is modelled too
])
def test_uncertain_characters_are_fixed(text: str, confusions: dict[int, tuple[str, float]]) -> None:
    beam, fused = _decode(text, confusions)
    assert beam != text and fused == text


def test_confident_rare_characters_and_latin_are_left_alone() -> None:
    # 鳊 at 0.7 against 蝙 0.29: outside the default margin, the LM's preference for 蝙 does not matter
    beam, fused = _decode("下鳊鱼正确", {1: ("蝙", 0.29)})
    assert beam == fused == "下鳊鱼正确"
    # O/0 confusion inside a plate: non-CJK labels have no options
    beam, fused = _decode("皖A0K782", {2: ("O", 0.55)})
    assert fused == beam == "皖AOK782"


def test_script_variants_are_never_switched() -> None:
    # 將 vs 将 at a near coin-flip: the image decides, not the LM
    beam, fused = _decode("將在地球", {0: ("将", 0.55)})
    assert fused == beam == "将在地球"


def test_rescoring_keeps_length_and_spans() -> None:
    text = "我们的未来在于创新"
    charset = ["", *sorted(set(text) | {"米"})]
    lp = _matrix(text, charset, {4: ("米", 0.55)})
    best = decode(lp, charset, DecoderConfig(method="beam"))[0]
    out = rescore_decoded(lp, charset, best, load_default_lm(), 0.6, 0.4, 1.0)
    assert len(out.labels) == len(best.labels) and out.spans == best.spans
    assert all(0.0 <= c <= 1.0 for c in out.confidences)
    opts = lm_options(lp, charset, best, margin=0.4)
    assert [len(o) for o in opts] == [1, 1, 1, 1, 2, 1, 1, 1, 1]
    assert lm_options(lp, charset, best, margin=0.05)[4] == opts[4][:1]  # 0.55 vs 0.44: not within 0.05


def test_shallow_fusion_is_still_selectable() -> None:
    _, fused = _decode("我们的未来在于创新", {4: ("米", 0.55)}, fusion="shallow", lm_weight=0.25,
                       length_bonus=1.5)
    assert fused == "我们的未来在于创新"
    with pytest.raises(ValueError, match="fusion"):
        DecoderConfig(method="beam_lm", fusion="deep")  # type: ignore[arg-type]
