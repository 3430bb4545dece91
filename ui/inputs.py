"""Input widgets shared by pages: the image picker (upload or sample) and the preprocessing controls."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ocr.errors import OCRError
from ui.resources import digest, load_image_cached

if TYPE_CHECKING:
    from ocr.preprocess import PreprocessConfig

__all__ = [
    "IMAGE_TYPES",
    "SAMPLE_DIR",
    "STAGE_TITLES",
    "PickedImage",
    "display_image",
    "image_picker",
    "preprocess_config_from_state",
    "sample_images",
    "sample_labels",
    "stage_controls",
]

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_DIR = ROOT / "sample_images"
SAMPLE_LABELS = SAMPLE_DIR / "labels.tsv"
IMAGE_TYPES = ["png", "jpg", "jpeg", "bmp", "webp", "tif", "tiff"]

# Preprocessing stages with a switch, in pipeline order, and how the page titles them.
STAGE_TITLES = {
    "grayscale": "Grayscale",
    "denoise": "Denoise (NL-means)",
    "equalize": "Equalise contrast",
    "invert": "Invert",
    "binarize": "Binarise (Otsu)",
}


@dataclass(frozen=True)
class PickedImage:
    """An image chosen by the user: its display name, raw bytes, content key and decoded pixels."""

    name: str
    key: str
    image: np.ndarray
    label: str | None = None  # the ground truth when it is a labelled sample


def sample_images() -> list[Path]:
    """Image files under sample_images/ (sorted, relative order stable)."""
    if not SAMPLE_DIR.is_dir():
        return []
    suffixes = {f".{t}" for t in IMAGE_TYPES}
    return sorted(p for p in SAMPLE_DIR.rglob("*") if p.is_file() and p.suffix.lower() in suffixes)


@st.cache_data(ttl=300, show_spinner=False)
def sample_labels() -> dict[str, str]:
    """{path relative to sample_images/: label} from sample_images/labels.tsv ({} if absent/unreadable)."""
    from ocr.evaluation.datasets import open_labelled_set

    if not SAMPLE_LABELS.is_file():
        return {}
    try:
        with open_labelled_set(SAMPLE_LABELS) as lset:
            return {s.key: s.text for s in lset.samples if s.error is None}
    except OCRError:
        return {}


def _array_key(image: np.ndarray) -> str:
    return digest(repr((image.shape, image.dtype.str)).encode() + np.ascontiguousarray(image).tobytes())


def image_picker(prefix: str, extra: dict[str, np.ndarray] | None = None) -> PickedImage | None:
    """Upload widget + sample chooser. Returns the chosen image, or None (after st.error for a bad file,
    or st.info when there is nothing to show yet). An upload takes precedence over the sample.

    extra: images handed over by another page ({display name: (H, W[, 3]) uint8 array}); they are listed
    first among the samples, and a newly handed-over image is selected once.
    """
    extra = {name: img for name, img in (extra or {}).items()
             if isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim in (2, 3) and img.size}
    seen_key = f"{prefix}_extra_seen"
    for name, img in extra.items():
        key = _array_key(img)
        if st.session_state.get(seen_key, {}).get(name) != key:  # new hand-over: select it once
            st.session_state.setdefault(seen_key, {})[name] = key
            st.session_state[f"{prefix}_sample"] = name
    samples = sample_images()
    left, right = st.columns([3, 2])
    with left:
        upload = st.file_uploader("Upload a text-line image (PNG, JPEG, BMP, WebP, TIFF)", type=IMAGE_TYPES,
                                  key=f"{prefix}_upload")
    with right:
        names = [*extra, *(str(p.relative_to(SAMPLE_DIR)) for p in samples)]
        choice = None
        if names:
            st.session_state.setdefault(f"{prefix}_sample", names[0])
            if st.session_state[f"{prefix}_sample"] not in names:
                st.session_state[f"{prefix}_sample"] = names[0]
            choice = st.selectbox("…or pick a sample line", names, key=f"{prefix}_sample",
                                  disabled=upload is not None,
                                  help="Clear the upload to use a sample." if upload is not None else None)
        else:
            st.caption("No sample images found in sample_images/.")
    if upload is not None:
        data, name, label = upload.getvalue(), upload.name, None
    elif choice is not None and choice in extra:
        image = extra[choice]
        return PickedImage(name=choice, key=_array_key(image), image=image)
    elif choice is not None:
        path = SAMPLE_DIR / choice
        try:
            data = path.read_bytes()
        except OSError as exc:
            st.error(f"Cannot read sample {choice}: {exc}")
            return None
        name, label = choice, sample_labels().get(choice)
    else:
        st.info("Upload a line image to start.")
        return None
    if not data:
        st.error(f"{name} is empty (0 bytes). Upload a PNG, JPEG, BMP, WebP or TIFF line image.")
        return None
    try:
        image = load_image_cached(data)
    except OCRError as exc:
        st.error(f"Cannot use {name}: {exc}")
        return None
    return PickedImage(name=name, key=digest(data), image=image, label=label)


_EQUALIZE_LABELS = {"none": "none", "global": "global", "clahe": "CLAHE"}


def _default(field: str) -> object:
    from ocr.preprocess import PreprocessConfig

    return getattr(PreprocessConfig(), field)


def _field_names() -> list[str]:
    from ocr.preprocess import PreprocessConfig

    return [f.name for f in fields(PreprocessConfig)]


def _key(prefix: str, field: str) -> str:
    return f"{prefix}_pre_{field}"


def stage_controls(prefix: str, stage: str) -> None:
    """The switch and parameters of one preprocessing stage (widget keys `{prefix}_pre_<field>`).

    Parameters are number inputs rather than sliders: a page with many sliders renders noticeably
    slower in the browser (measured with benchmarks/bench_app.py)."""
    def k(field: str) -> str:
        st.session_state.setdefault(_key(prefix, field), _default(field))
        return _key(prefix, field)

    if stage == "grayscale":
        st.toggle("Grayscale", key=k("grayscale"), help="Convert to one luminance channel first.")
    elif stage == "denoise":
        on = st.toggle("Denoise (NL-means)", key=k("denoise"),
                       help="OpenCV fastNlMeansDenoising: removes speckle, softens strokes at high h.")
        st.number_input("strength h", 1.0, 30.0, step=1.0, key=k("denoise_h"), disabled=not on)
    elif stage == "equalize":
        mode = st.segmented_control("Equalise contrast", ["none", "global", "clahe"], key=k("equalize"),
                                    required=True, format_func=_EQUALIZE_LABELS.__getitem__,
                                    help="Histogram equalisation over the whole line, or adaptive (CLAHE).")
        clahe = mode == "clahe"
        clip, tile = st.columns(2)
        clip.number_input("CLAHE clip limit", 0.5, 10.0, step=0.5, key=k("clahe_clip"), disabled=not clahe)
        tile.number_input("CLAHE tile (px)", 2, 32, step=1, key=k("clahe_tile"), disabled=not clahe)
    elif stage == "binarize":
        st.toggle("Binarise (Otsu)", key=k("binarize"), help="Global Otsu threshold to black and white.")
    elif stage == "invert":
        st.segmented_control("Invert", ["auto", "never", "always"], key=k("invert"), required=True,
                             help="auto: make the text dark on a light background when it is not.")


def preprocess_config_from_state(prefix: str) -> PreprocessConfig:
    """The PreprocessConfig the page's controls currently describe (defaults for untouched fields)."""
    from ocr.preprocess import PreprocessConfig

    values: dict[str, object] = {}
    for field in _field_names():
        value = st.session_state.get(_key(prefix, field), _default(field))
        if value is None:  # a segmented control clicked off: keep the default
            value = _default(field)
        values[field] = value
    return PreprocessConfig(**values)  # type: ignore[arg-type]


def display_image(image: np.ndarray, min_height: int = 48) -> np.ndarray:
    """The image enlarged (nearest neighbour, whole factor) so a thin line is at least min_height px."""
    h = image.shape[0]
    if h >= min_height:
        return image
    factor = -(-min_height // max(h, 1))
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)
