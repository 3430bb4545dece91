"""The learning-rate schedule: a pure function of the step, so a resumed run follows it."""

from __future__ import annotations

import math

from ocr.training.config import TrainConfig

__all__ = ["SCHEDULES", "lr_factor"]

SCHEDULES = ("constant", "cosine")


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of cfg.lr at `step` (0-based) under cfg.lr_schedule."""
    if cfg.lr_schedule not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {cfg.lr_schedule!r}; choose from {SCHEDULES}")
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    span = max(cfg.steps - cfg.warmup_steps, 1)
    done = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))
