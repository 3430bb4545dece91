"""Issue 19 against `bench` and the labelled-set loader: encrypted zips, hostile paths in a labels
file, Unicode line breaks inside labels, absurdly wide lines, SIGTERM mid-run, disk-filling zips."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr.engines.registry import available
from ocr.errors import DatasetError
from ocr.evaluation.datasets import ZipLimits, label_rows, open_labelled_set
from tests.test_api_helpers import png_bytes
from tests.tools import attacks

ROOT = Path(__file__).resolve().parents[1]
needs_engine = pytest.mark.skipif(not available("ppocr-v4")[0], reason="ppocr-v4 is not installed")


def _bench(*args: str, tmpdir: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1", **({"TMPDIR": str(tmpdir)} if tmpdir else {})}
    return subprocess.run([sys.executable, "-m", "ocr", "bench", *args, "--engine", "ppocr-v4", "--quiet"],
                          capture_output=True, text=True, cwd=ROOT, env=env, timeout=300)


def _zip(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return buf.getvalue()


def test_encrypted_zip_is_a_clear_refusal(tmp_path: Path) -> None:
    with pytest.raises(DatasetError, match="encrypted"), open_labelled_set(attacks.encrypted_zip()):
        pass


@needs_engine
def test_bench_encrypted_zip_exit_2_without_traceback(tmp_path: Path) -> None:
    path = tmp_path / "locked.zip"
    path.write_bytes(attacks.encrypted_zip())
    proc = _bench(str(path))
    assert proc.returncode == 2 and "encrypted" in proc.stderr and "Traceback" not in proc.stderr


def _hostile_labels(tmp_path: Path) -> Path:
    (tmp_path / "a.png").write_bytes(png_bytes("中文"))
    rows = ["a\0b.png\tnul", ("x" * 1_000_000) + ".png\tlong", "a.png\t中文"]
    labels = tmp_path / "labels.tsv"
    labels.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return labels


def test_nul_and_huge_paths_fail_their_own_rows_only(tmp_path: Path) -> None:
    with open_labelled_set(_hostile_labels(tmp_path)) as lset:
        assert [s.error is None for s in lset.samples] == [False, False, True]
        nul, long = lset.samples[0], lset.samples[1]
        assert "control character" in nul.error and "\0" not in nul.key
        assert "1,000,004 bytes" in long.error and len(long.key) < 200


@needs_engine
def test_bench_hostile_labels_per_row_and_short_lines(tmp_path: Path) -> None:
    proc = _bench(str(_hostile_labels(tmp_path)))
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert max(len(line) for line in proc.stderr.splitlines()) < 1000
    assert "control character" in proc.stderr and "bytes long" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_only_lf_and_crlf_split_rows(tmp_path: Path) -> None:
    text = "a.png\t壹\u2028贰\r\nb.png\t叁\x85肆\nc.png\t伍\x0c陆\x0b柒\x1c捌\n"
    assert label_rows(text) == ["a.png\t壹\u2028贰", "b.png\t叁\x85肆", "c.png\t伍\x0c陆\x0b柒\x1c捌"]
    for name in ("a.png", "b.png", "c.png"):
        (tmp_path / name).write_bytes(png_bytes("一"))
    (tmp_path / "labels.tsv").write_text(text, encoding="utf-8")
    with open_labelled_set(tmp_path / "labels.tsv") as lset:
        assert [s.text for s in lset.samples] == ["壹\u2028贰", "叁\x85肆", "伍\x0c陆\x0b柒\x1c捌"]
        assert all(s.error is None for s in lset.samples)


@needs_engine
def test_a_100000_px_wide_line_is_flagged(tmp_path: Path) -> None:
    """bench flags the row (in-process: the CLI prints row notes, see the hostile-labels test) and
    `recognize` prints the warning (was: garbage, exit 0, no warning)."""
    from ocr.evaluation.bench import run_bench

    wide = np.full((48, 100_000), 255, np.uint8)
    wide[10:38, 100:99_900:60] = 0  # ink all along it
    Image.fromarray(wide).save(tmp_path / "wide.png")
    (tmp_path / "labels.tsv").write_text("wide.png\t一二三\n", encoding="utf-8")
    with open_labelled_set(tmp_path / "labels.tsv") as lset:
        [result] = run_bench(lset, ["ppocr-v4"], ["greedy"])
    assert "squeezed 31×" in (result.samples[0].warning or "")
    rec = subprocess.run([sys.executable, "-m", "ocr", "recognize", str(tmp_path / "wide.png"), "--engine",
                          "ppocr-v4"], capture_output=True, text=True, cwd=ROOT, timeout=300)
    assert rec.returncode == 0 and "warning: the line is 100,000×48 px" in rec.stderr


@needs_engine
def test_sigterm_during_bench_removes_its_temporary_set(tmp_path: Path) -> None:
    line = png_bytes("中文识别测试")
    entries = {f"{i:03d}.png": line for i in range(400)}
    entries["labels.tsv"] = "".join(f"{i:03d}.png\t中文识别测试\n" for i in range(400)).encode()
    (tmp_path / "set.zip").write_bytes(_zip(entries))
    private = tmp_path / "tmp"
    private.mkdir()
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(private)}
    proc = subprocess.Popen([sys.executable, "-m", "ocr", "bench", str(tmp_path / "set.zip"), "--engine",
                             "ppocr-v4", "--quiet"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(600):  # up to 60 s for the set to be extracted
            if list(private.glob("ocr-set-*")) or proc.poll() is not None:
                break
            time.sleep(0.1)
        assert list(private.glob("ocr-set-*")), "bench never extracted its set"
        time.sleep(0.5)  # now inside the run
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143 and "terminated" in err and "Traceback" not in err, err[-2000:]
    assert not list(private.glob("ocr-set-*"))


def test_zip_declaring_more_than_the_limit_reads_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ~60 KB zip of 21 entries x 3 MB (63 MB unpacked) against a 50 MB total: refused from the
    archive's directory before any entry is read or written (was: written up to the limit, then refused)."""
    bomb = _zip({"labels.tsv": b"a.png\tx\n", **{f"{i}.png": b"\0" * 3_000_000 for i in range(21)}})
    assert len(bomb) < 100_000
    opened: list[str] = []
    real_open = zipfile.ZipFile.open

    def counting_open(self: zipfile.ZipFile, name: object, *args: object, **kwargs: object) -> object:
        opened.append(str(name))
        return real_open(self, name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(zipfile.ZipFile, "open", counting_open)
    with pytest.raises(DatasetError, match="refused before extracting"), open_labelled_set(
            bomb, limits=ZipLimits(max_total_bytes=50_000_000)):
        pass
    assert opened == []
