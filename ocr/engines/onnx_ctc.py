"""A CTC recognizer run with onnxruntime: batching, padding, per-item trimming, log-probs.

Shared by the PP-OCR and ddddocr engines. Inference is thread-safe (InferenceSession.run is,
and nothing here is mutated after construction).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from ocr.engines.base import Engine, InputSpec
from ocr.errors import EngineUnavailable, OCRError
from ocr.preprocess import pad_batch

__all__ = [
    "DEFAULT_THREADS",
    "OnnxCtcEngine",
    "OnnxModel",
    "make_session",
    "onnx_spinning",
    "onnx_threads",
    "package_dir",
    "package_file",
]

DEFAULT_THREADS = 2  # the target machine has 2 cores
LOG_FLOOR = 1e-30  # probabilities are clipped here before the log, so no row holds -inf


def onnx_threads() -> int:
    """intra-op threads for onnxruntime: env OCR_THREADS (an integer >= 1), default 2."""
    raw = os.environ.get("OCR_THREADS", "").strip()
    if not raw:
        return DEFAULT_THREADS
    try:
        n = int(raw)
    except ValueError:
        raise OCRError(f"OCR_THREADS must be an integer >= 1, not {raw!r}") from None
    if n < 1:
        raise OCRError(f"OCR_THREADS must be an integer >= 1, not {raw!r}")
    return n


def onnx_spinning() -> bool:
    """Whether onnxruntime's intra-op threads spin while waiting for work: env OCR_ORT_SPIN "1" or "0"
    (default "0": on a shared 2-core machine spinning threads take CPU from everything else)."""
    raw = os.environ.get("OCR_ORT_SPIN", "").strip()
    if raw not in ("", "0", "1"):
        raise OCRError(f"OCR_ORT_SPIN must be 0 or 1, not {raw!r}")
    return raw == "1"


def package_dir(package: str) -> Path | None:
    """Folder of an installed package, found without importing it (None if not installed)."""
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def package_file(package: str, relative: str) -> tuple[Path | None, str | None]:
    """(path, None) if `relative` exists inside the installed package, else (None, why not)."""
    folder = package_dir(package)
    if folder is None:
        return None, f"Python package {package!r} is not installed (see requirements-models.txt)"
    path = folder / relative
    if not path.is_file():
        return None, f"model file {path} is missing from the {package!r} wheel"
    return path, None


def make_session(path: Path | bytes, threads: int | None = None, name: str = "") -> object:
    """An onnxruntime CPU InferenceSession of a model file (or serialized model bytes, named `name`
    in errors): `threads` intra-op threads, spinning per onnx_spinning(), quiet, no telemetry (see also
    ORT_DISABLE_TELEMETRY, set when `ocr` is imported)."""
    import onnxruntime as ort

    if os.environ.get("ORT_DISABLE_TELEMETRY", "1") != "0":
        ort.disable_telemetry_events()
    so = ort.SessionOptions()
    so.intra_op_num_threads = threads or onnx_threads()
    so.inter_op_num_threads = 1
    so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    so.log_severity_level = 3  # the ddddocr graph declares a wrong output shape: ort warns every run
    so.add_session_config_entry("session.intra_op.allow_spinning", "1" if onnx_spinning() else "0")
    try:
        model = path if isinstance(path, bytes) else str(path)
        return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types
        raise EngineUnavailable(f"cannot load {name or path}: {exc}") from exc


@dataclass(frozen=True)
class OnnxModel:
    """How to run one ONNX CTC graph.

    output:      "probs" (already softmaxed, (B, T, C)) or "logits" (raw scores).
    time_major:  output layout (T, B, C) instead of (B, T, C).
    frames:      output frames T for an input of width W (what the graph does, measured).
    max_batch:   the most lines per run (1 for graphs with a fixed batch dimension).
    max_pad_ratio: a batch group is closed when a line is wider than (1 + ratio) x the group's
                 narrowest. Default 0: only equal-width lines share a run, because padding changes
                 PP-OCR's outputs (its SVTR blocks attend over the whole width: with 25% padding,
                 probabilities moved by up to 0.5 and one real line's greedy text changed), so
                 batched results equal single-line results.
    """

    path: Path
    output: Literal["probs", "logits"]
    time_major: bool
    frames: Callable[[int], int]
    max_batch: int = 16
    max_pad_ratio: float = 0.0


def _log_softmax(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64)
    x = x - x.max(axis=-1, keepdims=True)
    return (x - np.log(np.exp(x).sum(axis=-1, keepdims=True))).astype(np.float32)


def _log_probs(p: np.ndarray) -> np.ndarray:
    """Log of softmax output, clipped at LOG_FLOOR and renormalised so rows sum to 1 exactly."""
    return _log_softmax(np.log(np.clip(p.astype(np.float64), LOG_FLOOR, None)))


class OnnxCtcEngine(Engine):
    """A CTC engine over one ONNX graph; `logprobs_batch` returns (T_i, C) float32 per line."""

    has_ctc = True

    def __init__(
        self,
        name: str,
        title: str,
        model: OnnxModel,
        charset: tuple[str, ...],
        input_spec: InputSpec,
        facts: dict[str, object],
        session: object | None = None,
    ) -> None:
        self.name = name
        self.title = title
        self.model = model
        self.input_spec = input_spec
        self._session = session if session is not None else make_session(model.path)
        self._input = self._session.get_inputs()[0].name  # type: ignore[attr-defined]
        self._fill = float((input_spec.pad_value / 255.0 - input_spec.mean) / input_spec.std)
        n_classes = self._probe_classes()
        if n_classes != len(charset):
            raise EngineUnavailable(
                f"{name}: the model outputs {n_classes} classes but the charset has {len(charset)}"
            )
        if charset[0] != "":
            raise EngineUnavailable(f"{name}: charset index 0 must be the blank")
        self.charset = charset
        self._facts = facts

    def _probe_classes(self) -> int:
        h = self.input_spec.height or 32
        x = np.full((1, self.input_spec.channels, h, 32), self._fill, dtype=np.float32)
        out = self._run(x)
        return int(out.shape[-1])

    def _run(self, batch: np.ndarray) -> np.ndarray:
        """(B, C, H, W) float32 -> raw output in (B, T, C) layout."""
        out = self._session.run(None, {self._input: batch})[0]  # type: ignore[attr-defined]
        if self.model.time_major:
            out = out.transpose(1, 0, 2)
        return out

    def _groups(self, widths: list[int]) -> list[list[int]]:
        """Indices grouped for batching: sorted by width, at most max_batch, bounded padding."""
        order = sorted(range(len(widths)), key=lambda i: widths[i])
        groups: list[list[int]] = []
        for i in order:
            g = groups[-1] if groups else None
            if (
                g is None
                or len(g) >= self.model.max_batch
                or widths[i] > widths[g[0]] * (1.0 + self.model.max_pad_ratio)
            ):
                groups.append([i])
            else:
                g.append(i)
        return groups

    def logprobs_batch(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """Each (channels, height, W_i) float32 -> (T_i, C) float32 log-probs, T_i = frames(W_i).

        Lines are sorted by width and run in groups padded to the group's widest; each result
        is trimmed to the line's own frames, so padding frames never reach the decoder.
        """
        spec = self.input_spec
        for t in tensors:
            if t.ndim != 3 or t.shape[0] != spec.channels or (spec.height and t.shape[1] != spec.height):
                raise OCRError(
                    f"{self.name} expects tensors of shape ({spec.channels}, {spec.height}, W), got {t.shape}"
                )
        widths = [int(t.shape[2]) for t in tensors]
        results: list[np.ndarray | None] = [None] * len(tensors)
        for group in self._groups(widths):
            batch = pad_batch([tensors[i] for i in group], fill=self._fill)
            out = self._run(batch)
            for row, i in enumerate(group):
                frames = min(max(1, self.model.frames(widths[i])), out.shape[1])
                raw = out[row, :frames]
                results[i] = _log_probs(raw) if self.model.output == "probs" else _log_softmax(raw)
        return [r for r in results if r is not None]

    def describe(self) -> dict[str, object]:
        """Model file, size, classes, input size and normalisation, licence."""
        spec = self.input_spec
        path = self.model.path
        return {
            "engine": self.name,
            "title": self.title,
            "model_file": str(path),
            "model_size_mb": round(path.stat().st_size / 1e6, 1) if path.exists() else None,
            "classes": len(self.charset),
            "input": f"B×{spec.channels}×{spec.height}×W (W multiple of {spec.width_multiple})",
            "normalisation": f"(x/255 - {spec.mean:g}) / {spec.std:g}",
            "frames": f"T = W / {spec.downsample}",
            "threads": self._session.get_session_options().intra_op_num_threads,  # type: ignore[attr-defined]
            **self._facts,
        }
