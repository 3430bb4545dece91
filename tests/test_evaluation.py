"""Issue 20: normalisation options, aligned confusions, calibration, bootstrap CIs, runs, subsets, LMDB."""

from __future__ import annotations

import io
import json
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from rapidfuzz.distance import Levenshtein

from ocr.errors import DatasetError, OCRError
from ocr.evaluation.bench import BenchResult, SampleResult
from ocr.evaluation.bootstrap import LineStats, bootstrap_ci, paired_diff
from ocr.evaluation.calibration import calibrate, flag_for_review
from ocr.evaluation.confusions import align_chars, collect_confusions
from ocr.evaluation.datasets import open_labelled_set
from ocr.evaluation.metrics import score_lines
from ocr.evaluation.normalize import PRESETS, Normalization, describe, normalize, normalize_chars, preset_name
from ocr.evaluation.report import analyse_row, line_confidence, pairwise, row_extras
from ocr.evaluation.runs import compare_runs, load_run, new_run, save_run

RAW = Normalization(nfkc=False, spaces="keep")


# ---------------------------------------------------------------------------------------- normalisation
@pytest.mark.parametrize(("option", "text", "expected"), [
    ({"nfkc": True}, "ＡＢ１，①ﬁ", "AB1,1fi"),  # NFKC also rewrites compatibility characters
    ({"width": True}, "ＡＢ１，①ﬁ\u3000x", "AB1,①ﬁ x"),  # width folds only U+FF01-FF5E and U+3000
    ({"casefold": True}, "ABC Straße", "abc strasse"),
    ({"t2s": True}, "臺灣語言學會", "台湾语言学会"),
    ({"punct": True}, "你好，世界！(A-1) ￥5", "你好世界A1 5"),
    ({"spaces": "remove"}, " a  b\tc ", "abc"),
    ({"spaces": "collapse"}, " a  b\tc ", "a b c"),
    ({"spaces": "keep"}, " a  b ", " a  b "),
])
def test_each_option_on_hand_written_examples(option: dict, text: str, expected: str) -> None:
    norm = Normalization(**{"nfkc": False, "spaces": "keep", **option})
    assert normalize(text, norm) == expected


def test_bctr_preset_is_the_papers_protocol() -> None:
    bctr = PRESETS["bctr"]
    assert (bctr.width, bctr.casefold, bctr.t2s, bctr.spaces, bctr.nfkc, bctr.punct) == \
        (True, True, True, "remove", False, False)
    # strings differing only in width, case, spaces and script are equal under it, not under default
    ref, hyp = "臺灣 OCR 測試", "台湾ｏｃｒ测试"
    assert score_lines([(ref, hyp)], bctr).cer == 0.0
    assert score_lines([(ref, hyp)], PRESETS["default"]).cer > 0.0
    # on already-normalised strings it gives the plain metric's CER
    pairs = [("台湾ocr测试", "台湾ocr测式"), ("你好世界", "你好")]
    assert score_lines(pairs, bctr).cer == score_lines(pairs, RAW).cer == pytest.approx(3 / 11)
    assert preset_name(bctr) == "bctr" and "traditional→simplified" in describe(bctr)
    assert preset_name(Normalization(punct=True)) == "custom"


def test_normalize_chars_keeps_values_per_output_character() -> None:
    text, vals = normalize_chars(list("Ａ 臺b"), [0.1, 0.2, 0.3, 0.4], PRESETS["bctr"])
    assert text == "a台b" and vals == [0.1, 0.3, 0.4]


def test_unknown_spaces_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="spaces"):
        Normalization(spaces="trim")  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------- confusions
def test_alignment_prefers_matches_and_keeps_the_edit_count() -> None:
    ops = align_chars("未来可期", "未米期x")
    assert [(o.tag, o.ref, o.hyp) for o in ops] == [
        ("equal", "未", "未"), ("replace", "来", "米"), ("delete", "可", ""), ("equal", "期", "期"),
        ("insert", "", "x")]
    rng = random.Random(0)
    for _ in range(500):
        a = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        b = "".join(rng.choice("abc") for _ in range(rng.randint(0, 7)))
        ops = align_chars(a, b)
        assert sum(o.tag != "equal" for o in ops) == Levenshtein.distance(a, b)
        assert "".join(o.ref for o in ops) == a and "".join(o.hyp for o in ops) == b


