"""Benchmark: engines × decoders over a labelled set: accuracy, latency, charts, per-sample results."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd
import streamlit as st

from ocr.decoding import DECODER_TITLES, DECODERS
from ocr.engines.registry import ENGINES
from ocr.errors import OCRError
from ocr.evaluation.normalize import DEFAULT_NORM
from ui.bench_job import BenchJob, current_job, start_job
from ui.benchset import (
    BenchRun,
    buckets_frame,
    results_json,
    samples_frame,
    stage_upload,
    summary_frame,
)
from ui.evaluation_view import evaluation_section, save_page_run, saved_runs_section
from ui.figures import WHISKER_CAPTION, accuracy_latency_figure, cer_by_length_figure, latency_figure
from ui.finetune_view import error_actions, remember_bench_set
from ui.inputs import IMAGE_TYPES, SAMPLE_LABELS
from ui.render import diff_html
from ui.resources import engine_status
from ui.sidebar import current_settings, ensure_navigation

if TYPE_CHECKING:
    from ocr.evaluation.bench import BenchResult
    from ocr.evaluation.datasets import LabelledSet

PREFIX = "bench"
RUN_KEY = f"{PREFIX}_run"
SOURCE_KEY = f"{PREFIX}_source"  # "sample" | "upload": which set the next run uses
MAX_ROWS = 300


def _handover(lset: LabelledSet, results: list[BenchResult]) -> dict[str, object]:
    """Session-state entries for the Fine-tune page (this set and its error lines), made in the job."""
    state: dict[str, object] = {}
    remember_bench_set(lset, results, state)
    return state


@st.fragment(run_every=1.0)
def _watch(job: BenchJob) -> None:
    """Progress, ETA and a cancel button, redrawn every second; a full rerun once the job has ended."""
    if job.state != "running":
        st.rerun()
    eta = job.eta_s()
    text = (f"{job.label}: {job.done}/{job.total} lines · {job.elapsed_s:.0f} s"
            + (f" · about {eta:.0f} s left" if eta is not None else ""))
    st.progress(min(job.done / job.total, 1.0) if job.total else 0.0, text=text)
    if job._cancel.is_set():
        st.caption("Cancelling after the line in progress…")
    elif st.button("Cancel the run", key=f"{PREFIX}_cancel"):
        job.cancel()
        st.caption("Cancelling after the line in progress…")


def _report(job: BenchJob) -> None:
    """Collect a finished job once (its results and hand-over), then say how it ended."""
    if not job.collected:
        job.collected = True
        if job.run is not None:
            st.session_state[RUN_KEY] = job.run
            save_page_run(job.run, {"engines": job.engines, "decoders": job.decoders,
                                    "normalization": DEFAULT_NORM.as_dict()})  # issue 20: every run saved
        st.session_state.update(job.handover)
    where = f"{job.set_name} · {', '.join(job.engines)}"
    if job.state == "cancelled":
        st.warning(f"Run cancelled after {job.done}/{job.total} lines ({job.elapsed_s:.0f} s) on {where}: "
                   "its partial results were not kept.")
    elif job.state == "failed":
        st.error(job.error or "The benchmark failed.")
    else:
        st.success(f"Done in {job.elapsed_s:.0f} s: {where}.")


def _choose() -> tuple[list[str], list[str]]:
    status = engine_status()
    usable = [n for n in ENGINES if status[n][0]]
    settings = current_settings()
    st.session_state.setdefault(f"{PREFIX}_engines", [settings.engine] if settings.engine in usable else
                                usable[:1])
    st.session_state.setdefault(f"{PREFIX}_decoders", ["greedy"])
    # Engines get the whole width: in half a row the chips of five or more chosen engines wrapped and
    # scrolled the first names out of view.
    engines = st.multiselect("Engines", usable, key=f"{PREFIX}_engines",
                             format_func=lambda n: ENGINES[n].title)
    unusable = [n for n in ENGINES if not status[n][0]]
    if unusable:
        why = "; ".join(f"{ENGINES[n].title} ({status[n][1]})" for n in unusable)
        st.caption(f"Unavailable here: {why}")
    left, right = st.columns([1, 2], vertical_alignment="bottom")
    decoders = left.multiselect("Decoders (CTC engines)", DECODERS, key=f"{PREFIX}_decoders",
                                 format_func=DECODER_TITLES.__getitem__)
    right.caption(f"Beam width {settings.beam_width}, LM weight {settings.lm_weight:g}, length bonus "
                  f"{settings.length_bonus:g} from the sidebar. "
                  "Text-only engines run once, whatever the decoders.")
    return engines, decoders


def _sample_table(run: BenchRun, df: pd.DataFrame) -> None:
    runs = list(dict.fromkeys(df["run"]))
    left, right = st.columns([3, 1])
    chosen = left.selectbox("Run", runs, key=f"{PREFIX}_table_run")
    errors_only = right.toggle("Errors only", key=f"{PREFIX}_errors_only",
                               help="Lines whose prediction differs from the label, or that failed.")
    rows = df[df["run"] == chosen]
    if errors_only:
        rows = rows[(rows["cer"].fillna(1.0) > 0) | rows["error"].notna()]
    st.caption(f"{len(rows)} line(s)" + (f"; the first {MAX_ROWS} shown" if len(rows) > MAX_ROWS else "")
               + ". Marks: amber = substituted, red strike = missing from the prediction, "
               "blue underline = extra in the prediction, dotted = differs only before normalisation.")
    body = []
    for r in rows.head(MAX_ROWS).itertuples():
        thumb = run.thumbs.get(r.key)
        img = f'<img src="{thumb}" style="max-width:360px;height:28px">' if thumb else ""
        if isinstance(r.error, str):
            ref, hyp = html.escape(r.label), f'<span style="color:#b00">{html.escape(r.error)}</span>'
        else:
            ref, hyp = diff_html(r.label, r.prediction, counted=bool(r.cer))
        score = "" if pd.isna(r.cer) else f"{r.cer:.3f}"
        body.append(f"<tr><td>{img}<br><small>{html.escape(r.key)}</small></td><td>{ref}</td>"
                    f"<td>{hyp}</td><td style='text-align:right'>{score}</td></tr>")
    st.html(
        '<table class="bench-samples" style="border-collapse:collapse;width:100%;font-size:16px">'
        "<thead><tr><th align=left>image</th><th align=left>label</th><th align=left>prediction</th>"
        "<th align=right>CER</th></tr></thead><tbody>" + "".join(body) + "</tbody></table>"
        "<style>.bench-samples td,.bench-samples th{border-bottom:1px solid #e5e1da;padding:4px 6px;"
        "vertical-align:top}</style>"
    )


def _show(run: BenchRun) -> None:
    if run.problems or run.rows:
        refused = sum(not r.get("runs", True) for r in run.rows)
        with st.expander(f"Problems in {run.set_name}: {len(run.problems)} set-level, {len(run.rows)} rows"
                         + (f" ({refused} not run)" if refused else ""),
                         expanded=not run.results or refused > 0):
            for p in run.problems:
                st.warning(p)
            if run.rows:
                st.dataframe(pd.DataFrame(run.rows), hide_index=True, width="stretch")
    if not run.results:
        return
    summary = summary_frame(run.results)
    samples = samples_frame(run.results)
    st.subheader(f"Results · {run.set_name}")
    st.dataframe(summary, hide_index=True, width="stretch", column_config={
        "line_acc": st.column_config.NumberColumn("line acc", format="%.3f"),
        "cer": st.column_config.NumberColumn("CER", format="%.4f"),
        "ned": st.column_config.NumberColumn("1-NED", format="%.4f"),
        "p50_ms": st.column_config.NumberColumn("p50 ms", format="%.1f"),
        "p95_ms": st.column_config.NumberColumn("p95 ms", format="%.1f"),
        "lines_per_s": st.column_config.NumberColumn("lines/s", format="%.1f"),
    })
    st.caption("Latency is per line (preprocess + model + decode, one line at a time, after a warm-up); "
               "CER = edit distance / label length, pooled; texts NFKC-normalised, spaces ignored.")
    charts = (("Accuracy vs latency", accuracy_latency_figure(summary), "acc"),
              ("Latency distribution", latency_figure(samples), "lat"),
              ("CER by line length", cer_by_length_figure(buckets_frame(run.results)), "len"))
    for col, (title, fig, key) in zip(st.columns(3), charts, strict=True):
        col.markdown(f"**{title}**")
        col.plotly_chart(fig, key=f"{PREFIX}_fig_{key}", config={"displaylogo": False})
    st.caption(f"{WHISKER_CAPTION} Colours: one per engine in all three charts; in the CER chart the bar "
               "pattern tells the decoders apart and each bar carries its value (a CER of 0 shows as 0).")
    d1, d2, d3 = st.columns(3)
    d1.download_button("Summary CSV", summary.to_csv(index=False).encode("utf-8"), "bench_summary.csv",
                       "text/csv", key=f"{PREFIX}_dl_summary")
    d2.download_button("Per-sample CSV", samples.to_csv(index=False).encode("utf-8"), "bench_samples.csv",
                       "text/csv", key=f"{PREFIX}_dl_samples")
    d3.download_button("All as JSON", results_json(run).encode("utf-8"), "bench.json", "application/json",
                       key=f"{PREFIX}_dl_json")
    evaluation_section(run)
    error_actions(PREFIX)
    st.subheader("Per sample")
    _sample_table(run, samples)


def main() -> None:
    ensure_navigation()
    st.title("Benchmark")
    st.caption("Run engines × decoders over a labelled set of line images (PaddleOCR labels: "
               "`image path<TAB>text`, one line each) and compare accuracy and latency.")
    uploads = st.file_uploader(
        "Upload a .zip (images + labels.tsv), or a labels file together with its images",
        type=["zip", "tsv", "txt", *IMAGE_TYPES], accept_multiple_files=True, key=f"{PREFIX}_upload")
    has_sample = SAMPLE_LABELS.is_file()
    engines, decoders = _choose()
    b1, b2 = st.columns(2)
    run_upload = b1.button("Run on the uploaded set", type="primary", disabled=not uploads,
                           key=f"{PREFIX}_run_upload")
    run_sample = b2.button("Use the sample set (sample_images/labels.tsv)", disabled=not has_sample,
                           key=f"{PREFIX}_run_sample")
    if not has_sample:
        b2.caption("No sample_images/labels.tsv here.")
    job = current_job()
    running = job is not None and job.state == "running"
    if run_upload or run_sample:
        if running:
            st.error("A benchmark is already running: wait for it or cancel it.")
        elif not engines:
            st.error("Choose at least one engine.")
        elif not decoders and any(ENGINES[e].has_ctc for e in engines):
            st.error("Choose at least one decoder for the CTC engines.")
        else:
            template = current_settings().decoder_config("greedy")
            if run_sample:
                job = start_job(SAMPLE_LABELS, "sample_images", engines, decoders, template, _handover)
            else:
                files = [(f.name, f.getvalue()) for f in uploads or []]
                name = files[0][0] if len(files) == 1 else f"{len(files)} uploaded files"
                try:
                    with stage_upload(files):  # refuse a bad upload now, with its reason
                        pass
                    job = start_job(files, name, engines, decoders, template, _handover)
                except OCRError as exc:
                    st.error(f"Cannot use the upload: {exc}")
            running = job is not None and job.state == "running"
    if running and job is not None:
        st.info(f"Benchmarking {job.set_name} ({', '.join(job.engines)} × {', '.join(job.decoders)}) in the "
                "background: sidebar changes and visits to other pages do not stop it; this page picks it "
                "up again when you come back.")
        _watch(job)
        return
    if job is not None:
        _report(job)
    run = st.session_state.get(RUN_KEY)
    if isinstance(run, BenchRun):
        _show(run)
    elif job is None:
        st.info("Choose a set and press run.")
    saved_runs_section(RUN_KEY)

main()
