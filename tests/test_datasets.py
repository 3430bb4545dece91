"""Labelled sets: labels files, folders and zips, including broken and hostile ones."""

import io
import stat
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr.errors import DatasetError
from ocr.evaluation.datasets import ZipLimits, open_labelled_set


def _png_bytes(w: int = 40, h: int = 16) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(np.full((h, w), 255, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def _zip(entries: dict[str, bytes], symlinks: dict[str, str] | None = None) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
        for name, target in (symlinks or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buf.getvalue()


def _folder(tmp_path: Path, labels: bytes, images: tuple[str, ...] = ("a.png", "b.png")) -> Path:
    (tmp_path / "img").mkdir()
    for name in images:
        (tmp_path / "img" / name).write_bytes(_png_bytes())
    (tmp_path / "labels.tsv").write_bytes(labels)
    return tmp_path / "labels.tsv"


def test_real_samples_open(real_samples: Path) -> None:
    root = real_samples / "cnocr_multiline"
    with open_labelled_set(root / "labels.tsv") as s:
        assert len(s.runnable) == 12 and s.problems == [] and s.encoding == "utf-8"


def test_bom_crlf_and_blank_lines(tmp_path: Path) -> None:
    labels = _folder(tmp_path, "\ufeffimg/a.png\t你好\r\n\r\nimg/b.png\t世界\r\n".encode())
    with open_labelled_set(labels) as s:
        assert [(x.key, x.text) for x in s.samples] == [("img/a.png", "你好"), ("img/b.png", "世界")]
        assert all(x.error is None for x in s.samples)


def test_gbk_labels_are_detected_and_reported(tmp_path: Path) -> None:
    labels = _folder(tmp_path, "img/a.png\t增值税发票\nimg/b.png\t壹万元整\n".encode("gbk"))
    with open_labelled_set(labels) as s:
        assert s.encoding == "gb18030"
        assert s.samples[0].text == "增值税发票"
        assert any("not UTF-8" in p for p in s.problems)


def test_undecodable_labels_raise_clearly(tmp_path: Path) -> None:
    labels = _folder(tmp_path, b"img/a.png\t\xff\xfe\xff\xfe\x80\x80\n")
    with pytest.raises(DatasetError, match="neither UTF-8 nor GBK"), open_labelled_set(labels):
        pass


def test_row_problems_are_reported_per_row(tmp_path: Path) -> None:
    rows = ("img/a.png\t\nimg/missing.png\t缺\nno-tab-here\nimg/a.png\t重复\n"
            "../etc/passwd\t坏\n/etc/hosts\t坏\n")
    labels = _folder(tmp_path, rows.encode(), images=("a.png", "b.png", "c.png"))
    with open_labelled_set(labels) as s:
        by_line = {x.line_no: x for x in s.samples}
        assert by_line[1].warning == "empty label" and by_line[1].error is None
        assert by_line[2].error == "image file not found"
        assert "TAB" in (by_line[3].error or "")
        assert by_line[4].warning == "duplicate of line 1"
        assert "refused" in (by_line[5].error or "") and "refused" in (by_line[6].error or "")
        assert any("2 image(s) not referenced" in p for p in s.problems)
        assert len(s.runnable) == 2


def test_zip_with_images_opens_and_cleans_up() -> None:
    data = _zip({"set/labels.tsv": b"img/a.png\t\xe4\xbd\xa0\n", "set/img/a.png": _png_bytes()})
    with open_labelled_set(data) as s:
        root = s.root
        assert root.exists() and len(s.runnable) == 1 and s.samples[0].text == "你"
    assert not root.exists()


def test_zip_slip_absolute_and_symlink_entries_are_refused(tmp_path: Path) -> None:
    outside = tmp_path / "evil.txt"
    data = _zip(
        {"labels.tsv": b"a.png\tx\n../evil.png\ty\n", "a.png": _png_bytes(),
         "../evil.png": _png_bytes(), f"{outside}": b"pwned", "../../evil.txt": b"pwned",
         "inner.zip": _zip({"x.png": _png_bytes()})},
        symlinks={"link.png": "/etc/passwd"},
    )
    with open_labelled_set(data) as s:
        root = s.root
        text = "\n".join(s.problems)
        assert "zip-slip" in text and "symlink" in text and "nested archive" in text
        assert not (root / "link.png").exists()
        assert [x.key for x in s.runnable] == ["a.png"]
        assert not (root.parent / "evil.png").exists() and not (root.parent / "evil.txt").exists()
    assert not outside.exists()
    assert not root.exists()


def test_zip_bomb_is_capped() -> None:
    bomb = _zip({"labels.tsv": b"a.png\tx\n", "a.png": b"\0" * (3 * 1024 * 1024)})  # compresses to ~3 KB
    with pytest.raises(DatasetError, match="limit"), open_labelled_set(bomb, limits=ZipLimits(
            max_entry_bytes=1024 * 1024)):
        pass
    many = _zip({f"{i}.png": b"" for i in range(30)})
    with pytest.raises(DatasetError, match="entries"), open_labelled_set(
            many, limits=ZipLimits(max_entries=10)):
        pass
    total = _zip({"labels.tsv": b"", **{f"{i}.bin": b"\0" * 400_000 for i in range(5)}})
    with pytest.raises(DatasetError, match="size limit"), open_labelled_set(total, limits=ZipLimits(
            max_total_bytes=1_000_000)):
        pass


def test_not_a_zip_and_no_labels_file() -> None:
    with pytest.raises(DatasetError, match="not a zip"), open_labelled_set(b"hello"):
        pass
    no_labels = _zip({"a.png": _png_bytes()})
    with pytest.raises(DatasetError, match="no labels file"), open_labelled_set(no_labels):
        pass
    with pytest.raises(DatasetError, match="not a readable zip"), open_labelled_set(b"PK\x03\x04garbage"):
        pass
