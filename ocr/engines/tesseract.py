"""Tesseract 5 (LSTM, chi_sim) as a text-only engine: no CTC matrix, one `read_text` per line.

Runs the `tesseract` binary directly (the same command pytesseract builds: `-l chi_sim --psm 7`,
psm 7 = "treat the image as a single text line"), feeding a PNG on stdin and reading stdout: no
temporary files, so concurrent calls are independent, and OMP_THREAD_LIMIT=1 per process so
parallel calls do not oversubscribe the 2-core machine with OpenMP threads.

Space rule: Tesseract separates CJK characters with spaces. Every whitespace run that touches a
CJK character (Han ideographs, CJK symbols and punctuation, full-width forms, kana) on either side
is removed; other whitespace runs (between Latin letters or digits) become one space.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.engines.base import Engine, InputSpec
from ocr.engines.registry import engine_title
from ocr.errors import EngineUnavailable, OCRError, UnknownEngine

__all__ = ["LANG", "TESSERACT_SPEC", "TesseractEngine", "check", "join_cjk", "load"]

NAME = "tesseract"
LANG = "chi_sim"
PSM = "7"
TIMEOUT_S = 60.0
# Tesseract takes any size: no resize, no padding. Gray in (it binarises internally).
TESSERACT_SPEC = InputSpec(
    height=None, channels=1, downsample=1, min_width=1, width_multiple=1, pad_value=255
)

_CJK = (
    "\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff"
    "\uf900-\ufaff\ufe30-\ufe4f\uff00-\uffef\U00020000-\U0003134f"
)
_SPACE_NEAR_CJK = re.compile(rf"(?<=[{_CJK}])\s+|\s+(?=[{_CJK}])")
_SPACES = re.compile(r"\s+")


def join_cjk(text: str) -> str:
    """Remove whitespace next to CJK characters; collapse the rest to single spaces; strip."""
    return _SPACES.sub(" ", _SPACE_NEAR_CJK.sub("", text)).strip()


def _binary() -> str | None:
    return os.environ.get("OCR_TESSERACT_CMD") or shutil.which("tesseract")


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"
    return env


def _languages(binary: str) -> tuple[list[str], str | None]:
    """(installed languages, error)."""
    try:
        done = subprocess.run(
            [binary, "--list-langs"], capture_output=True, text=True, timeout=TIMEOUT_S, env=_env()
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [], f"cannot run {binary}: {exc}"
    if done.returncode != 0:
        return [], f"`{binary} --list-langs` failed: {done.stderr.strip()[:200]}"
    lines = [ln.strip() for ln in done.stdout.splitlines()]
    return [ln for ln in lines[1:] if ln], None


def check(name: str) -> str | None:
    """Why Tesseract cannot run here (missing binary, or missing chi_sim traineddata), or None."""
    if name != NAME:
        raise UnknownEngine(f"ocr.engines.tesseract has no engine {name!r}")
    binary = _binary()
    if binary is None:
        return "the tesseract binary is not installed (apt-get install tesseract-ocr tesseract-ocr-chi-sim)"
    langs, err = _languages(binary)
    if err:
        return err
    if LANG not in langs:
        return (f"tesseract has no {LANG} traineddata (installed: {', '.join(langs) or 'none'}); "
                "apt-get install tesseract-ocr-chi-sim")
    return None


class TesseractEngine(Engine):
    """Text-only engine: `read_text(image)` -> str. Thread-safe (one process per call)."""

    name = NAME
    title = engine_title(NAME)
    has_ctc = False
    input_spec = TESSERACT_SPEC

    def __init__(self, binary: str, version: str, traineddata: Path | None) -> None:
        self.binary = binary
        self.version = version
        self.traineddata = traineddata

    def read_text(self, image: np.ndarray) -> str:
        """Text of one line image, uint8 (H, W) gray or (H, W, 3) RGB, CJK spaces removed."""
        if not isinstance(image, np.ndarray) or image.dtype != np.uint8 or image.ndim not in (2, 3):
            raise OCRError("tesseract expects a uint8 (H, W) or (H, W, 3) image")
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG", compress_level=1)
        cmd = [self.binary, "stdin", "stdout", "-l", LANG, "--psm", PSM]
        try:
            done = subprocess.run(
                cmd, input=buf.getvalue(), capture_output=True, timeout=TIMEOUT_S, env=_env()
            )
        except subprocess.TimeoutExpired:
            raise OCRError(f"tesseract took longer than {TIMEOUT_S:g} s on one line") from None
        except OSError as exc:
            raise OCRError(f"cannot run tesseract: {exc}") from exc
        if done.returncode != 0:
            msg = done.stderr.decode("utf-8", "replace").strip().splitlines()
            raise OCRError(f"tesseract failed: {msg[-1] if msg else 'exit code ' + str(done.returncode)}")
        return join_cjk(done.stdout.decode("utf-8", "replace"))

    def describe(self) -> dict[str, object]:
        """Binary, version, traineddata, mode, licence."""
        size = self.traineddata.stat().st_size if self.traineddata and self.traineddata.exists() else None
        return {
            "engine": self.name,
            "title": self.title,
            "binary": self.binary,
            "version": self.version,
            "model_file": str(self.traineddata) if self.traineddata else f"{LANG}.traineddata",
            "model_size_mb": round(size / 1e6, 1) if size else None,
            "classes": None,
            "input": "any size, gray (Tesseract binarises internally); no resize",
            "mode": f"-l {LANG} --psm {PSM} (one text line); text only, no CTC matrix",
            "spaces": "whitespace next to CJK characters removed",
            "licence": "Apache-2.0 (Tesseract and tessdata)",
        }


def _traineddata(binary: str) -> Path | None:
    prefix = os.environ.get("TESSDATA_PREFIX")
    candidates = [Path(prefix)] if prefix else []
    candidates += [
        Path("/usr/share/tesseract-ocr/5/tessdata"),
        Path("/usr/share/tesseract-ocr/4.00/tessdata"),
        Path(binary).resolve().parent.parent / "share" / "tessdata",
    ]
    for folder in candidates:
        if (folder / f"{LANG}.traineddata").is_file():
            return folder / f"{LANG}.traineddata"
    return None


def load(name: str) -> TesseractEngine:
    """Check the binary and chi_sim once; the registry calls this once per process."""
    why = check(name)
    binary = _binary()
    if why or binary is None:
        raise EngineUnavailable(why or "tesseract not found")
    cmd = [binary, "--version"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT_S, env=_env())
    first = (done.stdout or done.stderr).strip().splitlines()
    return TesseractEngine(binary, first[0] if first else "unknown", _traineddata(binary))
