"""`python -m ocr batch INPUT --out RESULTS [--engine E] [--decoder D] [--page] [--ray [ADDRESS]]`.

Prints one JSON summary line on stdout; the progress bar (lines/s, ETA) goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

__all__ = ["add_batch_command", "add_ray_options", "run_batch_command"]


def add_ray_options(p: argparse.ArgumentParser) -> None:
    """--ray [ADDRESS] and --workers N (shared by batch and bench)."""
    p.add_argument("--ray", nargs="?", const="", default=None, metavar="ADDRESS",
                   help="run on Ray: a local runtime sized to this machine, or the cluster at ADDRESS "
                        "(HOST:PORT or auto); needs `pip install -r requirements-ray.txt`")
    p.add_argument("--workers", type=int, default=None,
                   help="Ray actors, one engine each (default: the cluster's CPUs less one)")
    p.add_argument("--stall-timeout", type=float, default=900.0, metavar="SECONDS",
                   help="end a Ray run that returns no records for this long (default 900; rerun resumes)")


def add_batch_command(sub: argparse._SubParsersAction) -> None:
    """Register the `batch` subcommand."""
    from ocr.cli import _add_decoder_opts, _add_preprocess
    from ocr.decoding import DECODERS
    from ocr.documents.detectors import DETECTORS
    from ocr.engines.registry import engine_names

    p = sub.add_parser("batch", help="OCR a folder / labels file / .zip / list of paths into JSON Lines or "
                                     "Parquet (resumable; --ray for a cluster)")
    p.add_argument("input", help="a folder of images (recursive), a labels file or .zip, or a text file "
                                 "of image paths (one a line)")
    p.add_argument("--out", required=True, help="RESULTS.jsonl or RESULTS.parquet; a rerun skips the "
                                                "paths already in it")
    p.add_argument("--engine", help=f"{', '.join(engine_names())}; default: the best available")
    p.add_argument("--decoder", choices=DECODERS, default="greedy")
    p.add_argument("--page", action="store_true", help="read whole pages (detect lines, then recognize)")
    p.add_argument("--detector", choices=list(DETECTORS), default=None,
                   help="line detector for --page (default: the page reader's)")
    p.add_argument("--batch-size", type=int, default=16, help="most lines per model call (default 16)")
    p.add_argument("--chunk-size", type=int, default=0,
                   help="images per worker call (default 512 lines, 4 pages); lines of one width "
                        "within a chunk share model calls")
    add_ray_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_decoder_opts(p)
    _add_preprocess(p)
    p.set_defaults(func=run_batch_command)


def run_batch_command(args: argparse.Namespace) -> int:
    """Handler of `batch`. Library errors propagate to the CLI's one-line error handler."""
    from tqdm import tqdm

    from ocr.batch.execute import Job, RaySession, run_local
    from ocr.batch.inputs import open_inputs
    from ocr.batch.records import ResultsWriter
    from ocr.cli import _decoder_config, _preprocess_config
    from ocr.engines.registry import default_engine

    job = Job(engine=args.engine or default_engine(), decoder=_decoder_config(args.decoder, args),
              preprocess=_preprocess_config(args), page=args.page, detector=args.detector,
              batch_size=args.batch_size, chunk=args.chunk_size)
    with open_inputs(Path(args.input)) as inputs, ResultsWriter(args.out) as writer:
        todo = [it for it in inputs.items if it.key not in writer.done]
        skipped = len(inputs.items) - len(todo)
        bar = tqdm(total=len(todo), file=sys.stderr, unit="page" if args.page else "line",
                   disable=args.quiet, dynamic_ncols=True, smoothing=0.1)
        errors = 0
        t0 = time.perf_counter()
        summary: dict[str, object] = {}
        if args.ray is None:
            stream = run_local(todo, job) if todo else iter(())
            summary["runner"] = "local"
            for records in stream:
                writer.write(records)
                errors += sum(r["error"] is not None for r in records)
                bar.update(len(records))
        else:
            with RaySession(args.ray or None, args.workers, args.stall_timeout) as session:
                plan = session.plan
                summary.update(runner="ray", address=args.ray or "local", workers=plan.workers,
                               cpus=plan.cpus, cpus_per_worker=plan.cpus_per_worker)
                for records in session.run(todo, job):
                    writer.write(records)
                    errors += sum(r["error"] is not None for r in records)
                    bar.update(len(records))
        elapsed = time.perf_counter() - t0
        bar.close()
        problems = list(inputs.problems)
    done = writer.written
    missing = len(todo) - done
    summary.update(results=str(args.out), engine=job.engine, inputs=len(inputs.items), skipped=skipped,
                   written=done, errors=errors, missing=missing, seconds=round(elapsed, 2),
                   per_second=round(done / elapsed, 2) if elapsed > 0 and done else 0.0)
    for p in problems:
        print(f"warning: {p}", file=sys.stderr)
    if missing:
        print(f"warning: {missing} input(s) got no record; rerun the same command to complete them",
              file=sys.stderr)
    print(json.dumps(summary, ensure_ascii=False))
    return 1 if missing else 0
