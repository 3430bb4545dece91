"""Shared fixtures."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def real_samples() -> Path:
    """The real labelled lines (folders of labels.tsv + images): $OCR_REAL_SAMPLES, by default
    ../shared/real_samples beside the repository. Tests using it skip when it is not there."""
    root = Path(os.environ.get("OCR_REAL_SAMPLES", REPO.parent / "shared" / "real_samples"))
    if not root.is_dir():
        pytest.skip(f"real samples not found at {root} (set OCR_REAL_SAMPLES)")
    return root


@pytest.fixture(scope="session", autouse=True)
def _runs_dir(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Benchmark runs saved during the tests (bench saves every run, issue 20) go to a temporary folder,
    not the repository's runs/bench, unless OCR_RUNS_DIR is set already."""
    if not os.environ.get("OCR_RUNS_DIR"):
        os.environ["OCR_RUNS_DIR"] = str(tmp_path_factory.mktemp("bench-runs"))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked `noto` render with fonts-noto-cjk: they skip, with one reason, where it is not
    installed (`make test` installs it with apt)."""
    marked = [item for item in items if item.get_closest_marker("noto")]
    if not marked:
        return
    from ocr.training.synth import available_fonts

    if any(f.name == "noto-sans-sc" for f in available_fonts()):
        return
    skip = pytest.mark.skip(reason="fonts-noto-cjk is not installed (make test installs it with apt)")
    for item in marked:
        item.add_marker(skip)
