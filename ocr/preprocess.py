"""Line-image preprocessing: named, switchable stages, every intermediate kept for display.

Data flow: (H, W, 3) or (H, W) uint8 image -> [grayscale] -> [denoise] -> [equalize] -> [invert]
-> [binarize] -> resize + pad -> (C, H', W') float32 tensor normalised per the engine's InputSpec.

Example:
    pre = preprocess(image, engine.input_spec, PreprocessConfig(equalize="clahe"))
    [s.name for s in pre.stages]  # ["input", "grayscale", "equalize", "invert", "resize + pad"]
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from ocr.engines.base import InputSpec
from ocr.errors import ImageError

__all__ = [
    "SQUEEZE_WARN",
    "PreprocessConfig",
    "Preprocessed",
    "Stage",
    "background_is_dark",
    "border_level",
    "normalise",
    "pad_batch",
    "pad_level",
    "preprocess",
    "resize_and_pad",
]

SQUEEZE_WARN = 1.5  # a line narrowed more than this (relative to its height) is unlikely to read
Equalize = Literal["none", "global", "clahe"]
Invert = Literal["auto", "never", "always"]


@dataclass(frozen=True)
class PreprocessConfig:
    """Which stages run, and their parameters.

    grayscale: convert to gray; 1-channel engines are always gray, RGB engines get gray replicated.
    denoise:   non-local means (cv2.fastNlMeansDenoising) with filter strength `denoise_h`.
    equalize:  "global" histogram equalisation or "clahe" (clip `clahe_clip`, `clahe_tile`² tiles);
               on colour images only the luma channel is equalised.
    binarize:  Otsu threshold (gray result, replicated for RGB engines).
    invert:    "auto" inverts when the background (the image border) is dark, so models trained
               on dark-on-light text see dark-on-light text; "never" / "always" force it.
               Default "auto": on light-on-dark lines it fixes most errors and it never fires on
               dark-on-light ones (benchmarks/bench_engines.py --preprocess measures it).
    """

    grayscale: bool = True
    denoise: bool = False
    denoise_h: float = 10.0
    equalize: Equalize = "none"
    clahe_clip: float = 2.0
    clahe_tile: int = 8
    binarize: bool = False
    invert: Invert = "auto"

    def __post_init__(self) -> None:
        if self.equalize not in ("none", "global", "clahe"):
            raise ValueError(f"equalize must be 'none', 'global' or 'clahe', not {self.equalize!r}")
        if self.invert not in ("auto", "never", "always"):
            raise ValueError(f"invert must be 'auto', 'never' or 'always', not {self.invert!r}")
        if self.denoise_h <= 0:
            raise ValueError(f"denoise_h must be > 0, not {self.denoise_h}")
        if self.clahe_clip <= 0 or self.clahe_tile < 1:
            raise ValueError("clahe_clip must be > 0 and clahe_tile >= 1")


@dataclass(frozen=True)
class Stage:
    """One step's output: image is uint8 (H, W) gray or (H, W, 3) RGB; detail says what was done."""

    name: str
    image: np.ndarray
    detail: str


@dataclass(frozen=True)
class Preprocessed:
    """Everything preprocessing produced for one line.

    stages:        "input", then each enabled stage in order, ending with "resize + pad".
    model_image:   uint8 (H, W) gray or (H, W, 3) RGB, exactly what the model sees (padded);
                   a gray image fed to an RGB engine is replicated to 3 channels in `tensor` only.
    tensor:        (C, H, W) float32, (x/255 - mean) / std per the InputSpec.
    content_width: width in px of the unpadded content inside model_image.
    scale:         horizontal resize factor original -> model_image (content_width / original W);
                   model column x maps to original column x / scale.
    warnings:      what may make the result unreliable, one line each (a line squeezed to fit the
                   engine's max_width by more than SQUEEZE_WARN).
    """

    stages: tuple[Stage, ...]
    model_image: np.ndarray
    tensor: np.ndarray
    content_width: int
    scale: float
    warnings: tuple[str, ...] = ()


def _check_image(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise ImageError(f"expected a numpy array, got {type(image).__name__}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] == 4:
        raise ImageError("RGBA arrays are not accepted here: load images with ocr.imageio.load_image")
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] != 3):
        raise ImageError(f"expected an (H, W) or (H, W, 3) image, got shape {image.shape}")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise ImageError(f"empty image (shape {image.shape})")
    if image.dtype != np.uint8:
        raise ImageError(f"expected uint8 pixels, got {image.dtype}")
    return np.ascontiguousarray(image)


def _to_gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)


def _on_luma(image: np.ndarray, fn: object) -> np.ndarray:
    """Apply a gray -> gray function to a gray image, or to the Y channel of an RGB image."""
    if image.ndim == 2:
        return fn(image)  # type: ignore[operator]
    ycc = cv2.cvtColor(image, cv2.COLOR_RGB2YCrCb)
    ycc[:, :, 0] = fn(np.ascontiguousarray(ycc[:, :, 0]))  # type: ignore[operator]
    return cv2.cvtColor(ycc, cv2.COLOR_YCrCb2RGB)


