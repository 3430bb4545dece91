"""Batch OCR of large sets, in this process or on a Ray cluster (`python -m ocr batch`, `bench --ray`).

- inputs.py   open_inputs(folder | labels file | .zip | list of paths) -> InputSet of Items
- execute.py  Job, Worker (one loaded engine: Items -> records), run_local, RaySession / run_ray
- records.py  ResultsWriter / read_results: JSON Lines or Parquet, one record per image, resumable
- cli.py      the `batch` subcommand and the --ray / --workers options

See docs/scale.md for clusters, throughput and sizing.
"""
