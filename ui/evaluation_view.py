"""Benchmark page sections for issue 20: which engine and decoder to trust.

evaluation_section(run): normalisation choice, confusions (table + chart, a row opens its lines with
crops), character precision/recall, calibration (reliability diagram, ECE, accuracy–coverage, a review
threshold), confidence intervals and pairwise significance, per-subset scores.
saved_runs_section(): every finished run is saved as JSON (save_page_run); open one again, or compare two
(lines fixed and broken, CI of the CER difference). All numbers come from ocr.evaluation.
"""

from __future__ import annotations

import contextlib
import html
import os
from dataclasses import replace
from pathlib import Path

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from ocr.errors import OCRError
from ocr.evaluation.calibration import Calibration, flag_for_review
from ocr.evaluation.confusions import kind_of
from ocr.evaluation.normalize import PRESETS, Normalization, describe
from ocr.evaluation.report import RowAnalysis, analyse_row, pairwise
from ocr.evaluation.runs import Run, compare_runs, load_run, new_run, save_run
from ui.benchset import BenchRun, run_label
from ui.render import diff_html

__all__ = [
    "accuracy_coverage_figure",
    "confusion_figure",
    "evaluation_section",
    "reliability_figure",
    "runs_dir",
    "save_page_run",
    "saved_runs_section",
]

KEY = "bench_eval"
MAX_LINES = 100
MAX_RUNS = 100  # newest saved runs listed
_OPTIONS = (
    ("nfkc", "NFKC"),
    ("width", "full→half width"),
    ("casefold", "case fold"),
    ("t2s", "traditional→simplified"),
    ("punct", "drop punctuation"),
)


def runs_dir() -> Path:
    """Where the page saves and finds runs: $OCR_RUNS_DIR, else runs/bench (git-ignored)."""
    return Path(os.environ.get("OCR_RUNS_DIR") or "runs/bench")