def border_level(gray: np.ndarray) -> float:
    """Median of the 2-px border ring of a 2-D array of any dtype (the whole array when it is tiny):
    the background level of a line crop, in the array's own units."""
    h, w = gray.shape
    r = 2 if min(h, w) > 8 else 0
    ring = gray.ravel() if r == 0 else np.concatenate(
        [gray[:r].ravel(), gray[-r:].ravel(), gray[:, :r].ravel(), gray[:, -r:].ravel()]
    )
    k = ring.size // 2  # the median via partition: np.median costs ~3x more on these small rings
    if ring.size % 2:
        return float(np.partition(ring, k)[k])
    lo, hi = np.partition(ring, (k - 1, k))[k - 1 : k + 1]
    return (float(lo) + float(hi)) / 2.0


def background_is_dark(image: np.ndarray) -> tuple[bool, float, float]:
    """(dark?, background level, threshold): the border ring of a line crop is background.

    image: uint8 (H, W) or (H, W, 3). Dark when the border-ring median and the most common level
    (histogram smoothed over 17 levels) both fall on the dark side of the image's Otsu threshold,
    i.e. the text is lighter than its surround. A fixed cut at 128 calls a grey scan with black text
    (background ~120) dark, and the ring alone is fooled by table rules and frames along the crop's
    edges: on 4,000 rendered dark-on-light lines the three rules flagged 54, 23 and 3. Images with
    little contrast (1st-99th percentile spread < 32 levels) fall back to the fixed cut.
    """
    gray = np.ascontiguousarray(_to_gray(image))
    level = border_level(gray)
    threshold = float(cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0])
    if level >= 128.0 and level > threshold:  # light by either rule: skip the histogram (most lines)
        return False, level, threshold
    hist = cv2.calcHist([gray], [0], None, [256], [0, 256]).ravel()
    lo, hi = np.searchsorted(np.cumsum(hist), (0.01 * gray.size, 0.99 * gray.size))
    if hi - lo < 32:
        return level < 128.0, level, 128.0
    mode = float(np.convolve(hist, np.ones(17), mode="same").argmax())  # smoothed over 17 levels
    return level <= threshold and mode <= threshold, level, threshold


def pad_level(image: np.ndarray, spec: InputSpec) -> int:
    """The gray level (0..255) that right-pads this uint8 line for this engine."""
    return round(border_level(_to_gray(image))) if spec.pad_background else spec.pad_value


def resize_and_pad(image: np.ndarray, spec: InputSpec) -> tuple[np.ndarray, int, float]:
    """Aspect-preserving resize to spec.height, width clamped, right-padded.

    image: uint8 (H, W) or (H, W, 3). Returns (padded image (spec.height, W_pad[, 3]), content
    width, horizontal scale). Width = round(W * height / H) clamped to [min_width, max_width]
    (clamping squeezes or stretches horizontally); W_pad = content width rounded up to a multiple
    of spec.width_multiple, padded with spec.pad_value (or the line's background level when
    spec.pad_background). INTER_AREA when shrinking (height < H), INTER_CUBIC when enlarging.
    spec.height None: no resize and no padding (scale 1.0).
    """
    h, w = image.shape[:2]
    if spec.height is None:
        return image, w, 1.0
    height = spec.height
    width = max(1, round(w * height / h))
    width = min(max(width, spec.min_width), spec.max_width)
    interp = cv2.INTER_AREA if height < h else cv2.INTER_CUBIC
    same = (width, height) == (w, h)
    resized = image if same else cv2.resize(image, (width, height), interpolation=interp)
    multiple = max(1, spec.width_multiple)
    padded_w = max(multiple, math.ceil(width / multiple) * multiple)
    shape = (height, padded_w) if image.ndim == 2 else (height, padded_w, 3)
    out = np.full(shape, pad_level(resized, spec), dtype=np.uint8)
    out[:, :width] = resized
    return out, width, width / w


def normalise(image: np.ndarray, spec: InputSpec) -> np.ndarray:
    """uint8 (H, W) or (H, W, 3) -> (spec.channels, H, W) float32, (x/255 - mean) / std."""
    x = image.astype(np.float32) * np.float32(1.0 / 255.0)
    x = x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    if spec.channels == 3 and x.shape[0] == 1:
        x = np.repeat(x, 3, axis=0)
    elif spec.channels == 1 and x.shape[0] == 3:  # not reached via preprocess (it grays first)
        x = x.mean(axis=0, keepdims=True)
    x = (x - np.float32(spec.mean)) / np.float32(spec.std)
    return np.ascontiguousarray(x, dtype=np.float32)


