"""Train `crnn` and `crnn-fast` on an accelerator, on lines rendered on the fly by the CPU cores beside it
(issue 15, session 10). The record of that run; the CPU loop (ocr.training.loop) stays the project's
resumable trainer.

    # here: pack what the device copy needs (fonts subset to the charset, wheels, the grown crnn)
    PYTHONPATH=/tmp/ft .venv/bin/python scripts/training/device_pack.py
    .venv/bin/python scripts/training/device_tree.py slim --carry .devpack/carry  # fit the 64 MiB copy
    # there (the device tool's `run`, carrying .devpack/carry):
    python3 scripts/training/device_train.py --minutes 7 --out $OUT
    # here, after the call:
    .venv/bin/python scripts/training/device_tree.py restore
    # here, a smoke test of the same path on the CPU (the pack's faces if packed, else the installed ones):
    .venv/bin/python scripts/training/device_train.py --minutes 0.5 --workers 1 --out /tmp/dev --local

Every worker renders ocr.training.synth.kinds lines (KIND_MIX, 90 %) and long simplified document lines
(25-45 characters, 10 %) with the kept training faces, jitters them (ocr.training.augment) and yields
width-sorted batches of 128 at 64 px. Each batch trains both models: `crnn` (from the shipped `crnn` grown
to 9,699 classes, head rank 256) at 64 px and `crnn-fast` (from the shipped weights) on the same batch
scaled to 32 px. When the renderers fall behind, a batch from the last 400 is replayed (at most two
replays per new batch). Learning rates follow a cosine over the time budget after a 4 % warm-up. Exports
(ocr.models.checkpoint.save_export, fp16) go to OUT every 90 s, at half time (NAME_mid.pt) and at the
end, with log.jsonl.

Session 13 continued both shipped models (`--crnn-init` now defaults to models/crnn.pt) and trained a third,
`crnn_fast_g`: `crnn-fast` grown by ocr.models.port.grow (`--grow`, a function-preserving copy with more
blocks, a wider BiLSTM and a wider low-rank head), on the same batches, so the two are compared on equal
data. `--lr-mults` scales each model's learning rates.

Session 24 (both models, `--extra-kinds plate_cam=0.08,scene=0.08,symbol=0.08 --prose 0.06 --plates 0.2`):
the renderers kept the queue full (no replays) and the H200 read 19-67 % busy, so this loop itself
(7.7 steps/s, two models a batch of 128) was the limit; mixed precision or larger batches are untried.

Session 25 (CPU only) took the per-step waits out of the loop: the line lengths stay on the CPU (the
model's pack_padded_sequence and the CTC loss read them there, so no step copies a length back from the
device) and the losses are summed on the device and read every 100 steps; `--amp` runs the forward
passes under bf16 autocast (CTC loss in float32). Both checked on the CPU (`--local`) only: their speed
on a GPU is unmeasured.
"""
from __future__ import annotations

import argparse
import copy
import json
import lzma
import math
import os
import queue
import subprocess
import sys
import threading
import time
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACK = ROOT / ".devpack" / "carry"
sys.path.insert(0, str(ROOT))


def install_pack(site: Path) -> None:
    """The carried wheels and jieba's dictionary into `site`, first on sys.path (device only)."""
    whls = [str(p) for p in sorted((PACK / "whl").glob("*.whl"))]
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-index", "--no-deps", "--no-compile",
                    "--upgrade", "--target", str(site), *whls], check=True)
    (site / "jieba").mkdir(parents=True, exist_ok=True)
    (site / "jieba" / "__init__.py").write_text('"""dict.txt only."""\n')
    (site / "jieba" / "dict.txt").write_bytes(lzma.decompress((PACK / "jieba_dict.txt.xz").read_bytes()))
    sys.path.insert(0, str(site))


def use_packed_fonts() -> int:
    """Point every font lookup of the renderers at the carried WOFF2 subsets; drop faces not carried.
    Returns the number of faces."""
    from PIL import ImageFont

    from ocr.training.synth import fonts, kinds, render

    table = {tuple(k.rsplit("|", 1)): str(PACK / v)
             for k, v in json.loads((PACK / "fonts" / "map.json").read_text()).items()}
    for path, _ in table:  # the renderers check that a face's file exists
        p = Path(path)
        if not p.exists():
            p.parent.mkdir(parents=True, exist_ok=True)
            p.touch()

    sizes = sorted({round(8 * 1.1 ** k) for k in range(30)})  # ~10 % steps: a WOFF2 load costs 30-60 ms

    @lru_cache(maxsize=4096)
    def pil_font(path: str, index: int, size: int) -> ImageFont.FreeTypeFont:
        size = min(sizes, key=lambda s: abs(s - size))
        return _load(table[(path, str(index))], size)

    @lru_cache(maxsize=4096)
    def _load(path: str, size: int) -> ImageFont.FreeTypeFont:
        return ImageFont.truetype(path, size)

    def kept(specs: tuple) -> tuple:
        return tuple(f for f in specs if (f.path, str(f.index)) in table)

    fonts.pil_font = kinds.pil_font = render.pil_font = pil_font
    fonts.FONTS = kept(fonts.FONTS)
    kinds.TC_FONTS, kinds.SIGN_FONTS = kept(kinds.TC_FONTS), kept(kinds.SIGN_FONTS)
    kinds.SC_SONG_FONTS = kept(kinds.SC_SONG_FONTS)
    pil_font(*next(iter(table)), 24).getmask("中")  # fail here, not in a worker, if WOFF2 cannot load
    return len(table)


