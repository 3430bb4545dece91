"""Labelled line sets: a PaddleOCR-style labels file (`relative/path<TAB>text[<TAB>subset]`), a folder
holding one (or, with none at its top, one labels file per subfolder: combined, subset = subfolder), a
`.zip` holding one with its images, or an LMDB folder (`data.mdb`) in the layout of
deep-text-recognition-benchmark and BCTR: `num-samples`, `image-%09d` (encoded image bytes) and
`label-%09d` (UTF-8), counted from 1; reading it needs the optional `lmdb` package.

Each sample has a subset: the third column when given, else the first folder of its path ("" for a file
at the top), so results can be broken down per subset.

Problems are reported, not raised: a bad row becomes a Sample with `error` set (not run) or `warning`
set (run, but worth a look); set-level findings go to LabelledSet.problems. Only an unreadable set as a
whole (no labels file, an undecodable labels file, an archive over the caps) raises DatasetError.

Archives are extracted into a private temporary folder that is removed when the context exits:
entries with absolute paths or `..` (zip-slip), symlinks and nested archives are never written;
encrypted archives are refused; entry count, per-entry size and total size are checked from the
archive's directory before anything is written (and against the free disk space), then counted
again while bytes are actually read (headers can lie).

Rows are split on `\n` and `\r\n` only: other Unicode line breaks (U+2028, U+0085, form feed, ...)
stay inside the label. A row whose path holds a control character (NUL) or is too long for a file
system is refused on its own row, with the path shortened in the message.
"""

from __future__ import annotations

import io
import re
import shutil
import stat
import tempfile
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from ocr.errors import DatasetError

__all__ = ["LIMITS", "LabelledSet", "Sample", "ZipLimits", "label_rows", "open_labelled_set", "parse_labels",
           "path_problem", "short_name"]

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
    subset: str = ""


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


MAX_PATH_BYTES = 4096  # Linux PATH_MAX
MAX_NAME_BYTES = 255  # one path component
_ROWS = re.compile(r"\r?\n")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def label_rows(text: str) -> list[str]:
    """The rows of a labels file: split on LF and CRLF only (a final line break ends the last row)."""
    rows = _ROWS.split(text)
    return rows[:-1] if rows and rows[-1] == "" else rows


def short_name(name: str, limit: int = 80) -> str:
    """A file name as messages show it: control characters escaped, at most `limit` characters."""
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", name)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(name):,} characters)"


