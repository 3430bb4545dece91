"""Training: a few steps on tiny data, export, checkpoint round trip, resume == uninterrupted run."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from ocr.models.checkpoint import load_checkpoint
from ocr.training.augment import distort_line, jitter_line
from ocr.training.config import TrainConfig
from ocr.training.data import Batches, rescale_batch, shard_files
from ocr.training.distill import charset_map, distill_targets, load_teacher
from ocr.training.evaluate import TorchCrnnEngine, evaluate
from ocr.training.loop import export_run, train
from ocr.training.schedule import lr_factor
from ocr.training.synth import render_shards, render_test_set

pytestmark = pytest.mark.noto


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("tiny")
    render_shards(root / "shards", n=12, seed=3, shard_size=6, max_len=4)
    labels = render_test_set(root / "test", n=4, seed=2, font="noto-sans-sc")
    return root / "shards", labels


def _config(root: Path, shards: Path, labels: Path, steps: int) -> TrainConfig:
    return TrainConfig(
        shards=shards, run_dir=root / "run", init="", arch="compact", steps=steps, batch_size=3, lr=1e-3,
        eval_every=2, eval_sets=(labels,), eval_limit=2, checkpoint_every=1, export=root / "crnn.pt",
        threads=1, seed=1,
    )


def test_train_export_and_resume(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    shards, labels = tiny_data
    a = _config(tmp_path / "a", shards, labels, steps=3)
    out = train(a)
    assert out == tmp_path / "a" / "crnn.pt" and out.exists()
    model, meta = load_checkpoint(out)
    assert meta["charset_sha256"] and meta["input"]["height"] == 64  # type: ignore[index]
    assert next(iter(torch.load(out, weights_only=True)["state_dict"].values())).dtype == torch.float16
    assert (tmp_path / "a" / "run" / "log.jsonl").read_text().count("evals") >= 2

    # 2 steps, then resume to 3: same weights as the uninterrupted 3-step run
    b = _config(tmp_path / "b", shards, labels, steps=2)
    train(b)
    train(replace(b, steps=3))
    sa = torch.load(tmp_path / "a" / "run" / "last.pt", weights_only=False)
    sb = torch.load(tmp_path / "b" / "run" / "last.pt", weights_only=False)
    assert sa["step"] == sb["step"] == 3
    for k, v in sa["model"].items():
        assert torch.allclose(v, sb["model"][k], atol=1e-6), k

    # fine-tuning from the export
    c = replace(_config(tmp_path / "c", shards, labels, steps=1), init=str(out))
    assert train(c).exists()

    result, pairs = evaluate(model, labels, meta["charset"], limit=0)  # type: ignore[arg-type]
    assert result.n == 4 and 0.0 <= result.line_acc <= 1.0 and len(pairs) == 4


def test_evaluation_runs_the_engines_path(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    """What training scores is what the crnn engine computes from the export: same input, same
    log-probabilities (onnxruntime vs eager PyTorch), same greedy readings."""
    from ocr.engines.crnn import CrnnEngine
    from ocr.evaluation.datasets import open_labelled_set
    from ocr.imageio import load_image
    from ocr.pipeline import prepare, recognize_batch, run_model

    shards, labels = tiny_data
    out = train(_config(tmp_path, shards, labels, steps=2))
    model, meta = load_checkpoint(out)
    exported, in_training = CrnnEngine(out), TorchCrnnEngine(model, meta["charset"])  # type: ignore[arg-type]
    assert exported.input_spec == in_training.input_spec and exported.charset == in_training.charset
    with open_labelled_set(labels) as lset:
        images = [load_image(s.image_path) for s in lset.runnable]  # type: ignore[arg-type]
    pres = [prepare(img, exported) for img in images]
    for a, b in zip(run_model(exported, pres), run_model(in_training, pres), strict=True):
        assert a.logprobs.shape == b.logprobs.shape  # type: ignore[union-attr]
        assert np.abs(np.exp(a.logprobs) - np.exp(b.logprobs)).max() < 1e-3  # type: ignore[operator]
    _, pairs = evaluate(model, labels, meta["charset"])  # type: ignore[arg-type]
    assert [h for _, h in pairs] == [r.text for r in recognize_batch(images, exported)]


def test_export_run_writes_the_last_weights(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    shards, labels = tiny_data
    cfg = _config(tmp_path, shards, labels, steps=2)
    train(cfg)
    out = tmp_path / "last_export.pt"
    (result,) = export_run(cfg.run_dir, out, [labels])
    model, meta = load_checkpoint(out)
    state = torch.load(cfg.run_dir / "last.pt", weights_only=False)
    assert meta["steps"] == state["step"] == 2 and meta["samples_seen"] == state["seen"]
    assert meta["eval"][0]["cer"] == result.cer and result.n == 4  # type: ignore[index]
    assert meta["train_config"]["steps"] == 2  # type: ignore[index]
    for k, v in model.state_dict().items():  # the run's weights, rounded to fp16
        assert torch.allclose(v, state["model"][k].half().float()), k
    with pytest.raises(FileNotFoundError):
        export_run(tmp_path / "no_run", out)


def test_jitter_line_keeps_height_and_is_seeded() -> None:
    line = np.full((64, 300), 230, np.uint8)
    line[20:44, 10:290:12] = 20  # dark strokes
    outs = [jitter_line(line, np.random.default_rng(s)) for s in (5, 5, 6)]
    assert all(o.dtype == np.uint8 and o.shape[0] == 64 for o in outs)
    assert np.array_equal(outs[0], outs[1])  # same generator state, same variant
    widths = {jitter_line(line, np.random.default_rng(s)).shape[1] for s in range(20)}
    assert len(widths) > 1 and all(240 <= w <= 360 for w in widths)  # width scaled 0.8-1.2x
    assert any(not np.array_equal(jitter_line(line, np.random.default_rng(s)), line) for s in range(5))


def test_distort_line_keeps_the_shape_and_is_seeded() -> None:
    line = np.full((32, 128), 220, np.uint8)
    line[8:24, 6:122:10] = 30  # dark strokes
    outs = [distort_line(line, np.random.default_rng(s)) for s in range(40)]
    assert all(o.dtype == np.uint8 and o.shape == line.shape for o in outs)
    assert np.array_equal(distort_line(line, np.random.default_rng(3)), outs[3])  # same state, same variant
    changed = [o for o in outs if not np.array_equal(o, line)]
    assert 20 <= len(changed) < 40  # most draws change the line, a few leave it as it is
    # geometry moves the strokes but keeps them in the frame: the ink stays about the same
    ink = [(o < 120).sum() / (line < 120).sum() for o in changed]
    assert 0.5 < float(np.median(ink)) < 1.5


def test_augmented_batches_are_a_function_of_the_step(tiny_data: tuple[Path, Path]) -> None:
    from ocr.charset import load_charset

    shards, _ = tiny_data
    paths = sorted(shards.glob("shard_*.npz"))
    plain, aug, aug2 = (Batches(paths, load_charset(), 3, 1600, seed=4, augment=a)
                        for a in (False, True, True))
    x0, t0, _, _ = plain.batch(7)
    x1, t1, _, w1 = aug.batch(7)
    x2, _, _, w2 = aug2.batch(7)
    assert torch.equal(t0, t1)  # same lines, same labels
    assert torch.equal(x1, x2) and torch.equal(w1, w2)  # resumable: the jitter depends on (seed, step)
    assert x1.shape[2] == x0.shape[2] and not (x1.shape == x0.shape and torch.equal(x1, x0))


def test_distillation_student_at_half_height(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    """A fast32 student trained against a 64-px teacher: the batch is downscaled for it, the export
    records 32 px, and the KD loss is finite."""
    shards, labels = tiny_data
    teacher = train(_config(tmp_path / "t", shards, labels, steps=1))
    cfg = replace(_config(tmp_path / "s", shards, labels, steps=2), arch="fast32", teacher=str(teacher))
    out = train(cfg)
    model, meta = load_checkpoint(out)
    assert model.config.height == 32 and meta["input"]["height"] == 32  # type: ignore[index]
    assert meta["teacher"] == str(teacher)
    losses = [json.loads(line) for line in (tmp_path / "s" / "run" / "log.jsonl").read_text().splitlines()]
    assert all(math.isfinite(r["cer"]) for e in losses if "evals" in e for r in e["evals"])


def test_distill_targets_pick_the_least_blank_teacher_frame() -> None:
    c = 5
    logp = torch.full((1, 8, c), -10.0)
    logp[0, :, 0] = -0.01
    for frame, char in [(1, 2), (4, 3), (6, 1)]:
        logp[0, frame, 0], logp[0, frame, char] = -5.0, -0.01
    out = distill_targets(logp, torch.tensor([8]), torch.tensor([4]))
    assert out.shape == (1, 4, c)
    assert out[0].argmax(-1).tolist() == [2, 0, 3, 1]
    # uneven ratio: 7 teacher frames onto 4 student frames, padded batch item
    out = distill_targets(logp, torch.tensor([7]), torch.tensor([4]))
    assert out[0].argmax(-1).tolist() == [0, 2, 3, 1]
    assert torch.equal(out[0, 2], logp[0, 4])  # a teacher frame, copied whole


def test_distill_targets_upsample_a_teacher_with_fewer_frames() -> None:
    """PP-OCR emits one frame per 8 px at 48 px; fast32 one per 4 px at 32 px: the teacher has fewer
    frames, and each student frame takes its nearest one, so the collapsed text is the teacher's."""
    logp = torch.full((1, 3, 4), -10.0)
    for frame, char in enumerate([2, 0, 2]):
        logp[0, frame, char] = -0.01
    out = distill_targets(logp, torch.tensor([3]), torch.tensor([5]))
    assert out.shape == (1, 5, 4)
    assert out[0].argmax(-1).tolist() == [2, 2, 0, 2, 2]  # "2 2" survives: the blank stays between


