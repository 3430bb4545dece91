"""The CLI contract: JSON shapes, and errors as exit 2 + one `error: …` line with no traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr.cli import main
from ocr.engines.registry import available

ROOT = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ocr", *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300)


def _assert_one_line_error(proc: subprocess.CompletedProcess[str]) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stderr


def test_engines_lists_every_engine_with_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["engines", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    names = {r["name"] for r in rows}
    assert {"ppocr-v4", "ppocr-v6", "ddddocr", "tesseract", "crnn"} <= names
    for r in rows:
        assert r["available"] or r["reason"], r


def test_usage_errors_are_one_line() -> None:
    _assert_one_line_error(_run("bogus"))
    _assert_one_line_error(_run("recognize"))
    _assert_one_line_error(_run("recognize", "x.png", "--decoder", "nope"))


def test_missing_image_and_unknown_engine(tmp_path: Path) -> None:
    _assert_one_line_error(_run("recognize", str(tmp_path / "missing.png")))
    img = tmp_path / "a.png"
    Image.fromarray(np.full((32, 100, 3), 255, np.uint8)).save(img)
    _assert_one_line_error(_run("recognize", str(img), "--engine", "no-such-engine"))
    _assert_one_line_error(_run("bench", str(tmp_path / "nothing.tsv")))


def _bad_image(path: Path, kind: str) -> None:
    import io

    if kind == "text":
        path.write_text("this is not an image")
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "bomb":
        from tests.bad_inputs import bomb_png

        path.write_bytes(bomb_png(50_000, 50_000))
    elif kind in ("truncated-png", "truncated-jpeg"):
        buf = io.BytesIO()
        img = Image.fromarray(np.random.default_rng(0).integers(0, 255, (48, 300, 3), dtype=np.uint8))
        img.save(buf, format="PNG" if kind == "truncated-png" else "JPEG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    else:  # "WxH" too thin
        w, h = (int(v) for v in kind.split("x"))
        Image.new("L", (w, h), 255).save(path, format="PNG")


@pytest.mark.parametrize("kind", ["text", "empty", "bomb", "truncated-png", "truncated-jpeg",
                                  "1x1", "1x5000", "5000x1"])
def test_bad_images_exit_2(tmp_path: Path, kind: str) -> None:
    path = tmp_path / f"bad-{kind}.png"
    _bad_image(path, kind)
    _assert_one_line_error(_run("recognize", str(path), "--engine", "tesseract"))


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 engine unavailable")
@pytest.mark.parametrize("color", ["white", "black"])
def test_blank_images_give_empty_text(tmp_path: Path, color: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / f"{color}.png"
    Image.new("RGB", (300, 48), color).save(path)
    assert main(["recognize", str(path), "--engine", "ppocr-v4", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["text"] == ""


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 engine unavailable")
def test_recognize_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.render import render

    path = tmp_path / "line.png"
    Image.fromarray(render("未来可期")).save(path)
    assert main(["recognize", str(path), "--engine", "ppocr-v4", "--decoder", "beam", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["text"] == "未来可期"
    assert out["engine"] == "ppocr-v4" and out["decoder"] == "beam"
    assert [c["char"] for c in out["chars"]] == list("未来可期")
    for c in out["chars"]:
        assert 0.0 <= c["confidence"] <= 1.0 and 0 <= c["start"] < c["end"]
    assert out["elapsed_ms"] > 0


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 engine unavailable")
def test_bench_json_contract(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.render import render

    rows = []
    for i, text in enumerate(["增值税专用发票", "壹万贰仟叁佰肆拾伍元整", "电话：13800138000"]):
        Image.fromarray(render(text)).save(tmp_path / f"{i}.png")
        rows.append(f"{i}.png\t{text}\n")
    (tmp_path / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    argv = ["bench", str(tmp_path / "labels.tsv"), "--engine", "ppocr-v4", "--decoder", "greedy,beam",
            "--json", "--quiet"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [(r["engine"], r["decoder"]) for r in out] == [("ppocr-v4", "greedy"), ("ppocr-v4", "beam")]
    for r in out:
        keys = {"engine", "decoder", "n", "line_acc", "cer", "ned", "p50_ms", "p95_ms", "lines_per_s"}
        assert set(r) >= keys
        assert r["n"] == 3 and r["cer"] <= 0.1 and r["p95_ms"] >= r["p50_ms"] > 0


def test_bench_zip_slip_writes_nothing_outside_and_cleans_up(tmp_path: Path) -> None:
    import io
    import tempfile
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("labels.tsv", "../../escaped.png\tx\n")
        zf.writestr("../../escaped.png", b"not really")
        zf.writestr(str(tmp_path / "abs.png"), b"not really")
    archive = tmp_path / "slip.zip"
    archive.write_bytes(buf.getvalue())
    tmpdir = Path(tempfile.gettempdir())
    before = {p.name for p in tmpdir.glob("ocr-set-*")}
    proc = _run("bench", str(archive), "--engine", "tesseract", "--json", "--quiet")
    after = {p.name for p in tmpdir.glob("ocr-set-*")}
    assert after == before, "temporary folder left behind"
    assert not (tmp_path / "abs.png").exists()
    assert not (tmpdir.parent / "escaped.png").exists() and not (tmpdir / "escaped.png").exists()
    assert "zip-slip" in proc.stderr or proc.returncode == 2


@pytest.mark.noto
def test_synth_kinds_takes_the_symbol_kind_and_refuses_unknown_ones(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = str(tmp_path / "sym")
    assert main(["synth", "testset", out, "--kinds", "symbol=1", "--n", "3", "--quiet"]) == 0
    rows = (tmp_path / "sym" / "labels.tsv").read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and all(r.startswith("symbol/") for r in rows)
    assert main(["synth", "shards", str(tmp_path / "sh"), "--kinds", "symbol=1,plate=1", "--n", "4",
                 "--prose", "0.3", "--quiet"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["lines"] == 4
    _assert_one_line_error(_run("synth", "shards", str(tmp_path / "bad"), "--kinds", "symbols=1", "--n", "2"))
    _assert_one_line_error(_run("synth", "testset", str(tmp_path / "p"), "--prose", "0.3", "--n", "2"))


@pytest.mark.noto
def test_train_exports_into_its_run_not_over_the_shipped_model(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Without --export the best evaluated checkpoint lands in RUN_DIR/best.pt (it once defaulted to
    models/crnn.pt, so a quick `train --eval …` replaced the shipped weights)."""
    from ocr.training.synth import render_shards, render_test_set

    shipped = ROOT / "models" / "crnn.pt"
    before = shipped.stat().st_mtime_ns if shipped.exists() else None
    render_shards(tmp_path / "sh", n=6, seed=3, shard_size=6, max_len=4)
    labels = render_test_set(tmp_path / "test", n=2, seed=2, font="noto-sans-sc")
    run = tmp_path / "run"
    assert main(["train", "--shards", str(tmp_path / "sh"), "--run-dir", str(run), "--init", "", "--arch",
                 "compact", "--steps", "1", "--batch-size", "3", "--eval", str(labels), "--eval-every", "1",
                 "--quiet"]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1] == str(run / "best.pt")
    assert (run / "best.pt").is_file()
    assert (shipped.stat().st_mtime_ns if shipped.exists() else None) == before


