"""Issue 20 on the Benchmark page (AppTest): a saved run opens with its confusion table, reliability
diagram and CIs; two saved runs compare with their fixed and broken lines. No engine runs: the runs are
built from per-sample results."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from ocr.evaluation.bench import BenchResult, SampleResult
from ocr.evaluation.normalize import DEFAULT_NORM
from ocr.evaluation.runs import new_run, save_run

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def _row(decoder: str, preds: list[str], labels: list[str]) -> BenchResult:
    samples = [SampleResult(f"img/{i:03d}.png", lab, pred, None, 5.0, None,
                            char_confidences=tuple(0.95 if c in lab else 0.4 for c in pred),
                            subset="news" if i % 2 else "plates")
               for i, (lab, pred) in enumerate(zip(labels, preds, strict=True))]
    return BenchResult("ppocr-v4", decoder, len(samples), 0.0, 0.0, 0.0, 5.0, 5.0, 200.0, samples=samples)


def write_runs(folder: Path, n: int = 40) -> tuple[Path, Path]:
    """Two runs over the same n lines: B fixes lines 0, 4, 8… (未米 → 未来) and breaks line 1."""
    labels = [f"我们的未来{i}" for i in range(n)]
    a_preds = [f"我们的未米{i}" if i % 4 == 0 else lab for i, lab in enumerate(labels)]
    b_preds = [f"我们的未{i}" if i == 1 else lab for i, lab in enumerate(labels)]
    settings = {"normalization": DEFAULT_NORM.as_dict()}
    a = save_run(new_run("rendered", None, [_row("greedy", a_preds, labels)], settings), folder / "a.json")
    b = save_run(new_run("rendered", None, [_row("greedy", b_preds, labels)], settings), folder / "b.json")
    # the page lists file names in reverse order (run ids start with their time): b.json first
    return a, b


def test_saved_run_opens_with_confusions_calibration_and_compare(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    write_runs(tmp_path)
    monkeypatch.setenv("OCR_RUNS_DIR", str(tmp_path))
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=TIMEOUT).run()
    assert not at.exception, at.exception
    at.switch_page("pages/benchmark.py").run()
    assert not at.exception, at.exception
    # the two saved runs compared by default: the newest as B (b.json) against the one before (a.json)
    text = " ".join(m.value for m in at.markdown)
    assert "Fixed by B: **10** lines" in text and "Broken by B: **1** lines" in text
    at.selectbox(key="bench_eval_cmp_a").set_value(str(tmp_path / "b.json")).run()
    assert any("two different runs" in c.value for c in at.caption)
    at.selectbox(key="bench_eval_cmp_b").set_value(str(tmp_path / "a.json")).run()
    text = " ".join(m.value for m in at.markdown)
    assert "Fixed by B: **1** lines" in text and "Broken by B: **10** lines" in text
    at.selectbox(key="bench_eval_cmp_a").set_value(str(tmp_path / "a.json")).run()
    at.selectbox(key="bench_eval_cmp_b").set_value(str(tmp_path / "b.json")).run()
    fixed = next(df.value for df in at.dataframe if "CER A" in df.value.columns and len(df.value) == 10)
    assert set(fixed["A"]) == {f"我们的未米{i}" for i in range(0, 40, 4)}
    # open run A: its analysis appears
    at.selectbox(key="bench_eval_open_pick").set_value(str(tmp_path / "a.json")).run()
    assert not at.exception, at.exception
    assert any("Which engine and decoder to trust" in h.value for h in at.subheader)
    top = next(df.value for df in at.dataframe if {"ref", "hyp", "count", "kind"} <= set(df.value.columns))
    assert top.iloc[0][["ref", "hyp", "count"]].tolist() == ["来", "米", 10]
    specs = [json.loads(el.proto.spec) for el in at.get("plotly_chart")]
    titles = " ".join(str(s.get("layout", {}).get("title", {}).get("text", "")) for s in specs)
    assert "Lines · ECE" in titles and "Characters · ECE" in titles
    ci = next(df.value for df in at.dataframe if "CER 95% CI" in df.value.columns)
    assert ci.iloc[0]["n"] == 40
    subsets = next(df.value for df in at.dataframe if "subset" in df.value.columns)
    assert set(subsets["subset"]) == {"news", "plates"}
