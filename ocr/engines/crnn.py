"""The project's own CRNNs, loaded from committed `.onnx` files (fp16 storage, metadata inside): `crnn`
(models/crnn.onnx, the accurate 64-px model) and `crnn-fast` (models/crnn_fast.onnx, the 32-px student).
Their PyTorch weights (models/*.pt) are what training and fine-tuning start from.

Input (B, 1, H, W) gray x/255, dark text on light (H and normalisation from the checkpoint metadata);
output per item (T_i, C) log-probabilities, T_i = ceil(W_i / 8). Lines are right-padded with their own
background level, as in training (white padding beside a grey background corrupts the last character;
see docs/model_card.md), and batched calls pass each item's length to the LSTM,
so padding does not leak into an item's recurrent state.

Inference runs in onnxruntime from the shipped `.onnx` file (graph + metadata in one file, fp16 storage;
ocr.models.onnx_file): loading imports neither torch nor the exporter. A `.pt` checkpoint (a training
export, a fine-tune) still loads: it is exported to an in-memory ONNX graph once per load.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ocr.engines.base import Engine, InputSpec
from ocr.engines.registry import ENGINES
from ocr.errors import EngineUnavailable, UnknownEngine

__all__ = ["CHECKPOINT", "VARIANTS", "CrnnEngine", "Variant", "check", "crnn_input_spec", "load"]

NAME = "crnn"
MODELS = Path(__file__).resolve().parents[2] / "models"
MAX_WIDTH = 12800  # 200 characters at 64 px; wider lines are squeezed by preprocessing


@dataclass(frozen=True)
class Variant:
    """One registered checkpoint: where it lives, how to make it, whose weights (its title is in the
    engine registry)."""

    checkpoint: Path
    train_args: str  # the `python -m ocr train` options (beyond shards/run dir) that produce it
    licence: str


VARIANTS = {
    "crnn": Variant(MODELS / "crnn.onnx", "--init ddddocr",
                    "weights derived from ddddocr (MIT), fine-tuned here"),
    "crnn-fast": Variant(MODELS / "crnn_fast.onnx",
                         "--init '' --arch fast32 --teacher models/crnn.pt",
                         "trained here from random init (distilled from our CRNN, then CTC fine-tuned)"),
}
CHECKPOINT = VARIANTS[NAME].checkpoint


def crnn_input_spec(height: int, mean: float = 0.0, std: float = 1.0) -> InputSpec:
    """What our CRNNs take: 1 x height x W gray, (x/255 - mean) / std, T = ceil(W / 8), right-padded
    with the line's own background level."""
    return InputSpec(height=height, channels=1, mean=mean, std=std, downsample=8, min_width=16,
                     max_width=MAX_WIDTH, width_multiple=8, pad_value=255, pad_background=True)


def check(name: str, checkpoint: Path | None = None) -> str | None:
    """Why the engine cannot load here, or None."""
    if name not in VARIANTS:
        raise UnknownEngine(f"ocr.engines.crnn has no engine {name!r}")
    variant = VARIANTS[name]
    checkpoint = checkpoint or variant.checkpoint
    if checkpoint.suffix != ".onnx" and importlib.util.find_spec("torch") is None:
        return "torch is not installed (see requirements.txt)"
    if not checkpoint.is_file():
        default = variant.checkpoint.name
        pt = Path(default).with_suffix(".pt")
        return (f"no model file at models/{default} ({checkpoint}); train one with "
                f"`python -m ocr train {variant.train_args} --export models/{pt}`, then "
                f"`python -m ocr to-onnx models/{pt} models/{default}`")
    return None


