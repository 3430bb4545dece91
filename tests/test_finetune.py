"""Fine-tuning (issue #17): label planning, class extension, a tiny real fine-tune of crnn-fast that
becomes engine user:NAME, interrupt + resume, refusals, the error-line export, the background job and
the Fine-tune page (AppTest).

Offline and deterministic: lines are rendered with Noto Sans CJK; runs are a few steps on a handful of
lines, rehearsal off where it is not under test (its font coverage scan costs seconds). No timing is
asserted. Every test writes into its own user-models folder (OCR_USER_MODELS).
"""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ocr.engines.user import base_checkpoint
from ocr.errors import OCRError, UnknownEngine
from tests.render import render

ROOT = Path(__file__).resolve().parent.parent
BASE = "crnn-fast"
TEXTS = ["上海市浦东新区", "京A12345", "发票代码0123", "沪C8GK31", "合计金额", "川X90621", "门牌号", "收款人"]


def _need_base() -> None:
    try:
        base_checkpoint(BASE)
    except OCRError as exc:
        pytest.skip(str(exc))


def _base_chars() -> list[str]:
    return torch.load(base_checkpoint(BASE), map_location="cpu", weights_only=True)["meta"]["charset"]


def _new_char() -> str:
    """A character Noto Sans SC draws that the base charset lacks."""
    known = set(_base_chars())
    return next(c for c in "門龘㐀丂鑫" if c not in known)


def write_set(folder: Path, texts: list[str], extra_rows: str = "") -> Path:
    """img/NNN.png + labels.tsv for `texts` (+ raw extra rows); returns the folder."""
    (folder / "img").mkdir(parents=True, exist_ok=True)
    rows = []
    for i, text in enumerate(texts):
        Image.fromarray(render(text, size=28)).save(folder / "img" / f"{i:03d}.png")
        rows.append(f"img/{i:03d}.png\t{text}\n")
    (folder / "labels.tsv").write_text("".join(rows) + extra_rows, encoding="utf-8")
    return folder


@pytest.fixture()
def user_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "user_models"
    monkeypatch.setenv("OCR_USER_MODELS", str(folder))
    return folder


# --------------------------------------------------------------------------------------------- pure
def test_plan_labels_folds_adds_and_refuses() -> None:
    from ocr.training.finetune import plan_labels

    chars = ["", "A", "1", "中"]
    labels, new, notes = plan_labels(["Ａ1中", "中国", " ", "A\u200bB", "1\x07"], chars)
    assert labels[0] == "A1中" and "Ａ->A" in notes[0]  # full-width folded by NFKC onto a known class
    assert labels[1] == "中国" and new == ["国"]  # a new class; B only appears in a refused label
    assert labels[2] is None and notes[2] == "empty label"
    assert labels[3] is None and "U+200B" in notes[3]  # an invisible format character: refused
    assert labels[4] is None and "control" in notes[4]


def test_frames_needed_counts_blanks_between_repeats() -> None:
    from ocr.training.finetune import frames_needed

    assert frames_needed("abc") == 3
    assert frames_needed("aab") == 4
    assert frames_needed("8888") == 7


def test_split_is_seeded_and_disjoint() -> None:
    from ocr.training.finetune import FinetuneError, split_lines

    tr, va = split_lines(50, 0.1, seed=3)
    assert len(va) == 5 and not set(tr) & set(va) and sorted(tr + va) == list(range(50))
    assert split_lines(50, 0.1, seed=3) == (tr, va)
    assert split_lines(50, 0.1, seed=4) != (tr, va)
    with pytest.raises(FinetuneError):
        split_lines(1, 0.1, seed=0)


def test_extend_classes_keeps_old_outputs() -> None:
    from ocr.models.crnn import CRNN, FAST32, CRNNConfig
    from ocr.training.finetune import extend_classes

    torch.manual_seed(0)
    model = CRNN(CRNNConfig(**{**FAST32.__dict__, "num_classes": 20})).eval()
    bigger = extend_classes(model, 3).eval()
    x = torch.rand(2, 1, 32, 96)
    with torch.no_grad():
        old, new = model(x), bigger(x)
    assert new.shape == (2, 12, 23)
    assert torch.allclose(old, new[..., :20], atol=1e-5)
    assert torch.allclose(bigger.fc.weight[20], model.fc.weight[1:].mean(0))  # mean of the old rows
    median = float(torch.quantile(model.fc.bias[1:].detach(), 0.5))
    assert float(bigger.fc.bias[20].detach()) <= median  # a new class starts unlikely


