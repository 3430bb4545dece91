"""The public API: `from ocr import recognize, load_engine`, and the package docstring's example runs."""

from __future__ import annotations

import doctest

import pytest

import ocr
from tests.conftest import REPO


def test_public_names_resolve_to_their_homes() -> None:
    from ocr.decoding import DecoderConfig
    from ocr.engines.registry import load_engine
    from ocr.pipeline import recognize

    assert ocr.recognize is recognize and ocr.load_engine is load_engine
    assert ocr.DecoderConfig is DecoderConfig
    assert sorted(ocr.__all__) == ocr.__all__ and all(hasattr(ocr, name) for name in ocr.__all__)
    with pytest.raises(AttributeError):
        ocr.no_such_name  # noqa: B018


def test_package_docstring_example_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    from ocr.engines.registry import available

    ok, why = available("ppocr-v4")
    if not ok:
        pytest.skip(f"the example uses ppocr-v4: {why}")
    monkeypatch.chdir(REPO)
    result = doctest.testmod(ocr, optionflags=doctest.ELLIPSIS, verbose=False)
    assert result.attempted >= 5 and result.failed == 0