# ------------------------------------------------------------------------------------------------ figures
def reliability_figure(cal: Calibration, title: str) -> go.Figure:
    """Accuracy per confidence bin (bars, width = bin) against the diagonal of perfect calibration."""
    used = [b for b in cal.bins if b.n]
    fig = go.Figure()
    fig.add_bar(
        x=[(b.lo + b.hi) / 2 for b in used],
        y=[b.accuracy for b in used],
        width=[b.hi - b.lo for b in used],
        name="accuracy",
        marker_color="#4c78a8",
        customdata=[b.n for b in used],
        hovertemplate="confidence %{x:.2f}<br>accuracy %{y:.3f}<br>%{customdata} items<extra></extra>",
    )
    fig.add_scatter(
        x=[b.confidence for b in used],
        y=[b.confidence for b in used],
        mode="markers",
        name="mean confidence",
        marker={"color": "#e45756", "size": 8},
    )
    fig.add_scatter(x=[0, 1], y=[0, 1], mode="lines", name="perfect", line={"dash": "dot", "color": "#888"})
    fig.update_layout(
        title=f"{title} · ECE {cal.ece:.3f}",
        height=320,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        xaxis={"title": "confidence", "range": [0, 1]},
        yaxis={"title": "accuracy", "range": [0, 1]},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def accuracy_coverage_figure(curves: dict[str, Calibration]) -> go.Figure:
    """Line accuracy when only the most confident share of lines is kept, one curve per row."""
    fig = go.Figure()
    for name, cal in curves.items():
        fig.add_scatter(x=list(cal.coverage), y=list(cal.accuracy), mode="lines", name=name)
    fig.update_layout(
        title="Accuracy–coverage (lines, most confident first)",
        height=320,
        margin={"l": 40, "r": 10, "t": 40, "b": 40},
        xaxis={"title": "coverage (share of lines kept)", "range": [0, 1]},
        yaxis={"title": "line accuracy", "range": [0, 1.02]},
        legend={"orientation": "h", "y": -0.25},
    )
    return fig


def confusion_figure(top: pd.DataFrame) -> go.Figure:
    """Horizontal bars of the most frequent confusions (ref → hyp), coloured by kind."""
    colors = {"substitution": "#f2a541", "deletion": "#e45756", "insertion": "#4c78a8"}
    fig = go.Figure()
    for kind, part in top.groupby("kind", sort=False):
        fig.add_bar(
            y=part["pair"],
            x=part["count"],
            orientation="h",
            name=str(kind),
            marker_color=colors.get(str(kind), "#888"),
        )
    fig.update_layout(
        height=max(240, 22 * len(top) + 80),
        margin={"l": 80, "r": 10, "t": 10, "b": 30},
        yaxis={"autorange": "reversed", "type": "category"},
        barmode="stack",
        legend={"orientation": "h", "y": -0.15},
    )
    return fig


# --------------------------------------------------------------------------------------------- sections
def _norm_widget() -> Normalization:
    left, right = st.columns([1, 3])
    preset = left.selectbox(
        "Normalisation preset",
        list(PRESETS),
        key=f"{KEY}_preset",
        help="bctr = the protocol of 'Benchmarking Chinese Text Recognition' (Chen et al. "
        "2021): lower case, no spaces, full→half width, traditional→simplified.",
    )
    base = PRESETS[preset]
    chosen = right.multiselect(
        "Options",
        [k for k, _ in _OPTIONS],
        default=[k for k, _ in _OPTIONS if getattr(base, k)],
        format_func=dict(_OPTIONS).__getitem__,
        key=f"{KEY}_opts_{preset}",
    )
    return replace(base, **{k: k in chosen for k, _ in _OPTIONS})


@st.cache_data(show_spinner=False, max_entries=32)
def _analyse(fingerprint: int, _samples: list, norm: Normalization) -> RowAnalysis:
    """analyse_row, cached by the samples' content (fingerprint) and the normalisation."""
    return analyse_row(_samples, norm)


def _fingerprint(samples: list) -> int:
    """A hash of what the analysis reads from each sample."""
    return hash(
        tuple((s.key, s.label, s.prediction, s.ms is None, s.char_confidences, s.subset) for s in samples)
    )


def _analyses(run: BenchRun, norm: Normalization) -> dict[str, RowAnalysis]:
    return {
        run_label(r.engine, r.decoder): _analyse(_fingerprint(r.samples), r.samples, norm)
        for r in run.results
    }


def _lines_html(run: BenchRun, result_label: str, keys: list[str]) -> str:
    """Rows of crops, labels and marked predictions for the given sample keys of one result row."""
    row = next(r for r in run.results if run_label(r.engine, r.decoder) == result_label)
    by_key = {s.key: s for s in row.samples}
    body = []
    for key in keys[:MAX_LINES]:
        s = by_key[key]
        thumb = run.thumbs.get(key)
        img = f'<img src="{thumb}" style="max-width:360px;height:28px">' if thumb else ""
        ref, hyp = diff_html(s.label, s.prediction, counted=bool(s.cer))
        body.append(
            f"<tr><td>{img}<br><small>{html.escape(key)}</small></td><td>{ref}</td><td>{hyp}</td></tr>"
        )
    more = f"<p><small>first {MAX_LINES} of {len(keys)} lines</small></p>" if len(keys) > MAX_LINES else ""
    return (
        '<table class="eval-lines" style="border-collapse:collapse;width:100%;font-size:16px"><thead><tr>'
        "<th align=left>image</th><th align=left>label</th><th align=left>prediction</th></tr></thead>"
        "<tbody>" + "".join(body) + "</tbody></table>" + more
    )


def _confusions_tab(run: BenchRun, analyses: dict[str, RowAnalysis], norm: Normalization) -> None:
    label = st.selectbox("Engine × decoder", list(analyses), key=f"{KEY}_conf_row")
    a = analyses[label]
    totals = a.confusions.totals
    st.caption(
        f"{describe(norm)} · {totals['substitution']} substitutions, {totals['deletion']} deletions, "
        f"{totals['insertion']} insertions over {a.n} lines (∅ = nothing)."
    )
    top = pd.DataFrame(
        [
            {
                **c,
                "kind": kind_of(c["ref"], c["hyp"]),
                "pair": f"{c['ref'] or '∅'} → {c['hyp'] or '∅'}",
                "lines": len(a.confusions.lines[(c["ref"], c["hyp"])]),
            }
            for c in a.confusions.top(30)
        ],
        columns=["ref", "hyp", "count", "kind", "pair", "lines"],
    )
    if top.empty:
        st.success("No confusions: every scored line matches its label.")
        return
    left, right = st.columns([3, 2])
    with left:
        st.markdown("**Top confusions** — select a row to see its lines")
        event = st.dataframe(
            top[["ref", "hyp", "count", "kind", "lines"]],
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key=f"{KEY}_conf_table",
        )
    right.plotly_chart(confusion_figure(top.head(15)), key=f"{KEY}_conf_fig", config={"displaylogo": False})
    picked = event.selection.rows if event is not None else []
    if picked:
        r = top.iloc[picked[0]]
        keys = [a.keys[i] for i in a.confusions.lines[(r["ref"], r["hyp"])]]
        st.markdown(f"**{html.escape(str(r['pair']))}** in {len(keys)} line(s)")
        st.html(_lines_html(run, label, keys))
    st.markdown("**Most frequent characters: precision and recall**")
    st.dataframe(
        pd.DataFrame(a.confusions.char_scores(20)),
        hide_index=True,
        width="stretch",
        column_config={
            "precision": st.column_config.NumberColumn(format="%.3f"),
            "recall": st.column_config.NumberColumn(format="%.3f"),
        },
    )


def _calibration_tab(run: BenchRun, analyses: dict[str, RowAnalysis]) -> None:
    calibrated = {k: a for k, a in analyses.items() if a.line_cal is not None}
    for k in analyses:
        if k not in calibrated:
            st.info(f"{k}: uncalibrated — this engine gives text only, no confidences (not shown as 1.0).")
    if not calibrated:
        return
    label = st.selectbox("Engine × decoder", list(calibrated), key=f"{KEY}_cal_row")
    a = calibrated[label]
    assert a.line_cal is not None
    c1, c2 = st.columns(2)
    c1.plotly_chart(
        reliability_figure(a.line_cal, "Lines"), key=f"{KEY}_rel_line", config={"displaylogo": False}
    )
    if a.char_cal is not None:
        c2.plotly_chart(
            reliability_figure(a.char_cal, "Characters"), key=f"{KEY}_rel_char", config={"displaylogo": False}
        )
    st.caption(
        "Line confidence = product of its characters' confidences; a line counts as right when it "
        "equals its label after normalisation. ECE = Σ bin share × |accuracy − confidence| (10 bins)."
    )
    st.plotly_chart(
        accuracy_coverage_figure({k: v.line_cal for k, v in calibrated.items() if v.line_cal}),
        key=f"{KEY}_cov",
        config={"displaylogo": False},
    )
    ninety = a.line_cal.accuracy_at_coverage(0.9)
    st.markdown(
        f"Reject the 10 % least confident lines of **{html.escape(label)}** → line accuracy "
        f"**{ninety:.3f}** (all lines: {a.line_cal.accuracy[-1]:.3f})."
    )
    threshold = st.slider(
        "Flag lines for review below this confidence", 0.0, 1.0, 0.5, 0.01, key=f"{KEY}_threshold"
    )
    flags = flag_for_review(a.line_conf, threshold)
    keys = [k for k, f in zip(a.keys, flags, strict=True) if f]
    wrong = sum(1 for f, ok in zip(flags, a.stats.correct, strict=True) if f and not ok)
    total_wrong = sum(1 for ok in a.stats.correct if not ok)
    st.markdown(
        f"**{len(keys)}** of {a.n} lines flagged; they hold **{wrong}** of the {total_wrong} wrong lines."
    )
    if keys:
        with st.expander(f"Flagged lines ({len(keys)})"):
            st.html(_lines_html(run, label, keys))


def _significance_tab(run: BenchRun, analyses: dict[str, RowAnalysis], norm: Normalization) -> None:
    rows = []
    for k, a in analyses.items():
        if a.ci is None:
            continue
        rows.append(
            {
                "row": k,
                "n": a.n,
                "CER": a.ci.point_cer,
                "CER 95% CI": f"[{a.ci.cer[0]:.4f}, {a.ci.cer[1]:.4f}]",
                "line acc": a.ci.point_line_acc,
                "line acc 95% CI": f"[{a.ci.line_acc[0]:.3f}, {a.ci.line_acc[1]:.3f}]",
                "ECE (lines)": None if a.line_cal is None else a.line_cal.ece,
            }
        )
    st.caption(
        f"{describe(norm)} · paired bootstrap, 1,000 resamples of lines, seeded (the same run gives the "
        "same intervals)."
    )
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "CER": st.column_config.NumberColumn(format="%.4f"),
            "line acc": st.column_config.NumberColumn(format="%.3f"),
            "ECE (lines)": st.column_config.NumberColumn(format="%.3f"),
        },
    )
    pairs = pairwise(run.results, norm)
    if pairs:
        st.markdown("**Differences between rows (B − A, same lines)**")
        st.dataframe(
            pd.DataFrame(
                [
                    {
                        "A": p["a"],
                        "B": p["b"],
                        "n": p["n"],
                        "ΔCER": p["d_cer"],
                        "ΔCER 95% CI": f"[{p['ci95_d_cer'][0]:+.4f}, {p['ci95_d_cer'][1]:+.4f}]",
                        "Δ line acc": p["d_line_acc"],
                        "verdict": p["verdict"],
                    }
                    for p in pairs
                ]
            ),
            hide_index=True,
            width="stretch",
        )