def installed_faces() -> int:
    """The number of training faces installed here (`--local` without a pack renders with them)."""
    from ocr.training.synth import fonts, kinds

    specs = {*fonts.FONTS, *kinds.TC_FONTS, *kinds.SIGN_FONTS, *kinds.SC_SONG_FONTS}
    return sum(Path(f.path).exists() for f in specs)


def make_dataset(batch: int, height: int, max_width: int, seed: int, plates: float = 0.0,
                 extra: dict[str, float] | None = None, prose: float = 0.0):
    import numpy as np
    import torch
    from PIL import Image

    from ocr.preprocess import border_level, pad_batch
    from ocr.training.augment import jitter_line
    from ocr.training.synth import kinds
    from ocr.training.synth.corpus import Corpus
    from ocr.training.synth.render import render_line

    mix = dict(kinds.KIND_MIX)
    if plates:  # raise the plate share to `plates`, the other kinds scaled down
        rest = 1 - mix["plate"]
        mix = {k: plates if k == "plate" else v * (1 - plates) / rest for k, v in mix.items()}
    if extra:  # kinds outside KIND_MIX (kinds.EXTRA_KINDS, session 20) at their shares, the rest scaled
        rest = 1 - sum(extra.values())
        mix = {**{k: v * rest for k, v in mix.items()}, **extra}
    names = [*sorted(mix), "long"]
    p = np.asarray([0.9 * mix[k] for k in sorted(mix)] + [0.1])

    def long_line(rng: np.random.Generator, corpus: Corpus) -> tuple[str, np.ndarray]:
        text = corpus.line(rng, 25, 45)
        font = kinds._pick(text, kinds._sc_fonts(), rng)
        if font is None:
            return "", np.zeros((height, 8), np.uint8)
        img = render_line(text, font, 64, int(rng.integers(2**31)), augment=True)
        return text, kinds._to_model_view(img, height)

    class Lines(torch.utils.data.IterableDataset):
        """Endless width-sorted batches: (x uint8 (B,1,H,W), targets, target lengths, widths)."""

        def __iter__(self):
            info = torch.utils.data.get_worker_info()
            rng = np.random.default_rng([seed, info.id if info else 0])
            corpus = Corpus(prose=prose)
            charset = corpus.charset
            while True:
                lines = []
                while len(lines) < 4 * batch:
                    kind = names[int(rng.choice(len(names), p=p))]
                    try:
                        if kind == "long":
                            text, img = long_line(rng, corpus)
                        else:
                            text, img, _ = kinds.render_kind(kind, rng, corpus, height)
                    except (RuntimeError, ValueError, OSError):
                        continue
                    if not text or not charset.covers(text):
                        continue
                    img = jitter_line(img, rng)
                    if img.shape[1] > max_width:
                        img = np.asarray(Image.fromarray(img).resize((max_width, height), Image.BILINEAR))
                    lines.append((img, charset.encode(text)))
                lines.sort(key=lambda t: t[0].shape[1])
                for i in range(0, len(lines), batch):
                    part = lines[i:i + batch]
                    # (B, 1, H, W_max), each line right-padded with its own background level; uint8
                    # (a quarter of float32's bytes) to the trainer
                    x = pad_batch([im[None] for im, _ in part], fill=[border_level(im) for im, _ in part])
                    yield (torch.from_numpy(np.rint(x).astype(np.uint8)),
                           torch.tensor([c for _, lab in part for c in lab]),
                           torch.tensor([len(lab) for _, lab in part]),
                           torch.tensor([im.shape[1] for im, _ in part]))

    return Lines()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, required=True, help="training time budget")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--workers", type=int, default=15)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--local", action="store_true", help="CPU smoke test with this machine's packages")
    ap.add_argument("--models", default="crnn,crnn_fast,crnn_fast_g",
                    help="which of crnn, crnn_fast, crnn_fast_g")
    ap.add_argument("--crnn-init", type=Path, default=ROOT / "models" / "crnn.pt",
                    help="session 10 started from the grown session-2 crnn, .devpack/carry/crnn_init.pt")
    ap.add_argument("--lr-mult", type=float, default=1.0, help="scales every model's learning rates")
    ap.add_argument("--lr-mults", default="",
                    help="per model on top of --lr-mult, e.g. crnn=0.5,crnn_fast_g=1")
    ap.add_argument("--grow", default="1,2,2:192:128",
                    help="crnn_fast_g: DEPTHS:HIDDEN:HEAD_RANK for ocr.models.port.grow of crnn-fast")
    ap.add_argument("--tag", default="session 13", help="who made the exports, for their metadata")
    ap.add_argument("--plates", type=float, default=0.0, help="plate share of the kinds (0: KIND_MIX's)")
    ap.add_argument("--extra-kinds", default="",
                    help="kinds outside KIND_MIX and their shares, e.g. scene=0.07,symbol=0.07 (session 20),"
                         " plate_cam=0.05 (session 21)")
    ap.add_argument("--prose", type=float, default=0.0,
                    help="chance of a prose mark (——, ……) after each word of a sentence (Corpus(prose=...))")
    ap.add_argument("--seed", type=int, default=1010)
    ap.add_argument("--amp", action="store_true",
                    help="bf16 autocast of the forward passes (CTC loss in float32); not yet timed on a GPU")
    args = ap.parse_args()
    t_begin = time.time()
    args.out.mkdir(parents=True, exist_ok=True)
    if not args.local:
        install_pack(Path("/tmp/site"))
    # the carried faces on the device (and locally when a pack is there); else this machine's installed ones
    packed = not args.local or (PACK / "fonts" / "map.json").exists()
    faces = use_packed_fonts() if packed else installed_faces()

    import torch

    from ocr.charset import load_charset
    from ocr.models.checkpoint import load_checkpoint, save_export
    from ocr.models.crnn import CRNN
    from ocr.models.port import grow
    from ocr.training.data import rescale_batch

    dev = torch.device("cuda" if torch.cuda.is_available() and not args.local else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(10)
    charset = load_charset()
    mults = {k: float(v) for k, v in (kv.split("=") for kv in args.lr_mults.split(",") if kv)}
    fast = ROOT / "models" / "crnn_fast.pt"
    specs = {"crnn": (args.crnn_init.resolve(), 5e-4, 3.0),  # (start, body lr, head x)
             "crnn_fast": (fast, 4e-4, 2.0), "crnn_fast_g": (fast, 4e-4, 2.0)}
    specs = {k: (p, lr * args.lr_mult * mults.get(k, 1.0), h) for k, (p, lr, h) in specs.items()
             if k in args.models.split(",")}
    depths, hidden, rank = args.grow.split(":")
    grow_spec = {"depths": tuple(int(d) for d in depths.split(",")), "hidden": int(hidden),
                 "head_rank": int(rank)}
    grown = {k: f", grown by ocr.models.port.grow({grow_spec})" if k == "crnn_fast_g" else "" for k in specs}
    models, opts, metas, bases = {}, {}, {}, {}
    for name, (path, lr, head_mult) in specs.items():
        m, meta = load_checkpoint(path)
        if name == "crnn_fast_g":
            m = grow(m, **grow_spec)
        m = m.to(dev).train()
        head = [p for n, p in m.named_parameters() if n.startswith(("fc.", "proj."))]
        body = [p for n, p in m.named_parameters() if not n.startswith(("fc.", "proj."))]
        opts[name] = torch.optim.AdamW([{"params": body, "lr": lr}, {"params": head, "lr": lr * head_mult}],
                                       weight_decay=1e-4)
        models[name], metas[name], bases[name] = m, meta, (lr, lr * head_mult)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)

    extra = {k: float(v) for k, v in (kv.split("=") for kv in args.extra_kinds.split(",") if kv)}
    data = make_dataset(args.batch, 64, 2400, args.seed, args.plates, extra, args.prose)
    loader = torch.utils.data.DataLoader(data, batch_size=None, num_workers=args.workers, prefetch_factor=6,
                                         persistent_workers=True, pin_memory=dev.type == "cuda")
    q: queue.Queue = queue.Queue(maxsize=64)

    def feed() -> None:
        for b in loader:
            q.put(b)

    threading.Thread(target=feed, daemon=True).start()
    first = q.get()  # wait for the renderers
    t0 = time.time()
    budget = args.minutes * 60
    ring: list = []
    step = fresh = replays = since_new = seen = 0
    loss_sum = {k: 0.0 for k in models}
    log = (args.out / "log.jsonl").open("a", encoding="utf-8")
    device_name = torch.cuda.get_device_name() if dev.type == "cuda" else "cpu"
    log.write(json.dumps({"event": "start", "device": device_name, "faces": faces, "workers": args.workers,
                          "amp": args.amp, "setup_s": round(t0 - t_begin, 1)}) + "\n")
    last_save, mid_saved = t0, False

    plate_note = f" with plates at {args.plates:.0%}" if args.plates else ""
    plate_note += "".join(f", {k} lines at {v:.0%}" for k, v in extra.items())
    plate_note += f", prose marks {args.prose}" if args.prose else ""

    def export(tag: str) -> None:
        el = time.time() - t0
        for name, m in models.items():
            m.eval()
            # only this run's keys: the parent's own (train_config, cpu_hours, blend, data) describe the
            # parent and go under "parent"; save_export writes the format, config, charset and input keys
            meta = {"init": f"{args.tag} device run from {specs[name][0].relative_to(ROOT)}" + grown[name],
                    "parent": {k: metas[name][k] for k in ("init", "steps", "samples_seen", "cpu_hours",
                                                           "device_seconds", "parent", "blend")
                               if k in metas[name]},
                    "steps": step, "samples_seen": seen, "unique_lines": fresh * args.batch,
                    "device_seconds": round(el, 1), "device": device_name,
                    "data": f"ocr.training.synth.kinds lines (KIND_MIX{plate_note}, 90 %) + long "
                            f"simplified document lines (25-45 chars, 10 %), rendered on the fly, {faces} "
                            + ("training faces (WOFF2 subsets)" if packed else "installed training faces"),
                    "lr": specs[name][1], "amp": args.amp}
            save_export(copy.deepcopy(m).cpu().float(), args.out / f"{name}{tag}.pt", charset, meta)
            m.train()

    batch = first
    while True:
        el = time.time() - t0
        if el > budget:
            break
        if batch is None:
            try:
                batch = q.get(timeout=0.0 if (since_new < 2 and len(ring) >= 8) else 30)
            except queue.Empty:
                batch = None
        if batch is not None:
            # images and targets to the device; every length stays on the CPU, where pack_padded_sequence
            # and the CTC loss read them, so no step waits for the device to hand a length back
            x8, tgt = (t.to(dev, non_blocking=True) for t in batch[:2])
            tgt_len, widths = batch[2], batch[3]
            ring.append((x8, tgt, tgt_len, widths))
            if len(ring) > 400:
                ring.pop(0)
            fresh += 1
            since_new = 0
            batch = None
        else:
            x8, tgt, tgt_len, widths = ring[int(torch.randint(len(ring), ()).item())]
            replays += 1
            since_new += 1
        frac = el / budget
        cosine = 0.5 * (1 + math.cos(math.pi * (frac - 0.04) / 0.96))
        factor = frac / 0.04 if frac < 0.04 else 0.02 + 0.98 * cosine
        x = x8.float() / 255.0
        for name, m in models.items():
            xs, w = rescale_batch(x, widths, m.config.height)
            in_len = CRNN.output_length(w)  # (B,) on the CPU
            with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=args.amp):
                logits = m(xs, in_len)  # (B, T, C)
            logp = logits.float().log_softmax(-1)  # (B, T, C) float32 whatever the autocast
            loss = ctc(logp.transpose(0, 1), tgt, in_len, tgt_len)
            for g, base in zip(opts[name].param_groups, bases[name], strict=True):
                g["lr"] = base * factor
            opts[name].zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 5.0)
            opts[name].step()
            loss_sum[name] = loss_sum[name] + loss.detach()  # summed on the device: read every 100 steps
        step += 1
        seen += x.shape[0]
        if step % 100 == 0:
            rec = {"step": step, "t": round(time.time() - t0, 1), "fresh": fresh, "replays": replays,
                   "lr_factor": round(factor, 4), "queue": q.qsize(),
                   **{f"loss_{k}": round(float(v) / 100, 4) for k, v in loss_sum.items()}}
            log.write(json.dumps(rec) + "\n")
            log.flush()
            print(json.dumps(rec), flush=True)
            loss_sum = {k: 0.0 for k in models}
        if time.time() - last_save > 90:
            export("")
            last_save = time.time()
        if not mid_saved and frac >= 0.5:
            export("_mid")
            mid_saved = True
    export("")
    log.write(json.dumps({"event": "end", "step": step, "seen": seen, "fresh_lines": fresh * args.batch,
                          "replays": replays, "train_s": round(time.time() - t0, 1)}) + "\n")
    log.close()
    print("done", step, seen, fresh, replays, flush=True)
    os._exit(0)  # the renderers and the feeding thread end with the process


if __name__ == "__main__":
    main()