def test_the_kl_to_the_base_scales_with_kd_weight() -> None:
    """Rehearsal loss = CTC + kd_weight x KL(base || model); a model equal to its base adds no KL."""
    import numpy as np

    from ocr.models.crnn import CRNN, FAST32, CRNNConfig
    from ocr.training.finetune import Line, _forward_loss

    torch.manual_seed(0)
    cfg = CRNNConfig(**{**FAST32.__dict__, "num_classes": 6})
    model, teacher = CRNN(cfg).eval(), CRNN(cfg).eval()
    rng = np.random.default_rng(0)
    lines = [Line(str(i), "ab"[: i + 1], rng.integers(0, 256, (32, 64 + 16 * i), dtype=np.uint8))
             for i in range(2)]
    index = {"a": 1, "b": 2}
    with torch.no_grad():
        ctc = float(_forward_loss(model, lines, index))
        kl1 = float(_forward_loss(model, lines, index, teacher, 1.0)) - ctc
        kl3 = float(_forward_loss(model, lines, index, teacher, 3.0)) - ctc
        same = float(_forward_loss(model, lines, index, model, 5.0))
    assert kl1 > 0
    assert kl3 == pytest.approx(3 * kl1, rel=1e-4)
    assert same == pytest.approx(ctc, abs=1e-4)


@pytest.mark.noto
def test_rehearsal_lines_are_the_kinds_the_base_was_trained_on() -> None:
    """By default every rehearsal line comes from the kinds mix (traditional lines among them), at most
    REHEARSAL_MAX_CHARS; with rare=0.5 the odd ones are rare-character lines (2-8 characters); all in the
    charset, deterministic by (seed, i)."""
    import opencc

    from ocr.charset import load_charset
    from ocr.training.finetune import REHEARSAL_MAX_CHARS, Rehearsal

    chars = load_charset().chars
    known = set(chars[1:])
    rehearsal = Rehearsal(32, chars, seed=3, pool=64, rare=0.5)
    lines = [rehearsal.line(i) for i in range(48)]
    assert all(ln.image.shape[0] == 32 and set(ln.text) <= known for ln in lines)
    assert all(0 < len(ln.text) <= REHEARSAL_MAX_CHARS for ln in lines[::2])
    assert all(2 <= len(ln.text) <= 8 for ln in lines[1::2])
    t2s = opencc.OpenCC("t2s").convert
    assert any(t2s(ln.text) != ln.text for ln in lines[::2]), "no traditional line among the kinds"
    again = Rehearsal(32, chars, seed=3, pool=64, rare=0.5).line(6)
    assert again.text == lines[6].text and (again.image == lines[6].image).all()
    kinds_only = Rehearsal(32, chars, seed=3, pool=64)  # the default: no rare-character lines
    assert [kinds_only.line(i).text for i in (0, 2, 4)] == [lines[i].text for i in (0, 2, 4)]
    odd = [kinds_only.line(i) for i in range(1, 24, 2)]
    assert all(set(ln.text) <= known and 0 < len(ln.text) <= REHEARSAL_MAX_CHARS for ln in odd)
    assert [ln.text for ln in odd] != [lines[i].text for i in range(1, 24, 2)]


def test_lookalikes_are_the_nearest_classifier_rows_to_yours() -> None:
    """k nearest rows by cosine to each of your characters' rows, yours and blank left out."""
    from ocr.models.crnn import CRNN, FAST32, CRNNConfig
    from ocr.training.finetune import lookalikes

    chars = ["<blank>", "1", "l", "I", "中", "国", "0", "O"]
    model = CRNN(CRNNConfig(**{**FAST32.__dict__, "num_classes": len(chars)})).eval()
    rows = torch.zeros_like(model.fc.weight)  # (C, r): three directions, a little apart within each
    for i, (axis, tilt) in enumerate([(0, 0.0), (0, 0.1), (0, 0.2), (0, 0.3), (1, 0.0), (1, 0.1),
                                      (2, 0.0), (2, 0.1)]):
        rows[i, axis], rows[i, 3] = 1.0, tilt
    with torch.no_grad():
        model.fc.weight.copy_(rows)  # blank's row sits right beside 1's: still never a look-alike
    assert lookalikes(model, chars, {"1"}, k=2) == {"l", "I"}
    assert lookalikes(model, chars, {"1", "l"}, k=1) == {"I"}
    assert lookalikes(model, chars, {"?"}) == set()


@pytest.mark.noto
def test_focus_rehearsal_lines_hold_a_lookalike_in_general_text() -> None:
    """focus=0.5: the even lines hold a look-alike and a character that is neither a look-alike nor
    yours; the odd lines are the default's lines, unchanged."""
    from ocr.charset import load_charset
    from ocr.training.finetune import Rehearsal

    chars = load_charset().chars
    yours = set("0123456789ABCDEFGHJKLMNPQRSTUVWXYZ京沪")
    near = {"l", "I", "i", "o", "O", "凉"}
    focused = Rehearsal(32, chars, seed=3, pool=64, focus=0.5, lookalike=near, yours=yours)
    default = Rehearsal(32, chars, seed=3, pool=64)
    for i in range(0, 16, 2):
        text = focused.line(i).text
        assert set(text) & near and set(text) - near - yours, text
    assert [focused.line(i).text for i in range(1, 9, 2)] == [default.line(i).text for i in range(1, 9, 2)]