def _subsets_tab(analyses: dict[str, RowAnalysis], norm: Normalization) -> None:
    rows = [
        {"row": k, "subset": name, **vals} for k, a in analyses.items() for name, vals in a.subsets.items()
    ]
    if not rows:
        st.info(
            "One subset only. Subsets come from the first folder of each image path, or a third "
            "`subset` column in the labels file."
        )
        return
    st.caption(describe(norm))
    st.dataframe(
        pd.DataFrame(rows),
        hide_index=True,
        width="stretch",
        column_config={
            "cer": st.column_config.NumberColumn("CER", format="%.4f"),
            "line_acc": st.column_config.NumberColumn("line acc", format="%.3f"),
        },
    )


def evaluation_section(run: BenchRun) -> None:
    """The analysis of a finished benchmark (see the module docstring)."""
    if not run.results:
        return
    st.subheader("Which engine and decoder to trust")
    norm = _norm_widget()
    analyses = _analyses(run, norm)
    tabs = st.tabs(["Confusions", "Calibration", "Confidence intervals", "Subsets"])
    with tabs[0]:
        _confusions_tab(run, analyses, norm)
    with tabs[1]:
        _calibration_tab(run, analyses)
    with tabs[2]:
        _significance_tab(run, analyses, norm)
    with tabs[3]:
        _subsets_tab(analyses, norm)