def test_charset_map_exact_then_nfkc() -> None:
    ours = ["", "A", "中", "1"]
    assert charset_map(["", "中", "Ａ", "１", "x"], ours).tolist() == [0, 2, 1, 3, -1]


def test_ppocr_teacher_frames_map_onto_our_charset(tiny_data: tuple[Path, Path]) -> None:
    """PP-OCRv6 as a teacher: log-probs over our classes (rows sum to 1), one length per line, and its
    greedy reading of a rendered line is close to the label."""
    from ocr.charset import load_charset
    from ocr.decoding import greedy_decode
    from ocr.engines.registry import available
    from ocr.evaluation.metrics import cer

    if not available("ppocr-v6")[0]:
        pytest.skip("ppocr-v6 is not available here")
    charset = load_charset()
    teacher, facts = load_teacher("ppocr-v6", charset.chars)
    assert 0.3 < float(facts["teacher_charset_coverage"]) <= 1.0
    shards, _ = tiny_data
    x, tgt, tgt_len, widths = Batches(shard_files(shards), charset, 3, 1600, 0).batch(0)
    logp, t_len = teacher(x, widths)
    assert logp.shape[0] == 3 and logp.shape[2] == len(charset.chars) and t_len.shape == (3,)
    assert torch.allclose(logp[0, : int(t_len[0])].exp().sum(-1), torch.ones(int(t_len[0])), atol=1e-4)
    label = "".join(charset.chars[i] for i in tgt[: int(tgt_len[0])].tolist())
    assert cer(label, greedy_decode(logp[0, : int(t_len[0])].numpy(), charset.chars).text) <= 0.5


