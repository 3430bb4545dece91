"""What a benchmark row means beyond its CER: confusions, calibration, confidence intervals, subsets.

analyse_row(samples, norm) works on one engine × decoder row's per-sample results (the scored ones:
failed lines are left out, as in the row's CER); pairwise(rows) compares every two rows over the lines
both scored, with paired bootstrap intervals. Everything here is computed from the samples alone, so a
saved run (ocr.evaluation.runs) can be re-analysed without re-running engines.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from ocr.evaluation.bootstrap import Interval, LineStats, PairedDiff, bootstrap_ci, paired_diff
from ocr.evaluation.calibration import Calibration, calibrate
from ocr.evaluation.confusions import Confusions, align_chars
from ocr.evaluation.metrics import edit_distance
from ocr.evaluation.normalize import Normalization, normalize, normalize_chars

__all__ = ["TOP_CONFUSIONS", "RowAnalysis", "SampleLike", "analyse_row", "line_confidence", "pairwise",
           "row_extras"]

TOP_CONFUSIONS = 50  # confusions listed in a row's JSON summary (the saved run keeps every sample)


class SampleLike(Protocol):
    """What the analysis reads from a per-sample result (ocr.evaluation.bench.SampleResult)."""

    key: str
    label: str
    prediction: str
    ms: float | None
    char_confidences: tuple[float, ...] | None
    subset: str


def line_confidence(char_confidences: Sequence[float] | None) -> float | None:
    """Product of per-character confidences (1.0 for an empty prediction); None without confidences."""
    if char_confidences is None:
        return None
    return float(math.exp(sum(math.log(max(c, 1e-12)) for c in char_confidences)))


@dataclass
class RowAnalysis:
    """One row's analysis. keys[i] is the sample key of line i (confusions.lines index into it).

    line_cal/char_cal are None when the engine gives no confidences (text-only: uncalibrated).
    subsets: subset -> {"n", "cer", "line_acc"} (only when the set has more than one subset).
    """

    n: int
    normalization: Normalization
    ci: Interval | None
    stats: LineStats
    line_cal: Calibration | None
    char_cal: Calibration | None
    confusions: Confusions
    keys: list[str]
    line_conf: list[float | None]
    subsets: dict[str, dict[str, float]]


def _scored(samples: Sequence[SampleLike]) -> list[SampleLike]:
    return [s for s in samples if s.ms is not None]


def _line_stats(rows: Sequence[SampleLike], norm: Normalization) -> tuple[LineStats, list[str], list[str]]:
    """Per-line edits, reference lengths and exact matches, with the normalised refs and hyps."""
    refs = [normalize(s.label, norm) for s in rows]
    hyps = [normalize(s.prediction, norm) for s in rows]
    pairs = list(zip(refs, hyps, strict=True))
    return (LineStats([edit_distance(r, h) for r, h in pairs], [len(r) for r in refs],
                      [int(r == h) for r, h in pairs]), refs, hyps)


def analyse_row(samples: Sequence[SampleLike], norm: Normalization, seed: int | None = None) -> RowAnalysis:
    """Confusions, calibration, bootstrap CI and per-subset scores of one row's scored samples."""
    rows = _scored(samples)
    stats, refs, hyps = _line_stats(rows, norm)
    conf = Confusions()
    for i, (r, h) in enumerate(zip(refs, hyps, strict=True)):
        conf.add(i, r, h)
    ci = (bootstrap_ci(stats) if seed is None else bootstrap_ci(stats, seed=seed)) if rows else None
    line_conf = [line_confidence(s.char_confidences) for s in rows]
    line_cal = char_cal = None
    if rows and all(c is not None for c in line_conf):
        line_cal = calibrate([c for c in line_conf if c is not None], [bool(k) for k in stats.correct])
        char_c: list[float] = []
        char_ok: list[bool] = []
        for s, ref in zip(rows, refs, strict=True):
            confs = list(s.char_confidences or ())
            if len(confs) != len(s.prediction):
                continue  # a charset entry of several characters: no per-character record
            hyp, vals = normalize_chars(list(s.prediction), confs, norm)
            for op in align_chars(ref, hyp):
                if op.hyp_pos >= 0:
                    char_c.append(min(max(vals[op.hyp_pos], 0.0), 1.0))
                    char_ok.append(op.tag == "equal")
        char_cal = calibrate(char_c, char_ok) if char_c else None
    subsets: dict[str, dict[str, float]] = {}
    names = sorted({s.subset for s in rows})
    if len(names) > 1:
        for name in names:
            idx = [i for i, s in enumerate(rows) if s.subset == name]
            chars = sum(stats.chars[i] for i in idx)
            errs = sum(stats.errors[i] for i in idx)
            subsets[name] = {"n": len(idx), "cer": errs / chars if chars else float(errs > 0),
                             "line_acc": sum(stats.correct[i] for i in idx) / len(idx)}
    return RowAnalysis(len(rows), norm, ci, stats, line_cal, char_cal, conf, [s.key for s in rows],
                       line_conf, subsets)