def path_problem(rel: str) -> str | None:
    """Why `rel` cannot name a file here (a control character, too long), or None."""
    found = _CONTROL.search(rel)
    if found:
        return f"path holds a control character (\\x{ord(found.group()):02x}); refused"
    size = len(rel.encode("utf-8", "surrogatepass"))
    if size > MAX_PATH_BYTES:
        return f"path is {size:,} bytes long; the limit is {MAX_PATH_BYTES}"
    if any(len(part.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES for part in re.split(r"[/\\]", rel)):
        return f"a folder or file name in the path is longer than {MAX_NAME_BYTES} bytes"
    return None


def _inside(root: Path, rel: str) -> Path | None:
    """root/rel resolved, or None if it would leave root (.., absolute path, symlink out) or cannot be
    a path here (control characters, too long)."""
    if path_problem(rel) is not None:
        return None
    pure = PurePosixPath(rel.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or (pure.parts and ":" in pure.parts[0]):
        return None
    try:
        path = (root / pure).resolve()
    except (OSError, ValueError):
        return None
    return path if path.is_relative_to(root.resolve()) else None


def _is_file(path: Path) -> tuple[bool, str | None]:
    """(is a regular file, why it cannot be checked) without raising."""
    try:
        return path.is_file(), None
    except (OSError, ValueError) as exc:
        return False, (exc.strerror if isinstance(exc, OSError) and exc.strerror else type(exc).__name__)


def parse_labels(text: str, root: Path) -> tuple[list[Sample], list[str]]:
    """Rows of a labels file (LF/CRLF only, blank lines skipped) -> samples and set-level problems."""
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for no, line in enumerate(label_rows(text), start=1):
        if not line.strip():
            continue
        if "\t" not in line:
            samples.append(Sample(short_name(line.strip()), "", None, no,
                                  error="no TAB between image path and text"))
            continue
        key, label = line.split("\t", 1)
        key = key.strip()
        label = label.rstrip("\r\n")
        bad_path = path_problem(key)
        if bad_path is not None:
            samples.append(Sample(short_name(key), label, None, no, error=bad_path, subset=""))
            continue
        subset = _first_folder(key)
        if "\t" in label:  # a third column names the subset
            label, subset = label.split("\t", 1)
            subset = subset.strip()
        warning = None
        if not label.strip():
            warning = "empty label"
        if key in seen:
            warning = f"duplicate of line {seen[key]}"
        seen.setdefault(key, no)
        path = _inside(root, key)
        found, unreadable = _is_file(path) if path is not None else (False, None)
        if path is None:
            samples.append(Sample(key, label, None, no, error="path leaves the set's folder; refused",
                                  subset=subset))
        elif unreadable is not None:
            samples.append(Sample(key, label, None, no, error=f"image cannot be read ({unreadable})",
                                  subset=subset))
        elif not found:
            samples.append(Sample(key, label, None, no, error="image file not found", subset=subset))
        elif path.suffix.lower() not in IMAGE_SUFFIXES:
            kind = path.suffix or "(none)"
            samples.append(Sample(key, label, None, no, error=f"not an image type: {kind}", subset=subset))
        else:
            samples.append(Sample(key, label, path, no, warning=warning, subset=subset))
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


def _first_folder(key: str) -> str:
    """The first folder of a relative path ("" for a file at the top)."""
    parts = PurePosixPath(key.replace("\\", "/")).parts
    return parts[0] if len(parts) > 1 else ""


def _subfolder_labels(root: Path) -> list[Path]:
    """One labels file per immediate subfolder, when the folder has none at its top and >= 2 of them."""
    if any((root / n).is_file() for n in LABEL_NAMES) or any(root.glob("*.tsv")):
        return []
    found = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = [sub / n for n in LABEL_NAMES if (sub / n).is_file()] or sorted(sub.glob("*.tsv"))
        if files:
            found.append(files[0])
    return found if len(found) >= 2 else []


def _has_labels_file(root: Path) -> bool:
    return any(p.is_file() and (p.name.lower() in LABEL_NAMES or p.suffix == ".tsv") for p in root.rglob("*"))


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
        if any(info.flag_bits & 0x1 for info in infos):
            raise DatasetError("the archive is encrypted (password-protected); upload one without a password")
        chosen: list[tuple[zipfile.ZipInfo, Path]] = []
        for info in infos:
            name = info.filename
            mode = info.external_attr >> 16
            if info.is_dir():
                continue
            if stat.S_ISLNK(mode):
                problems.append(f"{short_name(name)}: symlink in archive; refused")
                continue
            bad_path = path_problem(name)
            if bad_path is not None:
                problems.append(f"{short_name(name)}: {bad_path}")
                continue
            target = _inside(dest, name)
            if target is None:
                problems.append(f"{short_name(name)}: path leaves the archive's folder (zip-slip); refused")
                continue
            if name.lower().endswith((".zip", ".tar", ".gz", ".7z", ".rar")):
                problems.append(f"{short_name(name)}: nested archive; not extracted")
                continue
            if info.file_size > limits.max_entry_bytes:
                raise DatasetError(f"{short_name(name)}: {info.file_size} bytes unpacked; the per-file limit "
                                   f"is {limits.max_entry_bytes}")
            chosen.append((info, target))
        _check_room(sum(info.file_size for info, _ in chosen), dest, limits)
        total = 0
        for info, target in chosen:
            name = info.filename
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
            except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, RuntimeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) and exc.strerror else short_name(str(exc), 120)
                problems.append(f"{short_name(name)}: cannot be extracted ({why})")
                target.unlink(missing_ok=True)
    return problems


DISK_MARGIN_BYTES = 100 * 1024 * 1024  # left free on the temporary folder's disk


def _check_room(declared: int, dest: Path, limits: ZipLimits) -> None:
    """Refuse, before writing anything, an archive whose directory declares more bytes than the total
    limit or than the free space of `dest`'s disk (less a margin)."""
    if declared > limits.max_total_bytes:
        raise DatasetError(f"archive unpacks to {declared:,} bytes, past its size limit of "
                           f"{limits.max_total_bytes:,} bytes in all; refused before extracting")
    free = shutil.disk_usage(dest).free
    if declared > free - DISK_MARGIN_BYTES:
        spare = max(free - DISK_MARGIN_BYTES, 0) / 1e6
        raise DatasetError(f"archive unpacks to {declared / 1e6:,.0f} MB; the server's temporary disk has "
                           f"{spare:,.0f} MB to spare; refused before extracting")


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
            lmdb_in_zip = next((p.parent for p in sorted(tmp.rglob("data.mdb"))), None)
            if lmdb_in_zip is not None and not _has_labels_file(tmp):  # a zipped LMDB folder
                out = Path(tempfile.mkdtemp(prefix="lmdb-", dir=tmp))
                problems += _extract_lmdb(lmdb_in_zip, out, limits)
                labels_file = out / "labels.tsv"
            else:
                labels_file = _find_labels_file(tmp)
            default_name = "upload.zip" if isinstance(source, bytes) else Path(source).name
        elif isinstance(source, bytes):
            raise DatasetError("uploaded bytes are not a zip archive; upload a .zip with a labels file")
        elif _is_lmdb(Path(source)):
            tmp = Path(tempfile.mkdtemp(prefix="ocr-lmdb-"))
            lmdb_dir = Path(source) if Path(source).is_dir() else Path(source).parent
            problems = _extract_lmdb(lmdb_dir, tmp, limits)
            labels_file = tmp / "labels.tsv"
            default_name = lmdb_dir.name
        elif Path(source).is_dir() and (subs := _subfolder_labels(Path(source))):
            yield _combined(Path(source), subs, name)
            return
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


def _combined(root: Path, files: list[Path], name: str | None) -> LabelledSet:
    """One set from a labels file per subfolder: keys become `subfolder/path`, subset = subfolder."""
    samples: list[Sample] = []
    problems: list[str] = []
    encodings = set()
    for f in files:
        text, encoding = _decode_labels(f.read_bytes())
        encodings.add(encoding)
        sub = f.parent.relative_to(root).as_posix()
        rows, more = parse_labels(text, f.parent)
        problems += [f"{sub}: {p}" for p in more]
        for s in rows:  # a third column keeps its subset; otherwise the subfolder names it
            explicit = s.subset != _first_folder(s.key)
            samples.append(replace(s, key=f"{sub}/{s.key}", subset=s.subset if explicit else sub))
    problems.insert(0, f"combined {len(files)} labels files: " + ", ".join(
        f.relative_to(root).as_posix() for f in files))
    return LabelledSet(name or root.name, root, files[0], samples, "/".join(sorted(encodings)), problems)


_MAGIC = ((b"\x89PNG", ".png"), (b"\xff\xd8", ".jpg"), (b"GIF8", ".gif"), (b"BM", ".bmp"),
          (b"II*\x00", ".tif"), (b"MM\x00*", ".tif"))


def _image_suffix(data: bytes) -> str:
    """File suffix from an encoded image's first bytes (".bin" when unknown: refused as not an image)."""
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return ".webp"
    return next((suffix for magic, suffix in _MAGIC if data.startswith(magic)), ".bin")


def _is_lmdb(path: Path) -> bool:
    return (path / "data.mdb").is_file() if path.is_dir() else path.name == "data.mdb"


def _extract_lmdb(folder: Path, dest: Path, limits: ZipLimits) -> list[str]:
    """Write an LMDB set's images and a labels.tsv into dest; returns problems. Raises DatasetError."""
    try:
        import lmdb
    except ImportError:
        raise DatasetError("reading an LMDB set needs the lmdb package: pip install lmdb==3.0.0") from None
    problems: list[str] = []
    try:
        env = lmdb.open(str(folder), readonly=True, lock=False, readahead=False, meminit=False,
                        max_readers=1)
    except lmdb.Error as exc:
        raise DatasetError(f"not a readable LMDB set: {exc}") from None
    rows = []
    total = 0
    with env, env.begin(write=False) as txn:
        raw_n = txn.get(b"num-samples")
        try:
            n = int(raw_n.decode()) if raw_n is not None else -1
        except (UnicodeDecodeError, ValueError):
            n = -1
        if n < 0:
            raise DatasetError("LMDB set has no valid num-samples key (expected image-%09d/label-%09d)")
        if n > limits.max_entries:
            raise DatasetError(f"LMDB set has {n} samples; the limit is {limits.max_entries}")
        for i in range(1, n + 1):
            image, label = txn.get(b"image-%09d" % i), txn.get(b"label-%09d" % i)
            if label is None:
                problems.append(f"sample {i}: no label-{i:09d}; skipped")
                continue
            try:
                text = label.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"sample {i}: label is not UTF-8; skipped")
                continue
            if "\t" in text or "\n" in text or "\r" in text:
                text = " ".join(text.split())
                problems.append(f"sample {i}: tab or line break in the label replaced by a space")
            if image is None:
                rows.append(f"image-{i:09d}.missing\t{text}\n")
                continue
            if len(image) > limits.max_entry_bytes:
                raise DatasetError(f"sample {i}: image of {len(image)} bytes; the limit is "
                                   f"{limits.max_entry_bytes}")
            total += len(image)
            if total > limits.max_total_bytes:
                raise DatasetError(f"LMDB set is over {limits.max_total_bytes} bytes of images; refused")
            name = f"image-{i:09d}{_image_suffix(image)}"
            (dest / name).write_bytes(image)
            rows.append(f"{name}\t{text}\n")
    (dest / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    return problems


def write_labels(samples: list[tuple[str, str]], path: Path) -> None:
    """Write `key<TAB>text` rows as UTF-8 with LF line ends."""
    path.write_text("".join(f"{k}\t{t}\n" for k, t in samples), encoding="utf-8")

