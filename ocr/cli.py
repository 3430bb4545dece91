"""`python -m ocr` — the command-line contract other tools rely on.

Errors: exit status 2 and one line `error: …` on stderr, no traceback (OCR_DEBUG=1 shows it).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import time
import traceback
from collections.abc import Sequence
from pathlib import Path

from ocr.decoding import DECODERS, FUSIONS, DecoderConfig
from ocr.engines.registry import engine_names

__all__ = ["main"]


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one `error: …` line, exit 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise _UsageError(f"{message} (see `{self.prog} --help`)")


class _UsageError(Exception):
    pass


def _split(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


def _add_preprocess(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("preprocessing (all off by default)")
    g.add_argument("--denoise", action="store_true", help="non-local-means denoise")
    g.add_argument("--equalize", choices=["none", "global", "clahe"], default="none")
    g.add_argument("--otsu", action="store_true", help="Otsu binarisation")


def _preprocess_config(args: argparse.Namespace):  # -> PreprocessConfig
    from ocr.preprocess import PreprocessConfig

    return PreprocessConfig(denoise=args.denoise, equalize=args.equalize, binarize=args.otsu)


def _decoder_config(method: str, args: argparse.Namespace, lm: bool = False) -> DecoderConfig:
    from dataclasses import replace

    config = DecoderConfig.from_options(method, lm=lm, beam_width=args.beam_width, nbest=args.nbest,
                                        lm_weight=args.lm_weight, length_bonus=args.length_bonus)
    extra = {k: v for k, v in (("fusion", args.lm_fusion), ("lm_margin", args.lm_margin)) if v is not None}
    return replace(config, **extra) if extra else config


def _add_decoder_opts(p: argparse.ArgumentParser) -> None:
    p.add_argument("--beam-width", type=int, default=10, help="beam width (default 10)")
    p.add_argument("--nbest", type=int, default=5, help="hypotheses kept by beam search (default 5)")
    p.add_argument("--lm-weight", type=float, default=None, help="LM weight alpha (beam+LM, default 0.6)")
    p.add_argument("--length-bonus", type=float, default=None,
                   help="length bonus beta (beam+LM with --lm-fusion shallow only)")
    p.add_argument("--lm-fusion", choices=FUSIONS, default=None,
                   help="rescore (default): LM re-chooses only uncertain characters, lengths kept; "
                        "shallow: the older per-step fusion")
    p.add_argument("--lm-margin", type=float, default=None,
                   help="rescore: probability gap under which a character is uncertain (default 0.4)")


def _cmd_engines(args: argparse.Namespace) -> int:
    from ocr.engines.registry import ENGINES, available

    rows = []
    for name, info in ENGINES.items():
        ok, reason = available(name)
        rows.append({"name": name, "title": info.title, "available": ok, "reason": reason,
                     "ctc": info.has_ctc, "summary": info.summary})
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    width = max(len(r["name"]) for r in rows)
    for r in rows:
        state = "available" if r["available"] else f"unavailable: {r['reason']}"
        kind = "CTC" if r["ctc"] else "text only"
        print(f"{r['name']:<{width}}  {kind:<9}  {state}\n{'':<{width}}  {r['summary']}")
    return 0


def _cmd_recognize(args: argparse.Namespace) -> int:
    from ocr.engines.registry import default_engine, load_engine
    from ocr.imageio import load_image
    from ocr.pipeline import recognize

    engine = load_engine(args.engine or default_engine())
    image = load_image(Path(args.image))
    t0 = time.perf_counter()
    rec = recognize(image, engine, _decoder_config(args.decoder, args, lm=args.lm), _preprocess_config(args))
    wall = (time.perf_counter() - t0) * 1000
    chars = rec.best.chars(rec.charset) if rec.best is not None else []
    if args.json:
        out: dict[str, object] = {
            "text": rec.text, "engine": rec.engine, "decoder": rec.decoder, "chars": chars,
            "elapsed_ms": round(wall, 2), "timings_ms": {k: round(v, 2) for k, v in rec.timings.items()},
        }
        if len(rec.nbest) > 1:
            out["nbest"] = [{"text": d.text, "score": round(d.score, 4)} for d in rec.nbest]
        print(json.dumps(out, ensure_ascii=False, indent=2))
        return 0
    print(rec.text)
    if chars:
        print("  ".join(f"{c['char']}:{c['confidence']:.2f}" for c in chars), file=sys.stderr)
    for d in rec.nbest[1:]:
        print(f"  alt {d.score:8.3f}  {d.text}", file=sys.stderr)
    for warning in rec.pre.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(f"[{rec.engine} / {rec.decoder}, {wall:.1f} ms]", file=sys.stderr)
    return 0


def _cmd_bench(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ocr.engines.registry import available, default_engine
    from ocr.evaluation.bench import run_bench
    from ocr.evaluation.cli import normalization_from, print_evaluation, save_bench_run
    from ocr.evaluation.datasets import open_labelled_set

    if args.engine == "all":
        engines = [name for name in engine_names() if available(name)[0]]
    else:
        engines = _split(args.engine) if args.engine else [default_engine()]
    decoders = _split(args.decoder)
    with open_labelled_set(Path(args.labels)) as lset:
        bar = tqdm(total=1, file=sys.stderr, unit="line", disable=args.quiet, dynamic_ncols=True)

        def progress(done: int, total: int, what: str) -> None:
            bar.total = total
            bar.set_description(what)
            bar.update(done - bar.n)

        norm = normalization_from(args)
        if args.ray is None:
            results = run_bench(lset, engines, decoders, progress=progress, batch_size=args.batch_size,
                                preprocess_config=_preprocess_config(args),
                                decoder_template=_decoder_config("greedy", args), norm=norm)
        else:  # the batch execution layer on Ray (ocr.evaluation.bulk)
            from ocr.batch.execute import RaySession
            from ocr.evaluation.bulk import run_bench_bulk

            with RaySession(args.ray or None, args.workers, args.stall_timeout) as session:
                results = run_bench_bulk(lset, engines, decoders, session.run, progress=progress,
                                         batch_size=args.batch_size if args.batch_size > 1 else 16,
                                         preprocess_config=_preprocess_config(args),
                                         decoder_template=_decoder_config("greedy", args), norm=norm)
        bar.close()
        problems = list(lset.problems)
        if args.errors_out:
            from ocr.evaluation.errors import write_error_set

            n = write_error_set(lset, results, Path(args.errors_out))
            print(f"{n} error line(s) written to {args.errors_out}", file=sys.stderr)
    if args.samples_out:
        from ocr.evaluation.bulk import write_samples

        write_samples(results, Path(args.samples_out))
    settings = {"engines": engines, "decoders": decoders, "decoder": _decoder_config("greedy", args),
                "preprocess": _preprocess_config(args), "batch_size": args.batch_size}
    saved = save_bench_run(args, lset.name, results, settings, norm, problems)
    if args.json:
        print(json.dumps([r.summary() for r in results], ensure_ascii=False, indent=2))
    else:
        print_evaluation(results, norm)
        w = max([10, *(len(r.engine) for r in results)])
        head = f"{'engine':<{w}} {'decoder':<8} {'n':>4} {'line_acc':>8} {'CER':>7} {'1-NED':>7} " \
               f"{'p50 ms':>8} {'p95 ms':>8} {'lines/s':>8}"
        print(head)
        for r in results:
            print(f"{r.engine:<{w}} {r.decoder:<8} {r.n:>4} {r.line_acc:>8.3f} {r.cer:>7.4f} {r.ned:>7.4f} "
                  f"{r.p50_ms:>8.1f} {r.p95_ms:>8.1f} {r.lines_per_s:>8.1f}")
    for p in [*_row_notes(results), *problems]:
        print(f"warning: {p}", file=sys.stderr)
    if saved is not None:
        print(f"run saved: {saved}  (compare two runs: python -m ocr compare RUN_A RUN_B)", file=sys.stderr)
    return 0


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m ocr", description="Chinese text-line OCR: engines, decoders, benchmark.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("engines", help="list engines, whether each is available, and why not")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_engines)

    p = sub.add_parser("recognize", help="recognize one text-line image")
    p.add_argument("image")
    p.add_argument("--engine", help=f"{', '.join(engine_names())} (see `engines`); "
                                    "default: the best available")
    p.add_argument("--decoder", choices=DECODERS, default="greedy")
    p.add_argument("--lm", action="store_true", help="beam search with the character n-gram LM")
    _add_decoder_opts(p)
    _add_preprocess(p)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_recognize)

    p = sub.add_parser("bench", help="accuracy and latency on a labelled set (labels file, folder or .zip)")
    p.add_argument("labels")
    p.add_argument("--engine", help=f"comma-separated engine names ({','.join(engine_names())}), "
                                    "or all (every engine available here)")
    p.add_argument("--decoder", default="greedy", help=f"comma-separated: {','.join(DECODERS)}")
    p.add_argument("--batch-size", type=int, default=1, help="also measure batched throughput")
    p.add_argument("--samples-out", help="per-sample results to this file (.parquet, .jsonl, else JSON)")
    p.add_argument("--errors-out", metavar="FILE.zip",
                   help="write the lines any run got wrong as a labelled set "
                        "(images, labels.tsv, samples.json)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_decoder_opts(p)
    _add_preprocess(p)
    from ocr.evaluation.cli import add_bench_run_options

    add_bench_run_options(p)
    p.add_argument("--json", action="store_true")
    from ocr.batch.cli import add_ray_options

    add_ray_options(p)  # --ray: throughput of width-batched lines (default batch 16), not single-line latency
    p.set_defaults(func=_cmd_bench)

    from ocr.evaluation.cli import add_compare_command

    add_compare_command(sub)
    _add_extra_commands(sub)
    return parser


def _cmd_synth(args: argparse.Namespace) -> int:
    from ocr.training import synth

    out = Path(args.out)
    kinds = _kind_mix(args.kinds) if args.kinds else None
    if args.kind == "testset" and args.prose and not kinds:
        from ocr.errors import OCRError

        raise OCRError("--prose on a test set needs --kinds (the plain test set is session 1's lines)")
    if args.kind == "testset" and kinds:
        from ocr.training.synth.kinds import render_kind_test_set

        print(render_kind_test_set(out, n=args.n, seed=args.seed, height=args.height, mix=kinds,
                                   prose=args.prose))
    elif args.kind == "testset":
        labels = synth.render_test_set(out, n=args.n, seed=args.seed, height=args.height, font=args.font,
                                       augment=not args.clean)
        print(labels)
    else:
        stats = synth.render_shards(out, n=args.n, seed=args.seed, height=args.height,
                                    max_len=args.max_len, augment=not args.clean, progress=not args.quiet,
                                    kinds=kinds, prose=args.prose)
        print(json.dumps(stats))
    return 0


def _kind_mix(spec: str) -> dict[str, float]:
    """'all' -> KIND_MIX; 'doc_tc=0.5,symbol=0.5' -> those shares (names checked against KINDS)."""
    from ocr.errors import OCRError
    from ocr.training.synth.kinds import KIND_MIX, KINDS

    if spec == "all":
        return dict(KIND_MIX)
    mix: dict[str, float] = {}
    for part in spec.split(","):
        name, _, share = part.partition("=")
        if name not in KINDS:
            raise OCRError(f"unknown line kind {name!r}; choose from {', '.join(KINDS)}")
        try:
            mix[name] = float(share or 1.0)
        except ValueError as exc:
            raise OCRError(f"bad share in --kinds {part!r}") from exc
    return mix


def _cmd_to_onnx(args: argparse.Namespace) -> int:
    from ocr.models.onnx_file import onnx_from_checkpoint

    size = onnx_from_checkpoint(Path(args.checkpoint), Path(args.out), int8=args.int8)
    print(json.dumps({"path": args.out, "bytes": size, "int8": args.int8}))
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from ocr.models.crnn import ARCHS
    from ocr.training.config import TrainConfig
    from ocr.training.loop import train

    if args.arch not in ARCHS:
        raise ValueError(f"unknown --arch {args.arch!r}; choose from {', '.join(ARCHS)}")
    # the best evaluated checkpoint goes to --export, else into the run: never over a shipped model unnamed
    export = Path(args.export) if args.export else (Path(args.run_dir) / "best.pt" if args.eval else None)
    config = TrainConfig(
        shards=tuple(Path(d) for d in args.shards), run_dir=Path(args.run_dir), init=args.init,
        arch=args.arch,
        steps=args.steps, batch_size=args.batch_size, lr=args.lr, head_lr_mult=args.head_lr_mult,
        freeze_layers=args.freeze_layers, freeze_body=args.freeze_body,
        eval_every=args.eval_every, eval_sets=tuple(Path(p) for p in args.eval),
        export=export, threads=args.threads,
        seed=args.seed, time_limit_s=args.time_limit, progress=not args.quiet,
        teacher=args.teacher, kd_weight=args.kd_weight, lr_schedule=args.lr_schedule,
        warmup_steps=args.warmup_steps, head_rank=args.head_rank, augment=args.augment,
    )
    print(train(config))
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    import torch

    from ocr.training.loop import export_run

    torch.set_num_threads(args.threads)
    results = export_run(Path(args.run_dir), Path(args.out), [Path(p) for p in args.eval])
    print(json.dumps({"path": args.out, "evals": [{"name": r.name, "n": r.n, "cer": round(r.cer, 4),
                                                   "line_acc": round(r.line_acc, 4)} for r in results]}))
    return 0


def _cmd_blend(args: argparse.Namespace) -> int:
    from ocr.charset import Charset
    from ocr.errors import OCRError
    from ocr.models.checkpoint import load_checkpoint, save_export
    from ocr.training.finetune import blend_weights

    if not 0.0 <= args.share <= 1.0:
        raise OCRError(f"the share must be in [0, 1], not {args.share}")
    base, base_meta = load_checkpoint(Path(args.base))
    tuned, meta = load_checkpoint(Path(args.tuned))
    if base_meta["config"] != meta["config"] or base_meta["charset_sha256"] != meta["charset_sha256"]:
        raise OCRError(f"{args.base} and {args.tuned} differ in architecture or charset: nothing to blend")
    tuned.load_state_dict(blend_weights(base.state_dict(), tuned.state_dict(), args.share))
    blend = {"share": args.share, "base": str(args.base), "tuned": str(args.tuned),
             "tuned_init": meta.get("init")}
    save_export(tuned, Path(args.out), Charset(meta["charset"]), {**meta, "blend": blend})  # type: ignore[arg-type]
    print(json.dumps({"path": args.out, "share": args.share}))
    return 0


def _cmd_build_lm(args: argparse.Namespace) -> int:
    from ocr.decoding.lm import DEFAULT_LM_PATH, build_lm

    out = Path(args.out) if args.out else DEFAULT_LM_PATH
    sizes = build_lm(out, order=args.order, min_count=args.min_count)
    print(json.dumps({"path": str(out), "bytes": out.stat().st_size, "ngrams": sizes}))
    return 0


def _add_extra_commands(sub: argparse._SubParsersAction) -> None:
    """Commands backed by the data/training modules."""
    p = sub.add_parser("build-lm", help="build the character n-gram LM from jieba's dictionary (offline)")
    p.add_argument("--out", help="output .npz (default: the committed ocr/data/lm_jieba_char3.npz)")
    p.add_argument("--order", type=int, default=3)
    p.add_argument("--min-count", type=float, default=2.0)
    p.set_defaults(func=_cmd_build_lm)
    p = sub.add_parser("train", help="train or fine-tune our CRNN on pre-rendered shards (resumable)")
    p.add_argument("--shards", required=True, nargs="+",
                   help="one or more folders of shard_*.npz from `synth shards` (used together)")
    p.add_argument("--run-dir", required=True, help="checkpoints and logs; an existing run resumes")
    p.add_argument("--init", default="ddddocr",
                   help="'ddddocr' (port the wheel's CRNN), a checkpoint path to fine-tune, or '' (random)")
    p.add_argument("--arch", default="ddddocr",
                   help="architecture for a random init: ddddocr, compact, or fast32 (32-px latency model)")
    p.add_argument("--steps", type=int, default=10_000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--lr-schedule", choices=["constant", "cosine"], default="constant",
                   help="cosine: warm-up, then decay to 2%% of --lr at --steps (follows the step on resume)")
    p.add_argument("--warmup-steps", type=int, default=0)
    p.add_argument("--head-lr-mult", type=float, default=5.0,
                   help="the classifier's learning rate as a multiple of --lr (a continuation of a "
                        "trained model wants a low one: a high one inflates the biases of classes it adds)")
    p.add_argument("--head-rank", type=int, default=0,
                   help="start from a rank-R SVD factorisation of the initial model's classifier")
    p.add_argument("--freeze-layers", type=int, default=0)
    p.add_argument("--freeze-body", action="store_true",
                   help="train only the classifier (proj + fc): the CNN and BiLSTM stay fixed")
    p.add_argument("--augment", action="store_true",
                   help="jitter each line as it is batched (width, framing, contrast, gamma, noise)")
    p.add_argument("--eval", action="append", default=[],
                   help="labels file scored periodically (repeat); the best by the first is exported")
    p.add_argument("--eval-every", type=int, default=200)
    p.add_argument("--export", default="",
                   help="fp16 export of the best checkpoint by the first --eval set "
                        "(default RUN_DIR/best.pt)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--time-limit", type=float, default=0.0, help="seconds for this call (0 = none)")
    p.add_argument("--teacher", default="",
                   help="exported checkpoint to distil from (models/crnn.pt for an --arch fast32 student)")
    p.add_argument("--kd-weight", type=float, default=1.0, help="weight of the distillation loss")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)

    from ocr.training.finetune_cli import add_finetune_command

    add_finetune_command(sub)

    p = sub.add_parser("export", help="export a training run's latest weights (run_dir/last.pt) as fp16")
    p.add_argument("run_dir")
    p.add_argument("out", help="the .pt to write (e.g. models/crnn_fast.pt)")
    p.add_argument("--eval", action="append", default=[],
                   help="labels file scored and recorded in the export's metadata (repeat)")
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(func=_cmd_export)

    p = sub.add_parser("blend", help="BASE + SHARE x (TUNED - BASE): two checkpoints of one architecture, "
                                      "as an fp16 export")
    p.add_argument("base")
    p.add_argument("tuned")
    p.add_argument("share", type=float, help="0 = BASE, 1 = TUNED")
    p.add_argument("out", help="the .pt to write")
    p.set_defaults(func=_cmd_blend)

    p = sub.add_parser("synth", help="render synthetic lines: a labelled test set, or training shards")
    p.add_argument("kind", choices=["testset", "shards"])
    p.add_argument("out", help="output folder")
    p.add_argument("--n", type=int, default=2000, help="number of lines (default 2000)")
    p.add_argument("--seed", type=int, default=20261124)
    p.add_argument("--height", type=int, default=64)
    p.add_argument("--font", default="uming-cn", help="test set font (default: the held-out uming-cn)")
    p.add_argument("--max-len", type=int, default=24, help="longest training line (shards)")
    p.add_argument("--clean", action="store_true", help="no augmentation")
    p.add_argument("--prose", type=float, default=0.0,
                   help="shards, and test sets with --kinds: chance of a prose mark (——, ……, --, -, ·, ～) "
                        "after each word of a sentence (0: the lines earlier sessions rendered for the seed)")
    p.add_argument("--kinds", default="",
                   help="kinds of line: 'all' (documents simplified + traditional, forms, plates, signs, "
                        "handwriting-like) or shares such as 'doc_tc=0.5,plate=0.5'; a test set then uses "
                        "the held-out faces and names each line's kind in its first folder")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_synth)

    p = sub.add_parser("to-onnx", help="write the shipped .onnx file (fp16 storage, metadata inside) of a "
                                       "checkpoint: what the crnn engines load")
    p.add_argument("checkpoint", help="an exported .pt checkpoint (train --export, export)")
    p.add_argument("out", help="output .onnx, e.g. models/crnn_fast.onnx")
    p.add_argument("--int8", action="store_true",
                   help="quantize the BiLSTM and classifier to int8 (dynamic, per channel), as "
                        "models/crnn.onnx ships: measure the result on your sets before you ship it")
    p.set_defaults(func=_cmd_to_onnx)

    from ocr.documents.page import add_page_command

    add_page_command(sub)

    from ocr.batch.cli import add_batch_command

    add_batch_command(sub)
    try:
        from ocr.api.cli import add_serve_command
    except ImportError as exc:  # the API's web stack is not installed
        reason = f"the REST API needs its packages ({exc}); run `make install`"
        p = sub.add_parser("serve", help="run the REST API (unavailable here)")
        p.set_defaults(func=lambda _args: _fail(reason))
    else:
        add_serve_command(sub)


def _fail(message: str) -> int:
    raise OSError(message)



MAX_NOTES = 20  # per-row warnings printed by bench (the rest are counted)
MAX_MESSAGE = 500  # characters of an error message printed


def _row_notes(results: Sequence[object]) -> list[str]:
    """Per-row errors and warnings of a bench run, once each, at most MAX_NOTES lines (then a count)."""
    from ocr.evaluation.datasets import short_name

    notes: dict[str, None] = {}
    for r in results:
        for s in r.samples:  # type: ignore[attr-defined]
            for what in (s.error, s.warning):
                if what:
                    notes[f"{short_name(s.key)}: {_short(what)}"] = None
    lines = list(notes)
    if len(lines) > MAX_NOTES:
        lines = [*lines[:MAX_NOTES], f"… and {len(lines) - MAX_NOTES} more row note(s) (see --samples-out)"]
    return lines


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_MESSAGE else f"{text[:MAX_MESSAGE]}… ({len(text):,} characters)"


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so `with` blocks clean up (temporary sets, partial files)."""


def _on_sigterm(_signum: int, _frame: object) -> None:
    raise _Terminated


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status. SIGTERM unwinds like Ctrl-C (temporary files removed)."""
    from ocr.errors import OCRError

    try:
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    except ValueError:  # not the main thread: leave signals alone
        previous = None
    try:
        args = _build_parser().parse_args(argv)
        return int(args.func(args) or 0)
    except _UsageError as exc:
        print(f"error: {_short(str(exc))}", file=sys.stderr)
        return 2
    except (OCRError, OSError, ValueError) as exc:
        if os.environ.get("OCR_DEBUG"):
            traceback.print_exc()
        print(f"error: {_short(str(exc)) or type(exc).__name__}", file=sys.stderr)
        return 2
    except _Terminated:
        print("error: terminated", file=sys.stderr)
        return 143
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)
