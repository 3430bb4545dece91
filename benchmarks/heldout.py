"""Greedy CER and line accuracy of engines on the rendered held-out sets, one `python -m ocr bench` run per
set, as one Markdown table (the rendered half of what `../shared/tools/real_eval.sh` does for real lines).

    .venv/bin/python benchmarks/heldout.py                          # crnn,crnn-fast,ppocr-v4,ppocr-v6
    .venv/bin/python benchmarks/heldout.py --engine crnn,user:NAME --json runs/heldout.json
    .venv/bin/python benchmarks/heldout.py --render-only            # just (re)create the missing sets

Each set is rendered once (held-out faces only, fixed seeds; the commands are in docs/model_card.md) into
data/ when it is missing. Held-out lines draw only faces that `make install` provides (ocr.training.synth.
kinds.render_kind), so every machine renders the same sets: the ones sessions 20-24 measured. Before
session 26 a machine with the training faces drew held-out traditional lines in cwming and plates in
every sign face, so its kinds, scene, prose and camera-plate sets differed (session 25's contact set was
such a render). They measure the kinds of line the renderer trains on; the real sets measure the models.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class HeldOut:
    """One rendered held-out set: where it lives and how `python -m ocr synth testset` makes it."""

    folder: str
    n: int
    seed: int
    kinds: str = ""  # "" = the simplified document lines in AR PL UMing (render_test_set)
    note: str = ""
    prose: float = 0.0  # Corpus(prose=...): the chance of a dash or ellipsis after a word


SETS = (
    HeldOut("data/synth_test", 2000, 20261124, note="simplified document lines, held-out UMing"),
    HeldOut("data/kinds_test", 600, 20261126, "all", "KIND_MIX's six kinds, held-out faces"),
    HeldOut("data/symbols_test", 400, 20261127, "symbol=1", "lines around symbols (session 20)"),
    HeldOut("data/scene_test", 300, 20261127, "scene=1", "shop-sign crops: 3-D, spaced, cut (session 20)"),
    HeldOut("data/platecam_test", 300, 20261128, "plate_cam=1", "plates as cameras crop them (session 21)"),
    HeldOut("data/prose_test", 300, 20261129, "doc_sc=0.5,doc_tc=0.5",
            "document lines with dashes ——, ellipses ……, hyphens (session 22)", prose=0.3),
    HeldOut("data/contact_test", 300, 20261130, "contact=1",
            "web addresses, e-mails, hotlines, opening hours, starred notes (session 25)"),
    HeldOut("data/receipt_test", 300, 20261201, "receipt=1",
            "receipt and ticket lines, thermal or dot-matrix print (session 26)"),
    HeldOut("data/label_test", 300, 20261202, "label=1",
            "care labels (woven) and product labels (printed, flat or round a bottle) (session 26)"),
    HeldOut("data/facade_test", 300, 20261203, "facade=1",
            "shop-front lettering on slats, brick, tiles, metal; hollow, neon, cut letters (session 28)"),
)


def render(s: HeldOut) -> Path:
    """The set's labels file, rendered first when it is missing."""
    labels = ROOT / s.folder / "labels.tsv"
    if not labels.exists():
        cmd = [sys.executable, "-m", "ocr", "synth", "testset", str(ROOT / s.folder), "--n", str(s.n),
               "--seed", str(s.seed)] + (["--kinds", s.kinds] if s.kinds else []) + \
            (["--prose", str(s.prose)] if s.prose else [])
        subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    return labels


def bench(labels: Path, engines: str) -> list[dict[str, object]]:
    """One greedy bench run over `labels` with `engines`: its JSON rows."""
    out = subprocess.run([sys.executable, "-m", "ocr", "bench", str(labels), "--engine", engines,
                          "--decoder", "greedy", "--json", "--quiet", "--no-save-run"],
                         check=True, cwd=ROOT, capture_output=True, text=True).stdout
    return json.loads(out)


def table(results: dict[str, list[dict[str, object]]]) -> str:
    """Markdown: a row per set, a column per engine, cells `CER / line accuracy`."""
    engines = list(dict.fromkeys(str(r["engine"]) for rows in results.values() for r in rows))
    lines = ["| set | " + " | ".join(f"`{e}`" for e in engines) + " |", "|---" * (len(engines) + 1) + "|"]
    for folder, rows in results.items():
        by = {str(r["engine"]): r for r in rows}
        n = rows[0]["n"] if rows else 0
        cells = [f"{by[e]['cer']:.4f} / {by[e]['line_acc']:.2f}" if e in by else "—" for e in engines]
        lines.append(f"| `{folder}` ({n}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--engine", default="crnn,crnn-fast,ppocr-v4,ppocr-v6")
    ap.add_argument("--sets", default=",".join(Path(s.folder).name for s in SETS),
                    help="which sets, by folder name")
    ap.add_argument("--render-only", action="store_true")
    ap.add_argument("--json", type=Path, help="also write {set: bench rows} here")
    args = ap.parse_args()
    chosen = [s for s in SETS if Path(s.folder).name in args.sets.split(",")]
    results = {}
    for s in chosen:
        labels = render(s)
        if not args.render_only:
            results[s.folder] = bench(labels, args.engine)
    if args.render_only:
        print("\n".join(s.folder for s in chosen))
        return 0
    print(table(results))
    print("\ncells: greedy CER / line accuracy (NFKC, spaces ignored); one bench run per set")
    for s in chosen:
        print(f"- `{s.folder}`: {s.note}")
    if args.json:
        args.json.write_text(json.dumps(results, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
