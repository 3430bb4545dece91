"""Benchmark runs saved as JSON, loaded back, and compared line by line.

A run file holds everything needed to re-analyse it without re-running engines:

    {"format": "ocr-bench-run", "version": 1, "id": "...", "created": "2026-11-26T01:02:03Z",
     "set": {"name", "source", "n", "problems"},
     "settings": {"engines", "decoders", "decoder": {...DecoderConfig}, "preprocess": {...},
                  "normalization": {"preset", "nfkc", ...}, "batch_size"},
     "versions": {"python", "numpy", "onnxruntime", "rapidfuzz", "opencc", ...},
     "results": [{...row summary, "samples": [{key, label, prediction, cer, ms, confidence, error,
                  warning, char_confidences, subset}, ...]}, ...]}

compare_runs(a, b) pairs rows of the same engine × decoder (or the only row of each) and lists the
lines B fixed (wrong in A, right in B) and broke (right in A, wrong in B), with a paired bootstrap
interval of the CER difference over the lines both scored.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from importlib import metadata
from pathlib import Path

from ocr.errors import OCRError
from ocr.evaluation.bench import BenchResult, SampleResult
from ocr.evaluation.bootstrap import PairedDiff
from ocr.evaluation.metrics import edit_distance
from ocr.evaluation.normalize import DEFAULT_NORM, Normalization, normalize
from ocr.evaluation.report import compare_rows

__all__ = [
    "FORMAT",
    "LineChange",
    "RowComparison",
    "Run",
    "compare_runs",
    "load_run",
    "new_run",
    "save_run",
    "versions",
]

FORMAT = "ocr-bench-run"
VERSION = 1
_PACKAGES = ("numpy", "onnxruntime", "rapidfuzz", "opencc", "torch", "rapidocr", "rapidocr_onnxruntime",
             "ddddocr", "pytesseract", "jieba")


@dataclass
class Run:
    """A benchmark run: its set, settings, package versions and rows (with per-sample results)."""

    id: str
    created: str
    set_name: str
    source: str | None
    settings: dict[str, object]
    versions: dict[str, str]
    results: list[BenchResult]
    problems: list[str]

    @property
    def normalization(self) -> Normalization:
        """The normalisation the run was scored with."""
        raw = self.settings.get("normalization") or {}
        known = {f.name for f in fields(Normalization)}
        return Normalization(**{k: v for k, v in dict(raw).items() if k in known})  # type: ignore[arg-type]

    def as_dict(self) -> dict[str, object]:
        return {"format": FORMAT, "version": VERSION, "id": self.id, "created": self.created,
                "set": {"name": self.set_name, "source": self.source, "problems": self.problems,
                        "n": max((len(r.samples) for r in self.results), default=0)},
                "settings": self.settings, "versions": self.versions,
                "results": [{**r.summary(), "samples": [asdict(s) for s in r.samples]} for r in self.results]}


def versions() -> dict[str, str]:
    """Python and the installed versions of the packages results depend on ("-" when absent)."""
    out = {"python": platform.python_version()}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "-"
    return out


def new_run(set_name: str, source: str | Path | None, results: list[BenchResult], settings: dict[str, object],
            problems: Sequence[str] = ()) -> Run:
    """A Run stamped with the current UTC time and package versions; its id is the time plus the set."""
    now = time.gmtime()
    stamp = time.strftime("%Y%m%dT%H%M%SZ", now)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in set_name)[:40] or "set"
    return Run(f"{stamp}-{safe}", time.strftime("%Y-%m-%dT%H:%M:%SZ", now), set_name,
               None if source is None else str(source), settings, versions(), results, list(problems))


def save_run(run: Run, path: Path) -> Path:
    """Write the run as UTF-8 JSON (a folder gets `<id>.json` inside it). Returns the file written."""
    path = Path(path)
    if path.is_dir() or not path.suffix:
        path.mkdir(parents=True, exist_ok=True)
        path = path / f"{run.id}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(run.as_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def _sample(d: dict[str, object]) -> SampleResult:
    known = {f.name for f in fields(SampleResult)}
    kw = {k: v for k, v in d.items() if k in known}
    if kw.get("char_confidences") is not None:
        kw["char_confidences"] = tuple(kw["char_confidences"])  # type: ignore[arg-type]
    return SampleResult(**kw)  # type: ignore[arg-type]


def _result(d: dict[str, object]) -> BenchResult:
    known = {f.name for f in fields(BenchResult)}
    kw = {k: v for k, v in d.items() if k in known and k != "samples"}
    return BenchResult(**kw, samples=[_sample(s) for s in d.get("samples", [])])  # type: ignore[arg-type]


def load_run(path: Path) -> Run:
    """Read a run file. Raises OCRError when it is not one (wrong format, unreadable JSON)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OCRError(f"cannot read run {path}: {exc}") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise OCRError(f"{path} is not a saved benchmark run (format {FORMAT!r})")
    try:
        s = data["set"]
        return Run(data["id"], data["created"], s["name"], s.get("source"), data.get("settings", {}),
                   data.get("versions", {}), [_result(r) for r in data["results"]], s.get("problems", []))
    except (KeyError, TypeError) as exc:
        raise OCRError(f"{path}: malformed run file ({type(exc).__name__}: {exc})") from None


