"""Evaluation: labelled line sets, metrics, and the engine x decoder benchmark.

- datasets.py  open_labelled_set(labels file | folder | .zip) -> LabelledSet
- bench.py     run_bench(set, engines, decoders) -> [BenchResult] (accuracy and latency)
"""
