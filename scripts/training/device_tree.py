"""Fit the working tree that travels to the device machine (tracked + untracked-not-ignored files + carried
paths, 64 MiB at most) by untracking, for the call only, the big tracked files a device run never reads.

    .venv/bin/python scripts/training/device_tree.py size --carry .devpack/carry   # what would travel
    .venv/bin/python scripts/training/device_tree.py slim      # untrack BIG, ignore them in .git/info/exclude
    ... the device tool's run, carrying .devpack/carry ...
    .venv/bin/python scripts/training/device_tree.py restore   # track them again, drop the exclude lines

`slim` stages the files' removal in the index (`git rm --cached`; the files stay on disk): never commit
between `slim` and `restore`. Sessions 23 and 24 did these steps by hand.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 64 * 2**20
# the tracked files over 5 MB that device_train.py does not read (it loads models/*.pt, the charset and
# the renderers' data): the inference ONNX files and the character 3-gram LM
BIG = ("models/crnn.onnx", "models/crnn_fast.onnx", "ocr/data/lm_jieba_char3.npz")
BEGIN, END = "# device_tree.py slim: begin", "# device_tree.py slim: end"


def git(*args: str) -> str:
    return subprocess.run(["git", *args], cwd=ROOT, check=True, capture_output=True, text=True).stdout


def listed(*args: str) -> list[Path]:
    return [ROOT / p for p in git("ls-files", "-z", *args).split("\0") if p]


def tree_bytes(carry: list[str]) -> tuple[int, list[tuple[int, str]]]:
    """Bytes that would travel, and the ten largest files as (bytes, path)."""
    files = {p for p in listed() + listed("--others", "--exclude-standard") if p.is_file()}
    for c in carry:
        root = ROOT / c
        files |= {p for p in ([root] if root.is_file() else root.rglob("*")) if p.is_file()}
    sizes = sorted(((p.stat().st_size, str(p.relative_to(ROOT))) for p in files), reverse=True)
    return sum(s for s, _ in sizes), sizes[:10]


def exclude_file() -> Path:
    return ROOT / git("rev-parse", "--git-path", "info/exclude").strip()


def slim(paths: tuple[str, ...]) -> None:
    ex = exclude_file()
    text = ex.read_text() if ex.exists() else ""
    if BEGIN in text:
        sys.exit(f"already slim: {ex} holds a `{BEGIN}` block; run `restore` first")
    git("rm", "--cached", "-q", "--", *paths)
    ex.write_text(text.rstrip("\n") + "\n" + "\n".join([BEGIN, *(f"/{p}" for p in paths), END]) + "\n")


def restore() -> None:
    ex = exclude_file()
    lines = ex.read_text().splitlines()
    if BEGIN not in lines:
        sys.exit("nothing to restore: no slim block in " + str(ex))
    a, b = lines.index(BEGIN), lines.index(END)
    paths = [p.lstrip("/") for p in lines[a + 1:b]]
    ex.write_text("\n".join(lines[:a] + lines[b + 1:]) + "\n")
    git("add", "--", *paths)
    left = git("status", "--porcelain", "--", *paths).strip()
    if left:
        sys.exit(f"restored, but git still reports changes:\n{left}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("action", choices=("size", "slim", "restore"))
    ap.add_argument("--carry", action="append", default=[], help="a path the call carries (repeatable)")
    ap.add_argument("--paths", nargs="+", default=list(BIG), help="what `slim` untracks")
    args = ap.parse_args()
    if args.action == "slim":
        slim(tuple(args.paths))
    elif args.action == "restore":
        restore()
    total, top = tree_bytes(args.carry)
    print(f"travels: {total / 2**20:.1f} MiB of {LIMIT / 2**20:.0f} MiB"
          + ("" if total <= LIMIT else "  -- OVER THE LIMIT"))
    for size, path in top:
        print(f"  {size / 2**20:6.1f} MiB  {path}")


if __name__ == "__main__":
    main()