def test_confusion_counts_lines_and_char_scores() -> None:
    c = collect_confusions([("未来", "未米"), ("未来好", "未米"), ("参加", "参加")])
    assert c.top(2) == [{"ref": "来", "hyp": "米", "count": 2}, {"ref": "好", "hyp": "", "count": 1}]
    assert c.lines[("来", "米")] == [0, 1]
    assert c.totals == {"substitution": 2, "deletion": 1, "insertion": 0}
    scores = {r["char"]: r for r in c.char_scores(10)}
    assert scores["未"]["recall"] == 1.0 and scores["未"]["precision"] == 1.0
    assert scores["来"]["recall"] == 0.0 and scores["来"]["precision"] is None  # never output


# ------------------------------------------------------------------------------------------ calibration
def test_calibration_bins_ece_and_coverage() -> None:
    cal = calibrate([0.95, 0.95, 0.55, 0.55], [True, True, True, False])
    assert cal.ece == pytest.approx(0.5 * 0.05 + 0.5 * 0.05)
    assert [b.n for b in cal.bins if b.n] == [2, 2]
    assert cal.accuracy_at_coverage(0.5) == 1.0 and cal.accuracy_at_coverage(1.0) == 0.75
    perfect = calibrate([1.0, 1.0, 0.0], [True, True, False])
    assert perfect.ece == 0.0
    assert flag_for_review([0.9, 0.2, None], 0.5) == [False, True, True]
    with pytest.raises(ValueError):
        calibrate([1.2], [True])


# ---------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(3)
    stats = LineStats(rng.integers(0, 3, 200).tolist(), [10] * 200, rng.integers(0, 2, 200).tolist())
    a, b = bootstrap_ci(stats, seed=1), bootstrap_ci(stats, seed=1)
    assert a == b
    assert a.cer[0] < a.point_cer < a.cer[1] and a.line_acc[0] < a.point_line_acc < a.line_acc[1]


