"""Input widgets shared by pages: the image picker (upload or sample) and the preprocessing controls."""

from __future__ import annotations

from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import streamlit as st

from ocr.errors import OCRError
from ui.current import CurrentImage, get_current, set_current
from ui.resources import digest, load_image_cached

if TYPE_CHECKING:
    from streamlit.runtime.uploaded_file_manager import UploadedFile

    from ocr.preprocess import PreprocessConfig

__all__ = [
    "IMAGE_TYPES",
    "SAMPLE_DIR",
    "STAGE_TITLES",
    "PickedImage",
    "display_image",
    "file_current",
    "image_picker",
    "new_upload",
    "pick_image",
    "picker_widgets",
    "preprocess_config_from_state",
    "read_upload",
    "sample_current",
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


UPLOAD_KEY = "img_upload"  # one uploader and one sample chooser state for every line page
SAMPLE_KEY = "img_sample"
ERROR_KEY = "img_error"
SAMPLE_SOURCE = "sample line (sample_images/)"


def file_current(path: Path, name: str, source: str, label: str | None = None) -> CurrentImage | None:
    """The image file `path` as a CurrentImage called `name`, or None if unreadable (the reason is shown
    by the next image_picker)."""
    try:
        data = path.read_bytes()
        image = load_image_cached(data)
    except (OSError, OCRError) as exc:
        st.session_state[ERROR_KEY] = f"Cannot use {name}: {exc}"
        return None
    return CurrentImage(name, digest(data), image, source, label)


def sample_current(name: str) -> CurrentImage | None:
    """The sample `name` (relative to sample_images/) as a CurrentImage, or None if unreadable."""
    return file_current(SAMPLE_DIR / name, name, SAMPLE_SOURCE, sample_labels().get(name))


def read_upload(upload: UploadedFile, source: str) -> CurrentImage | None:
    """An uploaded file as a CurrentImage, or None after st.error (empty or not a readable image)."""
    data = upload.getvalue()
    if not data:
        st.error(f"{upload.name} is empty (0 bytes). Upload a PNG, JPEG, BMP, WebP or TIFF image.")
        return None
    try:
        image = load_image_cached(data)
    except OCRError as exc:
        st.error(f"Cannot use {upload.name}: {exc}")
        return None
    return CurrentImage(upload.name, digest(data), image, source)


def new_upload(upload: UploadedFile | None, seen_key: str) -> bool:
    """True once per uploaded file (by its upload id): the caller then makes it current."""
    if upload is None or st.session_state.get(seen_key) == upload.file_id:
        return False
    st.session_state[seen_key] = upload.file_id
    return True


def _sample_picked() -> None:
    """on_change of the sample chooser: the picked sample becomes the current image."""
    name = st.session_state.get(SAMPLE_KEY)
    picked = sample_current(name) if name else None
    if picked is not None:
        set_current(picked)


def image_picker(prefix: str = "") -> PickedImage | None:
    """Upload widget + sample chooser over the shared current image (ui.current): the same image on
    Recognize and the CTC inspector, kept across page switches. Returns it, or None (after st.info when
    there is nothing to show). A bad upload shows st.error and leaves the current image as it was.

    prefix: the calling page's widget prefix (unused: the picker's state is shared on purpose).
    """
    del prefix
    box = st.container()
    picked = pick_image()
    with box:
        picker_widgets()
    return picked


def pick_image() -> PickedImage | None:
    """The current image, without drawing the picker: the first labelled sample on a fresh session, or a
    file just uploaded (the uploader's value, which Streamlit puts in session state before the run).
    picker_widgets draws the widgets, later in the same run when the page sends its result first."""
    current = get_current()
    if current is None:  # start on the first labelled sample (a real line)
        samples = [str(p.relative_to(SAMPLE_DIR)) for p in sample_images()]
        if samples:
            current = sample_current(next((n for n in sample_labels() if n in samples), samples[0]))
            if current is not None:
                set_current(current)
    upload = st.session_state.get(UPLOAD_KEY)
    if new_upload(upload, f"{UPLOAD_KEY}_seen"):
        uploaded = read_upload(upload, "your upload")
        if uploaded is not None:
            current = uploaded
            set_current(current)  # the chooser shows no sample from now on
    if current is None:
        return None
    return PickedImage(name=current.name, key=current.key, image=current.image, label=current.label)


def picker_widgets() -> None:
    """The uploader, the sample chooser (showing the current sample, or none) and a line naming the
    current image; st.info when there is none. Call after pick_image in the same run."""
    samples = [str(p.relative_to(SAMPLE_DIR)) for p in sample_images()]
    current = get_current()
    st.session_state[SAMPLE_KEY] = (current.name if current is not None and current.source == SAMPLE_SOURCE
                                    and current.name in samples else None)
    left, right = st.columns([3, 2])
    left.file_uploader("Upload a text-line image (PNG, JPEG, BMP, WebP, TIFF)", type=IMAGE_TYPES,
                       key=UPLOAD_KEY)
    if samples:
        right.selectbox("…or pick a sample line", samples, key=SAMPLE_KEY, on_change=_sample_picked,
                        placeholder="pick a sample line")
    else:
        right.caption("No sample images found in sample_images/.")
    error = st.session_state.pop(ERROR_KEY, None)
    if error:
        st.error(error)
    if current is None:
        st.info("Upload a line image to start.")
        return
    h, w = current.image.shape[:2]
    st.caption(f"Current image: **{current.name}** · {current.source} · {w}×{h} px — shared by Recognize "
               "and the CTC inspector")


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
