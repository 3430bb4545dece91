"""Engines whose package, model file or binary is missing say so, with the reason, and nothing breaks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ocr.cli import main
from ocr.engines import crnn, onnx_ctc, tesseract
from ocr.engines.registry import available, default_engine


def _without(monkeypatch: pytest.MonkeyPatch, *packages: str) -> None:
    real = onnx_ctc.package_dir
    monkeypatch.setattr(onnx_ctc, "package_dir", lambda p: None if p in packages else real(p))


@pytest.mark.parametrize(("engine", "package"), [("ppocr-v4", "rapidocr_onnxruntime"),
                                                  ("ppocr-v6", "rapidocr"), ("ddddocr", "ddddocr")])
def test_missing_model_package_is_reported(
    monkeypatch: pytest.MonkeyPatch, engine: str, package: str
) -> None:
    _without(monkeypatch, package)
    ok, reason = available(engine)
    assert not ok and package in reason and "not installed" in reason


def test_missing_onnxruntime_is_reported(monkeypatch: pytest.MonkeyPatch) -> None:
    _without(monkeypatch, "onnxruntime")
    for engine in ("ppocr-v4", "ddddocr"):
        ok, reason = available(engine)
        assert not ok and "onnxruntime" in reason


def test_tesseract_absent(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("OCR_TESSERACT_CMD", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no tesseract binary
    ok, reason = available("tesseract")
    assert not ok and "tesseract" in reason and "apt-get install" in reason
    assert tesseract.check("tesseract") == reason


def test_crnn_without_checkpoint(tmp_path: Path) -> None:
    reason = crnn.check("crnn", checkpoint=tmp_path / "missing.pt")
    assert reason is not None and "no model file at models/crnn.onnx" in reason


def test_cli_lists_unavailable_engines_with_reason(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    _without(monkeypatch, "rapidocr_onnxruntime", "rapidocr")
    assert main(["engines", "--json"]) == 0
    rows = {r["name"]: r for r in json.loads(capsys.readouterr().out)}
    assert not rows["ppocr-v4"]["available"] and "rapidocr_onnxruntime" in rows["ppocr-v4"]["reason"]
    assert not rows["ppocr-v6"]["available"]
    assert default_engine() not in ("ppocr-v4", "ppocr-v6")  # the default falls back to what runs here