def pad_batch(tensors: list[np.ndarray], fill: float | Sequence[float] = 0.0) -> np.ndarray:
    """Stack (C, H, W_i) tensors into (B, C, H, W_max) float32, right-padded with `fill` (one value,
    or one per tensor).

    `fill` is in normalised units: an engine pads with (pad_value/255 - mean) / std.
    """
    if not tensors:
        raise ValueError("pad_batch needs at least one tensor")
    c, h = tensors[0].shape[:2]
    for t in tensors:
        if t.ndim != 3 or t.shape[:2] != (c, h):
            raise ValueError(f"tensors must all be ({c}, {h}, W), got {t.shape}")
    fills = [float(fill)] * len(tensors) if isinstance(fill, int | float) else [float(f) for f in fill]
    if len(fills) != len(tensors):
        raise ValueError(f"{len(fills)} fill values for {len(tensors)} tensors")
    width = max(t.shape[2] for t in tensors)
    out = np.empty((len(tensors), c, h, width), dtype=np.float32)
    for i, t in enumerate(tensors):
        out[i] = fills[i]
        out[i, :, :, : t.shape[2]] = t
    return out


def preprocess(
    image: np.ndarray, spec: InputSpec, config: PreprocessConfig | None = None
) -> Preprocessed:
    """Run the enabled stages on one line image and build the model tensor.

    image: uint8 (H, W, 3) RGB or (H, W) gray, H, W >= 1. Raises ImageError on anything else.
    """
    config = config or PreprocessConfig()
    img = _check_image(image)
    stages: list[Stage] = [Stage("input", img, f"{img.shape[1]}×{img.shape[0]} px, "
                                 f"{'gray' if img.ndim == 2 else 'RGB'}")]

    if img.ndim == 3 and (config.grayscale or spec.channels == 1):
        img = _to_gray(img)
        why = "engine is 1-channel" if spec.channels == 1 and not config.grayscale else "RGB → gray"
        stages.append(Stage("grayscale", img, f"{why} (BT.601 luma)"))

    if config.denoise:
        h = float(config.denoise_h)
        if img.ndim == 2:
            img = cv2.fastNlMeansDenoising(img, None, h, 7, 21)
        else:
            img = cv2.fastNlMeansDenoisingColored(img, None, h, h, 7, 21)
        stages.append(Stage("denoise", img, f"non-local means, h {h:g}, template 7, search 21"))

    if config.equalize == "global":
        img = _on_luma(img, cv2.equalizeHist)
        stages.append(Stage("equalize", img, "global histogram equalisation"))
    elif config.equalize == "clahe":
        tile = int(config.clahe_tile)
        clahe = cv2.createCLAHE(clipLimit=float(config.clahe_clip), tileGridSize=(tile, tile))
        img = _on_luma(img, clahe.apply)
        stages.append(Stage("equalize", img, f"CLAHE clip {config.clahe_clip:g}, tile {tile}"))

    if config.invert != "never":
        dark, level, cut = background_is_dark(img)
        if config.invert == "always":
            img, detail = 255 - img, "always inverted"
        elif dark:
            img, detail = 255 - img, (f"auto: dark background (border median {level:.0f}, "
                                      f"threshold {cut:.0f}), inverted")
        else:
            detail = f"auto: light background (border median {level:.0f}, threshold {cut:.0f}), kept"
        stages.append(Stage("invert", img, detail))

    if config.binarize:
        gray = _to_gray(img)
        threshold, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        img = binary
        stages.append(Stage("binarize", img, f"Otsu threshold {threshold:.0f}"))

    model_image, content_width, scale = resize_and_pad(img, spec)
    if spec.height is None:
        detail = f"no resize (engine takes any size): {content_width}×{model_image.shape[0]}"
    else:
        padded = model_image.shape[1] > content_width
        level = int(np.ravel(model_image[0, -1])[0]) if padded else pad_level(model_image, spec)
        fill = f"the background level {level}" if spec.pad_background else f"{level}"
        detail = (f"{img.shape[1]}×{img.shape[0]} → {content_width}×{spec.height}, padded to "
                  f"{model_image.shape[1]} with {fill}")
    stages.append(Stage("resize + pad", model_image, detail))
    tensor = normalise(model_image, spec)
    return Preprocessed(tuple(stages), model_image, tensor, content_width, scale, _squeeze_warning(img, spec))


def _squeeze_warning(image: np.ndarray, spec: InputSpec) -> tuple[str, ...]:
    """A warning when resize_and_pad narrows this line by more than SQUEEZE_WARN to fit max_width."""
    if spec.height is None:
        return ()
    h, w = image.shape[:2]
    natural = w * spec.height / h
    squeeze = natural / spec.max_width
    if squeeze <= SQUEEZE_WARN:
        return ()
    return (f"the line is {w:,}×{h:,} px: at the model's height of {spec.height} px it would be "
            f"{natural:,.0f} px wide, so it was squeezed {squeeze:.0f}× to the engine's maximum width of "
            f"{spec.max_width:,} px; the text is unlikely to read: crop or split it into shorter lines",)
