"""Issue 15, step 3: does distilling from PP-OCRv6's per-frame probabilities beat plain CTC on the same
CPU time? Two runs from the shipped crnn-fast (runs/k1 step 7,000), same shards, seed, constant rate and
training-CPU budget (teacher included); only `teacher` differs.
Usage (repository root): python scripts/training/kd_ab.py ctc|kd CPU_SECONDS."""
import sys
from pathlib import Path

from ocr.training.config import TrainConfig
from ocr.training.loop import train

arm, budget = sys.argv[1], float(sys.argv[2])
shards = tuple(sorted(p for p in Path("data").glob("shards_[ks]*") if any(p.glob("shard_*.npz"))))
cfg = TrainConfig(
    shards=shards, run_dir=Path(f"runs/kd_ab/{arm}"), init="runs/k1/best.pt", arch="fast32", steps=100_000,
    batch_size=16, lr=1e-4, lr_schedule="constant", head_lr_mult=3.0, augment=True,
    eval_every=200, eval_sets=(Path("data/kinds_test/labels.tsv"), Path("data/synth_test/labels.tsv")),
    eval_limit=300, checkpoint_every=50, export=None, threads=1, seed=5, cpu_limit_s=budget,
    teacher="ppocr-v6" if arm == "kd" else "", kd_weight=1.0,
    data_description="A/B of distillation: same shards as runs/k2",
)
print(train(cfg))
