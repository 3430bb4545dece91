"""Issue 20 through `python -m ocr`: bench JSON gains ci95_cer, ece, confusions, normalization (existing
keys unchanged); every run is saved; compare shows fixed and broken lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from ocr.cli import main
from ocr.engines.registry import available

TEXTS = ["增值税专用发票", "壹万贰仟叁佰肆拾伍元整", "電話：13800138000"]


@pytest.fixture
def labelled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from tests.render import render

    if not available("ppocr-v4")[0]:
        pytest.skip("ppocr-v4 unavailable")
    monkeypatch.setenv("OCR_RUNS_DIR", str(tmp_path / "runs"))
    rows = []
    for i, text in enumerate(TEXTS):
        Image.fromarray(render(text)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png\t{text}\n")
    (tmp_path / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    return tmp_path / "labels.tsv"


def test_bench_json_gains_evaluation_keys_and_saves_the_run(labelled: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(labelled), "--engine", "ppocr-v4,tesseract", "--json", "--quiet"]) == 0
    out = json.loads(capsys.readouterr().out)
    existing = {"engine", "decoder", "n", "line_acc", "cer", "ned", "p50_ms", "p95_ms", "lines_per_s"}
    for r in out:
        assert existing <= r.keys()
        lo, hi = r["ci95_cer"]
        assert 0.0 <= lo <= r["cer"] <= hi <= 1.0
        assert r["normalization"]["preset"] == "default" and r["normalization"]["nfkc"] is True
        assert all(set(c) == {"ref", "hyp", "count"} for c in r["confusions"])
    ppocr, tess = out
    assert isinstance(ppocr["ece"], float) and 0.0 <= ppocr["ece"] <= 1.0
    assert tess["decoder"] == "text" and tess["ece"] is None  # text only: uncalibrated
    saved = list((labelled.parent / "runs").glob("*.json"))
    assert len(saved) == 1 and json.loads(saved[0].read_text(encoding="utf-8"))["format"] == "ocr-bench-run"


def test_bench_norm_preset_and_overrides(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["bench", str(labelled), "--engine", "ppocr-v4", "--json", "--quiet", "--no-save-run",
                 "--norm", "bctr", "--punct"]) == 0
    (row,) = json.loads(capsys.readouterr().out)
    assert row["normalization"] == {"preset": "custom", "nfkc": False, "spaces": "remove", "width": True,
                                    "casefold": True, "t2s": True, "punct": True}
    assert not (labelled.parent / "runs").exists()


def test_compare_two_runs(labelled: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = labelled.parent / "runs"
    assert main(["bench", str(labelled), "--engine", "ppocr-v4", "--quiet", "--save-run",
                 str(runs / "a.json")]) == 0
    # B: run A with its first line read as its label and its second line misread
    data = json.loads((runs / "a.json").read_text(encoding="utf-8"))
    samples = data["results"][0]["samples"]
    samples[0]["prediction"] = samples[0]["label"]
    samples[1]["prediction"] = samples[1]["label"][:-2]
    (runs / "b.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    a = json.loads((runs / "a.json").read_text(encoding="utf-8"))["results"][0]["samples"]
    capsys.readouterr()
    assert main(["compare", str(runs / "a.json"), str(runs / "b.json"), "--json"]) == 0
    (row,) = json.loads(capsys.readouterr().out)["rows"]
    assert row["n"] == 3 and len(row["ci95_d_cer"]) == 2
    assert [c["key"] for c in row["broken"]] == (["1.png"] if a[1]["prediction"] == a[1]["label"] else [])
    assert [c["key"] for c in row["fixed"]] == (["0.png"] if a[0]["prediction"] != a[0]["label"] else [])
    assert row["worse"] >= 1
    assert main(["compare", str(runs / "a.json"), str(runs / "b.json")]) == 0
    assert "fixed" in capsys.readouterr().out
    assert main(["compare", str(runs / "a.json"), str(labelled)]) == 2  # not a run: one error line
