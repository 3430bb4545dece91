"""crnn-fast, session 11 (issue 15): continue the session-10 weights (models/crnn_fast.pt, 635,648 lines on a
lent H200) on the CPU, two arms with the same settings:

    python scripts/training/crnn_fast_s11.py kd [SECONDS]   # runs/kd11: CTC + KL(crnn frame || student frame)
    python scripts/training/crnn_fast_s11.py ctc [SECONDS]  # runs/kc11: plain CTC, the control

`kd` distils the session-10 `crnn` (models/crnn.pt: real_dev 0.086 against crnn-fast's 0.207), weight 1,
the 64-px batch downscaled to 32 px for the student. Same kinds, song/ming and plate shards as
crnn_fast_k3.py (rendered on this CPU, training fonts only). Resumable: rerun to continue; SECONDS
limits this call. Run it at nice 19 so that the machine stays usable."""
import sys
from pathlib import Path

from ocr.training.config import TrainConfig
from ocr.training.loop import train

arm = sys.argv[1] if len(sys.argv) > 1 else ""
if arm not in ("kd", "ctc"):
    raise SystemExit("usage: crnn_fast_s11.py kd|ctc [SECONDS]")
run = Path("runs/kd11" if arm == "kd" else "runs/kc11")
shards = tuple(sorted(p for p in Path("data").glob("shards_[ksp]*") if any(p.glob("shard_*.npz"))))
cfg = TrainConfig(
    shards=shards, run_dir=run, init="models/crnn_fast.pt", arch="fast32", steps=4000,
    batch_size=16, lr=5e-5, lr_schedule="cosine", warmup_steps=50, head_lr_mult=3.0, augment=True,
    eval_every=400, eval_sets=(Path("data/combo2/labels.tsv"), Path("data/kinds_test/labels.tsv"),
               Path("data/synth_test/labels.tsv")),
    eval_limit=300, checkpoint_every=25, export=run / "best.pt", threads=2, seed=11,
    teacher="models/crnn.pt" if arm == "kd" else "",
    time_limit_s=float(sys.argv[2]) if len(sys.argv) > 2 else 0.0,
    data_description="ocr.training.synth.kinds lines (KIND_MIX, 96k: k21-k24) + simplified document "
                     "lines (doc_sc, 32k: sc31-sc33) + standard-layout plates (16k: pl41, pl42), "
                     "training fonts only"
                     + ("; distilled from models/crnn.pt (session 10)" if arm == "kd" else ""),
)
print(train(cfg))
