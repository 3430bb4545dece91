"""Page reading benchmark: line detection recall/precision, page CER and seconds per page.

    python benchmarks/bench_pages.py [--pages 36] [--seed 1000] [--engine ppocr-v4] [--variants clean,photo]
                                     [--out results.json]

Two page sets of the same layouts: "clean" (as rendered) and "photo" (ocr.documents.synth_pages.degrade:
uneven light, blur, noise, JPEG). For each rendered page (kinds cycled, page i seeded seed + i) and detector:
read_page(image, engine, detector) with greedy decoding; the detector's boxes are matched one-to-one to
the ground-truth line boxes (greedy by IoU, a match needs IoU >= 0.5; IoU of the rotated quadrilaterals);
recall = matched / ground-truth lines, precision = matched / detected boxes, pooled over all pages.
Page CER = sum of edit distances / sum of reference lengths, pooled over pages, ground truth = line texts
in reading order joined by newlines (NFKC, whitespace and line breaks ignored: ocr.evaluation.metrics
defaults), so it measures detection, reading order and recognition together. s/page = read_page wall
time (detect + crop + recognize), median and mean. Also: the 12 real cnocr multi-line images stacked into
one page. Prints a Markdown table and writes JSON with per-page rows to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from ocr.documents.detectors import detector_available, load_detector
from ocr.documents.geometry import TextBox, box_iou
from ocr.documents.page import read_page
from ocr.documents.synth_pages import PAGE_KINDS, sample_pages, stack_lines
from ocr.engines.registry import load_engine
from ocr.evaluation.metrics import score_lines

ROOT = Path(__file__).resolve().parents[1]

REAL = Path(os.environ.get("OCR_REAL_SAMPLES", ROOT.parent / "shared" / "real_samples")) / "cnocr_multiline"


def match(gt: list[np.ndarray], boxes: list[TextBox], thr: float = 0.5) -> int:
    """Number of one-to-one matches at IoU >= thr (pairs taken best IoU first)."""
    pairs = sorted(((box_iou(g, b.points), i, j) for i, g in enumerate(gt) for j, b in enumerate(boxes)),
                   reverse=True)
    used_g: set[int] = set()
    used_b: set[int] = set()
    n = 0
    for iou, i, j in pairs:
        if iou < thr:
            break
        if i in used_g or j in used_b:
            continue
        used_g.add(i)
        used_b.add(j)
        n += 1
    return n


def real_page() -> tuple[np.ndarray, str] | None:
    """The real multi-line samples stacked on white, and their text in order (None if absent)."""
    from ocr.imageio import load_image

    labels = REAL / "labels.tsv"
    if not labels.exists():
        return None
    rows = [ln.split("\t", 1) for ln in labels.read_text(encoding="utf-8").splitlines() if "\t" in ln]
    page, _ = stack_lines([load_image(REAL / p) for p, _ in rows])
    return page, "\n".join(t for _, t in rows)


def run_set(pages: list, detectors: list[str], engine: object) -> list[dict[str, object]]:
    """read_page over the pages with each detector: one row per (detector, page)."""
    rows: list[dict[str, object]] = []
    for det_name in detectors:
        det = load_detector(det_name)
        det.detect(pages[0].image)  # warm-up (session start), not timed
        for page in pages:
            t0 = time.perf_counter()
            result = read_page(page.image, engine, det)
            wall = time.perf_counter() - t0
            boxes = list(result.detection.boxes)
            rows.append({
                "detector": det_name, "kind": page.kind, "seed": page.seed, "gt_lines": len(page.lines),
                "detected": len(boxes), "matched": match([g.points for g in page.lines], boxes),
                "ref": page.text, "hyp": result.text, "seconds": wall,
                "detect_ms": result.timings["detect"], "recognize_ms": result.timings["recognize"],
            })
            print(f"{det_name:10s} {page.kind:10s} seed {page.seed}: {rows[-1]['matched']}/{len(page.lines)} "
                  f"matched, {len(boxes)} boxes, {wall:.2f} s", file=sys.stderr)
    return rows


def print_tables(rows: list[dict[str, object]], detectors: list[str]) -> dict[str, dict[str, float]]:
    """The summary table and the CER-by-kind table (Markdown); returns the summary numbers."""
    print("| detector | line recall @IoU≥0.5 | line precision | page CER | s/page (median) | s/page (mean) "
          "| detect ms (median) |")
    print("|---|---|---|---|---|---|---|")
    summary = {}
    for det_name in detectors:
        rs = [r for r in rows if r["detector"] == det_name]
        gt = sum(int(r["gt_lines"]) for r in rs)
        found = sum(int(r["detected"]) for r in rs)
        hit = sum(int(r["matched"]) for r in rs)
        score = score_lines((str(r["ref"]), str(r["hyp"])) for r in rs)
        secs = [float(r["seconds"]) for r in rs]
        det_ms = statistics.median(float(r["detect_ms"]) for r in rs)
        summary[det_name] = {"recall": hit / gt, "precision": hit / found if found else 1.0, "cer": score.cer,
                             "s_median": statistics.median(secs), "s_mean": statistics.fmean(secs),
                             "detect_ms_median": det_ms}
        s = summary[det_name]
        print(f"| {det_name} | {s['recall']:.3f} ({hit}/{gt}) | {s['precision']:.3f} ({hit}/{found}) | "
              f"{s['cer']:.4f} | {s['s_median']:.2f} | {s['s_mean']:.2f} | {det_ms:.0f} |")
    print("\nPage CER by kind:\n")
    print("| kind | " + " | ".join(detectors) + " |")
    print("|---|" + "---|" * len(detectors))
    for kind in PAGE_KINDS:
        cells = []
        for det_name in detectors:
            rs = [r for r in rows if r["detector"] == det_name and r["kind"] == kind]
            if not rs:
                cells.append("—")
                continue
            sc = score_lines((str(r["ref"]), str(r["hyp"])) for r in rs)
            hit = sum(int(r["matched"]) for r in rs)
            gt = sum(int(r["gt_lines"]) for r in rs)
            cells.append(f"{sc.cer:.4f} (recall {hit}/{gt})")
        print(f"| {kind} | " + " | ".join(cells) + " |")
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--pages", type=int, default=36)
    ap.add_argument("--seed", type=int, default=1000)
    ap.add_argument("--engine", default="ppocr-v4")
    ap.add_argument("--detectors", default="classical,ppocr-det")
    ap.add_argument("--variants", default="clean,photo",
                    help="clean: as rendered; photo: through synth_pages.degrade (light, blur, noise, JPEG)")
    ap.add_argument("--out", type=Path, help="write per-page JSON rows here")
    args = ap.parse_args(argv)

    engine = load_engine(args.engine)
    detectors = []
    for d in (d for d in args.detectors.split(",") if d):
        ok, why = detector_available(d)
        if ok:
            detectors.append(d)
        else:
            print(f"skipping {d}: {why}", file=sys.stderr)
    report: dict[str, object] = {}
    last = args.seed + args.pages - 1
    for variant in (v for v in args.variants.split(",") if v):
        pages = sample_pages(args.pages, args.seed, photo=variant == "photo")
        rows = run_set(pages, detectors, engine)
        print(f"\n### {variant} pages: {args.pages} (kinds {', '.join(PAGE_KINDS)} cycled; seeds "
              f"{args.seed}..{last}), engine {args.engine}, greedy\n")
        report[variant] = {"summary": print_tables(rows, detectors), "pages": rows}
    real = real_page()
    if real is not None:
        real_rows = []
        for det_name in detectors:
            result = read_page(real[0], engine, det_name)
            real_rows.append({"detector": det_name, "cer": score_lines([(real[1], result.text)]).cer,
                              "lines": len(result.lines), "hyp": result.text})
        print("\n### Real lines stacked into a page (12 cnocr multi-line images, white background)\n")
        print("| detector | lines found (of 12) | page CER |")
        print("|---|---|---|")
        for r in real_rows:
            print(f"| {r['detector']} | {r['lines']} | {float(r['cer']):.4f} |")
        report["real"] = real_rows
    if args.out:
        args.out.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
