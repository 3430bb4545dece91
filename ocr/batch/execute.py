"""The execution layer: items -> records, in this process or on Ray. `batch` and `bench --ray` use it.

    job = Job(engine="ppocr-v4")
    for records in run_local(items, job):              # or run_ray(items, job, address=None, workers=2)
        writer.write(records)

A `Worker` loads the job's engine once and turns a list of Items into records (ocr.batch.records):
it reads each image (an unreadable one becomes a record with its error), then calls
ocr.pipeline.iter_recognize_lines, which batches lines whose model input has the same width, so no line is
padded beyond what it gets alone and batched texts equal single-line texts (PP-OCR's SVTR attends over
the whole width, and our CRNNs' convolutions see the padding: mixed-width batches change results).
Items are handed to a worker in chunks (`chunk_size`); the larger the chunk, the more lines share a
width and the fuller the batches.

Locally one Worker runs in this process. On Ray, Ray Data splits the items into chunks and an actor pool
runs one Worker per actor (the model loads once per actor, not per chunk); records stream back to the
driver as chunks finish, in no particular order. Each actor takes at most one CPU and the pool leaves
one CPU of the cluster free for Ray Data's own tasks: an actor pool that takes every CPU starves them
and hangs. A chunk lost with a dead actor or node is retried by Ray Data on another actor; whatever
was written before a crash stays written, and a rerun of `batch` skips it.
"""

from __future__ import annotations

import json
import logging
import math
import os
import queue
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ocr.batch.inputs import Item
from ocr.decoding import DecoderConfig
from ocr.errors import OCRError
from ocr.preprocess import PreprocessConfig

__all__ = [
    "RAY_INSTALL", "Job", "RayPlan", "RaySession", "Worker", "local_cpus", "plan_ray", "ray_available",
    "run_local", "run_ray",
]

RAY_INSTALL = "pip install -r requirements-ray.txt (or pip install '.[ray]')"
STALL_TIMEOUT_S = 900.0  # a Ray run that returns no chunk for this long is ended (rerun to continue)
LINE_CHUNK = 512  # items per worker call for line images
PAGE_CHUNK = 4  # items per worker call with --page (a page holds many lines and is much larger)


@dataclass(frozen=True)
class Job:
    """What to run on every item: an engine, a decoder, preprocessing; `page` reads whole pages
    (detector -> lines -> engine; detector None: the page reader's default) instead of single lines.
    batch_size: most lines per model call; chunk: items per worker call (0: 512 lines or 4 pages)."""

    engine: str
    decoder: DecoderConfig = field(default_factory=DecoderConfig)
    preprocess: PreprocessConfig = field(default_factory=PreprocessConfig)
    page: bool = False
    detector: str | None = None
    batch_size: int = 16
    chunk: int = 0

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.chunk < 0:
            raise OCRError(f"batch size must be >= 1 and chunk >= 0 (got {self.batch_size}, {self.chunk})")

    @property
    def chunk_size(self) -> int:
        """Items handed to a worker at a time."""
        return self.chunk or (PAGE_CHUNK if self.page else LINE_CHUNK)


def _error_record(key: str, engine: str, decoder: str, error: str) -> dict[str, object]:
    return {"path": key, "text": "", "chars": [], "engine": engine, "decoder": decoder,
            "elapsed_ms": None, "error": error}


def _why(exc: Exception) -> str:
    """A record's error: the library's own message, or the exception type for a bug."""
    return str(exc) if isinstance(exc, OCRError) else f"internal error: {type(exc).__name__}: {exc}"


def _chars(rec: Any, line: int | None = None) -> list[dict[str, object]]:
    """Per-character records of a Recognition ([] for a text-only engine)."""
    if rec.best is None:
        return []
    chars = rec.best.chars(rec.charset)
    if line is not None:
        for c in chars:
            c["line"] = line
    return chars


