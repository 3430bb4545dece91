"""Fine-tune: teach one of our CRNNs your lines in a background job, watch it learn, then benchmark it."""

from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from ocr.engines.registry import ENGINES
from ocr.engines.user import USER_PREFIX, finetunable_engines, list_user_models, valid_user_name
from ocr.errors import OCRError
from ocr.training.jobs import (
    DEFAULT_REHEARSAL,
    REFERENCE_RENDERED,
    REFERENCE_RENDERED_TC,
    JobRequest,
    JobView,
    cancel_job,
    current_job,
    stage_input,
    start_job,
)
from ui.finetune_view import (
    BENCH_ERRORS_KEY,
    BENCH_SET_KEY,
    SOURCE_KEY,
    before_after_frame,
    blend_frame,
    curves_figure,
    grown_frame,
)
from ui.resources import engine_status
from ui.sidebar import ensure_navigation

PREFIX = "ft"
SOURCES = {"upload": "Upload a labelled .zip", "bench_set": "The Benchmark page's current set",
           "bench_errors": "The Benchmark page's error lines"}
SOURCE_STATE = {"bench_set": BENCH_SET_KEY, "bench_errors": BENCH_ERRORS_KEY}
WATCH_KEY = f"{PREFIX}_watching"  # True while this session has seen the job running
RUNNING = ("starting", "preparing", "baseline", "training", "final")


def _source_bytes(source: str) -> tuple[bytes | None, str]:
    """(zip bytes, what they are) of the chosen source; None when it has nothing yet."""
    if source == "upload":
        upload = st.session_state.get(f"{PREFIX}_upload")
        return (upload.getvalue(), upload.name) if upload is not None else (None, "")
    kept = st.session_state.get(SOURCE_STATE[source])
    return (kept["zip"], f"{kept['n']} lines: {kept['name']}") if kept else (None, "")


