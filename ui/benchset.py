"""Turning benchmark uploads into a labelled set, and benchmark results into tables and downloads.

Upload forms accepted (see stage_upload): one .zip holding images + a labels file, or a labels file
(labels.tsv / .txt, PaddleOCR `path<TAB>text`) uploaded together with its images.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING

import pandas as pd

from ocr.errors import DatasetError

if TYPE_CHECKING:
    from ocr.evaluation.bench import BenchResult
    from ocr.evaluation.datasets import LabelledSet

__all__ = [
    "LABEL_SUFFIXES",
    "BenchRun",
    "buckets_frame",
    "results_json",
    "run_label",
    "sample_problems",
    "samples_frame",
    "stage_upload",
    "summary_frame",
]

LABEL_SUFFIXES = (".tsv", ".txt")
ZIP_SUFFIX = ".zip"


MAX_PLACED = 20_000  # rows whose folder path gets a link to an uploaded image


def _safe_rel(name: str) -> PurePosixPath | None:
    """A relative path inside the set for `name`, or None if it would leave it or cannot be a path
    (a control character such as NUL, too long)."""
    from ocr.evaluation.datasets import path_problem

    if path_problem(name) is not None:
        return None
    pure = PurePosixPath(name.replace("\\", "/"))
    if not pure.parts or pure.is_absolute() or ".." in pure.parts or ":" in pure.parts[0]:
        return None
    return pure


@contextmanager
def stage_upload(files: Sequence[tuple[str, bytes]]) -> Iterator[bytes | Path]:
    """What `ocr.evaluation.datasets.open_labelled_set` should open for these uploaded (name, bytes) files.

    - exactly one .zip (and nothing else): its bytes;
    - one labels file (.tsv/.txt) plus images: a private temporary folder holding them, the labels file's
      path is yielded. Images are written once, under their own names; where a labels row names one with
      a folder (`imgs/001.png`) that path is a hard link to it (no copy: 300 rows naming one 1 MB image
      take 1 MB), for at most MAX_PLACED rows. The folder is removed on exit.

    Raises DatasetError with a message for the user for anything else (no files, several zips, a zip
    mixed with other files, no or several labels files, not enough disk space, a file name that cannot
    be a file name). Never an error that shows a server path.
    """
    if not files:
        raise DatasetError("no files uploaded")
    zips = [(n, d) for n, d in files if n.lower().endswith(ZIP_SUFFIX)]
    if zips:
        if len(files) > 1:
            raise DatasetError("upload either one .zip or a labels file with its images, not both")
        yield zips[0][1]
        return
    labels = [(n, d) for n, d in files if n.lower().endswith(LABEL_SUFFIXES)]
    if not labels:
        raise DatasetError("no labels file among the uploads: add labels.tsv (one `image<TAB>text` a line)")
    if len(labels) > 1:
        names = ", ".join(n for n, _ in labels)
        raise DatasetError(f"several labels files uploaded ({names}); upload exactly one")
    tmp = Path(tempfile.mkdtemp(prefix="ocr-upload-"))
    try:
        try:
            label_path = _stage(files, labels[0], tmp)
        except OSError as exc:  # disk full, permissions: say what, not where
            raise DatasetError(f"cannot stage the upload ({exc.strerror or type(exc).__name__})") from None
        yield label_path
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _stage(files: Sequence[tuple[str, bytes]], labels: tuple[str, bytes], tmp: Path) -> Path:
    """Write the uploads into `tmp` once each, link rows' folder paths; the labels file's path."""
    from ocr.evaluation.datasets import DISK_MARGIN_BYTES, short_name

    need = sum(len(d) for _, d in files)
    if need > shutil.disk_usage(tmp).free - DISK_MARGIN_BYTES:
        raise DatasetError(f"the upload ({need / 1e6:,.0f} MB) does not fit on the server's temporary disk")
    images: dict[str, Path] = {}
    for name, data in files:
        if (name, data) == labels:
            continue
        base = _base_name(name)
        if base is None:
            raise DatasetError(f"{short_name(name)}: not a usable file name")
        images[base] = tmp / base
        images[base].write_bytes(data)
    label_name, label_bytes = labels
    label_path = tmp / (_base_name(label_name) or "labels.tsv")
    label_path.write_bytes(label_bytes)
    _place_by_row(label_bytes, images, tmp)
    return label_path


def _base_name(name: str) -> str | None:
    """The file name part of an uploaded name, or None when it cannot name a file here."""
    from ocr.evaluation.datasets import path_problem

    base = PurePosixPath(name.replace("\\", "/")).name
    return base if base and base not in (".", "..") and path_problem(base) is None else None


def _place_by_row(label_bytes: bytes, images: dict[str, Path], root: Path) -> None:
    """Link uploaded images at the folder paths the labels rows name (uploads arrive flat): a hard link
    (no bytes copied), or a relative symlink where the file system has none; at most MAX_PLACED."""
    from ocr.evaluation.datasets import label_rows

    try:
        text = label_bytes.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = label_bytes.decode("gb18030")
        except UnicodeDecodeError:
            return  # open_labelled_set reports the encoding problem
    placed = 0
    for line in label_rows(text):
        if "\t" not in line:
            continue
        rel = _safe_rel(line.split("\t", 1)[0].strip())
        if rel is None or len(rel.parts) < 2 or rel.name not in images:
            continue
        target = root.joinpath(*rel.parts)
        if target.exists() or placed >= MAX_PLACED:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(images[rel.name], target)
        except OSError:
            target.symlink_to(os.path.relpath(images[rel.name], target.parent))
        placed += 1


@dataclass
class BenchRun:
    """One finished benchmark, kept in session state so filters and downloads don't re-run it."""

    set_name: str
    results: list[BenchResult]
    thumbs: dict[str, str] = field(default_factory=dict)  # sample key -> PNG data URI
    problems: list[str] = field(default_factory=list)
    rows: list[dict[str, object]] = field(default_factory=list)  # per-sample problems (line, key, issue)


