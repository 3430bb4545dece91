"""Benchmark runs outside the script rerun: a thread per run, kept in a process-wide table, found again
by the id the session keeps. A click elsewhere (a sidebar control, another page) reruns the script, not
the benchmark; the page reattaches to the job, shows its progress with an ETA, and collects the result
once it is done. A cancelled run says so.

The thread never touches Streamlit: it opens the set, makes thumbnails, runs ocr.evaluation.bench.run_bench
and keeps what the page needs (a BenchRun plus session-state entries for other pages) on the job.
"""

from __future__ import annotations

import contextlib
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import streamlit as st

from ocr.errors import OCRError
from ui.benchset import BenchRun, sample_problems, stage_upload

if TYPE_CHECKING:
    from ocr.decoding import DecoderConfig
    from ocr.evaluation.bench import BenchResult
    from ocr.evaluation.datasets import LabelledSet

__all__ = ["JOB_KEY", "BenchJob", "current_job", "forget_job", "start_job"]

JOB_KEY = "bench_job_id"  # the session's job id (plain session state: survives page switches)
State = Literal["running", "done", "failed", "cancelled"]
# What else a finished run hands to other pages: (set, results) -> session-state entries.
Handover = Callable[["LabelledSet", "list[BenchResult]"], dict[str, object]]


class _Cancelled(Exception):
    """Raised inside the progress callback to stop run_bench."""


@dataclass
class BenchJob:
    """One benchmark run in a background thread. Fields are written by the thread, read by the page."""

    id: str
    set_name: str
    engines: list[str]
    decoders: list[str]
    started: float = field(default_factory=time.monotonic)
    state: State = "running"
    done: int = 0
    total: int = 0
    label: str = "opening the set"
    finished: float | None = None
    error: str | None = None
    run: BenchRun | None = None
    handover: dict[str, object] = field(default_factory=dict)
    collected: bool = False
    _cancel: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def elapsed_s(self) -> float:
        return (self.finished or time.monotonic()) - self.started

    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (None before the first line is done)."""
        if self.state != "running" or self.done <= 0 or self.total <= 0:
            return None
        return self.elapsed_s / self.done * max(self.total - self.done, 0)

    def cancel(self) -> None:
        """Ask the run to stop after the line in progress."""
        self._cancel.set()

    def _progress(self, done: int, total: int, label: str) -> None:
        if self._cancel.is_set():
            raise _Cancelled
        self.done, self.total, self.label = done, total, label

    def _work(self, source: Path | Sequence[tuple[str, bytes]], decoder_template: DecoderConfig,
              handover: Handover | None) -> None:
        from ocr.evaluation.bench import run_bench
        from ocr.evaluation.datasets import open_labelled_set
        from ocr.imageio import load_image
        from ui.render import thumbnail_uri

        try:
            with contextlib.ExitStack() as stack:
                path = source if isinstance(source, Path) else stack.enter_context(stage_upload(source))
                lset = stack.enter_context(open_labelled_set(path, name=self.set_name))
                if not lset.runnable:
                    self.run = BenchRun(self.set_name, [], {}, list(lset.problems), sample_problems(lset))
                    self.error = f"No runnable line in {self.set_name}: every row has a problem (see below)."
                    self.state = "failed"
                    return
                thumbs: dict[str, str] = {}
                for s in lset.runnable:  # a failing image is reported per sample by run_bench
                    self._progress(0, 0, "making thumbnails")
                    with contextlib.suppress(OCRError):
                        thumbs[s.key] = thumbnail_uri(load_image(s.image_path))  # type: ignore[arg-type]
                results = run_bench(lset, self.engines, self.decoders, progress=self._progress,
                                    decoder_template=decoder_template)
                self.handover = handover(lset, results) if handover is not None else {}
                self.run = BenchRun(lset.name, results, thumbs, list(lset.problems), sample_problems(lset))
                self.state = "done"
        except _Cancelled:
            self.state = "cancelled"
        except OCRError as exc:
            self.error = f"Cannot benchmark {self.set_name}: {exc}"
            self.state = "failed"
        except Exception as exc:  # a thread must report, never die silently
            self.error = f"The benchmark stopped: {type(exc).__name__}: {exc}"
            self.state = "failed"
        finally:
            self.finished = time.monotonic()


@st.cache_resource(show_spinner=False)
def _jobs() -> dict[str, BenchJob]:
    """Every job of this server process, by id (one table shared by all sessions)."""
    return {}


def start_job(source: Path | Sequence[tuple[str, bytes]], set_name: str, engines: list[str],
              decoders: list[str], decoder_template: DecoderConfig,
              handover: Handover | None = None) -> BenchJob:
    """Start a benchmark in a background thread and make it this session's job.

    source: a labels file / folder / zip path, or uploaded (name, bytes) files (staged by the thread).
    handover: computes extra session-state entries from the open set and the results (run in the thread).
    """
    job = BenchJob(uuid.uuid4().hex, set_name, list(engines), list(decoders))
    table = _jobs()
    for old in [k for k, j in table.items() if j.state != "running" and j.collected]:
        del table[old]  # collected jobs are no longer needed
    table[job.id] = job
    st.session_state[JOB_KEY] = job.id
    threading.Thread(target=job._work, args=(source, decoder_template, handover), daemon=True,
                     name=f"bench-{job.id[:8]}").start()
    return job


def current_job() -> BenchJob | None:
    """This session's job (running or finished and not yet forgotten), or None."""
    job_id = st.session_state.get(JOB_KEY)
    return _jobs().get(job_id) if isinstance(job_id, str) else None


def forget_job() -> None:
    """Drop this session's job (after its result was collected)."""
    job_id = st.session_state.pop(JOB_KEY, None)
    if isinstance(job_id, str):
        _jobs().pop(job_id, None)