class Worker:
    """One loaded engine (and detector with `page`); call it on Items to get records, in item order.

    Never raises for a bad item: its record carries the error. Raises EngineUnavailable at construction
    when the engine cannot load here.
    """

    def __init__(self, job: Job) -> None:
        from ocr.engines.registry import load_engine
        from ocr.pipeline import decoder_name

        self.job = job
        self.engine = load_engine(job.engine)
        self.decoder = decoder_name(self.engine, job.decoder)
        self.detector = None
        if job.page:
            from ocr.documents.detectors import default_detector, load_detector

            self.detector = load_detector(job.detector or default_detector())

    def __call__(self, items: Sequence[Item]) -> list[dict[str, object]]:
        from ocr.imageio import load_image

        out: list[dict[str, object] | None] = [None] * len(items)
        images: dict[int, np.ndarray] = {}
        for i, item in enumerate(items):
            if item.error is not None:
                out[i] = self._failed(item, item.error)
                continue
            try:
                images[i] = load_image(Path(item.path))
            except OCRError as exc:
                out[i] = self._failed(item, str(exc))
        if self.job.page:
            for i, image in images.items():
                out[i] = self._page(items[i], image)
        else:
            for i, record in self._lines(items, images).items():
                out[i] = record
        return [r for r in out if r is not None]

    def _failed(self, item: Item, error: str) -> dict[str, object]:
        return _error_record(item.key, self.engine.name, self.decoder, error)

    def _record(self, item: Item, text: str, chars: list[dict[str, object]], ms: float) -> dict[str, object]:
        return {"path": item.key, "text": text, "chars": chars, "engine": self.engine.name,
                "decoder": self.decoder, "elapsed_ms": round(ms, 3), "error": None}

    def _lines(self, items: Sequence[Item], images: dict[int, np.ndarray]) -> dict[int, dict[str, object]]:
        """Records of the line images, each made as soon as its model call returns (matrices freed)."""
        from ocr.pipeline import iter_recognize_lines, recognize

        idx = list(images)
        job = self.job
        out: dict[int, dict[str, object]] = {}
        try:
            for j, rec in iter_recognize_lines([images[i] for i in idx], self.engine, job.decoder,
                                               job.preprocess, job.batch_size):
                out[idx[j]] = self._record(items[idx[j]], rec.text, _chars(rec), rec.elapsed_ms)
        except Exception:  # one bad line fails its whole call: redo the rest line by line to isolate it
            for i in idx:
                if i in out:
                    continue
                try:
                    rec = recognize(images[i], self.engine, job.decoder, job.preprocess)
                except Exception as exc:
                    out[i] = self._failed(items[i], _why(exc))
                else:
                    out[i] = self._record(items[i], rec.text, _chars(rec), rec.elapsed_ms)
        return out

    def _page(self, item: Item, image: np.ndarray) -> dict[str, object]:
        from ocr.documents.page import read_page

        try:
            page = read_page(image, self.engine, self.detector, self.job.decoder, self.job.preprocess,
                             self.job.batch_size)
        except Exception as exc:
            return self._failed(item, _why(exc))
        chars = [c for li, line in enumerate(page.lines) if line.recognition is not None
                 for c in _chars(line.recognition, li)]
        return self._record(item, page.text, chars, page.elapsed_ms)


def _chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    chunk: list[Item] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def run_local(items: Iterable[Item], job: Job) -> Iterator[list[dict[str, object]]]:
    """Records of every item, a chunk at a time, computed in this process (one engine)."""
    worker = Worker(job)
    for chunk in _chunks(items, job.chunk_size):
        yield worker(chunk)


# ------------------------------------------------------------------------------------------------ Ray
def ray_available() -> tuple[bool, str]:
    """(True, "") when ray[data] imports here, else (False, how to install it)."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as exc:
        return False, f"--ray needs Ray, which is not installed ({exc}); install it with {RAY_INSTALL}"
    return True, ""


@dataclass(frozen=True)
class RayPlan:
    """How a job is laid out on a cluster of `cpus` CPUs: `workers` actors of `cpus_per_worker` each,
    every engine with `threads` intra-op threads, `reserved` CPUs left for Ray Data's tasks."""

    cpus: float
    workers: int
    cpus_per_worker: float
    threads: int
    reserved: float


def plan_ray(cpus: float, workers: int | None = None) -> RayPlan:
    """Actors for a cluster of `cpus` CPUs: by default one per CPU less one; each takes at most one CPU,
    and together they leave min(1, cpus/2) CPUs free (else the actor pool starves Ray Data's own tasks
    and hangs). Threads per engine: env OCR_THREADS, else the actor's whole CPUs (at least 1)."""
    if cpus <= 0:
        raise OCRError("the Ray cluster has no CPUs")
    reserved = min(1.0, cpus / 2)
    if workers is None:
        workers = max(1, math.floor(cpus - reserved))
    if workers < 1:
        raise OCRError(f"--workers must be >= 1, not {workers}")
    per = min(1.0, (cpus - reserved) / workers)
    env = os.environ.get("OCR_THREADS", "").strip()
    threads = int(env) if env.isdigit() and int(env) >= 1 else max(1, math.floor(per))
    return RayPlan(cpus, workers, round(per, 4), threads, reserved)