@dataclass(frozen=True)
class LineChange:
    """One line whose outcome differs between the runs."""

    key: str
    label: str
    prediction_a: str
    prediction_b: str
    cer_a: float
    cer_b: float


@dataclass
class RowComparison:
    """Row A (of run A) against row B (of run B) over the lines both scored."""

    row_a: str
    row_b: str
    n: int
    cer_a: float
    cer_b: float
    diff: PairedDiff | None
    fixed: list[LineChange]
    broken: list[LineChange]
    better: int
    worse: int

    def as_dict(self) -> dict[str, object]:
        d = self.diff
        verdict = "no common lines" if d is None else d.verdict(f"A ({self.row_a})", f"B ({self.row_b})")
        return {"row_a": self.row_a, "row_b": self.row_b, "n": self.n, "cer_a": round(self.cer_a, 5),
                "cer_b": round(self.cer_b, 5),
                "d_cer": None if d is None else round(d.cer, 5),
                "ci95_d_cer": None if d is None else [round(d.cer_ci[0], 5), round(d.cer_ci[1], 5)],
                "significant": None if d is None else d.cer_significant,
                "verdict": verdict,
                "fixed": [asdict(c) for c in self.fixed], "broken": [asdict(c) for c in self.broken],
                "better": self.better, "worse": self.worse}


def _rate(errors: int, chars: int) -> float:
    return errors / chars if chars else float(errors > 0)


def _label(r: BenchResult) -> str:
    return f"{r.engine} / {r.decoder}"


def _pairs(a: Run, b: Run) -> list[tuple[BenchResult, BenchResult]]:
    by_b = {(r.engine, r.decoder): r for r in b.results}
    pairs = [(r, by_b[(r.engine, r.decoder)]) for r in a.results if (r.engine, r.decoder) in by_b]
    if not pairs and len(a.results) == 1 and len(b.results) == 1:
        pairs = [(a.results[0], b.results[0])]
    return pairs


def compare_runs(a: Run, b: Run, norm: Normalization | None = None) -> list[RowComparison]:
    """Row-by-row comparison of two runs (rows matched by engine × decoder, or the only row of each),
    scored with `norm` (default: run A's normalisation). Raises OCRError when no rows can be paired."""
    norm = norm or a.normalization or DEFAULT_NORM
    pairs = _pairs(a, b)
    if not pairs:
        raise OCRError("the runs share no engine × decoder row; compare runs of the same rows, "
                       "or runs with one row each")
    out = []
    for ra, rb in pairs:
        b_by_key = {s.key: s for s in rb.samples if s.ms is not None}
        fixed, broken, better, worse = [], [], 0, 0
        chars = err_a = err_b = n = 0
        for sa in ra.samples:
            sb = b_by_key.get(sa.key)
            if sa.ms is None or sb is None:
                continue
            ref = normalize(sa.label, norm)
            ha, hb = normalize(sa.prediction, norm), normalize(sb.prediction, norm)
            ea, eb = edit_distance(ref, ha), edit_distance(ref, hb)
            n += 1
            chars += len(ref)
            err_a += ea
            err_b += eb
            change = LineChange(sa.key, sa.label, sa.prediction, sb.prediction, _rate(ea, len(ref)),
                                _rate(eb, len(ref)))
            if ha != ref and hb == ref:
                fixed.append(change)
            elif ha == ref and hb != ref:
                broken.append(change)
            better += eb < ea
            worse += eb > ea
        out.append(RowComparison(_label(ra), _label(rb), n, err_a / chars if chars else 0.0,
                                 err_b / chars if chars else 0.0, compare_rows(ra, rb, norm), fixed, broken,
                                 better, worse))
    return out
