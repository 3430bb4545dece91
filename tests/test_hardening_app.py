"""Issue 19 against the app: uploads that filled /tmp, hostile names that reached the browser as
tracebacks, the image cache, and where `make app` listens."""

from __future__ import annotations

import io
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.test_app import error_texts, finish_bench, first_usable_ctc, png, start
from tests.tools import attacks

ROOT = Path(__file__).resolve().parents[1]


def _all_text(at: object) -> str:
    parts = []
    for kind in ("error", "warning", "info", "markdown", "caption", "exception"):
        parts += [str(getattr(e, "value", "")) for e in at.get(kind)]  # type: ignore[attr-defined]
    parts += [str(df.value.to_dict()) for df in at.dataframe]  # type: ignore[attr-defined]
    return " ".join(parts)


def test_one_image_named_by_300_rows_is_stored_once() -> None:
    """labels.tsv naming one 1 MB image from 300 folders: 300 links to one file (was 300 copies, 304 MB)."""
    from ocr.evaluation.datasets import open_labelled_set
    from ui.benchset import stage_upload

    big = np.random.default_rng(0).integers(0, 256, (512, 700, 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(big).save(buf, "PNG", compress_level=0)
    image = buf.getvalue()
    assert len(image) > 1_000_000
    rows = "".join(f"d{i:03d}/a.png\t中\n" for i in range(300)).encode()
    with stage_upload([("labels.tsv", rows), ("a.png", image)]) as source:
        files = [p for p in source.parent.rglob("*.png")]
        inodes = {p.stat().st_ino for p in files}
        blocks = {(st.st_dev, st.st_ino): st.st_blocks for st in (os.stat(f) for f in files)}
        stored = sum(blocks.values()) * 512  # disk used, each file stored once however many names it has
        assert len(files) == 301 and (len(inodes) == 1 or all(p.is_symlink() for p in files[1:]))
        assert stored < 2 * len(image)
        with open_labelled_set(source) as lset:
            assert len(lset.runnable) == 300


def test_hostile_row_names_do_not_raise() -> None:
    from ocr.evaluation.datasets import open_labelled_set
    from ui.benchset import stage_upload

    rows = f"x\0y/a.png\tnul\n{'z' * 1_000_000}/a.png\tlong\nok/a.png\t中\n".encode()
    files = [("labels.tsv", rows), ("a.png", png("中"))]
    with stage_upload(files) as source, open_labelled_set(source) as lset:
        assert [s.error is None for s in lset.samples] == [False, False, True]
        assert all(len(s.key) < 200 and len(s.error or "") < 200 for s in lset.samples)


@pytest.mark.parametrize("name", ["nul", "long", "encrypted"])
def test_benchmark_page_says_what_is_wrong_without_server_paths(name: str) -> None:
    engine = first_usable_ctc()
    at = start("benchmark", engine=engine, bench_engines=[engine], bench_decoders=["greedy"])
    if name == "encrypted":
        files = [("locked.zip", attacks.encrypted_zip(), "application/zip")]
    else:
        bad = "x\0y.png" if name == "nul" else "z" * 1_000_000 + ".png"
        rows = f"{bad}\tbad\na.png\t中\n".encode()
        files = [("labels.tsv", rows, "text/plain"), ("a.png", png("中"), "image/png")]
    at.file_uploader(key="bench_upload").set_value(files)
    at.run()
    at.button(key="bench_run_upload").click()
    finish_bench(at.run())  # the run is a background job: wait for it to end
    assert not at.exception, at.exception
    text = _all_text(at)
    assert "Traceback" not in text and "/tmp/" not in text and str(ROOT) not in text
    if name == "encrypted":
        assert any("encrypted" in e for e in error_texts(at)), error_texts(at)
    else:
        assert ("control character" if name == "nul" else "bytes long") in text
        assert len(text) < 200_000  # the 1 MB name is not echoed


def test_image_cache_skips_large_images(monkeypatch: pytest.MonkeyPatch) -> None:
    import ui.resources as resources

    calls: list[int] = []
    monkeypatch.setattr(resources, "_decode_cached", lambda data: calls.append(len(data)) or np.zeros(1))
    small, large = io.BytesIO(), io.BytesIO()
    Image.new("L", (400, 100), 255).save(small, "PNG")
    Image.new("L", (2500, 2000), 255).save(large, "PNG")  # 5 MP: over the cached size
    resources.load_image_cached(small.getvalue())
    assert resources.load_image_cached(large.getvalue()).shape == (2000, 2500, 3)
    assert calls == [len(small.getvalue())]
    assert resources.IMAGE_CACHE_ENTRIES * resources.IMAGE_CACHE_MAX_PIXELS * 3 <= 200_000_000


def test_make_app_binds_loopback_unless_asked() -> None:
    def dry(*args: str) -> str:
        out = subprocess.run(["make", "-n", "app", *args], cwd=ROOT, capture_output=True, text=True,
                             timeout=60)
        return [ln for ln in out.stdout.splitlines() if "streamlit run" in ln][-1]

    assert "--server.address 127.0.0.1" in dry()
    assert "--server.address 0.0.0.0" in dry("HOST=0.0.0.0")
    assert 'address = "127.0.0.1"' in (ROOT / ".streamlit" / "config.toml").read_text()
