"""crnn-fast phase 2 (issue 15): from runs/k1 (step 7,000) on the kinds shards + simplified song/ming lines
(SC_SONG_FONTS), fresh cosine schedule. Resumable: rerun to continue. From the repository root; the
shards this session added were rendered with

    python -m ocr synth shards data/shards_k23 --kinds all --n 24000 --seed 23
    python -m ocr synth shards data/shards_k24 --kinds all --n 24000 --seed 24
    python -m ocr synth shards data/shards_sc33 --kinds doc_sc=1 --n 20000 --seed 33

beside session 7's data/shards_k21, k22 (24,000 lines each, --kinds all) and sc31, sc32 (6,000 each,
--kinds doc_sc=1, before SC_SONG_FONTS), whose seeds were not recorded; see docs/model_card.md."""
import sys
from pathlib import Path

from ocr.training.config import TrainConfig
from ocr.training.loop import train

shards = tuple(sorted(p for p in Path("data").glob("shards_[ks]*") if any(p.glob("shard_*.npz"))))
cfg = TrainConfig(
    shards=shards, run_dir=Path("runs/k2"), init="runs/k1/best.pt", arch="fast32", steps=7000,
    batch_size=16, lr=2.5e-4, lr_schedule="cosine", warmup_steps=200, head_lr_mult=3.0, augment=True,
    eval_every=1000, eval_sets=(Path("data/combo2/labels.tsv"), Path("data/kinds_test/labels.tsv"),
               Path("data/synth_test/labels.tsv")),
    eval_limit=300, checkpoint_every=50, export=Path("runs/k2/best.pt"), threads=2, seed=1,
    time_limit_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0,
    data_description="ocr.training.synth.kinds lines (KIND_MIX, 96k: k21-k24) + simplified document "
                     "lines (doc_sc, 32k: sc31,sc32 in 14 faces, sc33 in 15 faces incl. 5 song/ming "
                     "SC_SONG_FONTS), training fonts only",
)
print(train(cfg))
