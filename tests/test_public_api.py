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


def test_console_script_beside_python_m_ocr() -> None:
    import json
    import subprocess
    import sys
    from pathlib import Path

    script = Path(sys.executable).with_name("ocr")
    if not script.exists():
        pytest.skip("the package is not installed (make install runs pip install -e .)")
    out = subprocess.run([str(script), "engines", "--json"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert [row["name"] for row in json.loads(out.stdout)][:1] == [ocr.engine_names()[0]]
