"""benchmarks/heldout.py: renders a missing held-out set with its fixed seed, and tabulates bench rows."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("heldout", ROOT / "benchmarks" / "heldout.py")
heldout = importlib.util.module_from_spec(_spec)  # type: ignore[arg-type]
sys.modules["heldout"] = heldout  # its dataclass looks its module up while the module runs
_spec.loader.exec_module(heldout)  # type: ignore[union-attr]


def test_table_has_a_row_per_set_and_a_column_per_engine() -> None:
    rows = {"data/a": [{"engine": "crnn", "n": 4, "cer": 0.125, "line_acc": 0.5},
                       {"engine": "ppocr-v4", "n": 4, "cer": 0.0, "line_acc": 1.0}],
            "data/b": [{"engine": "ppocr-v4", "n": 2, "cer": 0.25, "line_acc": 0.5}]}
    lines = heldout.table(rows).splitlines()
    assert lines[0] == "| set | `crnn` | `ppocr-v4` |"
    assert lines[2] == "| `data/a` (4) | 0.1250 / 0.50 | 0.0000 / 1.00 |"
    assert lines[3] == "| `data/b` (2) | — | 0.2500 / 0.50 |"


def test_the_documented_sets_and_seeds() -> None:
    assert [(Path(s.folder).name, s.n, s.seed, s.kinds, s.prose) for s in heldout.SETS] == [
        ("synth_test", 2000, 20261124, "", 0.0), ("kinds_test", 600, 20261126, "all", 0.0),
        ("symbols_test", 400, 20261127, "symbol=1", 0.0), ("scene_test", 300, 20261127, "scene=1", 0.0),
        ("platecam_test", 300, 20261128, "plate_cam=1", 0.0),
        ("prose_test", 300, 20261129, "doc_sc=0.5,doc_tc=0.5", 0.3),
        ("contact_test", 300, 20261130, "contact=1", 0.0), ("receipt_test", 300, 20261201, "receipt=1", 0.0),
        ("label_test", 300, 20261202, "label=1", 0.0), ("facade_test", 300, 20261203, "facade=1", 0.0)]


@pytest.mark.noto
def test_render_makes_a_missing_set_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heldout, "ROOT", tmp_path)
    s = heldout.HeldOut("sym", 3, 5, "symbol=1")
    labels = heldout.render(s)
    rows = labels.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 3 and all(r.startswith("symbol/") for r in rows)
    stamp = labels.stat().st_mtime_ns
    assert heldout.render(s) == labels and labels.stat().st_mtime_ns == stamp  # kept, not re-rendered


@pytest.mark.noto
def test_a_prose_set_renders_its_marks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(heldout, "ROOT", tmp_path)
    plain = heldout.render(heldout.HeldOut("plain", 6, 7, "doc_sc=1")).read_text(encoding="utf-8")
    prose = heldout.render(heldout.HeldOut("prose", 6, 7, "doc_sc=1", prose=0.9)).read_text(encoding="utf-8")
    marks = ("——", "……", "-", "·", "～")
    assert not any(m in plain for m in marks) and sum(prose.count(m) for m in marks) >= 3
