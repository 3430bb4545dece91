"""Export the lines a benchmark got wrong as a labelled set, ready to correct and fine-tune on.

    with open_labelled_set("plates/val") as lset:
        results = run_bench(lset, ["crnn"], ["greedy"])
        n = write_error_set(lset, results, Path("errors.zip"))

The zip holds the original image files under their own relative paths, `labels.tsv` (`path<TAB>
reference text`, the form `bench` and `finetune` read) and `samples.json`: per line its label and every
run's prediction, CER and error. A line is exported when any run misread it (CER > 0) or failed on it;
rows that had no readable image (refused by the set) are not.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import IO

from ocr.evaluation.bench import BenchResult
from ocr.evaluation.datasets import LabelledSet

__all__ = ["error_keys", "error_set_bytes", "set_bytes", "write_error_set", "write_lines"]


def error_keys(results: Sequence[BenchResult]) -> list[str]:
    """Keys of the samples that any run misread or failed on, in set order."""
    bad: dict[str, None] = {}
    for r in results:
        for s in r.samples:
            if s.error is not None or (s.cer is not None and s.cer > 0):
                bad.setdefault(s.key, None)
    return list(bad)


def write_error_set(lset: LabelledSet, results: Sequence[BenchResult], out: Path | IO[bytes]) -> int:
    """Write the error lines of `results` over `lset` as a zip (see the module docstring) to `out`.
    Returns the number of lines written."""
    wrong = set(error_keys(results))
    runs: dict[str, list[dict[str, object]]] = {}
    for r in results:
        for s in r.samples:
            if s.key in wrong:
                runs.setdefault(s.key, []).append({"engine": r.engine, "decoder": r.decoder,
                                                   "prediction": s.prediction, "cer": s.cer,
                                                   "error": s.error})
    return write_lines(lset, wrong, out, runs)


def write_lines(lset: LabelledSet, keys: set[str] | None, out: Path | IO[bytes],
                runs: dict[str, list[dict[str, object]]] | None = None) -> int:
    """Write the rows of `lset` whose key is in `keys` (None: every row with an image) as a zip of
    images + labels.tsv + samples.json (with `runs` per key when given). Returns the lines written."""
    runs = runs or {}
    rows, samples = [], []
    written: set[str] = set()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for s in lset.samples:
            if (keys is not None and s.key not in keys) or s.image_path is None or not s.image_path.is_file():
                continue
            root = lset.root.resolve()
            inside = s.image_path.is_relative_to(root)
            rel = PurePosixPath(s.image_path.relative_to(root).as_posix()) if inside else \
                PurePosixPath("img", s.image_path.name)
            if str(rel) not in written:  # rows may share an image
                zf.write(s.image_path, str(rel))
                written.add(str(rel))
            text = s.text.replace("\t", " ").replace("\n", " ")
            rows.append(f"{rel}\t{text}\n")
            samples.append({"key": str(rel), "label": s.text, "line": s.line_no, "runs": runs.get(s.key, [])})
        zf.writestr("labels.tsv", "".join(rows))
        zf.writestr("samples.json", json.dumps(samples, ensure_ascii=False, indent=1))
    return len(rows)


def set_bytes(lset: LabelledSet) -> tuple[bytes, int]:
    """(zip bytes, number of lines) of every usable row of `lset`: the set in the form finetune reads."""
    buf = io.BytesIO()
    n = write_lines(lset, None, buf)
    return buf.getvalue(), n


def error_set_bytes(lset: LabelledSet, results: Sequence[BenchResult]) -> tuple[bytes, int]:
    """(zip bytes, number of lines) of write_error_set, for a download button."""
    buf = io.BytesIO()
    n = write_error_set(lset, results, buf)
    return buf.getvalue(), n
