"""crnn-fast phase 3 (issue 15): from runs/k2 (step 7,000) on the same kinds and song/ming shards plus
16,000 plates from the standard-layout plate renderer (condensed characters filling 45 x 90 mm cells, the
separator dot, the rim, mostly blue; session 9), fresh cosine schedule. Resumable: rerun to continue.
From the repository root; the plate shards were rendered with

    python -m ocr synth shards data/shards_pl41 --kinds plate=1 --n 8000 --seed 41
    python -m ocr synth shards data/shards_pl42 --kinds plate=1 --n 8000 --seed 42

beside the shards listed in scripts/training/crnn_fast_k2.py."""
import sys
from pathlib import Path

from ocr.training.config import TrainConfig
from ocr.training.loop import train

shards = tuple(sorted(p for p in Path("data").glob("shards_[ksp]*") if any(p.glob("shard_*.npz"))))
cfg = TrainConfig(
    shards=shards, run_dir=Path("runs/k3"), init="runs/k2/best.pt", arch="fast32", steps=6000,
    batch_size=16, lr=2e-4, lr_schedule="cosine", warmup_steps=200, head_lr_mult=3.0, augment=True,
    eval_every=1000, eval_sets=(Path("data/combo2/labels.tsv"), Path("data/kinds_test/labels.tsv"),
               Path("data/synth_test/labels.tsv")),
    eval_limit=300, checkpoint_every=50, export=Path("runs/k3/best.pt"), threads=2, seed=3,
    time_limit_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0,
    data_description="ocr.training.synth.kinds lines (KIND_MIX, 96k: k21-k24) + simplified document "
                     "lines (doc_sc, 32k: sc31-sc33) + standard-layout plates (16k: pl41, pl42), "
                     "training fonts only",
)
print(train(cfg))