class CrnnEngine(Engine):
    """CTC engine around ocr.models.CRNN, run by onnxruntime. Thread-safe: the session is never mutated
    after load."""

    has_ctc = True

    def __init__(self, checkpoint: Path, threads: int | None = None, name: str = NAME) -> None:
        from ocr.charset import charset_sha256
        from ocr.engines.onnx_ctc import make_session
        from ocr.models.crnn_config import CRNNConfig

        if checkpoint.suffix == ".onnx":
            from ocr.models.onnx_file import session_meta

            self._session = make_session(checkpoint, threads, name=str(checkpoint))
            try:
                self.meta = session_meta(self._session, checkpoint)
            except ValueError as exc:
                raise EngineUnavailable(str(exc)) from exc
        else:
            self._session, self.meta = self._from_checkpoint(checkpoint, threads)
        chars = tuple(self.meta["charset"])  # type: ignore[arg-type]
        if chars[0] != "" or charset_sha256(chars) != self.meta["charset_sha256"]:
            raise EngineUnavailable(f"{checkpoint}: charset does not match its recorded sha256")
        self.config = CRNNConfig.from_dict(self.meta["config"])  # type: ignore[arg-type]
        self.parameters = self.config.parameter_count()
        self._convs = self.config.conv_count()
        self.name = name
        self.title = ENGINES[name].title if name in ENGINES else name
        self.charset = chars
        self.checkpoint = checkpoint
        inp = self.meta["input"]
        self.input_spec = crnn_input_spec(int(inp["height"]), float(inp["mean"]), float(inp["std"]))  # type: ignore[index]

    @staticmethod
    def _from_checkpoint(checkpoint: Path, threads: int | None) -> tuple[object, dict[str, object]]:
        """(session, metadata) of a torch checkpoint, exported to ONNX in memory (imports torch)."""
        from ocr.engines.onnx_ctc import make_session
        from ocr.models.checkpoint import load_checkpoint
        from ocr.models.onnx_export import to_onnx

        try:
            model, meta = load_checkpoint(checkpoint)
        except (OSError, RuntimeError, KeyError, ValueError) as exc:
            raise EngineUnavailable(f"cannot load {checkpoint}: {exc}") from exc
        meta = {**meta, "config": model.config.to_dict()}
        return make_session(to_onnx(model), threads, name=str(checkpoint)), meta

    def logprobs_batch(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """tensors: each (1, H, W_i) float32 -> each (ceil(W_i / 8), C) float32 log-probabilities.

        An int8 file (meta "quantization") runs one line per call: its dynamic quantization takes one
        activation scale over the whole input, so in a batch a line's output would depend on the other
        lines (measured: log-probabilities moved by up to 0.9). One line per call keeps every line's
        result what it is alone."""
        if "quantization" in self.meta:
            return [out for t in tensors for out in self._run([t])]
        return self._run(tensors)

    def _run(self, tensors: list[np.ndarray]) -> list[np.ndarray]:
        """One session call over the lines (right-padded to the widest)."""
        if not tensors:
            return []
        from ocr.models.crnn_config import output_length
        from ocr.preprocess import border_level, pad_batch

        # each line padded with its own background (as in training; preprocessing did the same)
        x = pad_batch(tensors, fill=[border_level(t[0]) for t in tensors])  # (B, 1, H, W_max)
        lengths = [int(output_length(t.shape[-1])) for t in tensors]
        logp = self._session.run(None, {"x": x, "lengths": np.asarray(lengths, dtype=np.int64)})[0]  # type: ignore[attr-defined]
        return [np.ascontiguousarray(logp[b, :t], dtype=np.float32) for b, t in enumerate(lengths)]

    def describe(self) -> dict[str, object]:
        """Static facts for display."""
        evals = {e["name"]: round(float(e["cer"]), 4) for e in self.meta.get("eval", [])}  # type: ignore[union-attr]
        return {
            "model file": str(self.checkpoint),
            "architecture": f"EfficientNetV2-style CNN ({self._convs} convs) + "
                            f"BiLSTM({self.config.hidden}) + "
                            + (f"rank-{self.config.head_rank} " if self.config.head_rank else "")
                            + "Linear (ocr/models/crnn.py)",
            "parameters": self.parameters,
            "runtime": "onnxruntime, "
                       f"{self._session.get_session_options().intra_op_num_threads} threads",  # type: ignore[attr-defined]
            "weights": self.meta.get("quantization", "float (fp16 storage, float32 compute)"),
            "classes": len(self.charset),
            "charset sha256": self.meta["charset_sha256"],
            "input": f"1 x {self.input_spec.height} x W gray, x/255, T = ceil(W / 8)",
            "init": self.meta.get("init"),
            "steps": self.meta.get("steps"),
            "cpu hours": self.meta.get("cpu_hours"),
            "cer (greedy, at export)": evals,
            "licence": VARIANTS[self.name].licence if self.name in VARIANTS else
                       f"fine-tuned here from {self.meta['base']}" if "base" in self.meta else "unknown",
        }


def load(name: str, checkpoint: Path | None = None) -> CrnnEngine:
    """Load the engine (raises EngineUnavailable with the reason)."""
    why = check(name, checkpoint)
    if why:
        raise EngineUnavailable(why)
    return CrnnEngine(checkpoint or VARIANTS[name].checkpoint, name=name)
