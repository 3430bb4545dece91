"""Build docs/robustness.md by feeding every broken/hostile input to the real CLI and library.

Each row is what actually happened when this script ran: the exit status and the one-line message a
user sees. Run from the repository root: .venv/bin/python -m tools.robustness_table
(it reuses the hostile inputs of tests/bad_inputs.py).
"""

from __future__ import annotations

import io
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

from ocr.errors import DatasetError
from ocr.evaluation.datasets import ZipLimits, open_labelled_set
from tests.bad_inputs import bomb_png

ROOT = Path(__file__).resolve().parents[1]


def _save(img: Image.Image, path: Path, **kw: object) -> Path:
    img.save(path, **kw)
    return path


def image_cases(tmp: Path) -> list[tuple[str, Path]]:
    """(description, file) for each bad or unusual image."""
    line = Image.open(ROOT / "sample_images" / "rendered" / "amount_daxie.png").convert("RGB")
    png = io.BytesIO()
    line.save(png, format="PNG")
    jpg = io.BytesIO()
    line.save(jpg, format="JPEG")
    cases: list[tuple[str, Path]] = []

    def add(desc: str, name: str, data: bytes) -> None:
        p = tmp / name
        p.write_bytes(data)
        cases.append((desc, p))

    add("0-byte file", "empty.png", b"")
    add("truncated PNG (first half)", "trunc.png", png.getvalue()[: len(png.getvalue()) // 2])
    add("truncated JPEG (first half)", "trunc.jpg", jpg.getvalue()[: len(jpg.getvalue()) // 2])
    add("a text file named .png", "text.png", b"hello, I am not an image\n")
    add("PNG declaring 50,000 x 50,000 (decompression bomb)", "bomb.png", bomb_png(50_000, 50_000))
    cases.append(("1 x 1 image", _save(Image.new("RGB", (1, 1), "white"), tmp / "1x1.png")))
    cases.append(("1 x 5000 image", _save(Image.new("L", (1, 5000), 255), tmp / "1x5000.png")))
    cases.append(("5000 x 1 image", _save(Image.new("L", (5000, 1), 255), tmp / "5000x1.png")))
    a16 = (np.asarray(line.convert("L"), np.uint16) * 257).astype(np.uint16)
    cases.append(("16-bit gray PNG", _save(Image.fromarray(a16), tmp / "16bit.png")))
    rgba = line.convert("RGBA")
    alpha = np.where(np.asarray(line.convert("L")) < 128, 255, 0).astype(np.uint8)
    rgba.putalpha(Image.fromarray(alpha))
    cases.append(("RGBA, transparent background", _save(rgba, tmp / "rgba.png")))
    cases.append(("palette GIF", _save(line.convert("P"), tmp / "pal.gif")))
    cases.append(("CMYK JPEG", _save(line.convert("CMYK"), tmp / "cmyk.jpg")))
    rot = line.rotate(90, expand=True)
    exif = Image.Exif()
    exif[0x0112] = 6  # stored turned 90° counter-clockwise; orientation 6 says "turn 90° clockwise to view"
    cases.append(("EXIF-rotated JPEG (orientation 6)", _save(rot, tmp / "exif.jpg", exif=exif)))
    frames = [line, Image.new("RGB", line.size, "black")]
    frames[0].save(tmp / "anim.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    cases.append(("animated GIF (2 frames)", tmp / "anim.gif"))
    cases.append(("all-white image", _save(Image.new("RGB", (300, 48), "white"), tmp / "white.png")))
    cases.append(("all-black image", _save(Image.new("RGB", (300, 48), "black"), tmp / "black.png")))
    return cases


def _cli(path: Path) -> tuple[int, str]:
    proc = subprocess.run([sys.executable, "-m", "ocr", "recognize", str(path), "--engine", "ppocr-v4"],
                          capture_output=True, text=True, cwd=ROOT, timeout=300)
    if proc.returncode == 0:
        return 0, f"text: {proc.stdout.strip()!r}"
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    return proc.returncode, " / ".join(lines[-2:])


def _zip(entries: dict[str, bytes], symlink: bool = False) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for k, v in entries.items():
            zf.writestr(k, v)
        if symlink:
            info = zipfile.ZipInfo("link.png")
            info.external_attr = (0o120777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


def set_cases() -> list[tuple[str, bytes]]:
    ok = (ROOT / "sample_images" / "rendered" / "amount_daxie.png").read_bytes()
    row = "a.png\t壹万贰仟叁佰肆拾伍元整\n"
    return [
        ("zip entries with ../ and an absolute path (zip-slip)",
         _zip({"labels.tsv": row + "../x.png\tx\n", "a.png": ok, "../x.png": ok, "/tmp/abs.png": ok})),
        ("symlink inside the zip", _zip({"labels.tsv": row, "a.png": ok}, symlink=True)),
        ("zip bomb (one 60 MB entry of zeros)", _zip({"labels.tsv": row, "a.png": b"\0" * 60_000_000})),
        ("nested zip", _zip({"labels.tsv": row, "a.png": ok, "inner.zip": _zip({"b.png": ok})})),
        ("GBK labels file", _zip({"labels.tsv": row.encode("gbk"), "a.png": ok})),
        ("labels with a BOM and CRLF", _zip({"labels.tsv": ("\ufeff" + row.replace("\n", "\r\n")).encode(),
                                             "a.png": ok})),
        ("empty label", _zip({"labels.tsv": b"a.png\t\n", "a.png": ok})),
        ("label pointing at a missing image", _zip({"labels.tsv": (row + "gone.png\tx\n").encode(),
                                                    "a.png": ok})),
        ("duplicate paths", _zip({"labels.tsv": (row + row).encode(), "a.png": ok})),
        ("image not referenced by the labels", _zip({"labels.tsv": row.encode(), "a.png": ok, "b.png": ok})),
        ("undecodable labels file (neither UTF-8 nor GBK)", _zip({"labels.tsv": b"a.png\t\xff\xfe\x80\x80\n",
                                                                  "a.png": ok})),
        ("no labels file in the zip", _zip({"a.png": ok})),
        ("not a zip at all", b"PK\x03\x04 this is not really a zip"),
    ]


def _set_outcome(data: bytes) -> str:
    try:
        with open_labelled_set(data, limits=ZipLimits()) as s:
            rows = [f"line {x.line_no}: {x.error or x.warning}" for x in s.samples if x.error or x.warning]
            return "; ".join([f"{len(s.runnable)} runnable row(s)", *rows, *s.problems])
    except DatasetError as exc:
        return f"refused: {exc}"


def main() -> None:
    out = ["# What bad input does\n",
           "Generated by `python -m tools.robustness_table`, which feeds each input to the real CLI "
           "(`python -m ocr recognize FILE --engine ppocr-v4`) or to `open_labelled_set` (what the bench "
           "CLI and the Benchmark page use) and records what happened. The same cases are tests in "
           "`tests/` (test_imageio.py, test_datasets.py, test_cli.py, test_app.py).\n",
           "## Images\n", "| input | exit | what the user sees |", "|---|---|---|"]
    with tempfile.TemporaryDirectory() as d:
        for desc, path in image_cases(Path(d)):
            code, msg = _cli(path)
            out.append(f"| {desc} | {code} | {msg.replace('|', '/')} |")
    out += ["", "## Labelled sets (zip uploads)\n", "| input | outcome |", "|---|---|"]
    for desc, data in set_cases():
        out.append(f"| {desc} | {_set_outcome(data).replace('|', '/')} |")
    (ROOT / "docs").mkdir(exist_ok=True)
    (ROOT / "docs" / "robustness.md").write_text("\n".join(out) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
