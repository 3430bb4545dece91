"""`python -m ocr finetune TRAIN --base ENGINE --name NAME [--val VAL] [--minutes M] [--steps N]`.

Progress goes to stderr (a tqdm bar with loss, lines/s and the latest validation CER; plain lines with
--quiet, as the app's background jobs run it); the before/after table goes to stdout. Ctrl-C or SIGTERM
saves a resumable state: the same command resumes it.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from types import FrameType
from typing import Any

from ocr.training.jobs import (
    DEFAULT_REHEARSAL_FOCUS,
    DEFAULT_REHEARSAL_RARE,
    PRECISIONS,
    SCHEDULES,
)

__all__ = ["add_finetune_command"]


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _cmd_finetune(args: argparse.Namespace) -> int:
    # before torch loads OpenMP: waiting threads sleep instead of spinning (on a shared 2-core machine a
    # spinning thread burns the CPU its partner needs)
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    from ocr.training.finetune import DEFAULT_REHEARSAL, FinetuneConfig, finetune

    rehearsal = DEFAULT_REHEARSAL if args.rehearsal is None else args.rehearsal
    cfg = FinetuneConfig(
        train=args.train, val=args.val, base=args.base, name=args.name, minutes=args.minutes,
        steps=args.steps, batch_size=args.batch_size, user_batch=args.user_batch, rehearsal=rehearsal,
        augment=not args.no_augment,
        lr=FinetuneConfig.lr if args.lr is None else args.lr, seed=args.seed, threads=args.threads,
        eval_every_s=args.eval_every,
        eval_every_steps=args.eval_every_steps, reference=not args.no_reference, fresh=args.fresh,
        max_disk_mb=float(os.environ.get("OCR_FINETUNE_MAX_MB", "1024")), max_forgetting=args.max_forgetting,
        val_slack=args.val_slack, head=args.head, kd_weight=args.kd_weight, schedule=args.schedule,
        rehearsal_rare=args.rehearsal_rare, rehearsal_focus=args.rehearsal_focus,
        ema=args.ema, cnn_lr_mult=args.cnn_lr_mult,
        precision=args.precision,
    )
    bar: Any = None
    latest: dict[str, str] = {"val_cer": "-"}

    def say(msg: str) -> None:
        if bar is not None:
            bar.write(msg, file=sys.stderr)
        else:
            print(msg, file=sys.stderr, flush=True)

    def on_event(e: dict[str, Any]) -> None:
        nonlocal bar
        kind = e["kind"]
        if kind in ("split", "classes", "info"):
            say(e["message"])
        elif kind == "row":
            where = f"{e['set']} line {e['line']} ({e['key']})" if e["line"] else e["set"]
            say(f"{'note' if e['used'] else 'not used'}: {where}: {e['issue']}")
        elif kind == "baseline":
            parts = [f"{k} CER {v['cer']:.4f} (n={v['n']})" for k, v in e["before"].items()]
            say(f"base {cfg.base}: " + ", ".join(parts))
        elif kind == "start":
            n_user, n_general = e["per_batch"]
            say(f"training on {e['train']} lines, validating on {e['val']}; each batch {n_user} of yours + "
                f"{n_general} rendered general lines (rehearsal: {cfg.rehearsal:.0%} of the loss)"
                + (f"; budget {cfg.minutes:g} min" if cfg.minutes else ""))
            if not args.quiet:
                from tqdm import tqdm

                bar = tqdm(total=e["steps"] or None, initial=e["step"], unit="step", desc=f"user:{cfg.name}",
                           file=sys.stderr, dynamic_ncols=True)
        elif kind == "eval":
            latest["val_cer"] = f"{e['val_cer']:.4f}"
            if bar is None:
                say(f"step {e['step']}: val CER {e['val_cer']:.4f} (best {e['best_cer']:.4f})")
        elif kind == "step":
            if bar is not None:
                bar.set_postfix(loss=f"{e['loss']:.3f}", lines_s=f"{e['lines_per_s']:.1f}",
                                val_cer=latest["val_cer"], refresh=False)
                bar.update(e["step"] - bar.n)
            elif e["step"] % 50 == 0:
                say(f"step {e['step']}: loss {e['loss']:.3f}, {e['lines_per_s']:.1f} lines/s")
        elif kind == "tick" and bar is not None:
            bar.update(e["step"] - bar.n)

    old = signal.signal(signal.SIGTERM, _interrupt)
    try:
        result = finetune(cfg, on_event)
    except KeyboardInterrupt:
        say(f"interrupted: the state is saved; run the same command again to resume user:{cfg.name}")
        return 130
    finally:
        signal.signal(signal.SIGTERM, old)
        if bar is not None:
            bar.close()
    m = result.meta
    print(f"user:{cfg.name} written to {result.model_path} (stopped by {result.stopped_by}; "
          f"{m['steps']} steps, best at {m['best_step']}; {m['user_lines_seen']} of your lines + "
          f"{m['rehearsal_lines_seen']} "
          f"rehearsal lines; CPU {m['cpu_seconds'] / 60:.1f} min, of which training "
          f"{m['train_cpu_seconds'] / 60:.1f}; wall {m['wall_seconds'] / 60:.1f} min; "
          f"disk {m['disk_bytes'] / 2**20:.1f} MB)")
    blend = m.get("blend") or {}
    if blend.get("tried"):
        tried = ", ".join(f"a={r['a']:g}: val {r['val_cer']:.4f} ref {r['ref_cer']:.4f}"
                          for r in blend["tried"])
        print(f"blend with the base against forgetting: kept a={blend['kept']:g} of the fine-tuned change "
              f"({tried})")
    print(f"{'set':<10} {'n':>5} {'CER before':>11} {'CER after':>10} {'line acc before':>16} {'after':>7}")
    for k, after in m["after"].items():
        before = m["before"][k]
        print(f"{k:<10} {after['n']:>5} {before['cer']:>11.4f} {after['cer']:>10.4f} "
              f"{before['line_acc']:>16.3f} {after['line_acc']:>7.3f}")
    if "reference" in m["after"]:
        grown = m.get("reference_grown_confusions") or []
        listed = ", ".join(f"{g['ref'] or '∅'}→{g['hyp'] or '∅'} {g['before']}→{g['after']}" for g in grown)
        print("read differently on the reference set (confusions that grew, base→now): " + (listed or "none"))
    return 0


def add_finetune_command(sub: argparse._SubParsersAction) -> None:
    """Register `finetune` on the CLI's subparsers. Imports nothing heavy: ocr.training.finetune
    (torch) loads only when the command runs, so every other command stays light."""
    p = sub.add_parser("finetune",
                       help="fine-tune one of our CRNNs on your labelled lines -> engine user:NAME")
    p.add_argument("train", help="labelled lines: a labels file, a folder holding one, or a .zip")
    p.add_argument("--val", help="validation set (same forms); default: a seeded 10%% of TRAIN")
    p.add_argument("--base", default="crnn-fast", help="crnn, crnn-fast or an earlier user:NAME")
    p.add_argument("--name", required=True, help="the new engine is user:NAME (letters, digits, - _ .)")
    p.add_argument("--minutes", type=float, default=0.0,
                   help="training time budget; ends cleanly with the best checkpoint")
    p.add_argument("--steps", type=int, default=0,
                   help="total optimiser steps (default: 300 without --minutes)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--user-batch", type=int, default=None,
                   help="your lines per batch; the rehearsal keeps its share of the loss (default: 24 for "
                        "crnn-fast, the batch size less the rehearsal lines for crnn; 0 = the latter)")
    p.add_argument("--rehearsal", type=float, default=None,
                   help="share of each batch that is rendered general text (0 = off; default 0.5)")
    p.add_argument("--no-augment", action="store_true",
                   help="no augmentation of your lines (by default each is jittered in width, framing and "
                   "contrast, then rotated, sheared, blurred or JPEG-compressed at random)")
    p.add_argument("--lr", type=float, default=None,
                   help="peak learning rate (default: 1e-4 for crnn and its fine-tunes, 3e-4 for crnn-fast)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--eval-every", type=float, default=60.0, help="seconds between validation runs")
    p.add_argument("--eval-every-steps", type=int, default=0, help="validate every N steps instead")
    p.add_argument("--no-reference", action="store_true",
                   help="skip the before/after measure on the general reference set")
    p.add_argument("--val-slack", type=float, default=None,
                   help="the final blend walks from the trained weights towards the base while the "
                        "validation CER stays within this much (absolute) of theirs, to forget less "
                        "(default: 0.01 for crnn and its fine-tunes, 0.002 for crnn-fast; -1: keep the "
                        "trained weights unblended)")
    p.add_argument("--max-forgetting", type=float, default=-1.0,
                   help="bound the reference CER's relative rise instead (e.g. 0.1), at the cost of your "
                        "validation CER; default off")
    p.add_argument("--head", choices=("seen", "all"), default="seen",
                   help="classifier rows that learn: 'seen' (default) only blank's and those of the "
                        "characters in TRAIN's labels, so the other classes keep the base's rows "
                        "(less forgetting); 'all' every row")
    p.add_argument("--kd-weight", type=float, default=1.0,
                   help="weight of the KL to the base's outputs on the rehearsal lines (default 1)")
    p.add_argument("--cnn-lr-mult", type=float, default=None,
                   help="the convolutional layers learn at this multiple of --lr (default: 0.1 for the "
                        "64-px crnn, where it halves the forgetting; 1 for crnn-fast)")
    p.add_argument("--rehearsal-rare", type=float, default=DEFAULT_REHEARSAL_RARE,
                   help="share of the rehearsal lines that are random rare characters; the rest are lines of "
                        "the kinds the base was trained on (default 0: the kinds alone forgot least)")
    p.add_argument("--rehearsal-focus", type=float, default=DEFAULT_REHEARSAL_FOCUS,
                   help="share of the rehearsal lines that hold a look-alike of your characters (l, I beside "
                        "1; o, O beside 0: the base's nearest classifier rows), where a fine-tune's drift "
                        "shows (default %(default)s)")
    p.add_argument("--ema", type=float, default=None,
                   help="validate and keep a moving average of the weights with this decay (default: 0.99 "
                        "for crnn-fast, 0 for crnn; 0 = the weights themselves)")
    p.add_argument("--schedule", choices=SCHEDULES, default="constant",
                   help="learning rate after warm-up: constant, or cosine decay to 0 over --steps / "
                        "--minutes of this call")
    p.add_argument("--precision", choices=PRECISIONS, default="auto",
                   help="training arithmetic: bf16 (CPU bfloat16 autocast; validation stays fp32) or fp32; "
                        "auto (default): bf16 for the 64-px crnn where the CPU has native bfloat16")
    p.add_argument("--fresh", action="store_true", help="discard an earlier run or model of this name")
    p.add_argument("--quiet", action="store_true", help="plain progress lines instead of a bar")
    p.set_defaults(func=_cmd_finetune)