def row_extras(samples: Sequence[SampleLike], norm: Normalization) -> dict[str, object]:
    """The keys a benchmark row's JSON gains: ci95_cer, ci95_line_acc, ece (per line; None when
    uncalibrated), ece_char, confusions (top TOP_CONFUSIONS {"ref", "hyp", "count"}), normalization,
    by_subset."""
    a = analyse_row(samples, norm)

    def pair(x: tuple[float, float] | None) -> list[float] | None:
        return None if x is None else [round(x[0], 5), round(x[1], 5)]

    return {
        "ci95_cer": pair(a.ci.cer if a.ci else None),
        "ci95_line_acc": pair(a.ci.line_acc if a.ci else None),
        "ece": None if a.line_cal is None else round(a.line_cal.ece, 5),
        "ece_char": None if a.char_cal is None else round(a.char_cal.ece, 5),
        "confusions": a.confusions.top(TOP_CONFUSIONS),
        "normalization": norm.as_dict(),
        "by_subset": {k: {"n": int(v["n"]), "cer": round(v["cer"], 5), "line_acc": round(v["line_acc"], 5)}
                      for k, v in a.subsets.items()},
    }


class RowLike(Protocol):
    engine: str
    decoder: str
    samples: list


def _paired_stats(a: RowLike, b: RowLike, norm: Normalization) -> tuple[LineStats, LineStats, int]:
    """Line stats of the lines both rows scored, in a's order."""
    b_by_key = {s.key: s for s in _scored(b.samples)}
    sa, sb = [], []
    for s in _scored(a.samples):
        if s.key in b_by_key:
            sa.append(s)
            sb.append(b_by_key[s.key])

    return _line_stats(sa, norm)[0], _line_stats(sb, norm)[0], len(sa)


def compare_rows(a: RowLike, b: RowLike, norm: Normalization) -> PairedDiff | None:
    """B − A over the lines both rows scored (None when they share none)."""
    sa, sb, n = _paired_stats(a, b, norm)
    return paired_diff(sa, sb) if n else None


def pairwise(rows: Sequence[RowLike], norm: Normalization) -> list[dict[str, object]]:
    """Every two rows: CER and line-accuracy differences (B − A) with 95 % paired-bootstrap intervals,
    and whether the CER difference is significant."""
    out = []
    for i, a in enumerate(rows):
        for b in rows[i + 1:]:
            d = compare_rows(a, b, norm)
            if d is None:
                continue
            out.append({"a": f"{a.engine} / {a.decoder}", "b": f"{b.engine} / {b.decoder}", "n": d.n,
                        "d_cer": round(d.cer, 5),
                        "ci95_d_cer": [round(d.cer_ci[0], 5), round(d.cer_ci[1], 5)],
                        "d_line_acc": round(d.line_acc, 5),
                        "ci95_d_line_acc": [round(d.line_acc_ci[0], 5), round(d.line_acc_ci[1], 5)],
                        "significant": d.cer_significant,
                        "verdict": d.verdict(f"{a.engine} / {a.decoder}", f"{b.engine} / {b.decoder}")})
    return out
