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
