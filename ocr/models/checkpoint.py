"""CRNN checkpoints: the exported fp16 model the engines load, and a training run's full state.

Export (`save_export` / `load_checkpoint`), format "ocr-crnn/1", a torch file holding
    {"meta": {"format", "config", "charset", "charset_sha256", "input", ...provenance}, "state_dict": fp16}
loaded with weights_only=True. Training state (`save_state` / `load_state`, run_dir/last.pt): model,
config, optimiser, step, RNG state and whatever the loop adds; loaded with weights_only=False, so only
ever from a run directory of one's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from ocr.charset import Charset
from ocr.models.crnn import CRNN, CRNNConfig

__all__ = ["FORMAT", "load_checkpoint", "load_state", "save_export", "save_state"]

FORMAT = "ocr-crnn/1"


def save_export(model: CRNN, path: Path, charset: Charset, meta: dict[str, object]) -> None:
    """fp16 weights + metadata (charset, sha256, input height, normalisation, ...) -> path (atomic).

    `meta` adds provenance; the format, config, charset and input keys always describe `model` and
    `charset`, so a loaded checkpoint's metadata can be passed on as it is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        **meta,
        "format": FORMAT,
        "config": model.config.to_dict(),
        "charset": list(charset.chars),
        "charset_sha256": charset.sha256,
        "input": {"height": model.config.height, "channels": 1, "mean": 0.0, "std": 1.0,
                  "downsample": 8, "polarity": "dark text on light background, x/255"},
    }
    sd = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"meta": info, "state_dict": sd}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> tuple[CRNN, dict[str, object]]:
    """(float32 model in eval mode, metadata) from an exported checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    meta = ck["meta"]
    model = CRNN(CRNNConfig.from_dict(meta["config"]))
    model.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
    return model.eval(), meta


def save_state(
    path: Path, model: CRNN, opt: torch.optim.Optimizer, step: int, extra: dict[str, object]
) -> None:
    """A training run's state -> path (atomic): model, config, optimiser, step, torch RNG, `extra`."""
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "config": model.config.to_dict(), "opt": opt.state_dict(),
                "step": step, "torch_rng": torch.get_rng_state(), **extra}, tmp)
    tmp.replace(path)


def load_state(path: Path) -> tuple[CRNN, dict[str, Any]]:
    """(float32 model, the whole training state) from a run's last.pt."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = CRNN(CRNNConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model, state