def _start_form(busy: bool) -> None:
    options = ["upload"] + [k for k, key in SOURCE_STATE.items() if st.session_state.get(key)]
    if st.session_state.get(SOURCE_KEY) not in options:
        st.session_state[SOURCE_KEY] = "upload"
    source = st.radio("Lines to learn from", options, key=SOURCE_KEY, format_func=SOURCES.__getitem__,
                      horizontal=True)
    if source == "upload":
        st.file_uploader("A .zip of line images with labels.tsv (`image path<TAB>text`, as the Benchmark "
                         "page reads)", type=["zip"], key=f"{PREFIX}_upload")
    data, what = _source_bytes(source)
    if data is not None and source != "upload":
        st.caption(what)
    st.file_uploader("Validation set (.zip, optional): without one, a seeded 10 % of the lines is held out",
                     type=["zip"], key=f"{PREFIX}_val_upload")
    status = engine_status()
    bases = [n for n in finetunable_engines() if status.get(n, (False, ""))[0]]
    left, mid, right = st.columns(3)
    if bases and st.session_state.get(f"{PREFIX}_base") not in bases:  # the fast one: minutes on a CPU
        st.session_state[f"{PREFIX}_base"] = "crnn-fast" if "crnn-fast" in bases else bases[0]
    base = left.selectbox("Base model", bases, key=f"{PREFIX}_base",
                          format_func=lambda n: f"{ENGINES[n].title} ({n})" if n in ENGINES else n)
    name = mid.text_input("Name of the new engine: user:NAME", value="my-lines", key=f"{PREFIX}_name",
                          max_chars=40)
    minutes = right.slider("Time budget (minutes)", 1, 30, 5, key=f"{PREFIX}_minutes",
                           help="Training time; reading the data and the before/after measures come on top.")
    with st.expander("More settings"):
        c1, c2 = st.columns(2)
        steps = c1.number_input("Stop after this many steps (0: the time budget decides)", 0, 100_000, 0,
                                key=f"{PREFIX}_steps")
        rehearsal = c2.slider("Rehearsal: share of each batch that is rendered general text", 0.0, 0.75,
                              DEFAULT_REHEARSAL,
                              step=0.05, key=f"{PREFIX}_rehearsal",
                              help="Keeps the model reading general text while it learns yours (README: "
                                   "how the default was chosen).")
        cnn_mult = c1.number_input("Convolution learning-rate multiplier", 0.0, 1.0, None, step=0.05,
                                   key=f"{PREFIX}_cnn_mult", placeholder="empty: the base's default",
                                   help="How fast the convolutional layers learn relative to the rest: 0.1 "
                                        "for crnn, 1 for crnn-fast by default. Lower forgets less and "
                                        "learns your lines more slowly.")
    taken = {m.name for m in list_user_models()}
    replace = False
    if name in taken:
        replace = st.checkbox(f"{USER_PREFIX}{name} exists: replace it", key=f"{PREFIX}_replace")
    problems = []
    if data is None:
        problems.append("choose the lines to learn from")
    if not valid_user_name(name):
        problems.append("the name may hold letters, digits, '-', '_' and '.', and must start with a letter "
                        "or digit")
    if not bases:
        problems.append("none of our CRNN engines can load here")
    if name in taken and not replace:
        problems.append(f"{USER_PREFIX}{name} exists: choose another name or tick 'replace it'")
    if busy:
        problems.append("a fine-tune is running on this server (one at a time)")
    start = st.button("Start fine-tuning", type="primary", disabled=bool(problems), key=f"{PREFIX}_start")
    if problems:
        st.caption("To start: " + "; ".join(problems) + ".")
    if start and data is not None:
        try:
            train = stage_input(data, name, "train.zip")
            val_upload = st.session_state.get(f"{PREFIX}_val_upload")
            val = stage_input(val_upload.getvalue(), name, "val.zip") if val_upload is not None else None
            start_job(JobRequest(name=name, train=train, base=str(base), minutes=float(minutes), val=val,
                                 steps=int(steps), rehearsal=float(rehearsal), cnn_lr_mult=cnn_mult,
                                 extra_args=("--fresh",) if replace else ()))
        except OCRError as exc:
            st.error(f"Cannot start: {exc}")
            return
        st.session_state[WATCH_KEY] = True
        st.rerun()


def _progress(view: JobView) -> None:
    s = view.status
    phase = view.phase
    step = int(s.get("step") or 0)
    deadline, steps = s.get("deadline"), int(s.get("steps") or 0)
    if phase == "training" and deadline:
        total = float(s.get("minutes") or 0) * 60
        frac = 1.0 - max(0.0, float(deadline) - time.time()) / total if total else 0.0
        st.progress(min(max(frac, 0.0), 1.0), text=f"training: step {step}, "
                    f"{max(0.0, float(deadline) - time.time()) / 60:.1f} min left")
    elif phase == "training" and steps:
        st.progress(min(step / steps, 1.0), text=f"training: step {step} of {steps}")
    else:
        st.caption(f"{phase}: {s.get('message', '')}")


@st.fragment(run_every=2.0)
def _live() -> None:
    """The running job, redrawn every 2 s from its files on disk."""
    view = current_job()
    if view is None:
        return
    if not view.running:
        if st.session_state.get(WATCH_KEY):
            st.session_state[WATCH_KEY] = False
            st.rerun(scope="app")  # the job ended: redraw the whole page (results, start enabled)
        return
    st.session_state[WATCH_KEY] = True
    st.subheader(f"Fine-tuning {USER_PREFIX}{view.name} from {view.status.get('base', '?')}")
    _progress(view)
    if st.button("Cancel", key=f"{PREFIX}_cancel", help="Stops the job; it saves a resumable state."):
        cancel_job()
        st.toast("Cancel sent: the job saves its state and stops.")
    st.plotly_chart(curves_figure(view), key=f"{PREFIX}_curves_live", config={"displaylogo": False})
    _issues(view)


