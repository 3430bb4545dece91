"""Evaluation: labelled line sets, metrics, and the engine x decoder benchmark.

- datasets.py     open_labelled_set(labels file | folder | .zip | LMDB) -> LabelledSet (samples with subsets)
- metrics.py      CER, 1-NED, line accuracy (score_lines)
- normalize.py    Normalization options and presets (default, raw, bctr) applied before scoring
- bench.py        run_bench(set, engines, decoders) -> [BenchResult] (accuracy, latency, CIs, ECE, confusions)
- confusions.py   aligned substitutions / insertions / deletions, character precision and recall
- calibration.py  reliability bins, ECE, accuracy-coverage
- bootstrap.py    paired bootstrap intervals of CER / line accuracy and of differences between rows
- report.py       analyse_row / pairwise: the above for one row's per-sample results
- runs.py         runs saved as JSON, loaded back, compared (lines fixed and broken)
- cli.py          the bench options and the compare command of `python -m ocr`
- bulk.py         bench through the batch execution layer (bench --ray)
- errors.py       the lines a benchmark got wrong, exported as a labelled set
"""
