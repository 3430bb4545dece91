"""Labelled line sets: a PaddleOCR-style labels file (`relative/path<TAB>text`), a folder holding one,
or a `.zip` holding one with its images.

Problems are reported, not raised: a bad row becomes a Sample with `error` set (not run) or `warning`
set (run, but worth a look); set-level findings go to LabelledSet.problems. Only an unreadable set as a
whole (no labels file, an undecodable labels file, an archive over the caps) raises DatasetError.

Archives are extracted into a private temporary folder that is removed when the context exits:
entries with absolute paths or `..` (zip-slip), symlinks and nested archives are never written;
entry count, per-entry size and total size are capped while bytes are actually read (headers can lie).
"""

from __future__ import annotations

import io
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from ocr.errors import DatasetError

__all__ = ["LIMITS", "LabelledSet", "Sample", "ZipLimits", "open_labelled_set", "parse_labels"]

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff", ".gif"}
LABEL_NAMES = ("labels.tsv", "labels.txt", "label.txt", "gt.txt", "rec_gt.txt", "rec_gt_test.txt")


@dataclass(frozen=True)
class ZipLimits:
    """Caps for an uploaded archive (a zip bomb stops at the first cap it crosses)."""

    max_entries: int = 20_000
    max_entry_bytes: int = 50 * 1024 * 1024
    max_total_bytes: int = 1024 * 1024 * 1024


LIMITS = ZipLimits()


@dataclass(frozen=True)
class Sample:
    """One row of a labels file. image_path is None when the image can't be used (see error)."""

    key: str
    text: str
    image_path: Path | None
    line_no: int
    error: str | None = None
    warning: str | None = None


@dataclass
class LabelledSet:
    """A labelled set ready to run. `encoding` is how the labels file was decoded."""

    name: str
    root: Path
    labels_file: Path
    samples: list[Sample]
    encoding: str
    problems: list[str] = field(default_factory=list)

    @property
    def runnable(self) -> list[Sample]:
        """Samples with an image to run."""
        return [s for s in self.samples if s.error is None]


def _decode_labels(raw: bytes) -> tuple[str, str]:
    """(text, encoding): UTF-8 (BOM stripped) first, then GB18030 (a superset of GBK/GB2312)."""
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("gb18030"), "gb18030"
    except UnicodeDecodeError as exc:
        raise DatasetError(
            f"labels file is neither UTF-8 nor GBK/GB18030 (byte {exc.start}); save it as UTF-8"
        ) from None


def _inside(root: Path, rel: str) -> Path | None:
    """root/rel resolved, or None if it would leave root (.., absolute path, symlink out)."""
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        return None
    path = (root / pure).resolve()
    return path if path.is_relative_to(root.resolve()) else None


