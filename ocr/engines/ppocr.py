"""PP-OCR text-line recognizers (v4 mobile, v6 small) from the rapidocr wheels' ONNX files.

Conventions, verified against the graphs: input (B, 3, 48, W) RGB, (x/255 - 0.5) / 0.5; output
(B, T, C) already softmaxed, T = (W + 1) // 8 (= W / 8 for W a multiple of 8); charset =
[blank ""] + the model metadata key `character` (one entry per line) + [" "].
The rapidocr pipelines are never imported: only their model files are read.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocr.engines.base import InputSpec
from ocr.engines.onnx_ctc import OnnxCtcEngine, OnnxModel, make_session, package_file
from ocr.engines.registry import engine_title
from ocr.errors import EngineUnavailable, UnknownEngine

__all__ = ["MODELS", "PPOCR_SPEC", "check", "load"]

# PaddleOCR pads with 0 after normalisation, i.e. mid gray: 128 is the nearest uint8 level.
PPOCR_SPEC = InputSpec(
    height=48, channels=3, mean=0.5, std=0.5, downsample=8,
    min_width=16, max_width=3200, width_multiple=8, pad_value=128,
)


@dataclass(frozen=True)
class _Model:
    package: str
    file: str
    licence: str


MODELS: dict[str, _Model] = {
    "ppocr-v4": _Model("rapidocr_onnxruntime", "models/ch_PP-OCRv4_rec_infer.onnx",
                       "Apache-2.0 (PaddleOCR model; rapidocr_onnxruntime wheel)"),
    "ppocr-v6": _Model("rapidocr", "models/PP-OCRv6_rec_small.onnx",
                       "Apache-2.0 (PaddleOCR model; rapidocr wheel)"),
}


def _model(name: str) -> _Model:
    try:
        return MODELS[name]
    except KeyError:
        raise UnknownEngine(f"ocr.engines.ppocr has no engine {name!r}; it has {', '.join(MODELS)}") from None


def _frames(width: int) -> int:
    return (width + 1) // 8


def check(name: str) -> str | None:
    """Why `name` cannot load here (missing package, model file or onnxruntime), or None."""
    model = _model(name)
    _, why = package_file("onnxruntime", "__init__.py")
    if why:
        return "onnxruntime is not installed"
    _, why = package_file(model.package, model.file)
    return why


def load(name: str) -> OnnxCtcEngine:
    """Load the recognizer (about 0.5 s); the registry calls this once per process."""
    model = _model(name)
    path, why = package_file(model.package, model.file)
    if path is None:
        raise EngineUnavailable(why or f"{name}: model file not found")
    session = make_session(path)
    meta = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
    if "character" not in meta:
        raise EngineUnavailable(f"{path} has no 'character' metadata: cannot build the charset")
    charset = ("", *meta["character"].split("\n"), " ")
    facts = {
        "charset": "blank + model metadata 'character' + space",
        "output": "softmax probabilities (B, T, C); log taken, clipped at 1e-30",
        "licence": model.licence,
    }
    return OnnxCtcEngine(
        name=name,
        title=engine_title(name),
        model=OnnxModel(path=path, output="probs", time_major=False, frames=_frames, max_batch=16),
        charset=charset,
        input_spec=PPOCR_SPEC,
        facts=facts,
        session=session,
    )