def test_cpu_limit_stops_the_run(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    shards, labels = tiny_data
    cfg = replace(_config(tmp_path, shards, labels, steps=1000), cpu_limit_s=0.5, eval_every=1000)
    train(cfg)
    log = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    last_eval = [r for r in log if "evals" in r][-1]
    assert 0 < last_eval["step"] < 1000 and last_eval["cpu_h"] * 3600 >= 0.5  # evaluated where it stopped


def test_rescale_batch_halves_height_and_widths() -> None:
    x = torch.rand(2, 1, 64, 200)
    small, widths = rescale_batch(x, torch.tensor([200, 120]), 32)
    assert small.shape == (2, 1, 32, 100) and widths.tolist() == [100, 60]


def test_lr_schedule_warmup_then_cosine_to_floor() -> None:
    cfg = TrainConfig(shards=Path("s"), run_dir=Path("r"), steps=110, lr_schedule="cosine", warmup_steps=10,
                      min_lr_ratio=0.1)
    assert lr_factor(cfg, 0) == pytest.approx(0.1) and lr_factor(cfg, 9) == pytest.approx(1.0)
    assert lr_factor(cfg, 10) == pytest.approx(1.0)
    assert lr_factor(cfg, 60) == pytest.approx(0.55)
    assert lr_factor(cfg, 110) == pytest.approx(0.1) and lr_factor(cfg, 500) == pytest.approx(0.1)
    assert lr_factor(replace(cfg, lr_schedule="constant"), 60) == 1.0
    with pytest.raises(ValueError, match="lr_schedule"):
        lr_factor(replace(cfg, lr_schedule="step"), 1)


def test_fine_tune_with_a_low_rank_head(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    shards, labels = tiny_data
    parent = train(_config(tmp_path / "p", shards, labels, steps=1))
    cfg = replace(_config(tmp_path / "c", shards, labels, steps=2), init=str(parent), head_rank=8,
                  lr_schedule="cosine", warmup_steps=1)
    model, meta = load_checkpoint(train(cfg))
    assert model.config.head_rank == 8 and "rank-8" in str(meta["head"])
    parent = meta["parent"]  # its export is its best evaluation: step 0 of a 1-step run
    assert parent["steps"] == 0 and parent["init"] == "random (compact)"  # type: ignore[index]


def test_freeze_body_trains_only_the_classifier(tiny_data: tuple[Path, Path], tmp_path: Path) -> None:
    """freeze_body: after two steps the CNN and the BiLSTM are the starting model's, the classifier
    (proj + fc) moved."""
    shards, labels = tiny_data
    parent = train(_config(tmp_path / "p", shards, labels, steps=1))
    start, _ = load_checkpoint(parent)
    cfg = replace(_config(tmp_path / "c", shards, labels, steps=2), init=str(parent), freeze_body=True,
                  eval_sets=(), export=None)
    train(cfg)
    after = torch.load(tmp_path / "c" / "run" / "last.pt", weights_only=False)["model"]
    before = start.state_dict()
    body = [k for k in after if k.startswith(("cnn.", "rnn."))]
    assert body and all(torch.equal(after[k].float(), before[k].float()) for k in body)
    moved = [k for k in after if k.startswith(("fc.", "proj.")) and k in before
             and not torch.allclose(after[k].float(), before[k].float())]
    assert moved, "the classifier did not train"


def test_shard_files_joins_folders_in_order(tmp_path: Path) -> None:
    layout = (("b", ["shard_00001.npz", "shard_00000.npz", "other.npz"]), ("a", ["shard_00000.npz"]))
    for folder, names in layout:
        (tmp_path / folder).mkdir()
        for n in names:
            (tmp_path / folder / n).touch()
    got = shard_files((tmp_path / "b", tmp_path / "a"))
    assert [p.relative_to(tmp_path).as_posix() for p in got] == [
        "b/shard_00000.npz", "b/shard_00001.npz", "a/shard_00000.npz"]
    assert shard_files(tmp_path / "a") == [tmp_path / "a" / "shard_00000.npz"]
    with pytest.raises(FileNotFoundError, match="nope"):
        shard_files((tmp_path / "a", tmp_path / "nope"))
