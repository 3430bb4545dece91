"""Batch OCR (ocr.batch): inputs, resumable results, width-bucketed batching, the `batch` command and
`bench --ray`'s fallbacks. The Ray runs themselves are in tests/test_batch_ray.py."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ocr.batch.execute import Job, Worker, plan_ray, run_local
from ocr.batch.inputs import Item, open_inputs
from ocr.batch.records import ResultsWriter, read_results
from ocr.cli import main
from ocr.errors import DatasetError, OCRError
from tests.render import render

TEXTS = ["今天天气很好", "银行", "二〇二四年三月", "发票号码12345678", "上海", "北京市海淀区",
         "合计人民币", "OCR识别"]


def _engine_or_skip(name: str):
    from ocr.engines.registry import available, load_engine

    ok, why = available(name)
    if not ok:
        pytest.skip(f"{name} unavailable: {why}")
    return load_engine(name)


@pytest.fixture(scope="module")
def line_set(tmp_path_factory) -> Path:
    """A folder of rendered lines (two sizes, nested folder) + one corrupt file + labels.tsv."""
    root = tmp_path_factory.mktemp("lines")
    (root / "sub").mkdir()
    rows = []
    for i, text in enumerate(TEXTS):
        rel = f"sub/{i:02d}.png" if i % 2 else f"{i:02d}.png"
        Image.fromarray(render(text, size=28 if i % 3 else 36)).save(root / rel)
        rows.append(f"{rel}\t{text}\n")
    (root / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    rows.append("broken.png\tx\n")
    (root / "labels.tsv").write_text("".join(rows), encoding="utf-8")
    return root


# ---------------------------------------------------------------------------------------------- inputs
def test_folder_input_is_recursive_sorted_and_relative(line_set):
    with open_inputs(line_set) as inp:
        keys = [it.key for it in inp.items]
    assert inp.kind == "folder"
    assert keys == sorted(keys) and len(keys) == len(TEXTS) + 1
    assert "sub/01.png" in keys and "broken.png" in keys
    assert all(Path(it.path).is_absolute() and it.label is None for it in inp.items)


def test_labels_file_and_zip_inputs_carry_labels(line_set, tmp_path):
    with open_inputs(line_set / "labels.tsv") as inp:
        assert inp.kind == "labels"
        assert [it.label for it in inp.items[: len(TEXTS)]] == TEXTS
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for p in line_set.rglob("*"):
            if p.is_file():
                zf.write(p, p.relative_to(line_set).as_posix())
    with open_inputs(archive) as inp:
        assert inp.kind == "labels" and len(inp.items) == len(TEXTS) + 1
        assert all(Path(it.path).is_file() for it in inp.items)
    assert not Path(inp.items[0].path).exists()  # the extracted copy is removed on exit


def test_list_input_keeps_lines_as_given_and_flags_missing(line_set, tmp_path):
    listing = tmp_path / "paths.txt"
    listing.write_text(f"{line_set / '00.png'}\n\nmissing.png\n", encoding="utf-8")
    with open_inputs(listing) as inp:
        assert inp.kind == "list"
        assert [it.key for it in inp.items] == [str(line_set / "00.png"), "missing.png"]
        assert inp.items[0].error is None and inp.items[1].error == "image file not found"
    with pytest.raises(DatasetError), open_inputs(tmp_path / "nope"):
        pass


# --------------------------------------------------------------------------------------------- records
def _rec(key: str, text: str = "x") -> dict[str, object]:
    return {"path": key, "text": text, "chars": [{"char": "x", "confidence": 0.5, "start": 0, "end": 1}],
            "engine": "e", "decoder": "greedy", "elapsed_ms": 1.0, "error": None}


def test_jsonl_results_resume_skip_duplicates_and_drop_a_cut_line(tmp_path):
    path = tmp_path / "r.jsonl"
    with ResultsWriter(path) as w:
        assert w.write([_rec("a"), _rec("b"), _rec("a")]) == 2
    with open(path, "a", encoding="utf-8") as f:
        f.write('{"path": "c", "te')  # a run killed mid-write
    with ResultsWriter(path) as w:
        assert w.done == {"a", "b"}
        assert w.write([_rec("b"), _rec("c")]) == 1
    assert [r["path"] for r in read_results(path)] == ["a", "b", "c"]


def test_parquet_results_survive_a_kill_and_fold_the_journal(tmp_path):
    pytest.importorskip("pyarrow")
    path = tmp_path / "r.parquet"
    with ResultsWriter(path) as w:
        w.write([_rec("a", "甲")])
    w = ResultsWriter(path)
    w.write([_rec("b")])
    w._stream.close()  # killed: close() never ran, the journal stays
    journal = path.with_name(path.name + ".partial.jsonl")
    assert journal.exists()
    with ResultsWriter(path) as w:
        assert w.done == {"a", "b"}
        w.write([_rec("c")])
    assert not journal.exists()
    rows = read_results(path)
    assert [r["path"] for r in rows] == ["a", "b", "c"] and rows[0]["text"] == "甲"
    assert rows[0]["chars"] == _rec("a")["chars"]


def test_results_extension_is_checked(tmp_path):
    with pytest.raises(OCRError, match="must end in"):
        ResultsWriter(tmp_path / "r.csv")


# ------------------------------------------------------------------------------------ batching identity
@pytest.mark.parametrize("name", ["ppocr-v4", "crnn-fast", "crnn"])
def test_recognize_lines_equals_single_line_recognition(name):
    """Width buckets never pad a line: results equal recognize() line by line, in input order."""
    from ocr.pipeline import recognize, recognize_lines

    engine = _engine_or_skip(name)
    images = [render(t, size=s) for t in TEXTS for s in (26, 34)]
    images += [render(TEXTS[0], size=30)] * 3  # equal widths: one model call of three
    single = [recognize(im, engine) for im in images]
    batched = recognize_lines(images, engine, batch_size=4)
    assert [r.text for r in batched] == [r.text for r in single]
    for b, s in zip(batched, single, strict=True):
        np.testing.assert_allclose(b.logprobs, s.logprobs, atol=1e-4)
        assert b.elapsed_ms > 0


def test_worker_records_errors_per_item_and_chars_per_character(line_set):
    _engine_or_skip("ppocr-v4")
    with open_inputs(line_set / "labels.tsv") as inp:
        items = [*inp.items, Item("gone.png", "", error="image file not found")]
        records = [r for chunk in run_local(items, Job(engine="ppocr-v4", chunk=3)) for r in chunk]
    assert [r["path"] for r in records] == [it.key for it in items]
    by_key = {r["path"]: r for r in records}
    assert by_key["gone.png"]["error"] == "image file not found"
    assert by_key["broken.png"]["error"] and by_key["broken.png"]["text"] == ""
    good = [r for r in records if r["error"] is None]
    assert len(good) == len(TEXTS)
    for r in good:
        assert len(r["chars"]) == len(r["text"])
        for c in r["chars"]:
            assert 0.0 <= c["confidence"] <= 1.0 and 0 <= c["start"] < c["end"]
        assert r["engine"] == "ppocr-v4" and r["decoder"] == "greedy" and r["elapsed_ms"] > 0
    assert sum(r["text"] == t for r, t in zip(good, TEXTS, strict=True)) >= len(TEXTS) - 1


def test_page_mode_reads_stacked_lines(tmp_path):
    from ocr.documents.synth_pages import stack_lines

    _engine_or_skip("ppocr-v4")
    page, _ = stack_lines([render(t, size=32) for t in TEXTS[:3]], gap=24)
    Image.fromarray(page).save(tmp_path / "page.png")
    worker = Worker(Job(engine="ppocr-v4", page=True, detector="classical"))
    (rec,) = worker([Item("page.png", str(tmp_path / "page.png"))])
    assert rec["error"] is None
    assert rec["text"].split("\n") == TEXTS[:3]
    assert {c["line"] for c in rec["chars"]} == {0, 1, 2}


# --------------------------------------------------------------------------------------------- the CLI
def test_batch_command_writes_then_resumes(line_set, tmp_path, capsys):
    _engine_or_skip("ppocr-v4")
    out = tmp_path / "r.parquet" if _has_pyarrow() else tmp_path / "r.jsonl"
    argv = ["batch", str(line_set), "--out", str(out), "--engine", "ppocr-v4", "--quiet"]
    assert main(argv) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["written"] == len(TEXTS) + 1 and first["errors"] == 1 and first["missing"] == 0
    assert main(argv) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["skipped"] == len(TEXTS) + 1 and again["written"] == 0
    assert len(read_results(out)) == len(TEXTS) + 1


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def test_ray_flag_without_ray_says_how_to_install(line_set, tmp_path, capsys, monkeypatch):
    _engine_or_skip("ppocr-v4")
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` raises ImportError
    code = main(["batch", str(line_set), "--out", str(tmp_path / "r.jsonl"), "--engine", "ppocr-v4",
                 "--ray", "--quiet"])
    err = capsys.readouterr().err
    assert code == 2 and "requirements-ray.txt" in err


def test_bench_samples_out_by_extension(line_set, tmp_path, capsys):
    _engine_or_skip("ppocr-v4")
    pa = pytest.importorskip("pyarrow.parquet")
    out = tmp_path / "samples.parquet"
    assert main(["bench", str(line_set / "labels.tsv"), "--engine", "ppocr-v4", "--quiet",
                 "--samples-out", str(out)]) == 0
    table = pa.read_table(out)
    assert table.num_rows == len(TEXTS) + 1
    assert {"engine", "decoder", "key", "label", "prediction", "cer"} <= set(table.column_names)


# ------------------------------------------------------------------------------------------ Ray sizing
@pytest.mark.parametrize(("cpus", "workers", "expect"), [
    (2, None, (1, 1.0)),     # one actor, one CPU left for Ray Data's tasks
    (2, 2, (2, 0.5)),        # two actors share the one CPU the reserve leaves
    (1, None, (1, 0.5)),     # a single CPU: half for the actor, half for the tasks
    (16, None, (15, 1.0)),
    (16, 4, (4, 1.0)),       # never more than one CPU an actor
])
def test_plan_ray_leaves_a_cpu_for_ray_data(cpus, workers, expect, monkeypatch):
    monkeypatch.delenv("OCR_THREADS", raising=False)
    plan = plan_ray(cpus, workers)
    assert (plan.workers, plan.cpus_per_worker) == expect
    assert plan.workers * plan.cpus_per_worker <= cpus - plan.reserved + 1e-9
    assert plan.threads == 1


def test_bench_through_the_execution_layer_scores_like_bench(line_set):
    """run_bench_bulk (what bench --ray runs, here with the in-process runner) gives bench's scores."""
    from ocr.evaluation.bench import run_bench
    from ocr.evaluation.bulk import run_bench_bulk
    from ocr.evaluation.datasets import open_labelled_set

    _engine_or_skip("ppocr-v4")
    with open_labelled_set(line_set / "labels.tsv") as lset:
        (bulk,) = run_bench_bulk(lset, ["ppocr-v4"], ["greedy"], run_local)
        (plain,) = run_bench(lset, ["ppocr-v4"], ["greedy"])
    assert (bulk.n, bulk.failed, bulk.cer) == (plain.n, plain.failed, plain.cer)
    assert [s.prediction for s in bulk.samples] == [s.prediction for s in plain.samples]
    assert bulk.lines_per_s > 0


def test_a_stalled_ray_stream_ends_the_run_instead_of_hanging():
    import time

    from ocr.batch.execute import _watched

    def stalls():
        yield 1
        time.sleep(3)
        yield 2

    def fails():
        yield 1
        raise ValueError("boom")

    got = []
    with pytest.raises(OCRError, match="rerun the same command"):
        got.extend(_watched(stalls(), 0.3))
    assert got == [1]
    with pytest.raises(ValueError, match="boom"):
        list(_watched(fails(), 5))
    assert list(_watched(iter([1, 2]), 5)) == [1, 2]
