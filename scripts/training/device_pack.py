"""Pack what an on-device training run needs beside the repository (issue 15, session 10).

    PYTHONPATH=/tmp/ft .venv/bin/python scripts/training/device_pack.py [OUT] [CRNN_BASE]
    # fontTools + brotli in /tmp/ft; OUT defaults to .devpack/carry; crnn_init.pt only when CRNN_BASE is
    # given (session 10 grew the session-2 crnn: git show ad56094:models/crnn.pt > /tmp/crnn_s2.pt; the
    # shipped models already have the charset and head, and device_train.py starts from them)
    # the training faces must be installed first: scripts/install_system.sh --training

The device copy of the repository carries at most 64 MiB, so everything is cut to fit:
- fonts/NAME.woff2: the 18 training faces of KEEP subset to our 9,699-class charset and WOFF2-compressed
  (a Noto CJK .ttc is 18-26 MB; one face cut to the charset is ~0.6-2.4 MB as WOFF2), and fonts/map.json
  {"path|index": "fonts/NAME.woff2"}; the device script points `pil_font` at them. Faces left out to fit:
  tw-kai, babelstone-han, cwfs, cwyen, ukai-cn, gkai00mp, noto-sans-hk, noto-sans-tc-bold,
  noto-sans-tc-black, noto-sans-sc-medium and four noto-serif-sc weights (light, extralight, medium,
  semibold) and noto-serif-sc-black; since session 24, whose copy also carried models/crnn.pt, also
  noto-sans-sc-black and noto-serif-tc-light.
- jieba_dict.txt.xz: jieba's dict.txt (the corpus reads it through `ocr.charset.jieba_words`).
- whl/: Pillow 13.0.0 (reads WOFF2) and OpenCC 1.4.2 wheels for the device's Python 3.12.
- crnn_init.pt (only with CRNN_BASE): CRNN_BASE (session 10: the session-2 `crnn`, 6,995 classes, full
  head) grown to the 9,699-class charset (a new traditional character starts from its simplified form's
  row) and its head factorised to rank 256.
"""
from __future__ import annotations

import json
import lzma
import os
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from ocr.charset import load_charset
from ocr.models.checkpoint import load_checkpoint, save_export
from ocr.models.port import extend_classes
from ocr.training.synth import kinds
from ocr.training.synth.fonts import HELD_OUT_FONT

KEEP = ("noto-sans-sc", "noto-sans-sc-bold", "noto-serif-sc", "noto-serif-sc-bold", "wqy-zenhei",
        "wqy-microhei", "lxgw-wenkai", "smiley-sans", "noto-sans-tc", "noto-serif-tc",
        "noto-serif-tc-bold", "bsmi00lp", "bkai00mp", "tw-sung", "cwkai", "cwheib",
        "DejaVuSansCondensed-Bold", "DejaVuSansCondensed")
HEAD_RANK = 256


def faces() -> dict[tuple[str, int], str]:
    """(path, index) -> face name for the kept training faces the kinds renderer can pick."""
    fs = kinds._sc_fonts() + kinds.tc_fonts() + [f for f in kinds.SIGN_FONTS if Path(f.path).exists()]
    out = {(f.path, f.index): f.name for f in fs if f.name != HELD_OUT_FONT}
    for p in kinds._PLATE_ALNUM_FONTS:
        out[(p, 0)] = Path(p).stem
    return {k: n for k, n in out.items() if n in KEEP}


def subset(job: tuple[str, int, str, str, str]) -> tuple[str, int]:
    """One face cut to `chars`, saved as WOFF2: (path, bytes)."""
    from fontTools import subset as ftsubset
    from fontTools.ttLib import TTFont

    path, index, name, chars, out_dir = job
    font = TTFont(path, fontNumber=index)
    opts = ftsubset.Options()
    opts.hinting, opts.layout_features, opts.name_IDs, opts.notdef_outline = False, [], [1, 2], True
    sub = ftsubset.Subsetter(opts)
    sub.populate(unicodes=[ord(c) for c in chars])
    sub.subset(font)
    font.flavor = "woff2"
    out = Path(out_dir) / f"{name}.woff2"
    font.save(out)
    return str(out), out.stat().st_size


def main(out: Path, crnn_base: Path | None) -> None:
    charset = load_charset()
    chars = "".join(c for c in charset.chars if c) + "\U0010fffd\uffff·"
    (out / "fonts").mkdir(parents=True, exist_ok=True)
    jobs = [(p, i, n, chars, str(out / "fonts")) for (p, i), n in faces().items()]
    mapping = {}
    with ProcessPoolExecutor(int(os.environ.get("JOBS", "2"))) as ex:
        for (p, i, *_), (path, size) in zip(jobs, ex.map(subset, jobs), strict=True):
            mapping[f"{p}|{i}"] = str(Path(path).relative_to(out))
            print(f"{size / 2**20:6.2f} MiB  {path}", flush=True)
    (out / "fonts" / "map.json").write_text(json.dumps(mapping, indent=1), encoding="utf-8")
    import jieba

    data = (Path(jieba.__file__).parent / "dict.txt").read_bytes()
    (out / "jieba_dict.txt.xz").write_bytes(lzma.compress(data, preset=9))
    (out / "whl").mkdir(exist_ok=True)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:",
                    "--python-version", "3.12", "--implementation", "cp",
                    "--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64",
                    "-d", str(out / "whl"), "pillow==13.0.0", "OpenCC==1.4.2"], check=True)
    if crnn_base is None:
        return
    model, meta = load_checkpoint(crnn_base)
    model = extend_classes(model, list(meta["charset"]), list(charset.chars)).factorize_head(HEAD_RANK)
    save_export(model, out / "crnn_init.pt", charset,
                {"init": f"models/crnn.pt grown to {len(charset)} classes, head rank {HEAD_RANK} (SVD)",
                 "parent": {k: meta[k] for k in ("init", "steps", "samples_seen", "cpu_hours") if k in meta}})


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else ".devpack/carry"),
         Path(sys.argv[2]) if len(sys.argv) > 2 else None)
