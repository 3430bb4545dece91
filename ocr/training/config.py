"""What one training run is: TrainConfig (every field is recorded in the run's state and exports)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

__all__ = ["TrainConfig"]


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    init: "ddddocr" (port common.onnx, slice to the charset), a checkpoint path (fine-tune from it),
          or "" (random init of `arch`).
    freeze_layers: how many leading modules of model.cnn stay frozen (0 = train everything).
    freeze_body: train only the classifier (proj + fc); the CNN and the BiLSTM stay as they are (a
          continuation that should teach classes without moving what the features read).
    eval_sets: labels.tsv files scored every `eval_every` steps (first `eval_limit` lines, evenly
          spaced); the first one picks the best checkpoint.
    time_limit_s: stop (and save) after this much wall time in this call; 0 = no limit.
    cpu_limit_s: stop (evaluated, saved) once the run's training CPU time (all threads, teacher included,
          summed over resumed calls) reaches this; 0 = no limit. Compares methods at equal compute.
    lr_schedule: "constant", or "cosine": linear warm-up over `warmup_steps`, then cosine decay to
          lr * min_lr_ratio at `steps`. The rate is a function of the step, so a resumed run follows it.
    head_rank: > 0 replaces a full classifier of the starting model by its rank-`head_rank` SVD
          factorisation (CRNN.factorize_head) before training; ignored on resume.
    augment: jitter every line as it is batched (jitter_line: width, vertical framing, contrast,
          gamma, noise), so repeated passes over the shards do not see identical pixels.
    teacher: "ppocr-v6" / "ppocr-v4" (their charset mapped onto ours, ocr.training.distill), or an
          exported checkpoint (same charset, input height = the shards' height) to distil from:
          the loss adds kd_weight * KL(teacher frame || student frame), the teacher's frames pooled onto
          the student's (see distill_targets). The student may be lower (e.g. fast32: 32 px); the batch
          is then downscaled for it.
    """

    shards: Path | tuple[Path, ...]
    run_dir: Path
    init: str = "ddddocr"
    arch: str = "ddddocr"
    steps: int = 10_000
    batch_size: int = 16
    lr: float = 1e-4
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.02
    head_rank: int = 0
    head_lr_mult: float = 5.0
    weight_decay: float = 1e-4
    augment: bool = False
    freeze_layers: int = 0
    freeze_body: bool = False
    max_width: int = 1600
    eval_every: int = 200
    eval_sets: tuple[Path, ...] = ()
    eval_limit: int = 200
    checkpoint_every: int = 50
    export: Path | None = Path("models/crnn.pt")
    threads: int = 1
    seed: int = 0
    time_limit_s: float = 0.0
    cpu_limit_s: float = 0.0
    progress: bool = False
    teacher: str = ""
    kd_weight: float = 1.0
    data_description: str = "synthetic lines (ocr.synth), training fonts only"
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}