def test_paired_difference_tells_real_from_noise() -> None:
    n = 300
    base = LineStats([1] * n, [10] * n, [0] * n)
    better = LineStats([0] * n, [10] * n, [1] * n)
    same = LineStats([1] * (n // 2) + [0, 2] * (n // 4), [10] * n, [0] * n)
    d = paired_diff(base, better)
    assert d.cer == pytest.approx(-0.1) and d.cer_significant and d.verdict() == "B: lower CER (significant)"
    assert not paired_diff(base, same).cer_significant
    assert "indistinguishable" in paired_diff(base, same).verdict()
    with pytest.raises(ValueError):
        paired_diff(base, LineStats([1], [1], [0]))


# ------------------------------------------------------------------------------------- rows, runs, compare
def _sample(key: str, label: str, pred: str, confs: tuple[float, ...] | None,
            subset: str = "") -> SampleResult:
    return SampleResult(key, label, pred, None, 1.0, None, char_confidences=confs, subset=subset)


def _row(engine: str, decoder: str, samples: list[SampleResult]) -> BenchResult:
    return BenchResult(engine, decoder, len(samples), 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, samples=samples)


def test_row_analysis_subsets_calibration_and_text_only() -> None:
    rows = [_sample("a/1", "未来", "未米", (0.9, 0.6), "a"),
            _sample("a/2", "你好", "你好", (0.99, 0.98), "a"),
            _sample("b/1", "参加", "参加", (0.9, 0.9), "b")]
    a = analyse_row(rows, PRESETS["default"])
    assert a.subsets["a"] == {"n": 2, "cer": 0.25, "line_acc": 0.5}
    assert a.line_cal is not None and a.line_cal.n == 3 and a.char_cal is not None and a.char_cal.n == 6
    assert line_confidence((0.5, 0.5)) == pytest.approx(0.25) and line_confidence(None) is None
    extras = row_extras(rows, PRESETS["default"])
    assert extras["confusions"] == [{"ref": "来", "hyp": "米", "count": 1}]
    assert extras["normalization"]["preset"] == "default" and len(extras["ci95_cer"]) == 2
    text_only = row_extras([_sample("k", "你好", "你", None)], PRESETS["default"])
    assert text_only["ece"] is None and text_only["ece_char"] is None  # uncalibrated, never 1.0


def test_runs_round_trip_and_compare_fixed_broken(tmp_path: Path) -> None:
    a_rows = [_sample("1", "未来", "未米", (0.9, 0.5)), _sample("2", "你好", "你好", (0.9, 0.9)),
              _sample("3", "参加", "参加", (0.9, 0.9))]
    b_rows = [_sample("1", "未来", "未来", (0.9, 0.8)), _sample("2", "你好", "你", (0.9,)),
              _sample("3", "参加", "参加", (0.9, 0.9))]
    settings = {"normalization": PRESETS["default"].as_dict()}
    ra = new_run("set", None, [_row("e", "greedy", a_rows)], settings)
    rb = new_run("set", None, [_row("e", "greedy", b_rows)], settings)
    pa, pb = save_run(ra, tmp_path / "a.json"), save_run(rb, tmp_path)
    assert pb.parent == tmp_path and json.loads(pa.read_text(encoding="utf-8"))["format"] == "ocr-bench-run"
    la = load_run(pa)
    assert la.results[0].samples[0].char_confidences == (0.9, 0.5)
    assert la.normalization == PRESETS["default"] and "numpy" in la.versions
    (cmp,) = compare_runs(la, load_run(pb))
    assert [c.key for c in cmp.fixed] == ["1"] and [c.key for c in cmp.broken] == ["2"]
    assert cmp.better == 1 and cmp.worse == 1 and cmp.diff is not None and cmp.n == 3
    assert pairwise([ra.results[0], rb.results[0]], PRESETS["default"])[0]["n"] == 3
    (tmp_path / "bad.json").write_text("{}", encoding="utf-8")
    with pytest.raises(OCRError, match="not a saved benchmark run"):
        load_run(tmp_path / "bad.json")


# ------------------------------------------------------------------------------- sets: subsets, LMDB
def _png(color: int = 200) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((8, 16), color, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def test_subset_from_folder_third_column_and_subfolder_sets(tmp_path: Path) -> None:
    for sub in ("news", "plates"):
        (tmp_path / sub / "img").mkdir(parents=True)
        (tmp_path / sub / "img" / "1.png").write_bytes(_png())
        (tmp_path / sub / "labels.tsv").write_text("img/1.png\t你好\n", encoding="utf-8")
    with open_labelled_set(tmp_path) as lset:  # no labels file at the top: one per subfolder, combined
        assert [(s.key, s.subset) for s in lset.samples] == [("news/img/1.png", "news"),
                                                              ("plates/img/1.png", "plates")]
        assert all(s.error is None for s in lset.samples)
    rows = "news/img/1.png\t你好\nplates/img/1.png\t皖A\tcars\n"
    (tmp_path / "labels.tsv").write_text(rows, encoding="utf-8")
    with open_labelled_set(tmp_path / "labels.tsv") as lset:
        assert [(s.text, s.subset) for s in lset.samples] == [("你好", "news"), ("皖A", "cars")]


def test_lmdb_set(tmp_path: Path) -> None:
    lmdb = pytest.importorskip("lmdb")
    env = lmdb.open(str(tmp_path / "set"), map_size=1 << 22)
    with env.begin(write=True) as txn:
        txn.put(b"num-samples", b"3")
        txn.put(b"image-000000001", _png())
        txn.put(b"label-000000001", "你好".encode())
        txn.put(b"image-000000002", b"not an image")
        txn.put(b"label-000000002", "世界".encode())
        txn.put(b"label-000000003", "缺图".encode())
    env.close()
    with open_labelled_set(tmp_path / "set") as lset:
        assert [s.text for s in lset.samples] == ["你好", "世界", "缺图"]
        assert lset.samples[0].error is None and lset.samples[0].image_path.suffix == ".png"
        assert lset.samples[1].error is not None and lset.samples[2].error is not None
        root = lset.root
    assert not root.exists()  # extracted into a temporary folder, removed on exit
    import zipfile  # the same LMDB folder uploaded as a zip

    with zipfile.ZipFile(tmp_path / "set.zip", "w") as zf:
        for f in (tmp_path / "set").iterdir():
            zf.write(f, f"set/{f.name}")
    with open_labelled_set((tmp_path / "set.zip").read_bytes()) as lset:
        assert [s.text for s in lset.samples] == ["你好", "世界", "缺图"] and lset.samples[0].error is None
    bad = tmp_path / "bad"
    env = lmdb.open(str(bad), map_size=1 << 20)
    env.close()
    with pytest.raises(DatasetError, match="num-samples"), open_labelled_set(bad):
        pass