def _issues(view: JobView) -> None:
    issues = view.status.get("issues") or []
    if issues:
        total = int(view.status.get("issues_total") or len(issues))
        unused = sum(not i.get("used") for i in issues)
        with st.expander(f"Row messages: {total} ({unused} row(s) not used)"):
            st.dataframe(pd.DataFrame(issues), hide_index=True, width="stretch")


def _finished(view: JobView) -> None:
    s = view.status
    engine = f"{USER_PREFIX}{view.name}"
    phase = view.phase
    st.subheader(f"Last job: {engine}")
    if phase == "done":
        disk = s.get("disk_bytes")
        st.success(f"{engine} is ready ({s.get('step')} steps" +
                   (f"; {disk / 2**20:.1f} MB on disk" if disk else "") + ").")
    elif phase == "failed":
        st.error(f"The job failed: {s.get('message', '')}")
    else:
        st.warning(f"The job stopped ({phase}): {s.get('message', '')}. Start it again with the same name "
                   "and data to resume.")
    st.plotly_chart(curves_figure(view), key=f"{PREFIX}_curves_done", config={"displaylogo": False})
    before, after = s.get("before") or {}, s.get("after") or {}
    if after:
        st.markdown("**Before / after** (greedy CER; the general reference set: the sample lines and lines "
                    f"rendered in faces no model trained on: {REFERENCE_RENDERED} simplified, and "
                    f"{REFERENCE_RENDERED_TC} traditional where that face is installed)")
        st.dataframe(before_after_frame(before, after, str(s.get("base", "base")), engine), hide_index=True,
                     width="stretch")
    if "reference" in after:
        grown = s.get("reference_grown_confusions") or []
        if grown:
            st.markdown("**What it reads differently on the general reference set**: the confusions the "
                        "fine-tune made more often than its base (∅: a character inserted or dropped) — "
                        "what your lines taught it beyond your lines:")
            st.dataframe(grown_frame(grown, str(s.get("base", "base")), engine), hide_index=True,
                         width="stretch")
        else:
            st.caption("On the general reference set no confusion grew: it reads those lines no worse, "
                       "character by character, than its base.")
        looks = s.get("rehearsal_lookalikes")
        if looks:
            st.caption(f"The look-alikes of your characters (the base's nearest classes) that the "
                       f"rehearsal lines were drawn to hold, so that they are not learnt as yours: {looks}")
    blend = s.get("blend") or {}
    if blend.get("tried"):
        how = ""  # jobs before session 19 chose by the reference set; their meta has no "rule"
        if blend.get("rule") == "walk":
            how = (f"walking from the trained weights (a = 1) towards the base, the last share whose "
                   f"validation CER is at most {blend['val_slack']:g} above theirs. ")
        st.markdown(f"**Blend with the base against forgetting**: kept **a = {blend['kept']:g}** of the "
                    f"fine-tuned change (weights = base + a × change): {how}Lower a forgets less of the "
                    "general text and learns less of yours:")
        st.dataframe(blend_frame(blend["tried"], blend["kept"]), hide_index=True, width="stretch")
    _issues(view)
    if phase == "done" and st.button(f"Open the Benchmark page with {engine}", type="primary",
                                     key=f"{PREFIX}_to_bench"):
        usable = engine_status()
        chosen = [n for n in (engine, str(s.get("base", ""))) if usable.get(n, (False, ""))[0]]
        st.session_state["bench_engines"] = chosen
        st.switch_page("pages/benchmark.py")
    with st.expander("Job output"):
        st.code(view.output_tail or "(none)", language=None)


def main() -> None:
    ensure_navigation()
    st.title("Fine-tune")
    st.caption("Make one of our CRNNs read your lines better, on this machine's CPU: the job runs in the "
               "background (it survives page switches and reloads), mixes rendered general text into every "
               "batch so the model keeps what it knew, and becomes the engine `user:NAME` everywhere.")
    view = current_job()
    busy = view is not None and view.running
    _start_form(busy)
    st.divider()
    if busy:
        _live()
    elif view is not None:
        _finished(view)


main()