def test_blend_interpolates_two_checkpoints_and_refuses_mismatches(tmp_path: Path,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    import torch

    from ocr.charset import Charset
    from ocr.models.checkpoint import load_checkpoint, save_export
    from ocr.models.crnn import CRNN, CRNNConfig

    cs = Charset(["", "a", "b", "c"])
    cfg = CRNNConfig(num_classes=4, widths=(8, 8, 8), expand=(1, 1, 1), depths=(1, 1, 1), hidden=8)
    torch.manual_seed(0)
    base, tuned, other = CRNN(cfg), CRNN(cfg), CRNN(CRNNConfig(num_classes=4, widths=(8, 8, 8),
                                                              expand=(1, 1, 1), depths=(1, 1, 1), hidden=16))
    for name, m in (("base", base), ("tuned", tuned), ("other", other)):
        save_export(m, tmp_path / f"{name}.pt", cs, {"init": name})
    b, t = (load_checkpoint(tmp_path / f"{n}.pt")[0].state_dict() for n in ("base", "tuned"))
    for share in (0.0, 0.3, 1.0):
        out = tmp_path / f"mix{share}.pt"
        args = ["blend", str(tmp_path / "base.pt"), str(tmp_path / "tuned.pt"), str(share), str(out)]
        assert main(args) == 0
        mixed, meta = load_checkpoint(out)
        for k, v in mixed.state_dict().items():
            assert torch.allclose(v, (b[k] + share * (t[k] - b[k])).half().float(), atol=1e-3), k
        assert meta["blend"]["share"] == share and meta["init"] == "tuned"  # type: ignore[index]
    capsys.readouterr()
    _assert_one_line_error(_run("blend", str(tmp_path / "base.pt"), str(tmp_path / "other.pt"), "0.5",
                                str(tmp_path / "x.pt")))
    _assert_one_line_error(_run("blend", str(tmp_path / "base.pt"), str(tmp_path / "tuned.pt"), "1.5",
                                str(tmp_path / "x.pt")))
