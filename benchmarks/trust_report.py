"""Tables for "which engine and decoder to trust" (issue 20) from runs saved by `python -m ocr bench`.

    python -m ocr bench ../shared/real_dev/all.tsv --engine ppocr-v4,ppocr-v6,crnn \
        --decoder greedy,beam,beam_lm --quiet --save-run runs/bench/real_dev.json
    python benchmarks/trust_report.py runs/bench/real_dev.json [more runs...]

Prints, per run: beam / beam+LM against greedy per engine (CER, paired 95 % CI of the difference, extra
decode ms per line = mean over lines of the row's time minus greedy's on the same line, which share
preprocessing and the model call); CER and line-accuracy CIs, ECE, top-10 confusions of the greedy rows;
pairwise significance of the greedy rows; CER under the default and the BCTR normalisation.
Nothing is re-run: everything comes from the saved per-sample results.
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import numpy as np

from ocr.evaluation.normalize import PRESETS
from ocr.evaluation.report import analyse_row, compare_rows, pairwise
from ocr.evaluation.runs import load_run


def _extra_ms(greedy, other) -> float:
    ms = {s.key: s.ms for s in greedy.samples if s.ms is not None}
    diffs = [s.ms - ms[s.key] for s in other.samples if s.ms is not None and s.key in ms]
    return float(np.mean(diffs)) if diffs else float("nan")


def report(path: Path) -> None:
    run = load_run(path)
    norm = run.normalization
    print(f"\n## {run.set_name} ({path.name}; {run.created}; normalisation {norm.as_dict()['preset']})\n")
    by = {(r.engine, r.decoder): r for r in run.results}
    engines = list(dict.fromkeys(r.engine for r in run.results))
    print("| engine | greedy CER | beam CER | beam+LM CER | ΔCER beam+LM − greedy [95 % CI] | "
          "extra ms/line beam | extra ms/line beam+LM |")
    print("|---|---|---|---|---|---|---|")
    for e in engines:
        g = by.get((e, "greedy"))
        if g is None:
            continue
        cells = [f"{by[(e, d)].cer:.4f}" if (e, d) in by else "-" for d in ("greedy", "beam", "beam_lm")]
        lm = by.get((e, "beam_lm"))
        d = compare_rows(g, lm, norm) if lm is not None else None
        diff = f"{d.cer:+.4f} [{d.cer_ci[0]:+.4f}, {d.cer_ci[1]:+.4f}]" if d else "-"
        extra = [f"{_extra_ms(g, by[(e, x)]):.1f}" if (e, x) in by else "-" for x in ("beam", "beam_lm")]
        print(f"| {e} | {' | '.join(cells)} | {diff} | {' | '.join(extra)} |")
    greedy = [r for r in run.results if r.decoder in ("greedy", "text")]
    print("\n| engine | n | CER [95 % CI] | line acc [95 % CI] | ECE lines | ECE chars | CER (BCTR preset) | "
          "CER (default + punctuation removed) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in greedy:
        a = analyse_row(r.samples, norm)
        b = analyse_row(r.samples, PRESETS["bctr"])
        c = analyse_row(r.samples, replace(norm, punct=True))
        assert a.ci is not None and b.ci is not None and c.ci is not None
        ece = "uncalibrated" if a.line_cal is None else f"{a.line_cal.ece:.3f}"
        ece_c = "uncalibrated" if a.char_cal is None else f"{a.char_cal.ece:.3f}"
        acc = f"{a.ci.point_line_acc:.3f} [{a.ci.line_acc[0]:.3f}, {a.ci.line_acc[1]:.3f}]"
        print(f"| {r.engine} | {a.n} | {a.ci.point_cer:.4f} [{a.ci.cer[0]:.4f}, {a.ci.cer[1]:.4f}] | {acc} | "
              f"{ece} | {ece_c} | {b.ci.point_cer:.4f} | {c.ci.point_cer:.4f} |")
    for r in greedy:
        a = analyse_row(r.samples, norm)
        top = ", ".join(f"{c['ref'] or '∅'}→{c['hyp'] or '∅'} {c['count']}" for c in a.confusions.top(10))
        t = a.confusions.totals
        print(f"\n{r.engine} top-10 confusions ({t['substitution']} sub, {t['deletion']} del, "
              f"{t['insertion']} ins): {top}")
    print()
    for p in pairwise(greedy, norm):
        lo, hi = p["ci95_d_cer"]  # type: ignore[misc]
        print(f"- {p['b']} − {p['a']}: ΔCER {p['d_cer']:+.4f} [{lo:+.4f}, {hi:+.4f}], "
              f"Δ line acc {p['d_line_acc']:+.3f} → {p['verdict']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    for path in parser.parse_args().runs:
        report(path)


if __name__ == "__main__":
    main()
