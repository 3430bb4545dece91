"""Preprocess contract: stage list and order, shapes, dtypes, resize, padding, batching."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr.engines.base import InputSpec
from ocr.errors import ImageError
from ocr.preprocess import PreprocessConfig, pad_batch, preprocess

RGB_SPEC = InputSpec(height=48, channels=3, mean=0.5, std=0.5, downsample=8, width_multiple=8, pad_value=128)
GRAY_SPEC = InputSpec(height=64, channels=1, downsample=8, width_multiple=8, pad_value=255)
FREE_SPEC = InputSpec(height=None, channels=1, downsample=1, min_width=1, width_multiple=1)


def _line(h: int = 30, w: int = 200, dark_bg: bool = False) -> np.ndarray:
    img = np.full((h, w, 3), 20 if dark_bg else 240, np.uint8)
    img[h // 3 : 2 * h // 3, w // 10 : 9 * w // 10] = 230 if dark_bg else 10
    return img


CONFIGS = {
    "default": (PreprocessConfig(), ["input", "grayscale", "invert", "resize + pad"]),
    "colour": (PreprocessConfig(grayscale=False, invert="never"), ["input", "resize + pad"]),
    "all": (
        PreprocessConfig(denoise=True, equalize="clahe", binarize=True, invert="always"),
        ["input", "grayscale", "denoise", "equalize", "invert", "binarize", "resize + pad"],
    ),
    "global": (
        PreprocessConfig(equalize="global", invert="never"),
        ["input", "grayscale", "equalize", "resize + pad"],
    ),
}


@pytest.mark.parametrize("key", list(CONFIGS))
@pytest.mark.parametrize("spec", [RGB_SPEC, GRAY_SPEC], ids=["rgb", "gray"])
def test_stage_order_shapes_dtypes(key: str, spec: InputSpec) -> None:
    config, names = CONFIGS[key]
    if spec.channels == 1 and "grayscale" not in names:
        names = ["input", "grayscale", *names[1:]]  # 1-channel engines are always gray
    pre = preprocess(_line(), spec, config)
    assert [s.name for s in pre.stages] == names
    for s in pre.stages:
        assert s.image.dtype == np.uint8 and s.image.ndim in (2, 3) and s.detail
    assert pre.stages[-1].image is pre.model_image
    h, w = pre.model_image.shape[:2]
    assert h == spec.height and w % spec.width_multiple == 0 and pre.content_width <= w
    assert pre.tensor.dtype == np.float32 and pre.tensor.shape == (spec.channels, h, w)


def test_clahe_detail_and_invert_auto() -> None:
    pre = preprocess(_line(), GRAY_SPEC, PreprocessConfig(equalize="clahe", clahe_clip=3.0, clahe_tile=4))
    assert pre.stages[2].detail == "CLAHE clip 3, tile 4"
    light = preprocess(_line(), GRAY_SPEC)
    dark = preprocess(_line(dark_bg=True), GRAY_SPEC)
    assert "kept" in light.stages[2].detail and "inverted" in dark.stages[2].detail
    assert np.array_equal(light.model_image, dark.model_image) or np.abs(
        light.model_image.astype(int) - dark.model_image.astype(int)
    ).max() <= 15  # both end dark-on-light


def test_invert_auto_on_grey_scans_and_framed_lines() -> None:
    from ocr.preprocess import background_is_dark

    grey = _line()
    grey[grey == 240] = 118  # a dim scan: background below 128, text darker still
    assert not background_is_dark(grey)[0]
    assert "kept" in preprocess(grey, GRAY_SPEC).stages[2].detail
    framed = _line(40, 300)
    framed[:3], framed[-3:], framed[:, -3:] = 60, 60, 60  # table rules along three edges
    assert background_is_dark(framed)[1] < 128 and not background_is_dark(framed)[0]
    light_on_dark = 255 - _line(40, 300)
    assert background_is_dark(light_on_dark)[0]


def test_resize_keeps_aspect_and_pads() -> None:
    pre = preprocess(_line(30, 200), RGB_SPEC)
    assert pre.content_width == round(200 * 48 / 30) == 320
    assert pre.scale == pytest.approx(320 / 200)
    pre = preprocess(_line(30, 203), RGB_SPEC)
    assert pre.content_width == 325 and pre.model_image.shape[1] == 328
    assert (pre.model_image[:, 325:] == 128).all()
    # the tensor's padding is the normalised pad value
    assert np.allclose(pre.tensor[:, :, 325:], (128 / 255 - 0.5) / 0.5, atol=1e-6)


def test_pad_background_uses_the_line_background() -> None:
    spec = dataclasses.replace(GRAY_SPEC, pad_background=True)
    grey = _line(30, 203)
    grey[grey == 240] = 180  # a grey page: padding it with white would draw a bright bar after the text
    pre = preprocess(grey, spec, PreprocessConfig(invert="never"))
    assert pre.model_image.shape[1] % 8 == 0 and pre.model_image.shape[1] > pre.content_width
    assert (pre.model_image[:, pre.content_width:] == 180).all()
    assert "background level 180" in pre.stages[-1].detail
    assert (preprocess(grey, GRAY_SPEC, PreprocessConfig(invert="never")).model_image[:, -1] == 255).all()


def test_width_clamps_and_no_resize() -> None:
    tall = preprocess(_line(300, 4), RGB_SPEC)
    assert tall.content_width == RGB_SPEC.min_width
    long = preprocess(_line(4, 20000), RGB_SPEC)
    assert long.content_width == RGB_SPEC.max_width and long.model_image.shape[1] == RGB_SPEC.max_width
    free = preprocess(_line(17, 123), FREE_SPEC)
    assert free.model_image.shape == (17, 123) and free.scale == 1.0


def test_tensor_normalisation() -> None:
    pre = preprocess(np.zeros((10, 10, 3), np.uint8) + 255, RGB_SPEC, PreprocessConfig(invert="never"))
    assert pre.tensor[:, :, : pre.content_width].max() == pytest.approx(1.0)
    gray = preprocess(np.zeros((10, 10), np.uint8), GRAY_SPEC, PreprocessConfig(invert="never"))
    assert gray.tensor[:, :, : gray.content_width].max() == 0.0


def test_bad_inputs_raise_image_error() -> None:
    bads = (np.zeros((0, 5, 3), np.uint8), np.zeros((5, 5, 3), np.float32), np.zeros((5, 5, 2), np.uint8))
    for bad in bads:
        with pytest.raises(ImageError):
            preprocess(bad, RGB_SPEC)
    with pytest.raises(ValueError):
        PreprocessConfig(equalize="sometimes")  # type: ignore[arg-type]


def test_pad_batch() -> None:
    a, b = np.ones((3, 48, 16), np.float32), np.ones((3, 48, 40), np.float32)
    out = pad_batch([a, b], fill=-1.0)
    assert out.shape == (2, 3, 48, 40) and out.dtype == np.float32
    assert (out[0, :, :, 16:] == -1.0).all() and (out[0, :, :, :16] == 1.0).all()
    with pytest.raises(ValueError):
        pad_batch([a, np.ones((1, 48, 16), np.float32)])
    per_item = pad_batch([a, b, a], fill=[0.25, 0.0, 0.75])  # one fill per tensor
    assert (per_item[0, :, :, 16:] == 0.25).all() and (per_item[2, :, :, 16:] == 0.75).all()
    assert (per_item[1] == 1.0).all()
    with pytest.raises(ValueError):
        pad_batch([a, b], fill=[0.0])


@settings(max_examples=40, deadline=None)
@given(
    h=st.integers(1, 120),
    w=st.integers(1, 600),
    colour=st.booleans(),
    seed=st.integers(0, 2**16),
    denoise=st.booleans(),
    equalize=st.sampled_from(["none", "global", "clahe"]),
    binarize=st.booleans(),
    invert=st.sampled_from(["auto", "never", "always"]),
    gray_spec=st.booleans(),
)
def test_property_contract(h, w, colour, seed, denoise, equalize, binarize, invert, gray_spec) -> None:
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 256, (h, w, 3) if colour else (h, w), dtype=np.uint8)
    spec = GRAY_SPEC if gray_spec else RGB_SPEC
    config = dataclasses.replace(
        PreprocessConfig(),
        denoise=denoise and h * w < 20000, equalize=equalize, binarize=binarize, invert=invert,
    )
    pre = preprocess(img, spec, config)
    height, width = pre.model_image.shape[:2]
    assert height == spec.height and width % spec.width_multiple == 0
    assert spec.min_width <= pre.content_width <= min(width, spec.max_width)
    assert pre.tensor.shape == (spec.channels, height, width) and pre.tensor.dtype == np.float32
    assert np.isfinite(pre.tensor).all()
    assert pre.stages[0].name == "input" and pre.stages[-1].name == "resize + pad"
