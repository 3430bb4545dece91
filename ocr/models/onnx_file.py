"""Shipped inference files: a CRNN as one `.onnx` file with its metadata inside, read without torch.

    write_onnx_file(model, Path("models/crnn_fast.onnx"), meta)   # training side (imports torch)
    meta = session_meta(make_session(path), path)                  # inference side (onnxruntime only)

The graph is the log-probability graph of ocr.models.onnx_export.to_onnx (inputs x (B, 1, H, W) float32
and lengths (B,) int64; output logp (B, T, C)). Weights are stored as float16 initializers, each followed
by a Cast to float32 that onnxruntime folds once at session start, so the file is half the size and
inference runs in float32 exactly as before. The checkpoint metadata (charset, its sha256, input
normalisation, lineage, evaluation) is one JSON string under the metadata key `ocr_meta`.

int8=True (`python -m ocr to-onnx --int8`, how `models/crnn.onnx` ships) quantizes the BiLSTM and the
classifier's matrices to int8 with onnxruntime's dynamic quantization, one scale per output channel
(DynamicQuantizeLSTM; MatMulInteger, which onnxruntime fuses into DynamicQuantizeMatMul); convolutions
keep their float16 storage. Activations are quantized per call with one scale over the whole input, so
the engine runs such a file one line per call (CrnnEngine.logprobs_batch). On `crnn` the BiLSTM ran ~3x
faster and a 32 x 280 line 15.0 -> 8.8 ms p50, reading every measured set as the float model did
(docs/model_card.md, session 21).
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from ocr.models.crnn import CRNN

__all__ = ["INT8_NOTE", "META_KEY", "onnx_from_checkpoint", "session_meta", "write_onnx_file"]

META_KEY = "ocr_meta"
_MIN_FP16 = 1024  # smaller initializers (shapes, scalars, biases of tiny layers) stay float32
INT8_OPS = ("LSTM", "MatMul")  # what int8=True quantizes
INT8_NOTE = "int8 dynamic, per channel: BiLSTM and classifier (onnxruntime); convolutions float16 storage"


def _fp16_storage(model_bytes: bytes, keep_ops: tuple[str, ...] = ()) -> object:
    """The ONNX model with every large float32 initializer stored as float16 + a Cast node, except the
    inputs of `keep_ops` nodes (left float32 for the int8 quantizer, which needs them as initializers)."""
    import onnx
    from onnx import helper, numpy_helper

    m = onnx.load_from_string(model_bytes)
    g = m.graph
    kept = {name for node in g.node if node.op_type in keep_ops for name in node.input}
    casts = []
    for init in list(g.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or init.name in kept:
            continue
        arr = numpy_helper.to_array(init)
        if arr.size < _MIN_FP16:
            continue
        name = init.name
        half = numpy_helper.from_array(arr.astype(np.float16), name + "__fp16")
        g.initializer.remove(init)
        g.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [name], to=onnx.TensorProto.FLOAT,
                                      name=name + "__cast"))
    for i, node in enumerate(casts):  # before every consumer: Casts first keeps the graph sorted
        g.node.insert(i, node)
    return m


def _int8_dynamic(m: object) -> object:
    """The model with its INT8_OPS weights quantized to int8 (dynamic, per output channel)."""
    import tempfile

    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    hint = _DropPreprocessHint()
    root.addFilter(hint)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "float.onnx", Path(tmp) / "int8.onnx"
            onnx.save(m, str(src))
            quantize_dynamic(src, out, op_types_to_quantize=list(INT8_OPS), per_channel=True,
                             weight_type=QuantType.QInt8)
            return onnx.load(str(out))
    finally:
        root.removeFilter(hint)


class _DropPreprocessHint(logging.Filter):
    """The quantizer logs 'Please consider to run pre-processing' on the root logger for every model;
    our graphs need no pre-processing (their shapes are inferred at export)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def write_onnx_file(model: CRNN, path: Path, meta: dict[str, object], int8: bool = False) -> int:
    """Export `model` (log-probabilities) with `meta` inside to `path` (atomic). Returns the size.
    int8: quantize the BiLSTM and classifier (INT8_NOTE; meta gains a "quantization" entry)."""
    import onnx

    from ocr.models.onnx_export import to_onnx

    if int8:
        m = _int8_dynamic(_fp16_storage(to_onnx(model), keep_ops=INT8_OPS))
        meta = {**meta, "quantization": INT8_NOTE}
    else:
        m = _fp16_storage(to_onnx(model))
        meta = {k: v for k, v in meta.items() if k != "quantization"}
    del m.metadata_props[:]  # type: ignore[attr-defined]
    entry = m.metadata_props.add()  # type: ignore[attr-defined]
    entry.key, entry.value = META_KEY, json.dumps(meta, ensure_ascii=False)
    onnx.checker.check_model(m)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(m.SerializeToString())  # type: ignore[attr-defined]
    tmp.replace(path)
    return path.stat().st_size


def session_meta(session: object, path: Path) -> dict[str, object]:
    """The metadata written by write_onnx_file, read from an onnxruntime session of that file. Raises
    ValueError when the file carries no `ocr_meta` (not one of ours)."""
    props = session.get_modelmeta().custom_metadata_map  # type: ignore[attr-defined]
    if META_KEY not in props:
        raise ValueError(f"{path} has no {META_KEY!r} metadata: not an OCR Studio model file")
    return json.loads(props[META_KEY])


def onnx_from_checkpoint(checkpoint: Path, out: Path, int8: bool = False) -> int:
    """Write the shipped `.onnx` file of an exported fp16 checkpoint (its metadata carried over, plus the
    architecture the engine reports; int8 as in write_onnx_file). Returns the file size in bytes."""
    from ocr.models.checkpoint import load_checkpoint

    model, meta = load_checkpoint(Path(checkpoint))
    meta = {**meta, "config": model.config.to_dict(), "source": Path(checkpoint).name}
    return write_onnx_file(model, Path(out), meta, int8=int8)