def test_grown_confusions_are_what_the_fine_tune_reads_differently() -> None:
    """Only confusions counted more often after than before, largest growth first, with the first line
    where each is new; readings are normalised as bench scores them (full-width folds, spaces go)."""
    from ocr.training.finetune import grown_confusions

    refs = ["login ok", "l1l", "OK 10", "ab"]
    before = ["login ok", "l1l", "0K 10", "ab"]  # O->0 already there
    after = ["1ogin 0k", "11l", "0K 1０", "abc"]  # l->1 twice, o->0 once, an inserted c; O->0 unchanged
    grown = grown_confusions(refs, before, after)
    assert [(g["ref"], g["hyp"], g["before"], g["after"]) for g in grown] == [  # ties: by ref, read
        ("l", "1", 0, 2), ("", "c", 0, 1), ("o", "0", 0, 1)]
    assert grown[0]["lines"] == 2 and grown[0]["example"] == {"text": "login ok", "before": "login ok",
                                                              "after": "1ogin 0k"}
    assert grown_confusions(refs, before, before) == []
    # among equal growth, confusions into the user's characters come first
    assert [(g["ref"], g["hyp"], g["yours"]) for g in grown_confusions(refs, before, after, yours={"0"})] == [
        ("l", "1", False), ("o", "0", True), ("", "c", False)]
    assert len(grown_confusions(refs, before, after, top=1)) == 1


def test_choose_blend_walks_towards_the_base_while_the_user_lines_allow() -> None:
    from ocr.training.finetune import choose_blend

    # session 18's seed-2 plates run (crnn): val / ref CER at a = 1, 0.95, ..., as the walk meets them
    shares, vals = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75), (0.0193, 0.0200, 0.0257, 0.0264, 0.0314, 0.0421)
    rows = [{"a": a, "val_cer": v, "ref_cer": 0.0149} for a, v in zip(shares, vals, strict=True)]
    assert choose_blend(rows, 0.0169, 0.01) == 0.85  # 0.8 gives up more than 0.01: the walk stops there
    assert choose_blend(rows, 0.0169, 0.002) == 0.95
    assert choose_blend(rows, 0.0169, 0.0) == 1.0
    assert choose_blend(rows, 0.0169, -1.0) == 1.0  # no blend
    assert choose_blend(rows, 0.0169, 0.05) == 0.75  # the whole walk is within the slack
    # a share past the first one over the slack is never kept, even where its val CER is back under it
    dip = [*rows[:5], {"a": 0.75, "val_cer": 0.0200, "ref_cer": 0.0149}]
    assert choose_blend(dip, 0.0169, 0.01) == 0.85
    # the user's bound on forgetting comes first: the lowest val CER among the shares within it
    refs = (0.0190, 0.0186, 0.0180, 0.0175, 0.0170, 0.0169)
    ref = [{**r, "ref_cer": c} for r, c in zip(rows, refs, strict=True)]
    assert choose_blend(ref, 0.0169, 0.01, max_forgetting=0.04) == 0.85  # 0.0175 <= 0.0169 * 1.04
    assert choose_blend(ref, 0.0169, 0.01, max_forgetting=0.0) == 0.75
    assert choose_blend(ref, 0.0100, 0.01, max_forgetting=0.1) == 0.85  # bound unreachable: the walk


def test_no_walk_on_a_validation_set_too_small_to_show_the_slack(tmp_path: Path, user_dir: Path) -> None:
    """crnn-fast's default slack (0.002) is under two characters of a 2-line validation set: every share
    would read it alike, so the trained weights are kept and the job says why."""
    _need_base()
    from ocr.training.finetune import FinetuneConfig, finetune

    data = write_set(tmp_path / "set", TEXTS)
    events: list[dict] = []
    finetune(FinetuneConfig(train=str(data), name="small", base=BASE, steps=1, batch_size=4, rehearsal=0.0,
                            reference=True, val_share=0.25, threads=1), events.append)
    blend = json.loads((user_dir / "small" / "meta.json").read_text(encoding="utf-8"))["blend"]
    assert blend["kept"] == 1.0 and blend["tried"] == [] and blend["val_slack"] == 0.002
    assert any(e["kind"] == "info" and e["message"].startswith("no blend with the base") for e in events)


def test_blend_weights_interpolates_floats_only() -> None:
    from ocr.training.finetune import blend_weights

    base = {"w": torch.zeros(3), "n": torch.tensor(5)}
    tuned = {"w": torch.ones(3) * 2, "n": torch.tensor(9)}
    out = blend_weights(base, tuned, 0.25)
    assert torch.allclose(out["w"], torch.full((3,), 0.5)) and int(out["n"]) == 9


# ------------------------------------------------------------------------------------ a real fine-tune
@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, object, Path]]:
    """One 4-step fine-tune of crnn-fast on 8 lines + a new character + bad rows: (user dir, result, set)."""
    _need_base()
    from ocr.training.finetune import FinetuneConfig, finetune

    root = tmp_path_factory.mktemp("ft")
    users = root / "users"
    texts = [*TEXTS, f"{_new_char()}口"]
    bad = "img/missing.png\t缺失\nimg/000.png\t\nimg/001.png\t" + "长" * 60 + "\n"
    data = write_set(root / "set", texts, bad)
    mp = pytest.MonkeyPatch()
    mp.setenv("OCR_USER_MODELS", str(users))
    events: list[dict] = []
    cfg = FinetuneConfig(train=str(data), name="tiny", base=BASE, steps=4, batch_size=4, rehearsal=0.25,
                         eval_every_steps=2, reference=True, val_share=0.25, threads=1,
                         val_slack=0.5)  # a slack its 2-line validation set can show: the walk runs
    result = finetune(cfg, events.append)
    yield users, (result, events), data
    mp.undo()


