"""Background fine-tune jobs for the app: one at a time per user-models folder, each a separate
`python -m ocr finetune` process whose state lives on disk, so it survives Streamlit reruns, page
switches, browser reloads and even a server restart.

    job = start_job(JobRequest(name="plates", train=Path("upload.zip"), base="crnn-fast", minutes=5))
    current_job()        # -> JobView (phase, step, curves from log.jsonl) or None
    cancel_job()         # SIGTERM: the process saves its resumable state and stops

Files: <user dir>/.job.json (the running job's pid, name, start; the one-job lock) and the job's own
folder <user dir>/<name>/ (status.json, log.jsonl, job.log, input/ with the uploaded sets).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ocr.engines.user import user_model_dir, user_models_dir, valid_user_name
from ocr.errors import OCRError

__all__ = [
    "DEFAULT_REHEARSAL",
    "DEFAULT_REHEARSAL_FOCUS",
    "DEFAULT_REHEARSAL_RARE",
    "PRECISIONS",
    "REFERENCE_RENDERED",
    "REFERENCE_RENDERED_TC",
    "SCHEDULES",
    "JobBusy",
    "JobRequest",
    "JobView",
    "cancel_job",
    "current_job",
    "read_job",
    "stage_input",
    "start_job",
]

# share of each batch drawn from rendered general lines: docs/finetune.md has the measurement (here, not
# in ocr.training.finetune, so that the app's page reads it without importing torch)
DEFAULT_REHEARSAL = 0.5
# share of the rehearsal lines that hold a look-alike of your characters (finetune.lookalikes; session 18:
# less drift on the rendered held-out set with both bases, 3 runs)
DEFAULT_REHEARSAL_FOCUS = 0.5
DEFAULT_REHEARSAL_RARE = 0.0  # share of the rehearsal lines that are rare-character lines (session 14)
REFERENCE_RENDERED = 100  # rendered held-out-font lines in the fine-tune's general reference set
REFERENCE_RENDERED_TC = 50  # and traditional lines (OpenCC s2t) in the held-out font too
PRECISIONS = ("auto", "fp32", "bf16")  # the training arithmetic (ocr.training.finetune.default_precision)
SCHEDULES = ("constant", "cosine")  # the fine-tune's learning rate after warm-up (finetune.lr_factor)
LOCK = ".job.json"
MAX_INPUT_BYTES = 200 * 2**20  # an uploaded set kept for the job


class JobBusy(OCRError):
    """Another fine-tune job is running on this server."""


@dataclass(frozen=True)
class JobRequest:
    """What the page asks for. train / val: paths of labelled sets (zip, folder or labels file)."""

    name: str
    train: Path
    base: str
    minutes: float
    val: Path | None = None
    steps: int = 0
    rehearsal: float | None = None
    cnn_lr_mult: float | None = None  # None: the base's default
    extra_args: tuple[str, ...] = ()


@dataclass
class JobView:
    """A job as the page shows it: running?, status.json, the curves, the last lines of its output."""

    name: str
    pid: int
    running: bool
    status: dict[str, Any]
    train: list[dict[str, Any]] = field(default_factory=list)  # {"step", "loss", "lines_per_s"}
    evals: list[dict[str, Any]] = field(default_factory=list)  # {"step", "val_cer"}
    output_tail: str = ""

    @property
    def phase(self) -> str:
        phase = str(self.status.get("phase", "starting"))
        if not self.running and phase in ("starting", "preparing", "baseline", "training", "final"):
            return "stopped"  # the process is gone without saying why (killed): resumable
        return phase


def _alive(pid: int) -> bool:
    try:  # reap it if it is our own finished child (the app's server started it)
        if os.waitpid(pid, os.WNOHANG)[0] == pid:
            return False
    except ChildProcessError:
        pass
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (our own finished child) counts as gone
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def _lock_path(user_dir: Path | None) -> Path:
    return user_models_dir(user_dir) / LOCK


def stage_input(data: bytes, name: str, filename: str, user_dir: Path | None = None) -> Path:
    """Keep an uploaded set (zip bytes) for a job: <user dir>/<name>/input/<filename>."""
    if len(data) > MAX_INPUT_BYTES:
        raise OCRError(f"the set is {len(data) / 2**20:.0f} MB; the limit for a fine-tune is "
                       f"{MAX_INPUT_BYTES / 2**20:.0f} MB")
    folder = user_model_dir(name, user_dir) / "input"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / Path(filename).name
    path.write_bytes(data)
    return path


def start_job(req: JobRequest, user_dir: Path | None = None) -> int:
    """Start the fine-tune in a new process (its own session, so a page rerun never kills it).
    Returns its pid. Raises JobBusy when a job is already running."""
    if not valid_user_name(req.name):
        raise OCRError(f"bad model name {req.name!r}: use letters, digits, '-', '_' or '.'")
    view = current_job(user_dir)
    if view is not None and view.running:
        raise JobBusy(f"fine-tune {view.name!r} is running (pid {view.pid}); cancel it or wait")
    folder = user_model_dir(req.name, user_dir)
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("status.json", "log.jsonl"):
        if not (folder / "state").exists():  # a fresh run: no old curves
            (folder / stale).unlink(missing_ok=True)
    cmd = [sys.executable, "-m", "ocr", "finetune", str(req.train), "--name", req.name, "--base", req.base,
           "--minutes", f"{req.minutes:g}", "--quiet"]
    if req.val is not None:
        cmd += ["--val", str(req.val)]
    if req.steps:
        cmd += ["--steps", str(req.steps)]
    if req.rehearsal is not None:
        cmd += ["--rehearsal", f"{req.rehearsal:g}"]
    if req.cnn_lr_mult is not None:
        cmd += ["--cnn-lr-mult", f"{req.cnn_lr_mult:g}"]
    cmd += list(req.extra_args)
    env = dict(os.environ)
    env["OCR_USER_MODELS"] = str(user_models_dir(user_dir))
    root = Path(__file__).resolve().parents[2]
    with open(folder / "job.log", "ab") as out:
        proc = subprocess.Popen(cmd, cwd=root, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    lock = {"pid": proc.pid, "name": req.name, "started": time.time(), "cmd": cmd}
    tmp = _lock_path(user_dir).with_suffix(".tmp")
    tmp.write_text(json.dumps(lock), encoding="utf-8")
    tmp.replace(_lock_path(user_dir))
    return proc.pid


def read_job(name: str, pid: int = 0, user_dir: Path | None = None) -> JobView:
    """The on-disk view of job `name` (pid 0: not running)."""
    folder = user_model_dir(name, user_dir)
    try:
        status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {"phase": "starting"}
    train, evals = [], []
    try:
        for line in (folder / "log.jsonl").read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue  # a line being written
            (evals if rec.get("kind") == "eval" else train).append(rec)
    except OSError:
        pass
    tail = ""
    try:
        with open(folder / "job.log", "rb") as fh:
            fh.seek(0, os.SEEK_END)
            fh.seek(max(0, fh.tell() - 4000))
            tail = fh.read().decode("utf-8", "replace")
    except OSError:
        pass
    return JobView(name, pid, pid > 0 and _alive(pid), status, train, evals, tail)


def current_job(user_dir: Path | None = None) -> JobView | None:
    """The last job started on this server (running or finished), or None."""
    try:
        lock = json.loads(_lock_path(user_dir).read_text(encoding="utf-8"))
        name, pid = str(lock["name"]), int(lock["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if not valid_user_name(name):
        return None
    return read_job(name, pid, user_dir)


def cancel_job(user_dir: Path | None = None) -> bool:
    """Ask the running job to stop (SIGTERM to its process group: it saves a resumable state).
    False when no job is running."""
    view = current_job(user_dir)
    if view is None or not view.running:
        return False
    try:
        os.killpg(view.pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    return True
