"""ddddocr's CRNN (CNN + BiLSTM + CTC, 8,210 classes, MIT) from the ddddocr wheel's fp32 graph.

Model: `ddddocr/common.onnx` (the package's "beta" model; `common_old.onnx` is its int8 sibling).
Input (1, 1, 64, W) gray, x/255; the batch dimension is fixed at 1, so lines run one at a time.
Output (T, 1, C) raw logits, T = ceil(W / 8) (measured; = W / 8 for W a multiple of 8); we apply
log_softmax. Charset: CHARSET_BETA in `ddddocr/charsets.py` (index 0 = blank ""), read by parsing
the file with `ast` -- ddddocr itself is never imported (its import pulls its whole pipeline).
"""

from __future__ import annotations

import ast
import math
from pathlib import Path

from ocr.engines.base import InputSpec
from ocr.engines.onnx_ctc import OnnxCtcEngine, OnnxModel, package_file
from ocr.engines.registry import engine_title
from ocr.errors import EngineUnavailable, UnknownEngine

__all__ = ["DDDDOCR_SPEC", "MODEL_FILE", "check", "load", "read_charset"]

NAME = "ddddocr"
MODEL_FILE = "common.onnx"
CHARSET_FILE = "charsets.py"
CHARSET_VAR = "CHARSET_BETA"  # the charset ddddocr pairs with common.onnx (beta=True)

# Light padding: after "invert: auto" lines are dark text on a light background.
DDDDOCR_SPEC = InputSpec(
    height=64, channels=1, mean=0.0, std=1.0, downsample=8,
    min_width=16, max_width=3200, width_multiple=8, pad_value=255,
)


def _frames(width: int) -> int:
    return math.ceil(width / 8)


def read_charset(path: Path, variable: str = CHARSET_VAR) -> tuple[str, ...]:
    """The list literal assigned to `variable` in a Python source file, parsed (never executed)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, UnicodeDecodeError) as exc:
        raise EngineUnavailable(f"cannot read the ddddocr charset from {path}: {exc}") from exc
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == variable
        ):
            try:
                value = ast.literal_eval(node.value)
            except ValueError as exc:
                raise EngineUnavailable(f"{variable} in {path} is not a literal list") from exc
            if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
                raise EngineUnavailable(f"{variable} in {path} is not a list of strings")
            return tuple(value)
    raise EngineUnavailable(f"{path} defines no {variable}")


def check(name: str) -> str | None:
    """Why ddddocr cannot load here, or None."""
    if name != NAME:
        raise UnknownEngine(f"ocr.engines.ddddocr has no engine {name!r}")
    _, why = package_file("onnxruntime", "__init__.py")
    if why:
        return "onnxruntime is not installed"
    for file in (MODEL_FILE, CHARSET_FILE):
        _, why = package_file("ddddocr", file)
        if why:
            return why
    return None


def load(name: str) -> OnnxCtcEngine:
    """Load the recognizer (about 0.5 s; 54 MB); the registry calls this once per process."""
    why = check(name)
    model_path, _ = package_file("ddddocr", MODEL_FILE)
    charset_path, _ = package_file("ddddocr", CHARSET_FILE)
    if why or model_path is None or charset_path is None:
        raise EngineUnavailable(why or "ddddocr files not found")
    charset = read_charset(charset_path)
    facts = {
        "charset": f"{CHARSET_VAR} from {charset_path} (parsed, not imported)",
        "output": "raw logits (T, 1, C); log_softmax applied",
        "architecture": "EfficientNetV2-style CNN + BiLSTM(512) + Linear(1024 -> 8210), 13.5 M params",
        "batching": "the graph's batch dimension is fixed at 1: lines run one at a time",
        "licence": "MIT (ddddocr)",
    }
    return OnnxCtcEngine(
        name=NAME,
        title=engine_title(NAME),
        model=OnnxModel(path=model_path, output="logits", time_major=True, frames=_frames, max_batch=1),
        charset=charset,
        input_spec=DDDDOCR_SPEC,
        facts=facts,
    )
