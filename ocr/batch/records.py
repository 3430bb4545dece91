"""Batch results: one record per image, written as JSON Lines or Parquet (chosen by the file's extension),
safe to resume.

A record (a dict, the same in both formats):

    path        the item's key (relative to a folder INPUT, or as the labels/list file gives it)
    text        the recognized text ("" on error; a page's lines joined by "\\n" with --page)
    chars       per character: {"char", "confidence" in [0, 1], "start", "end"} (frame span [start, end)
                in the engine's (T, C) matrix) and, with --page, "line" (the line's index in reading
                order); [] for text-only engines
    engine, decoder
    elapsed_ms  preprocess + model + decode of this image (a batch's time divided among its lines;
                the whole page with --page); None on error
    error       None, or why this image has no text (unreadable image, missing file, ...)

Resuming: `ResultsWriter(path).done` holds the paths already written; the writer skips records whose
path it has already seen. JSON Lines is appended to and flushed after every write; a line cut short
by a killed run is dropped when the file is reopened. Parquet cannot be appended to, so new records go
to a journal beside it (`RESULTS.parquet.partial.jsonl`, same format as JSON Lines) and `close()`
rewrites the Parquet file with the old and new rows (atomically, via a temporary file) and removes the
journal; a run killed before `close()` leaves the journal, and the next run reads it and carries on.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ocr.errors import OCRError

__all__ = [
    "FIELDS", "JSONL_SUFFIXES", "PARQUET_SUFFIXES", "ResultsWriter", "iter_results", "read_results",
    "results_format",
]

FIELDS = ("path", "text", "chars", "engine", "decoder", "elapsed_ms", "error")
JSONL_SUFFIXES = (".jsonl", ".ndjson")
PARQUET_SUFFIXES = (".parquet",)
JOURNAL_SUFFIX = ".partial.jsonl"
CHUNK = 50_000  # rows converted at a time when a Parquet file is rewritten


def results_format(path: Path) -> str:
    """"jsonl" or "parquet" by extension; raises OCRError for anything else."""
    suffix = path.suffix.lower()
    if suffix in JSONL_SUFFIXES:
        return "jsonl"
    if suffix in PARQUET_SUFFIXES:
        return "parquet"
    raise OCRError(f"results file {path} must end in {', '.join(JSONL_SUFFIXES + PARQUET_SUFFIXES)}")


def _pyarrow():  # -> module pyarrow.parquet
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise OCRError("Parquet results need pyarrow: `pip install pyarrow` (requirements.txt pins it), "
                       "or write JSON Lines (RESULTS.jsonl)") from None
    return pa, pq


def _schema():  # -> pyarrow.Schema
    pa, _ = _pyarrow()
    char = pa.struct([("char", pa.string()), ("confidence", pa.float64()), ("start", pa.int64()),
                      ("end", pa.int64()), ("line", pa.int64())])
    return pa.schema([("path", pa.string()), ("text", pa.string()), ("chars", pa.list_(char)),
                      ("engine", pa.string()), ("decoder", pa.string()), ("elapsed_ms", pa.float64()),
                      ("error", pa.string())])


def _iter_jsonl(path: Path) -> Iterator[dict[str, object]]:
    """Complete records of a JSON Lines file (a last line cut short by a killed run is skipped)."""
    if not path.exists():
        return
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                return  # cut short
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def _journal(path: Path) -> Path:
    return path.with_name(path.name + JOURNAL_SUFFIX)


def _parquet_rows(path: Path) -> Iterator[dict[str, object]]:
    if not path.exists():
        return
    _, pq = _pyarrow()
    for batch in pq.ParquetFile(path).iter_batches(batch_size=CHUNK):
        for row in batch.to_pylist():
            for ch in row.get("chars") or []:  # line-mode characters have no "line": drop Parquet's null
                if ch.get("line") is None:
                    ch.pop("line", None)
            yield row


def iter_results(path: str | Path) -> Iterator[dict[str, object]]:
    """Every record of a results file (Parquet: then those still in its journal), in file order."""
    path = Path(path)
    if results_format(path) == "jsonl":
        yield from _iter_jsonl(path)
    else:
        yield from _parquet_rows(path)
        yield from _iter_jsonl(_journal(path))


def read_results(path: str | Path) -> list[dict[str, object]]:
    """iter_results as a list."""
    return list(iter_results(path))


def _done_keys(path: Path) -> set[str]:
    """Paths already in a results file (Parquet: only its path column is read)."""
    if results_format(path) == "jsonl":
        return {str(r["path"]) for r in _iter_jsonl(path)}
    keys: set[str] = set()
    if path.exists():
        _, pq = _pyarrow()
        keys.update(pq.read_table(path, columns=["path"]).column("path").to_pylist())
    keys.update(str(r["path"]) for r in _iter_jsonl(_journal(path)))
    return keys


def _drop_cut_line(path: Path) -> None:
    """Truncate a JSON Lines file after its last newline (a killed run may have left half a record)."""
    if not path.exists() or path.stat().st_size == 0:
        return
    with open(path, "rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return
        f.truncate(data.rfind(b"\n") + 1)


class ResultsWriter:
    """Append records to RESULTS, skipping paths already there. Use as a context manager (close()
    finishes a Parquet file)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.format = results_format(self.path)
        self._stream_path = self.path if self.format == "jsonl" else _journal(self.path)
        if self.format == "parquet":
            _pyarrow()  # fail before any work when pyarrow is missing
        self.path.parent.mkdir(parents=True, exist_ok=True)
        _drop_cut_line(self._stream_path)
        self.done: set[str] = _done_keys(self.path)
        self.written = 0
        self._stream: IO[str] | None = open(self._stream_path, "a", encoding="utf-8")  # noqa: SIM115

    def write(self, records: list[dict[str, object]]) -> int:
        """Append the records whose path is new (in FIELDS order); flushed to disk. Returns how many."""
        if self._stream is None:
            raise OCRError(f"results file {self.path} is closed")
        lines = []
        for r in records:
            key = str(r["path"])
            if key in self.done:
                continue
            self.done.add(key)
            lines.append(json.dumps({k: r.get(k) for k in FIELDS}, ensure_ascii=False) + "\n")
        if lines:
            self._stream.write("".join(lines))
            self._stream.flush()
            os.fsync(self._stream.fileno())
        self.written += len(lines)
        return len(lines)

    def close(self) -> None:
        """Close the stream; for Parquet, fold the journal into the Parquet file and remove it."""
        if self._stream is None:
            return
        self._stream.close()
        self._stream = None
        if self.format != "parquet":
            return
        journal = _journal(self.path)
        if self.path.exists() and not journal.exists():
            return
        pa, pq = _pyarrow()
        schema = _schema()
        tmp = self.path.with_name(self.path.name + ".tmp")
        with pq.ParquetWriter(tmp, schema) as out:  # streamed: old row groups, then the journal in chunks
            if self.path.exists():
                for batch in pq.ParquetFile(self.path).iter_batches(batch_size=CHUNK):
                    out.write_table(pa.Table.from_batches([batch]).cast(schema))
            chunk: list[dict[str, object]] = []
            for row in _iter_jsonl(journal):
                chunk.append(row)
                if len(chunk) == CHUNK:
                    out.write_table(pa.Table.from_pylist(chunk, schema=schema))
                    chunk = []
            if chunk:
                out.write_table(pa.Table.from_pylist(chunk, schema=schema))
        os.replace(tmp, self.path)
        journal.unlink(missing_ok=True)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
