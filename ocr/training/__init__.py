"""Training our CRNNs: synthetic data, the training loop and its evaluation, fine-tuning.

- config.py    TrainConfig: what one run is
- schedule.py  lr_factor: the learning-rate schedule (a function of the step)
- augment.py   jitter_line: per-batch line augmentation
- data.py      shard_files, Batches (deterministic, width-bucketed), rescale_batch
- distill.py   distill_targets: teacher frames pooled onto a student's
- evaluate.py  evaluate: greedy CER through the engine's path (TorchCrnnEngine + ocr.pipeline)
- loop.py      build_model, train (resumable), export_run
- synth/       synthetic lines: fonts, corpus, renderer, shards, kinds of line
- finetune.py, finetune_cli.py, jobs.py   fine-tuning on a user's lines (`python -m ocr finetune`)

Checkpoint files (export and run state) are read and written by ocr.models.checkpoint. Submodules are
imported explicitly (this package imports nothing, so `ocr.training.synth` does not load torch).
"""
