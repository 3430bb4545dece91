"""Streamlit helpers of the Fine-tune page, and the hand-over from the Benchmark page (its current set
and its error lines, kept in session state as zips in the form `python -m ocr finetune` reads)."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import TYPE_CHECKING, Any

import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

if TYPE_CHECKING:
    from ocr.evaluation.bench import BenchResult
    from ocr.evaluation.datasets import LabelledSet
    from ocr.training.jobs import JobView

__all__ = [
    "BENCH_ERRORS_KEY",
    "BENCH_SET_KEY",
    "SOURCE_KEY",
    "before_after_frame",
    "blend_frame",
    "curves_figure",
    "error_actions",
    "remember_bench_set",
]

BENCH_SET_KEY = "ft_bench_set"  # {"name", "zip", "n"}: the Benchmark page's current set
BENCH_ERRORS_KEY = "ft_bench_errors"  # {"name", "zip", "n"}: the lines its last run got wrong
SOURCE_KEY = "ft_source"  # the Fine-tune page's source choice ("upload" | "bench_set" | "bench_errors")
FINETUNE_PAGE = "pages/finetune.py"


def remember_bench_set(lset: LabelledSet, results: list[BenchResult],
                       state: MutableMapping[str, object] | None = None) -> None:
    """Keep the benchmarked set and its error lines (zips) for the Fine-tune page. Call while the set is
    open. state: where to keep them (default st.session_state; the Benchmark page's background job
    passes a dict and copies it into the session when it collects the run)."""
    from ocr.evaluation.errors import error_set_bytes, set_bytes

    state = st.session_state if state is None else state
    data, n = set_bytes(lset)
    state[BENCH_SET_KEY] = {"name": lset.name, "zip": data, "n": n}
    errors, n_err = error_set_bytes(lset, results)
    state[BENCH_ERRORS_KEY] = {"name": f"errors of {lset.name}", "zip": errors, "n": n_err}


def error_actions(prefix: str) -> None:
    """The Benchmark page's error-line buttons: download them as a labelled set, or fine-tune on them."""
    errors = st.session_state.get(BENCH_ERRORS_KEY)
    if not errors:
        return
    left, right = st.columns(2)
    left.download_button(f"Error lines as a labelled set ({errors['n']} lines, .zip)", errors["zip"],
                         "error_lines.zip", "application/zip", key=f"{prefix}_dl_errors",
                         disabled=not errors["n"],
                         help="The lines any run got wrong: images, labels.tsv (the reference text) and "
                              "samples.json (every run's prediction beside the label).")
    if right.button("Fine-tune on these", key=f"{prefix}_finetune_errors", disabled=not errors["n"]):
        st.session_state[SOURCE_KEY] = "bench_errors"
        st.switch_page(FINETUNE_PAGE)


def curves_figure(view: JobView) -> go.Figure:
    """Training loss and validation CER against the step, side by side."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=("training loss (CTC per character)",
                                                        "validation CER"))
    if view.train:
        fig.add_trace(go.Scatter(x=[r["step"] for r in view.train], y=[r["loss"] for r in view.train],
                                 mode="lines+markers", name="loss", marker={"size": 4}), row=1, col=1)
    if view.evals:
        fig.add_trace(go.Scatter(x=[r["step"] for r in view.evals], y=[r["val_cer"] for r in view.evals],
                                 mode="lines+markers", name="val CER", marker={"size": 6}), row=1, col=2)
    fig.update_xaxes(title_text="step")
    fig.update_layout(height=320, margin={"l": 40, "r": 10, "t": 40, "b": 40}, showlegend=False)
    return fig


SET_TITLES = {"val": "your validation set", "reference": "general reference set (forgetting)"}


def before_after_frame(before: dict[str, Any], after: dict[str, Any], base: str, engine: str) -> pd.DataFrame:
    """One row per measured set: lines, CER and line accuracy of the base and of the fine-tuned model."""
    rows = []
    for key, a in after.items():
        b = before.get(key, {})
        rows.append({"set": SET_TITLES.get(key, key), "lines": a.get("n"),
                     f"CER {base}": b.get("cer"), f"CER {engine}": a.get("cer"),
                     f"line acc {base}": b.get("line_acc"), f"line acc {engine}": a.get("line_acc")})
    return pd.DataFrame(rows)


def grown_frame(grown: list[dict[str, Any]], base: str, engine: str) -> pd.DataFrame:
    """One row per confusion that grew on the reference set: written, read as, whether that is one of the
    characters of the user's labels, counts before and after, and the first line where it is new (as
    written, as the base read it, as the fine-tune reads it)."""
    return pd.DataFrame([{"written": g["ref"] or "∅", "read as": g["hyp"] or "∅",
                          "one of yours": "✓" if g.get("yours") else "",
                          base: g["before"], engine: g["after"], "example line": g["example"]["text"],
                          f"{base} read": g["example"]["before"], f"{engine} reads": g["example"]["after"]}
                         for g in grown])


def blend_frame(tried: list[dict[str, float]], kept: float) -> pd.DataFrame:
    """One row per blend share tried: a, validation CER, reference CER, and which one was kept."""
    return pd.DataFrame([{"a (share of the change)": r["a"], "your validation CER": r["val_cer"],
                          "general reference CER": r["ref_cer"], "kept": "✓" if r["a"] == kept else ""}
                         for r in tried])