def parse_labels(text: str, root: Path) -> tuple[list[Sample], list[str]]:
    """Rows of a labels file (CRLF/LF, blank lines skipped) -> samples and set-level problems."""
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            samples.append(Sample(line.strip(), "", None, no, error="no TAB between image path and text"))
            continue
        key, label = line.split("\t", 1)
        key = key.strip()
        label = label.rstrip("\r\n")
        warning = None
        if not label.strip():
            warning = "empty label"
        if key in seen:
            warning = f"duplicate of line {seen[key]}"
        seen.setdefault(key, no)
        path = _inside(root, key)
        if path is None:
            samples.append(Sample(key, label, None, no, error="path leaves the set's folder; refused"))
        elif not path.is_file():
            samples.append(Sample(key, label, None, no, error="image file not found"))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            kind = path.suffix or "(none)"
            samples.append(Sample(key, label, None, no, error=f"not an image type: {kind}"))
        else:
            samples.append(Sample(key, label, path, no, warning=warning))
    problems: list[str] = []
    if not samples:
        problems.append("the labels file has no rows")
    referenced = {s.image_path for s in samples if s.image_path is not None}
    unreferenced = sorted(
        str(p.relative_to(root.resolve()))
        for p in root.resolve().rglob("*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file() and p not in referenced
    )
    if unreferenced:
        shown = ", ".join(unreferenced[:5]) + (" …" if len(unreferenced) > 5 else "")
        problems.append(f"{len(unreferenced)} image(s) not referenced by the labels file: {shown}")
    return samples, problems


def _find_labels_file(root: Path) -> Path:
    """The labels file in a folder: a known name at the shallowest depth, else the only .tsv."""
    candidates = [p for p in root.rglob("*") if p.is_file() and p.name.lower() in LABEL_NAMES]
    if not candidates:
        candidates = [p for p in root.rglob("*.tsv") if p.is_file()]
    if not candidates:
        raise DatasetError(f"no labels file ({', '.join(LABEL_NAMES)} or *.tsv) found in the set")
    candidates.sort(key=lambda p: (len(p.relative_to(root).parts), LABEL_NAMES.index(p.name.lower())
                                   if p.name.lower() in LABEL_NAMES else 99, str(p)))
    return candidates[0]


def _extract_zip(data: bytes | Path, dest: Path, limits: ZipLimits) -> list[str]:
    """Extract safely into dest; returns problems (refused entries). Raises DatasetError over caps."""
    problems: list[str] = []
    try:
        zf = zipfile.ZipFile(io.BytesIO(data) if isinstance(data, bytes) else data)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DatasetError(f"not a readable zip archive: {exc}") from None
    with zf:
        infos = zf.infolist()
        if len(infos) > limits.max_entries:
            raise DatasetError(f"archive has {len(infos)} entries; the limit is {limits.max_entries}")
        total = 0
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                problems.append(f"{name}: symlink in archive; refused")
                continue
            target = _inside(dest, name)
            if target is None:
                problems.append(f"{name}: path leaves the archive's folder (zip-slip); refused")
                continue
            if name.lower().endswith((".zip", ".tar", ".gz", ".7z", ".rar")):
                problems.append(f"{name}: nested archive; not extracted")
                continue
            if info.file_size > limits.max_entry_bytes:
                raise DatasetError(f"{name}: {info.file_size} bytes unpacked; the per-file limit is "
                                   f"{limits.max_entry_bytes}")
            target.parent.mkdir(parents=True, exist_ok=True)
            try:
                with zf.open(info) as src, open(target, "wb") as out:
                    written = 0
                    while chunk := src.read(1 << 16):
                        written += len(chunk)
                        total += len(chunk)
                        if written > limits.max_entry_bytes or total > limits.max_total_bytes:
                            raise DatasetError("archive unpacks past its size limit "
                                               f"({limits.max_total_bytes} bytes in all); refused")
                        out.write(chunk)
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError) as exc:
                problems.append(f"{name}: cannot be extracted ({exc})")
                target.unlink(missing_ok=True)
    return problems


def _is_zip(source: str | Path | bytes) -> bool:
    if isinstance(source, bytes):
        return source[:4] == b"PK\x03\x04" or source[:4] == b"PK\x05\x06"
    return Path(source).suffix.lower() == ".zip"


@contextmanager
def open_labelled_set(
    source: str | Path | bytes, name: str | None = None, limits: ZipLimits = LIMITS
) -> Iterator[LabelledSet]:
    """Open a labels file, a folder, or a zip (path or bytes). Temporary files are removed on exit."""
    tmp: Path | None = None
    try:
        if _is_zip(source):
            tmp = Path(tempfile.mkdtemp(prefix="ocr-set-"))
            problems = _extract_zip(source if isinstance(source, bytes) else Path(source), tmp, limits)
            labels_file = _find_labels_file(tmp)
            default_name = "upload.zip" if isinstance(source, bytes) else Path(source).name
        elif isinstance(source, bytes):
            raise DatasetError("uploaded bytes are not a zip archive; upload a .zip with a labels file")
        else:
            path = Path(source)
            if not path.exists():
                raise DatasetError(f"no such file or folder: {path}")
            labels_file = _find_labels_file(path) if path.is_dir() else path
            problems = []
            default_name = path.name if path.is_dir() else path.parent.name
        raw = labels_file.read_bytes()
        text, encoding = _decode_labels(raw)
        if encoding != "utf-8":
            problems.append(f"labels file is {encoding.upper()}, not UTF-8; decoded as {encoding.upper()}")
        samples, more = parse_labels(text, labels_file.parent)
        yield LabelledSet(name or default_name, labels_file.parent, labels_file, samples, encoding,
                          problems + more)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def write_labels(samples: list[tuple[str, str]], path: Path) -> None:
    """Write `key<TAB>text` rows as UTF-8 with LF line ends."""
    path.write_text("".join(f"{k}\t{t}\n" for k, t in samples), encoding="utf-8")

