"""What a batch job reads: a folder of images (recursive), a labels file or .zip, or a text file of paths.

    with open_inputs("scans/") as inputs:
        for item in inputs.items: ...      # Item(key="2024/a.png", path="/abs/scans/2024/a.png")

Every item has a `key`: the record's `path` in the results, what a rerun compares to skip finished
work. It is the path relative to a folder INPUT, the labels file's own key for a labelled set, and the
line as written for a list of paths (relative lines are read relative to the list file's folder).
An item that cannot be run (a labels row whose image is missing, a path that leaves the set) carries
`error` and becomes a record with that error; it never stops the job.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ocr.errors import DatasetError
from ocr.evaluation.datasets import IMAGE_SUFFIXES, LABEL_NAMES, open_labelled_set

__all__ = ["InputSet", "Item", "open_inputs"]


@dataclass(frozen=True)
class Item:
    """One image to read. path: absolute file path ("" when error is set); label: reference text of a
    labelled set (None otherwise)."""

    key: str
    path: str
    label: str | None = None
    error: str | None = None


@dataclass
class InputSet:
    """The items of one INPUT, in a stable order (sorted keys for a folder, file order otherwise)."""

    kind: str  # "folder", "labels" or "list"
    root: Path
    items: list[Item]
    problems: list[str] = field(default_factory=list)


def _folder_items(root: Path) -> list[Item]:
    found = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    return [Item(p.relative_to(root).as_posix(), str(p.resolve())) for p in found]


def _is_labels_file(path: Path, text: str) -> bool:
    """A labels file is named like one, ends in .tsv, or has a TAB on its first non-empty line."""
    if path.name.lower() in LABEL_NAMES or path.suffix.lower() == ".tsv":
        return True
    first = next((line for line in text.splitlines() if line.strip()), "")
    return "\t" in first


def _list_items(path: Path, text: str) -> list[Item]:
    base = path.parent.resolve()
    items = []
    for line in text.splitlines():
        key = line.strip()
        if not key:
            continue
        file = Path(key) if Path(key).is_absolute() else base / key
        if not file.is_file():
            items.append(Item(key, "", error="image file not found"))
        else:
            items.append(Item(key, str(file.resolve())))
    return items


@contextmanager
def open_inputs(source: str | Path) -> Iterator[InputSet]:
    """The items of a folder, labels file, .zip or list file; a .zip is extracted to a temporary folder
    removed on exit. Raises DatasetError when the source does not exist or cannot be read."""
    path = Path(source)
    if not path.exists():
        raise DatasetError(f"no such file or folder: {path}")
    if path.is_dir():
        items = _folder_items(path)
        yield InputSet("folder", path.resolve(), items,
                       [] if items else [f"no images ({', '.join(sorted(IMAGE_SUFFIXES))}) under {path}"])
        return
    if path.suffix.lower() == ".zip":
        is_labels = True
    else:
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (UnicodeDecodeError, OSError):
            text = ""  # not UTF-8: only a labels file may be GB18030 (open_labelled_set decodes it)
            is_labels = True
        else:
            is_labels = _is_labels_file(path, text)
        if not is_labels:
            yield InputSet("list", path.parent.resolve(), _list_items(path, text))
            return
    with open_labelled_set(path) as lset:
        items = [
            Item(s.key, str(s.image_path.resolve()) if s.image_path is not None else "", s.text, s.error)
            for s in lset.samples
        ]
        yield InputSet("labels", lset.root, items, list(lset.problems))