def run_label(engine: str, decoder: str) -> str:
    return f"{engine} / {decoder}"


def summary_frame(results: Sequence[BenchResult]) -> pd.DataFrame:
    """One row per engine × decoder: n, line acc, CER, 1-NED, p50/p95 ms, lines/s, failed."""
    rows = []
    for r in results:
        s = r.summary()
        rows.append({k: s[k] for k in ("engine", "decoder", "n", "line_acc", "cer", "ned", "p50_ms",
                                       "p95_ms", "lines_per_s", "failed")})
    return pd.DataFrame(rows, columns=["engine", "decoder", "n", "line_acc", "cer", "ned", "p50_ms", "p95_ms",
                                       "lines_per_s", "failed"])


def samples_frame(results: Sequence[BenchResult]) -> pd.DataFrame:
    """Every sample of every run: run, engine, decoder, key, label, prediction, cer, ms, error, length."""
    rows = []
    for r in results:
        for s in r.samples:
            rows.append({"run": run_label(r.engine, r.decoder), "engine": r.engine,
                         "decoder": r.decoder, "key": s.key, "label": s.label,
                         "prediction": s.prediction, "cer": s.cer, "ms": s.ms, "error": s.error,
                         "length": len(s.label)})
    return pd.DataFrame(rows, columns=["run", "engine", "decoder", "key", "label", "prediction", "cer", "ms",
                                       "error", "length"])


def buckets_frame(results: Sequence[BenchResult]) -> pd.DataFrame:
    """run, bucket, cer, lines: CER per label-length bucket (None where a bucket has no line)."""
    from ocr.evaluation.bench import LENGTH_BUCKETS

    rows = []
    for r in results:
        lengths = [len(s.label) for s in r.samples if s.ms is not None]
        for lo, hi in LENGTH_BUCKETS:
            key = f"{lo}-{hi}"
            rows.append({"run": run_label(r.engine, r.decoder), "bucket": key,
                         "cer": r.cer_by_length.get(key),
                         "lines": sum(lo <= n <= hi for n in lengths)})
    return pd.DataFrame(rows, columns=["run", "bucket", "cer", "lines"])


def results_json(run: BenchRun) -> str:
    """The whole run as JSON: set name, problems, and per engine × decoder its summary and samples."""
    payload = {
        "set": run.set_name,
        "problems": run.problems,
        "sample_problems": run.rows,
        "results": [{**r.summary(), "samples": [asdict(s) for s in r.samples]} for r in run.results],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2)


def sample_problems(lset: LabelledSet) -> list[dict[str, object]]:
    """Rows of the set that were refused (runs False) or deserve a look (a warning): line, key, issue."""
    return [{"line": s.line_no, "key": s.key, "issue": s.error or s.warning, "runs": s.error is None}
            for s in lset.samples if s.error or s.warning]