def test_finetune_writes_a_user_engine(tuned: tuple[Path, object, Path],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    users, (result, events), _ = tuned
    monkeypatch.setenv("OCR_USER_MODELS", str(users))
    folder = users / "tiny"
    assert (folder / "model.pt").is_file() and not (folder / "state").exists()  # state removed when done
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    for key in ("base", "base_sha256", "train", "val", "steps", "cpu_seconds", "before", "after",
                "new_classes", "disk_bytes"):
        assert key in meta, key
    assert meta["base"] == BASE and meta["steps"] == 4 and meta["new_classes"] == [_new_char()]
    assert (meta["settings"]["user_batch"], meta["settings"]["ema"]) == (24, 0.99)  # left to crnn-fast
    assert meta["before"]["val"]["n"] == meta["after"]["val"]["n"] == meta["val"]["lines"]
    assert 0 < meta["disk_bytes"] < 50 * 2**20
    from ocr.training.finetune import BLEND_GRID, choose_blend

    blend = meta["blend"]  # the walk towards the base was measured share by share and one was kept
    tried = [r["a"] for r in blend["tried"]]
    assert tried == list(BLEND_GRID[: len(tried)]) and blend["val_slack"] == 0.5
    val = [r["val_cer"] for r in blend["tried"]]
    assert all(v <= val[0] + 0.5 + 1e-12 for v in val[1:-1])  # the walk went on while within the slack
    assert len(tried) == len(BLEND_GRID) or val[-1] > val[0] + 0.5  # and ended at the grid's end or over
    ref_before = meta["before"]["reference"]["cer"]
    assert blend["kept"] == choose_blend(blend["tried"], ref_before, blend["val_slack"],
                                         blend["max_forgetting"])
    kept = next(r for r in blend["tried"] if r["a"] == blend["kept"])
    assert meta["after"]["reference"]["cer"] == pytest.approx(kept["ref_cer"])
    grown = meta["reference_grown_confusions"]  # what it reads differently from the base, counted
    assert isinstance(grown, list) and all(g["after"] > g["before"] >= 0 for g in grown)
    assert any(e["kind"] == "split" for e in events)  # no --val: the seeded split is reported
    assert sum(e["kind"] == "eval" for e in events) >= 2  # step 0 and step 2 (and 4)
    issues = {(i.key, i.used): i.issue for i in result.issues}
    assert "image file not found" in issues[("img/missing.png", False)]
    assert "empty label" in issues[("img/000.png", False)]
    assert "CTC frames" in issues[("img/001.png", False)]
    status = json.loads((folder / "status.json").read_text(encoding="utf-8"))
    assert status["phase"] == "done" and status["issues_total"] >= 3

    from ocr.engines.registry import ENGINES, available, load_engine

    assert "user:tiny" in ENGINES and available("user:tiny") == (True, "")
    engine = load_engine("user:tiny")
    assert len(engine.charset) == len(_base_chars()) + 1 and engine.charset[-1] == _new_char()
    from ocr.pipeline import recognize

    rec = recognize(render(TEXTS[0], size=28), engine)
    assert set(rec.text) <= set(engine.charset)


def test_cli_lists_and_benches_the_user_engine(tuned: tuple[Path, object, Path], tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    users, _, data = tuned
    monkeypatch.setenv("OCR_USER_MODELS", str(users))
    from ocr.cli import main

    assert main(["engines", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["name"] == "user:tiny")
    assert row["available"] and row["ctc"]
    out = tmp_path / "errors.zip"
    assert main(["bench", str(data), "--engine", f"user:tiny,{BASE}", "--errors-out", str(out), "--quiet",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [r["engine"] for r in summary] == ["user:tiny", BASE]
    with zipfile.ZipFile(out) as zf:
        names = set(zf.namelist())
        labels = zf.read("labels.tsv").decode("utf-8").splitlines()
        samples = json.loads(zf.read("samples.json"))
    assert "labels.tsv" in names and "samples.json" in names
    assert len(labels) == len(samples) and all(row.split("\t")[0] in names for row in labels)
    for s in samples:
        assert any(r["cer"] is None or r["cer"] > 0 for r in s["runs"])  # only misread lines
        assert {r["engine"] for r in s["runs"]} == {"user:tiny", BASE}


def test_the_error_zip_is_a_set_finetune_reads(tuned: tuple[Path, object, Path], tmp_path: Path) -> None:
    _, _, data = tuned
    from ocr.evaluation.bench import run_bench
    from ocr.evaluation.datasets import open_labelled_set
    from ocr.evaluation.errors import write_error_set
    from ocr.training.finetune import read_lines

    with open_labelled_set(data) as lset:
        results = run_bench(lset, [BASE], ["greedy"])
        n = write_error_set(lset, results, tmp_path / "e.zip")
        misread = {s.key for s in results[0].samples if s.error is not None or (s.cer or 0) > 0}
        rows = [s for s in lset.samples if s.key in misread and s.image_path is not None]
    assert "img/missing.png" in misread and all(s.key != "img/missing.png" for s in rows)  # no image
    assert n == len(rows) > 0
    rows, issues, _, _ = read_lines(tmp_path / "e.zip", 32, "train")
    assert len(rows) == n and not [i for i in issues if not i.used]


def test_interrupt_saves_state_and_the_same_call_resumes(tmp_path: Path, user_dir: Path) -> None:
    _need_base()
    from ocr.training.finetune import FinetuneConfig, finetune

    data = write_set(tmp_path / "set", TEXTS)
    cfg = FinetuneConfig(train=str(data), name="resume", base=BASE, steps=4, batch_size=4, rehearsal=0.0,
                         eval_every_steps=100, reference=False, val_share=0.25, threads=1)

    def interrupt_at_2(e: dict) -> None:
        if e["kind"] in ("tick", "step") and e["step"] == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, interrupt_at_2)
    folder = user_dir / "resume"
    assert (folder / "state" / "last.pt").is_file() and not (folder / "model.pt").exists()
    assert json.loads((folder / "status.json").read_text(encoding="utf-8"))["phase"] == "interrupted"
    # head="seen" (the default): after 2 steps the classifier rows of characters the labels never show
    # are exactly the base's; the rows of characters they show have learned
    chars = _base_chars()
    trained = torch.load(folder / "state" / "last.pt", map_location="cpu", weights_only=True)["model"]
    from ocr.models.checkpoint import load_checkpoint

    base = load_checkpoint(base_checkpoint(BASE))[0].state_dict()
    seen = set("".join(TEXTS))
    unseen_rows = [i for i, c in enumerate(chars) if i and c not in seen]
    seen_rows = [chars.index(c) for c in "上海京"]
    for key in ("fc.weight", "fc.bias"):
        assert torch.equal(trained[key][unseen_rows], base[key][unseen_rows]), key
        assert not torch.equal(trained[key][seen_rows], base[key][seen_rows]), key
    events: list[dict] = []
    result = finetune(cfg, events.append)
    assert any(e["kind"] == "info" and "resuming at step 2" in e["message"] for e in events)
    assert result.meta["steps"] == 4 and (folder / "model.pt").is_file()
    with pytest.raises(OCRError, match="already exists"):  # a finished name is not overwritten silently
        finetune(cfg)


def _interrupted(tmp_path: Path, user_dir: Path, name: str, at_step: int, **settings: float
                 ) -> tuple[object, dict]:
    """A 4-step fine-tune of BASE with `settings`, interrupted at `at_step`: (its config, the saved
    resumable state)."""
    from ocr.training.finetune import FinetuneConfig, finetune

    data = write_set(tmp_path / "set", TEXTS)
    cfg = FinetuneConfig(train=str(data), name=name, base=BASE, steps=4, batch_size=4, rehearsal=0.0,
                         eval_every_steps=100, reference=False, val_share=0.25, threads=1, **settings)

    def interrupt(e: dict) -> None:
        if e["kind"] in ("tick", "step") and e["step"] == at_step:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        finetune(cfg, interrupt)
    return cfg, torch.load(user_dir / name / "state" / "last.pt", map_location="cpu", weights_only=True)


def test_cnn_lr_mult_sets_how_far_the_convolutions_move(tmp_path: Path, user_dir: Path) -> None:
    """cnn_lr_mult = 0: after two steps the convolutional layers hold the base's weights while the
    BiLSTM has learnt (the interrupted run's state holds the current weights)."""
    _need_base()
    from ocr.models.checkpoint import load_checkpoint

    _, state = _interrupted(tmp_path, user_dir, "cnn0", 2, cnn_lr_mult=0.0)
    tuned = state["model"]
    base = load_checkpoint(base_checkpoint(BASE))[0].state_dict()
    cnn = [k for k in base if k.startswith("cnn.")]
    assert cnn and all(torch.equal(tuned[k], base[k]) for k in cnn)
    assert not torch.equal(tuned["rnn.weight_ih_l0"], base["rnn.weight_ih_l0"])


def test_ema_keeps_an_average_between_the_base_and_the_weights(tmp_path: Path, user_dir: Path) -> None:
    """ema > 0: the resumable state carries the moving average, which lies between the base's and the
    current weights (it lags them), and the interrupted run resumes to the end with it."""
    _need_base()
    from ocr.models.checkpoint import load_checkpoint
    from ocr.training.finetune import finetune

    cfg, state = _interrupted(tmp_path, user_dir, "ema", 3, ema=0.9)
    base = load_checkpoint(base_checkpoint(BASE))[0].state_dict()
    key = "rnn.weight_ih_l0"
    moved, lagged = (state["model"][key] - base[key]).norm(), (state["ema"][key] - base[key]).norm()
    assert 0 < lagged < moved
    result = finetune(cfg)  # type: ignore[arg-type]
    assert result.meta["steps"] == 4 and result.meta["settings"]["ema"] == 0.9


def test_bf16_training_learns_and_is_recorded(tmp_path: Path, user_dir: Path) -> None:
    """precision="bf16": the training passes run under CPU bfloat16 autocast, the loss stays finite and
    meta records the arithmetic; "auto" picks fp32 for a 32-px base; an unknown precision is refused."""
    _need_base()
    from ocr.models.crnn_config import CRNNConfig
    from ocr.training.finetune import FinetuneConfig, FinetuneError, default_precision, finetune

    assert default_precision(CRNNConfig(num_classes=10, height=32)) == "fp32"
    assert default_precision(CRNNConfig(num_classes=10, height=64)) in ("fp32", "bf16")  # bf16: native only
    data = write_set(tmp_path / "set", TEXTS)
    cfg = FinetuneConfig(train=str(data), name="bf", base=BASE, steps=3, batch_size=4, rehearsal=0.0,
                         eval_every_steps=100, reference=False, val_share=0.25, threads=1, precision="bf16")
    events: list[dict] = []
    result = finetune(cfg, events.append)
    assert result.meta["settings"]["precision"] == "bf16" and result.meta["steps"] == 3
    losses = [e["loss"] for e in events if e["kind"] == "step"]
    assert losses and all(np.isfinite(losses))
    with pytest.raises(FinetuneError, match="precision must be one of"):
        finetune(FinetuneConfig(train=str(data), name="bad", base=BASE, steps=1, precision="fp8"))


def test_width_halves_pads_short_rehearsal_lines_apart_from_long_ones() -> None:
    from ocr.training.finetune import Line, width_halves

    lines = [Line(str(w), "字", np.zeros((32, w), np.uint8)) for w in (900, 60, 400, 80, 70, 1200)]
    short, long = width_halves(lines)
    assert [ln.image.shape[1] for ln in short] == [60, 70, 80]
    assert [ln.image.shape[1] for ln in long] == [400, 900, 1200]
    assert width_halves(lines[:3]) == [sorted(lines[:3], key=lambda ln: ln.image.shape[1])]
    assert width_halves([]) == []


def test_cosine_schedule_decays_over_the_steps_or_the_budget() -> None:
    """cosine: 1 at the start, 1/2 halfway, 0 at the end of whichever limit comes first; constant: 1."""
    from ocr.training.finetune import lr_factor

    assert lr_factor("constant", 900, 1000, 590.0, 600.0) == 1.0
    assert lr_factor("cosine", 0, 1000, 0.0, 0.0) == pytest.approx(1.0)
    assert lr_factor("cosine", 500, 1000, 0.0, 0.0) == pytest.approx(0.5)
    assert lr_factor("cosine", 10, 0, 300.0, 600.0) == pytest.approx(0.5)  # by time alone
    assert lr_factor("cosine", 100, 1000, 450.0, 600.0) == pytest.approx(0.5 * (1 + np.cos(0.75 * np.pi)))
    assert lr_factor("cosine", 2000, 1000, 0.0, 0.0) == pytest.approx(0.0)  # past the end: stays at 0
    assert lr_factor("cosine", 7, 0, 0.0, 0.0) == 1.0  # no limit known: no decay


def test_settings_left_to_the_base_follow_its_size() -> None:
    """The 32-px crnn-fast sees three times your lines per batch and keeps a moving average; the 64-px
    crnn neither; the 64-px crnn's blend may give up more of your validation CER (measured defaults,
    docs/finetune.md)."""
    from ocr.models.crnn import DDDDOCR, FAST32
    from ocr.training.finetune import default_ema, default_user_batch, default_val_slack

    assert (default_user_batch(FAST32), default_ema(FAST32), default_val_slack(FAST32)) == (24, 0.99, 0.002)
    assert DDDDOCR.height == 64
    assert (default_user_batch(DDDDOCR), default_ema(DDDDOCR), default_val_slack(DDDDOCR)) == (0, 0.0, 0.01)


def test_rehearsal_keeps_its_share_of_the_loss_whatever_the_user_batch() -> None:
    """Default user batch: every line weighs 1 / batch_size (the unweighted mean); more user lines per
    batch share the same (1 - rehearsal) of the loss; no rehearsal lines: the user mean."""
    from ocr.training.finetune import FinetuneConfig, Line, _Batches

    train = [Line(str(i), "字", np.zeros((32, 40), np.uint8)) for i in range(40)]

    class Pool:  # stands in for Rehearsal: _Batches only counts its lines here
        pool = 4

    default = _Batches(train, Pool(), FinetuneConfig(train="x", name="w"))  # type: ignore[arg-type]
    assert (default.n_user, default.n_general) == (8, 8)
    assert default.weights(8, 8) == pytest.approx((1 / 16, 1 / 16))
    wide = _Batches(train, Pool(), FinetuneConfig(train="x", name="w", user_batch=24))  # type: ignore[arg-type]
    assert (wide.n_user, wide.n_general) == (24, 8)
    w_user, w_general = wide.weights(24, 8)
    assert 24 * w_user == pytest.approx(0.5) and 8 * w_general == pytest.approx(0.5)
    assert _Batches(train, None, FinetuneConfig(train="x", name="w")).weights(16, 0) == (1 / 16, 0.0)


def test_refusals(tmp_path: Path, user_dir: Path) -> None:
    _need_base()
    from ocr.training.finetune import FinetuneConfig, FinetuneError, finetune

    data = write_set(tmp_path / "set", TEXTS[:3])
    with pytest.raises(UnknownEngine, match="only our own CRNN"):
        finetune(FinetuneConfig(train=str(data), name="x", base="ppocr-v4", steps=1, reference=False))
    with pytest.raises(FinetuneError, match="bad model name"):
        finetune(FinetuneConfig(train=str(data), name="../evil", base=BASE, steps=1, reference=False))
    # a foreign file where a user model should be: refused (weights_only load, format check), not run
    fake = user_dir / "fake"
    fake.mkdir(parents=True)
    buf = io.BytesIO()
    torch.save({"meta": {"format": "something-else"}, "state_dict": {}}, buf)
    (fake / "model.pt").write_bytes(buf.getvalue())
    with pytest.raises(FinetuneError, match=r"cannot load the base model|not one of this project's"):
        finetune(FinetuneConfig(train=str(data), name="y", base="user:fake", steps=1, reference=False))
    with pytest.raises(FinetuneError, match="schedule must be one of"):
        finetune(FinetuneConfig(train=str(data), name="z", base=BASE, steps=1, schedule="step"))


# ------------------------------------------------------------------------------------ background job
def test_background_job_runs_to_done(tmp_path: Path, user_dir: Path) -> None:
    _need_base()
    from ocr.training.jobs import JobBusy, JobRequest, current_job, start_job

    data = write_set(tmp_path / "set", TEXTS)
    pid = start_job(JobRequest(name="bg", train=data, base=BASE, minutes=0, steps=3, rehearsal=0.0,
                               cnn_lr_mult=0.5,
                               extra_args=("--no-reference", "--batch-size", "4", "--eval-every-steps", "2",
                                           "--threads", "1")))
    view = current_job()
    assert view is not None and view.pid == pid and view.name == "bg"
    if view.running:
        with pytest.raises(JobBusy):
            start_job(JobRequest(name="other", train=data, base=BASE, minutes=1))
    deadline = time.monotonic() + 600
    while view.running and time.monotonic() < deadline:
        time.sleep(1)
        view = current_job()
    assert not view.running, "the job did not finish"
    assert view.phase == "done", view.output_tail
    assert view.evals and view.evals[0]["step"] == 0
    assert (user_dir / "bg" / "model.pt").is_file()
    meta = json.loads((user_dir / "bg" / "meta.json").read_text(encoding="utf-8"))
    assert meta["settings"]["cnn_lr_mult"] == 0.5  # the page's setting reached the job


# ------------------------------------------------------------------------------------------ the page
def test_finetune_page_idle_and_finished(tuned: tuple[Path, object, Path], monkeypatch: pytest.MonkeyPatch,
                                         tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    users, _, _ = tuned
    monkeypatch.setenv("OCR_USER_MODELS", str(tmp_path / "empty"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/finetune.py").run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Fine-tune"
    start = next(b for b in at.button if b.label == "Start fine-tuning")
    assert start.disabled  # nothing uploaded yet
    assert any("choose the lines to learn from" in c.value for c in at.caption)
    bases = at.selectbox(key="ft_base").options  # shown as "title (name)"
    assert any(o.endswith(f"({BASE})") for o in bases) and not any("ppocr" in o for o in bases)  # ours only
    assert at.selectbox(key="ft_base").value == BASE  # the fast one by default
    assert at.number_input(key="ft_cnn_mult").value is None  # empty: the base's own default

    # a finished job in the folder: results, before/after table, the Benchmark hand-over
    lock = {"pid": 0, "name": "tiny", "started": 0}
    (users / ".job.json").write_text(json.dumps(lock), encoding="utf-8")
    monkeypatch.setenv("OCR_USER_MODELS", str(users))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.switch_page("pages/finetune.py").run()
    assert not at.exception, at.exception
    assert any("user:tiny is ready" in s.value for s in at.success)
    table = at.dataframe[0].value
    assert "CER user:tiny" in table.columns and f"CER {BASE}" in table.columns
    meta = json.loads((users / "tiny" / "meta.json").read_text(encoding="utf-8"))
    grown = meta["reference_grown_confusions"]
    if grown:  # the confusions that grew on the reference set, or a line saying none did
        assert any("written" in d.value.columns and "read as" in d.value.columns for d in at.dataframe)
    else:
        assert any("no confusion grew" in c.value for c in at.caption)
    looks = meta["rehearsal_lookalikes"]  # the base's nearest classes to the set's characters
    assert looks and any(looks in c.value for c in at.caption)
    blend = meta["blend"]  # the walk towards the base, with its slack, is explained
    kept = f"a = {blend['kept']:g}"
    assert blend["rule"] == "walk"
    assert any(kept in m.value and "at most 0.5 above" in m.value for m in at.markdown)
    assert any(o.endswith("(user:tiny)") for o in at.selectbox(key="ft_base").options)  # next base
    at.button(key="ft_to_bench").click().run()
    assert not at.exception, at.exception
    assert at.session_state["bench_engines"] == ["user:tiny", BASE]
    assert "user:tiny" in at.multiselect(key="bench_engines").value
    (users / ".job.json").unlink()


def test_benchmark_hands_errors_to_the_finetune_page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _need_base()
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("OCR_USER_MODELS", str(tmp_path / "users"))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.session_state["bench_engines"] = [BASE]
    at.run()
    at.switch_page("pages/benchmark.py").run()
    at.button(key="bench_run_sample").click().run()
    from tests.test_app import finish_bench

    finish_bench(at)  # the benchmark runs in a background job: wait for it, then the page collects it
    assert not at.exception, at.exception
    errors = at.session_state["ft_bench_errors"]
    assert errors["n"] > 0
    with zipfile.ZipFile(io.BytesIO(errors["zip"])) as zf:
        assert len(zf.read("labels.tsv").decode("utf-8").splitlines()) == errors["n"]
    at.button(key="bench_finetune_errors").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Fine-tune"
    assert at.radio(key="ft_source").value == "bench_errors"
    assert any(f"{errors['n']} lines" in c.value for c in at.caption)


def test_rest_api_lists_and_runs_the_user_engine(tuned: tuple[Path, object, Path], tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from ocr.api import app as api_app
    from ocr.api.settings import ApiSettings

    key = "finetune-test-key-0123456789"
    users, _, _ = tuned
    monkeypatch.setenv("OCR_USER_MODELS", str(tmp_path / "empty"))
    settings = ApiSettings(api_keys=frozenset({key}), preload=("none",))
    buf = io.BytesIO()
    Image.fromarray(render(TEXTS[0], size=28)).save(buf, format="PNG")
    with TestClient(api_app.create_app(settings)) as c:
        names = [e["name"] for e in c.get("/api/v1/engines", headers={"X-API-Key": key}).json()["engines"]]
        assert "user:tiny" not in names
        monkeypatch.setenv("OCR_USER_MODELS", str(users))  # the fine-tune "finishes": listed at once
        names = [e["name"] for e in c.get("/api/v1/engines", headers={"X-API-Key": key}).json()["engines"]]
        assert "user:tiny" in names
        r = c.post("/api/v1/ocr", files={"image": ("line.png", buf.getvalue(), "image/png")},
                   data={"engine": "user:tiny"}, headers={"X-API-Key": key})
        assert r.status_code == 200, r.text
        assert r.json()["engine"] == "user:tiny"
        r = c.post("/api/v1/ocr", files={"image": ("line.png", buf.getvalue(), "image/png")},
                   data={"engine": "user:nope"}, headers={"X-API-Key": key})
        assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_engine", r.text


def test_fresh_replaces_a_model_but_keeps_the_staged_input(tmp_path: Path, user_dir: Path) -> None:
    _need_base()
    from ocr.training.finetune import FinetuneConfig, finetune
    from ocr.training.jobs import stage_input

    data = write_set(tmp_path / "set", TEXTS)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for p in sorted(data.rglob("*")):
            if p.is_file():
                zf.write(p, p.relative_to(data).as_posix())
    staged = stage_input(buf.getvalue(), "fr", "train.zip")  # as the page does, inside the job folder
    cfg = FinetuneConfig(train=str(staged), name="fr", base=BASE, steps=1, batch_size=4, rehearsal=0.0,
                         reference=False, val_share=0.25, threads=1)
    first = finetune(cfg)
    second = finetune(FinetuneConfig(**{**cfg.__dict__, "fresh": True}))
    assert staged.is_file() and second.meta["train"]["sha256"] == first.meta["train"]["sha256"]
    assert (user_dir / "fr" / "model.pt").is_file()


def test_reference_set_does_not_depend_on_the_training_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fine-tune's general reference set draws its rendered lines, traditional ones too, in the
    held-out font `make install` provides: without the training faces (and HELD_OUT_TC_FONT) it is the
    same set, so forgetting figures compare across machines."""
    from ocr.training import finetune as ft
    from ocr.training.jobs import REFERENCE_RENDERED, REFERENCE_RENDERED_TC
    from ocr.training.synth import kinds

    before = ft.reference_lines(32)
    tc = [ln for ln in before if ln.key.startswith("rendered_tc/")]
    assert len(tc) == REFERENCE_RENDERED_TC
    keys = {ln.key for ln in before}
    assert all(f"rendered/{i}" in keys for i in range(REFERENCE_RENDERED))
    assert any(ch in "".join(ln.text for ln in tc) for ch in "們這個來說時會對學發")  # s2t text
    monkeypatch.setattr(kinds, "TC_FONTS", ())
    after = ft.reference_lines(32)
    assert [(ln.key, ln.text) for ln in after] == [(ln.key, ln.text) for ln in before]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(after, before, strict=True))
