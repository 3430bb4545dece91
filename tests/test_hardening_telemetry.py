"""Issue 19: onnxruntime wrote a device id and an event database under ~/.cache/Microsoft on import,
for every process that loaded an engine. Importing `ocr` first turns its telemetry off."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from ocr.engines.registry import available

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")
@pytest.mark.parametrize("code", [
    "from ocr.engines.registry import load_engine; load_engine('ppocr-v4')",
    "import ocr, onnxruntime",  # a project process importing onnxruntime itself after `ocr`
])
def test_no_telemetry_files_in_the_users_cache(tmp_path: Path, code: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "ORT_DISABLE_TELEMETRY"}
    env.update(HOME=str(tmp_path), XDG_CACHE_HOME=str(tmp_path / ".cache"))
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=120)
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []


def test_make_session_turns_telemetry_off(monkeypatch: pytest.MonkeyPatch) -> None:
    ort = pytest.importorskip("onnxruntime")
    from ocr.engines.onnx_ctc import make_session

    calls: list[str] = []
    monkeypatch.setattr(ort, "disable_telemetry_events", lambda: calls.append("off"))
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: calls.append("session") or object())
    make_session(b"not a model", name="x")
    assert calls == ["off", "session"]