# ------------------------------------------------------------------------------------------- saved runs
def save_page_run(run: BenchRun, settings: dict[str, object]) -> Path | None:
    """Save a finished page run as JSON into runs_dir(); None (with a warning) when it cannot be written."""
    try:
        return save_run(new_run(run.set_name, None, run.results, settings, run.problems), runs_dir())
    except OSError as exc:
        st.warning(f"The run could not be saved to {runs_dir()}: {exc}")
        return None


def _thumbs(saved: Run) -> dict[str, str]:
    """Crops for a saved run's lines when its set is still on disk (else none)."""
    from ocr.evaluation.datasets import open_labelled_set
    from ocr.imageio import load_image
    from ui.render import thumbnail_uri

    thumbs: dict[str, str] = {}
    if not saved.source or not Path(saved.source).exists():
        return thumbs
    with contextlib.suppress(OCRError), open_labelled_set(Path(saved.source)) as lset:
        for s in lset.runnable:
            with contextlib.suppress(OCRError):
                thumbs[s.key] = thumbnail_uri(load_image(s.image_path))  # type: ignore[arg-type]
    return thumbs


@st.cache_data(show_spinner=False, max_entries=512)
def _describe_run(path: str, mtime: float) -> str:
    """One line naming a saved run (cached per file version: a run file can be several MB)."""
    try:
        r = load_run(Path(path))
    except OCRError:
        return f"{Path(path).name} (unreadable)"
    rows = ", ".join(run_label(x.engine, x.decoder) for x in r.results)
    return f"{Path(path).stem} · {r.set_name} · {rows}"


