"""The evaluation parts of `python -m ocr`: normalisation options and saved runs for `bench`, and
`compare RUN_A RUN_B`. ocr/cli.py wires them in; everything here prints only through the commands."""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass, replace
from pathlib import Path

from ocr.evaluation.bench import BenchResult
from ocr.evaluation.normalize import PRESETS, SPACES, Normalization, describe
from ocr.evaluation.report import pairwise
from ocr.evaluation.runs import compare_runs, load_run, new_run, save_run

__all__ = ["add_bench_run_options", "add_compare_command", "normalization_from", "print_evaluation",
           "save_bench_run"]

_FLAGS = (("nfkc", "Unicode NFKC"), ("width", "full-width -> half-width"), ("casefold", "case folding"),
          ("t2s", "traditional -> simplified (OpenCC)"), ("punct", "remove punctuation and symbols"))


def add_bench_run_options(p: argparse.ArgumentParser) -> None:
    """--norm PRESET with per-option overrides, --save-run PATH and --no-save-run."""
    g = p.add_argument_group("normalisation before scoring (a preset, then any option overrides it)")
    g.add_argument("--norm", choices=list(PRESETS), default="default",
                   help="default: NFKC, spaces removed; raw: nothing; bctr: Chen et al. 2021 "
                        "(lower case, no spaces, full->half width, traditional->simplified)")
    for flag, what in _FLAGS:
        g.add_argument(f"--{flag}", action=argparse.BooleanOptionalAction, default=None, help=what)
    g.add_argument("--spaces", choices=SPACES, default=None, help="keep, collapse or remove spaces")
    p.add_argument("--save-run", metavar="PATH",
                   help="save the run as JSON here: a folder or a .json "
                        "(default $OCR_RUNS_DIR, else runs/bench)")
    p.add_argument("--no-save-run", action="store_true", help="do not save the run")


def normalization_from(args: argparse.Namespace) -> Normalization:
    """The preset named by --norm with the options given on the command line applied over it."""
    names = (*(f for f, _ in _FLAGS), "spaces")
    overrides = {k: getattr(args, k) for k in names if getattr(args, k) is not None}
    return replace(PRESETS[args.norm], **overrides)


def save_bench_run(args: argparse.Namespace, set_name: str, results: list[BenchResult],
                   settings: dict[str, object], norm: Normalization, problems: Sequence[str]) -> Path | None:
    """Save the run as JSON (ocr.evaluation.runs) unless --no-save-run; returns the file written.
    Dataclass values in settings (DecoderConfig, PreprocessConfig) are stored as their fields."""
    if args.no_save_run:
        return None
    plain = {k: asdict(v) if is_dataclass(v) and not isinstance(v, type) else v for k, v in settings.items()}
    run = new_run(set_name, Path(args.labels).resolve(), results,
                  {**plain, "normalization": norm.as_dict()}, problems)
    return save_run(run, Path(args.save_run or os.environ.get("OCR_RUNS_DIR") or "runs/bench"))


def print_evaluation(results: list[BenchResult], norm: Normalization) -> None:
    """The normalisation, CER CIs, ECE, top confusions per row and pairwise significance (text output)."""
    print(f"normalisation: {describe(norm)}")
    for r in results:
        ci = f"[{r.ci95_cer[0]:.4f}, {r.ci95_cer[1]:.4f}]" if r.ci95_cer else "-"
        ece = "uncalibrated" if r.ece is None else f"{r.ece:.3f}"
        top = "  ".join(f"{c['ref'] or '∅'}→{c['hyp'] or '∅'}×{c['count']}" for c in r.confusions[:5])
        print(f"  {r.engine} / {r.decoder}: CER 95% CI {ci}, line ECE {ece}; top confusions: {top or '-'}")
    for d in pairwise(results, norm):
        lo, hi = d["ci95_d_cer"]  # type: ignore[misc]
        print(f"  {d['b']} − {d['a']}: ΔCER {d['d_cer']:+.4f} [{lo:+.4f}, {hi:+.4f}] → {d['verdict']}")
    print()


def _cmd_compare(args: argparse.Namespace) -> int:
    a, b = load_run(Path(args.run_a)), load_run(Path(args.run_b))
    rows = compare_runs(a, b)
    if args.json:
        print(json.dumps({"a": a.id, "b": b.id, "normalization": a.normalization.as_dict(),
                          "rows": [r.as_dict() for r in rows]}, ensure_ascii=False, indent=2))
        return 0
    print(f"A = {a.id} ({a.set_name})\nB = {b.id} ({b.set_name})\nnormalisation: {describe(a.normalization)}")
    for r in rows:
        d = r.as_dict()
        ci = d["ci95_d_cer"]
        span = f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""  # type: ignore[index]
        print(f"\n{r.row_a} → {r.row_b}: n={r.n}  CER {r.cer_a:.4f} → {r.cer_b:.4f}  "
              f"ΔCER {d['d_cer'] or 0:+.4f}{span}  {d['verdict']}")
        print(f"  fixed {len(r.fixed)}, broken {len(r.broken)}, better {r.better}, worse {r.worse}")
        for tag, changes in (("fixed", r.fixed), ("broken", r.broken)):
            for c in changes[:args.show]:
                print(f"  {tag:<6} {c.key}\n         label {c.label}\n         A     {c.prediction_a}\n"
                      f"         B     {c.prediction_b}")
            if len(changes) > args.show:
                print(f"  … {len(changes) - args.show} more {tag} (--show N)")
    return 0


def add_compare_command(sub: argparse._SubParsersAction) -> None:
    """`compare RUN_A RUN_B [--show N] [--json]`."""
    p = sub.add_parser("compare", help="compare two saved benchmark runs: lines fixed and broken, CER CI")
    p.add_argument("run_a", help="a run JSON saved by bench (the baseline)")
    p.add_argument("run_b", help="a run JSON saved by bench (the candidate)")
    p.add_argument("--show", type=int, default=10, help="lines listed per kind (default 10)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_compare)