def local_cpus() -> int:
    """CPUs this process may use (its affinity mask, which containers narrow), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


class _RayWorker:
    """Ray Data's callable class: one Worker per actor; a batch of item columns -> JSON records.
    Subclassed per job by _actor_class: the job travels with the class, not as a constructor argument."""

    job: Job

    def __init__(self) -> None:
        self.worker = Worker(self.job)

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        items = [Item(str(k), str(p), None, str(e) if e else None)
                 for k, p, e in zip(batch["key"], batch["path"], batch["error"], strict=True)]
        records = self.worker(items)
        return {"record": np.array([json.dumps(r, ensure_ascii=False) for r in records], dtype=object)}


def _actor_class(job: Job) -> type[_RayWorker]:
    """A _RayWorker bound to `job` (shipped to the actors with the class itself)."""
    return type("OcrWorker", (_RayWorker,), {"job": job, "__module__": __name__})


def _init_ray(address: str | None, threads: int) -> Any:
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"  # before ray is imported: no usage reporting
    ok, why = ray_available()
    if not ok:
        raise OCRError(why)
    import ray
    import ray.data

    logging.getLogger("ray").setLevel(logging.WARNING)
    logging.getLogger("ray.data").setLevel(logging.ERROR)  # not "progress bars disabled" on every run
    env = {"RAY_USAGE_STATS_ENABLED": "0", "OCR_THREADS": str(threads)}
    if ray.is_initialized():
        ray.shutdown()
    kwargs: dict[str, Any] = {"runtime_env": {"env_vars": env}, "log_to_driver": False,
                              "logging_level": logging.WARNING}
    if address:
        ray.init(address=address, **kwargs)
    else:  # a private local runtime sized to this machine
        # Ray starts workers at niceness +15 by default; on a busy machine the actors then starve behind
        # everything else (seen here: an actor took minutes to load its engine). Run them like this process.
        os.environ.setdefault("RAY_worker_niceness", "0")
        ray.init(num_cpus=local_cpus(), include_dashboard=False, **kwargs)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = False
    ctx.print_on_execution_start = False
    return ray


def _watched(batches: Iterator[Any], timeout_s: float) -> Iterator[Any]:
    """The batches of a Ray Data iterator, read in a daemon thread; raises OCRError when none arrives
    for timeout_s seconds (a stuck actor pool must end the run, not hang it: what was written stays,
    and a rerun continues)."""
    q: queue.Queue[tuple[str, Any]] = queue.Queue(maxsize=4)

    def pump() -> None:
        try:
            for b in batches:
                q.put(("batch", b))
            q.put(("end", None))
        except BaseException as exc:  # handed to the consumer, raised there
            q.put(("error", exc))

    threading.Thread(target=pump, name="ray-data-reader", daemon=True).start()
    while True:
        try:
            kind, value = q.get(timeout=timeout_s)
        except queue.Empty:
            raise OCRError(f"Ray returned no records for {timeout_s:.0f} s (a stuck or starved actor pool); "
                           "the records so far are written: rerun the same command to continue") from None
        if kind == "end":
            return
        if kind == "error":
            raise value
        yield value


class RaySession:
    """A connection to Ray for one or more jobs: `with RaySession(address, workers) as ray: ray.run(...)`.

    address: an existing cluster ("HOST:PORT" or "auto"); None starts a private local runtime with this
    machine's CPUs. The connection (and a local runtime) ends when the block exits. Raises OCRError
    when Ray is not installed.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 stall_timeout_s: float = STALL_TIMEOUT_S) -> None:
        self.address = address or None
        self.workers = workers
        self.stall_timeout_s = stall_timeout_s
        self.plan: RayPlan | None = None
        self._ray: Any = None

    def __enter__(self) -> RaySession:
        self._ray = _init_ray(self.address, plan_ray(1.0).threads)  # an actor takes <= 1 CPU
        try:
            self.plan = plan_ray(float(self._ray.cluster_resources().get("CPU", 0)), self.workers)
        except BaseException:
            self._ray.shutdown()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self._ray.shutdown()

    def run(self, items: Sequence[Item], job: Job) -> Iterator[list[dict[str, object]]]:
        """Records of every item, streamed a chunk at a time as actors finish (in no set order)."""
        from ocr.engines.registry import available

        if self.plan is None:
            raise OCRError("RaySession.run called outside its `with` block")
        ok, why = available(job.engine)  # fail here, not in every actor's constructor
        if not ok:
            raise OCRError(f"engine {job.engine!r} is unavailable: {why}")
        if not items:
            return
        rows = [{"key": it.key, "path": it.path, "error": it.error or ""} for it in items]
        blocks = max(1, math.ceil(len(rows) / job.chunk_size))
        ds = self._ray.data.from_items(rows, override_num_blocks=blocks).map_batches(
            _actor_class(job), batch_size=job.chunk_size, batch_format="numpy",
            concurrency=self.plan.workers, num_cpus=self.plan.cpus_per_worker,
        )
        for batch in _watched(ds.iter_batches(batch_size=None, batch_format="numpy"), self.stall_timeout_s):
            yield [json.loads(r) for r in batch["record"]]


def run_ray(
    items: Sequence[Item], job: Job, address: str | None = None, workers: int | None = None,
) -> Iterator[list[dict[str, object]]]:
    """run_local's records computed on Ray (see RaySession): one session for one job."""
    with RaySession(address, workers) as session:
        yield from session.run(items, job)