@st.cache_data(show_spinner=False, max_entries=16)
def _compare(a: str, mtime_a: float, b: str, mtime_b: float) -> list:
    """compare_runs of two saved run files, cached per file version."""
    return compare_runs(load_run(Path(a)), load_run(Path(b)))


def _fixed_broken_frame(changes: list) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "key": c.key,
                "label": c.label,
                "A": c.prediction_a,
                "B": c.prediction_b,
                "CER A": c.cer_a,
                "CER B": c.cer_b,
            }
            for c in changes
        ],
        columns=["key", "label", "A", "B", "CER A", "CER B"],
    )


def _open_picked(run_key: str) -> None:
    """on_change of the run picker: put the chosen saved run where the page keeps its results."""
    pick = st.session_state.get(f"{KEY}_open_pick")
    if not pick:
        return
    try:
        saved = load_run(Path(pick))
    except OCRError as exc:
        st.session_state[f"{KEY}_open_error"] = str(exc)
        return
    st.session_state.pop(f"{KEY}_open_error", None)
    st.session_state[run_key] = BenchRun(saved.set_name, saved.results, _thumbs(saved), saved.problems)


def saved_runs_section(run_key: str) -> None:
    """Open a saved run (its analysis, crops when the set is on disk) or compare two saved runs."""
    folder = runs_dir()
    found = [(p.stat().st_mtime, p) for p in folder.glob("*.json")] if folder.is_dir() else []
    files = [p for _, p in sorted(found, key=lambda t: (t[0], t[1].name), reverse=True)][:MAX_RUNS]
    st.subheader("Saved runs")
    if not files:
        st.caption(
            f"No saved runs in {folder} yet: every finished benchmark is saved there "
            "(`python -m ocr bench` saves there too)."
        )
        return
    mtimes = {str(p): m for m, p in found}
    names = {str(p): _describe_run(str(p), mtimes[str(p)]) for p in files}
    if f"{KEY}_open_error" in st.session_state:
        st.error(st.session_state[f"{KEY}_open_error"])
    st.selectbox(
        "Open a saved run (its analysis replaces the results above)",
        ["", *names],
        format_func=lambda p: names.get(p, "— choose —"),
        key=f"{KEY}_open_pick",
        on_change=_open_picked,
        args=(run_key,),
    )
    st.markdown("**Compare two runs** (rows of the same engine × decoder, or the only row of each)")
    left, right = st.columns(2)
    a = left.selectbox(
        "A (baseline)",
        list(names),
        index=min(1, len(names) - 1),
        format_func=names.__getitem__,
        key=f"{KEY}_cmp_a",
    )
    b = right.selectbox(
        "B (candidate)", list(names), index=0, format_func=names.__getitem__, key=f"{KEY}_cmp_b"
    )
    if a == b:
        st.caption("Choose two different runs.")
        return
    try:
        comparisons = _compare(a, mtimes[a], b, mtimes[b])
    except OCRError as exc:
        st.error(f"Cannot compare: {exc}")
        return
    for c in comparisons:
        d = c.as_dict()
        ci = d["ci95_d_cer"]
        st.markdown(
            f"**{html.escape(c.row_a)} → {html.escape(c.row_b)}** · {c.n} common lines · CER "
            f"{c.cer_a:.4f} → {c.cer_b:.4f} · ΔCER {d['d_cer'] or 0:+.4f}"
            + (f" [{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else "")
            + f" · {d['verdict']}"
        )
        f1, f2 = st.columns(2)
        f1.markdown(f"Fixed by B: **{len(c.fixed)}** lines")
        f1.dataframe(
            _fixed_broken_frame(c.fixed),
            hide_index=True,
            width="stretch",
            key=f"{KEY}_fixed_{c.row_a}_{c.row_b}",
        )
        f2.markdown(f"Broken by B: **{len(c.broken)}** lines")
        f2.dataframe(
            _fixed_broken_frame(c.broken),
            hide_index=True,
            width="stretch",
            key=f"{KEY}_broken_{c.row_a}_{c.row_b}",
        )
