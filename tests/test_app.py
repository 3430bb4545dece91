"""The Streamlit app through streamlit.testing (AppTest): every page, uploads, bad input, every CTC engine.

Offline and deterministic: images are rendered here with Noto Sans CJK; engines are the installed
ones (unavailable engines are skipped with the registry's reason). No timing is asserted.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from ocr.engines.registry import ENGINES, available
from tests.bad_inputs import bomb_png
from tests.render import render

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "app.py"
TIMEOUT = 180  # seconds per script run: generous, the first run loads a model on a busy 2-core machine
CTC_ENGINES = [n for n, info in ENGINES.items() if info.has_ctc]
TEXT_ENGINES = [n for n, info in ENGINES.items() if not info.has_ctc]


def png(text: str, size: int = 32) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(render(text, size=size)).save(buf, format="PNG")
    return buf.getvalue()


def first_usable_ctc() -> str:
    for name in CTC_ENGINES:
        if available(name)[0]:
            return name
    pytest.skip("no CTC engine is available here")


def need(name: str) -> None:
    ok, why = available(name)
    if not ok:
        pytest.skip(f"{name} unavailable: {why}")


def start(page: str | None = None, engine: str | None = None, **state: object) -> AppTest:
    """The app after a first run, switched to `page` (pages/<page>.py), with session state preset."""
    from ui.resources import default_engine_name, engine_status

    engine_status.clear()  # engines can become available while the suite runs (a CRNN checkpoint lands)
    default_engine_name.clear()
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT)
    if engine is not None:
        at.session_state["sb_engine"] = engine
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    if page is not None:
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
    return at


def test_only_a_sessions_first_run_pauses_before_the_widgets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Recognize sends its text, pauses once per browser session (ui.paint), then draws the widgets:
    the result, the picker above it, the header and the sidebar are all there after the first run."""
    import ui.paint

    pauses: list[float] = []
    monkeypatch.setattr(ui.paint, "_sleep", pauses.append)
    at = start()
    assert pauses == [ui.paint.FIRST_PAINT_PAUSE_S]
    assert "ocr-char" in html_bodies(at) and "Chinese OCR studio" in html_bodies(at)
    assert at.selectbox(key="sb_engine") is not None and at.selectbox(key="img_sample") is not None
    at.run()  # a rerun in the same session (a click): no pause
    assert not at.exception and pauses == [ui.paint.FIRST_PAINT_PAUSE_S]


def html_bodies(at: AppTest) -> str:
    return "\n".join(h.value for h in at.html)


def error_texts(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def image_captions(at: AppTest) -> str:
    """The captions of every st.image and of every stage image (stage details on the Recognize page)."""
    stages = re.findall(r'class="ocr-stage-caption"[^>]*>([^<]*)<', html_bodies(at))
    return " ".join([*(img.caption for el in at.get("image") for img in el.proto.imgs), *stages])


def stage_images(at: AppTest) -> int:
    """How many preprocessing stage images the Recognize page shows."""
    return html_bodies(at).count('<img class="ocr-stage"')


def shape_of(value: object) -> tuple[int, ...]:
    """Shape of a plotly JSON array: a nested list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(value, dict):
        return tuple(int(n) for n in str(value["shape"]).split(","))
    return np.asarray(value, dtype=object).shape


def summary_table(at: AppTest) -> pd.DataFrame:
    """The benchmark's results table (the one frame with engine, decoder and line_acc columns)."""
    for df in at.dataframe:
        if {"engine", "decoder", "line_acc"} <= set(df.value.columns):
            return df.value
    raise AssertionError("no results table on the page")


def finish_bench(at: AppTest, timeout: float = 300) -> AppTest:
    """Rerun until the benchmark started by the last click has ended (it runs in a background thread;
    the page reattaches on each run, as a browser's periodic refresh would)."""
    import time

    from ui.bench_job import JOB_KEY, _jobs

    def job() -> object | None:
        job_id = at.session_state[JOB_KEY] if JOB_KEY in at.session_state else None  # noqa: SIM401
        return _jobs().get(job_id) if job_id else None

    def running() -> bool:
        j = job()
        return j is not None and j.state == "running"  # type: ignore[attr-defined]

    # Nothing started (e.g. a refused upload): the page as the click left it. A job that started and
    # already ended (a set that fails at once) still needs the rerun that shows its outcome.
    if job() is None:
        return at
    deadline = time.monotonic() + timeout
    while running():
        assert time.monotonic() < deadline, "the benchmark did not finish"
        time.sleep(0.3)
    return at.run()


def plotly_specs(at: AppTest) -> list[dict]:
    return [json.loads(el.proto.spec) for el in at.get("plotly_chart")]


# --- Recognize -----------------------------------------------------------------------------------------


def test_app_starts_on_recognize_with_sidebar() -> None:
    at = start()
    assert at.title[0].value == "Recognize"
    assert at.selectbox(key="sb_engine").options  # every registered engine is listed
    assert len(at.selectbox(key="sb_engine").options) == len(ENGINES)
    assert at.radio(key="sb_decoder").value == "greedy"
    assert at.slider(key="sb_beam_width").disabled  # greedy: beam settings disabled


def test_recognize_upload_shows_text_stages_and_timings() -> None:
    engine = first_usable_ctc()
    at = start(engine=engine)
    at.file_uploader(key="img_upload").upload("line.png", png("中文识别"), "image/png")
    at.run()
    assert not at.exception, at.exception
    assert not error_texts(at)
    body = html_bodies(at)
    assert 'class="ocr-char"' in body  # characters coloured by confidence
    assert re.search(r'class="ocr-plain"[^>]*>[^<]+</pre>', body)  # the recognized text, plain
    figures = re.findall(r'class="ocr-figure-name"[^>]*>([^<]+)<', body)
    assert {"preprocess", "model", "decode", "total", "mean confidence"} <= set(figures)
    assert "padded to" in image_captions(at)  # the resize + pad stage is shown with its detail
    assert stage_images(at) >= 3  # input, grayscale, (invert), model input


def test_recognize_stage_switches_add_stages() -> None:
    engine = first_usable_ctc()
    at = start(engine=engine)
    at.file_uploader(key="img_upload").upload("line.png", png("图像预处理"), "image/png")
    at.run()
    before = stage_images(at)
    at.toggle(key="rec_pre_denoise").set_value(True)
    at.toggle(key="rec_pre_binarize").set_value(True)
    at.run()
    assert not at.exception, at.exception
    assert stage_images(at) == before + 2
    captions = image_captions(at)
    assert "Otsu threshold" in captions and "non-local means" in captions
    assert not at.number_input(key="rec_pre_denoise_h").disabled


def test_page_settings_survive_a_visit_to_another_page() -> None:
    engine = first_usable_ctc()
    at = start(engine=engine)
    at.toggle(key="rec_pre_binarize").set_value(True).run()
    at.switch_page("pages/benchmark.py").run()
    assert not at.exception, at.exception
    at.switch_page("pages/recognize.py").run()
    assert not at.exception, at.exception
    assert at.toggle(key="rec_pre_binarize").value is True


@pytest.mark.parametrize("name,data", [
    ("broken.png", b"\x89PNG\r\n\x1a\n this is not a png"),
    ("empty.jpg", b""),
    ("bomb.png", None),
    ("text.webp", b"hello world"),
])
def test_recognize_bad_upload_shows_error_and_page_keeps_working(name: str, data: bytes | None) -> None:
    engine = first_usable_ctc()
    at = start(engine=engine)
    if data is None:
        data = bomb_png(60_000, 60_000)
    at.file_uploader(key="img_upload").upload(name, data, "application/octet-stream")
    at.run()
    assert not at.exception, at.exception
    assert any(name in e for e in error_texts(at)), error_texts(at)
    # the page is still usable: replace the bad file with a good one
    at.file_uploader(key="img_upload").set_value(("good.png", png("好"), "image/png"))
    at.run()
    assert not at.exception, at.exception
    assert not error_texts(at)
    assert 'class="ocr-char"' in html_bodies(at)


def test_recognize_escapes_html_in_output() -> None:
    """Output text goes into st.html: a crafted label on a sample must come out escaped."""
    from ui.render import confidence_html, diff_html

    out = confidence_html(["<", "script", ">"], [0.1, 0.5, 0.9])
    assert "<script>" not in out and "&lt;" in out
    ref, hyp = diff_html("<b>中</b>", "<i>中</i>")
    assert "<b>" not in ref and "<i>" not in hyp
    ref, hyp = diff_html("中国人", "中囯人啊")
    assert 'class="diff-sub"' in ref and 'class="diff-sub"' in hyp and 'class="diff-ins"' in hyp
    ref, hyp = diff_html("你好，", "你好,", counted=False)  # equal after NFKC: not an error
    assert 'class="diff-norm"' in hyp and "diff-sub" not in hyp


def test_unavailable_engine_is_marked_and_pages_say_why(monkeypatch: pytest.MonkeyPatch) -> None:
    """An engine that cannot load is listed, marked, and every page says why instead of failing."""
    import ui.resources

    missing = "crnn"
    reason = "no trained checkpoint (test)"
    real = ui.resources.available
    monkeypatch.setattr(ui.resources, "available",
                        lambda name: (False, reason) if name == missing else real(name))
    at = start(engine=missing)
    assert at.selectbox(key="sb_engine").value == missing
    assert "unavailable" in at.selectbox(key="sb_engine").format_func(missing)
    assert any(reason in e for e in error_texts(at))
    at.file_uploader(key="img_upload").upload("line.png", png("中文"), "image/png")
    at.run()
    assert not at.exception, at.exception
    assert any("unavailable" in e and reason in e for e in error_texts(at))
    for page in ("inspector", "benchmark"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, at.exception
        assert any(reason in e for e in error_texts(at))
    assert ENGINES[missing].title not in at.multiselect(key="bench_engines").options


@pytest.mark.parametrize("name", TEXT_ENGINES)
def test_text_only_engine_disables_decoder_and_inspector_says_so(name: str) -> None:
    need(name)
    at = start(engine=name)
    assert at.radio(key="sb_decoder").disabled
    at.file_uploader(key="img_upload").upload("line.png", png("中文识别"), "image/png")
    at.run()
    assert not at.exception, at.exception
    assert 'class="ocr-plain"' in html_bodies(at)
    at.switch_page("pages/inspector.py").run()
    assert not at.exception, at.exception
    assert any("text only" in i.value for i in at.info)


# --- CTC inspector --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", CTC_ENGINES)
def test_inspector_every_ctc_engine(name: str) -> None:
    need(name)
    at = start("inspector", engine=name)
    at.file_uploader(key="img_upload").upload("line.png", png("识别文字"), "image/png")
    at.run()
    assert not at.exception, at.exception
    assert not error_texts(at)
    specs = plotly_specs(at)
    assert specs, "no figure"
    traces = specs[0]["data"]
    kinds = [t["type"] for t in traces]
    assert "image" in kinds and "heatmap" in kinds
    heat = next(t for t in traces if t["type"] == "heatmap")
    rows, t_steps = shape_of(heat["z"])
    assert rows == 1 + at.slider(key="insp_k").value  # blank + top-K rows
    image = next(t for t in traces if t["type"] == "image")
    # the image spans exactly the heatmap's columns: [-0.5, T - 0.5]
    assert abs(image["x0"] - image["dx"] / 2 + 0.5) < 1e-6
    assert "top-5" in heat["hovertemplate"]
    assert shape_of(heat["customdata"])[:2] == (rows, t_steps)
    assert any(t.get("name") == "greedy path" for t in traces)
    body = html_bodies(at)
    for method in ("greedy", "beam", "beam_lm"):
        assert f"insp-{method}" in body
    assert len(at.dataframe) >= 2  # the decoders' N-best lists (one table) + the per-character table
    nbest = at.dataframe[0].value
    assert set(nbest["decoder"]) == {"greedy", "beam search", "beam + LM"}


def test_inspector_slider_rerenders_without_rerunning_the_model(monkeypatch: pytest.MonkeyPatch) -> None:
    engine = first_usable_ctc()
    import ocr.preprocess

    calls = {"n": 0}
    real = ocr.preprocess.preprocess

    def counting(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(ocr.preprocess, "preprocess", counting)
    at = start("inspector", engine=engine)
    at.file_uploader(key="img_upload").upload("line.png", png("缓存矩阵"), "image/png")
    at.run()
    assert not at.exception, at.exception
    after_first = calls["n"]
    at.slider(key="insp_k").set_value(5)
    at.run()
    assert not at.exception, at.exception
    heat = next(t for t in plotly_specs(at)[0]["data"] if t["type"] == "heatmap")
    assert shape_of(heat["z"])[0] == 6
    assert calls["n"] == after_first  # the matrix came from st.cache_data


def test_inspector_takes_a_crop_handed_over_by_another_page() -> None:
    """The Document page makes a line crop the current image (ui.current); the inspector shows it, says
    where it came from, and a sample picked afterwards replaces it."""
    from ui.current import CURRENT_KEY, CurrentImage, array_key

    engine = first_usable_ctc()
    crop = render("交给检查器")
    handed = CurrentImage("line 1 of a page", array_key(crop), crop, "a line of the Document page")
    at = start("inspector", engine=engine, **{CURRENT_KEY: handed})
    assert not error_texts(at)
    assert at.selectbox(key="img_sample").value is None  # not a sample
    assert plotly_specs(at)
    caption = " ".join(c.value for c in at.caption)
    assert "line 1 of a page" in caption and "a line of the Document page" in caption
    options = at.selectbox(key="img_sample").options
    at.selectbox(key="img_sample").select_index(1).run()
    assert not at.exception, at.exception
    at.run()
    assert at.selectbox(key="img_sample").value == options[1]
    assert options[1] in " ".join(c.value for c in at.caption)


def test_inspector_bad_upload_shows_error() -> None:
    engine = first_usable_ctc()
    at = start("inspector", engine=engine)
    before = " ".join(c.value for c in at.caption if "Current image" in c.value)
    at.file_uploader(key="img_upload").upload("x.tiff", b"II*\x00garbage", "image/tiff")
    at.run()
    assert not at.exception, at.exception
    assert any("x.tiff" in e for e in error_texts(at))
    # the bad file does not replace the current image
    assert " ".join(c.value for c in at.caption if "Current image" in c.value) == before


# --- Benchmark -------------------------------------------------------------------------------------------


def make_zip(rows: list[tuple[str, str]], images: dict[str, bytes], extra: str = "") -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in images.items():
            zf.writestr(name, data)
        zf.writestr("labels.tsv", "".join(f"{k}\t{t}\n" for k, t in rows) + extra)
    return buf.getvalue()


def test_benchmark_zip_upload_runs_and_reports_problems() -> None:
    engine = first_usable_ctc()
    images = {"imgs/a.png": png("中文"), "imgs/b.png": png("识别"), "imgs/c.png": png("测试")}
    rows = [("imgs/a.png", "中文"), ("imgs/b.png", "识别"), ("imgs/c.png", "测验"),
            ("imgs/missing.png", "无")]
    data = make_zip(rows, images, extra="a row without a tab\n")
    at = start("benchmark", engine=engine, bench_engines=[engine], bench_decoders=["greedy", "beam"])
    at.file_uploader(key="bench_upload").upload("set.zip", data, "application/zip")
    at.run()
    at.button(key="bench_run_upload").click()
    finish_bench(at.run())
    assert not at.exception, at.exception
    assert not error_texts(at)
    summary = summary_table(at)
    assert list(summary["decoder"]) == ["greedy", "beam"]
    assert set(summary["n"]) == {3}
    assert {"line_acc", "cer", "ned", "p50_ms", "p95_ms", "lines_per_s"} <= set(summary.columns)
    assert len(plotly_specs(at)) >= 3  # the three result charts (+ the evaluation section's)
    problems = " ".join(str(df.value.to_dict()) for df in at.dataframe)
    assert "image file not found" in problems and "no TAB" in problems
    body = html_bodies(at)
    assert "bench-samples" in body and "data:image/png;base64," in body
    # errors-only filter keeps the rows with a difference (c.png: 测试 vs label 测验, and the failures)
    at.toggle(key="bench_errors_only").set_value(True)
    at.run()
    assert not at.exception, at.exception
    assert "imgs/c.png" in html_bodies(at) and "imgs/a.png" not in html_bodies(at)
    keys = {b.key for b in at.get("download_button")}
    assert {"bench_dl_summary", "bench_dl_samples", "bench_dl_json"} <= keys  # + the error-lines zip


def test_benchmark_labels_file_with_images_upload() -> None:
    engine = first_usable_ctc()
    at = start("benchmark", engine=engine, bench_engines=[engine], bench_decoders=["greedy"])
    at.file_uploader(key="bench_upload").set_value([
        ("labels.tsv", "lines/one.png\t中文\ntwo.png\t识别\n".encode(), "text/tab-separated-values"),
        ("one.png", png("中文"), "image/png"),
        ("two.png", png("识别"), "image/png"),
    ])
    at.run()
    at.button(key="bench_run_upload").click()
    finish_bench(at.run())
    assert not at.exception, at.exception
    assert not error_texts(at)
    assert list(summary_table(at)["n"]) == [2]


@pytest.mark.parametrize("files,message", [
    ([("junk.zip", b"PK\x03\x04 not really a zip", "application/zip")], "zip"),
    ([("one.png", b"\x89PNG", "image/png")], "no labels file"),
    ([("a.tsv", b"x\ty\n", "text/plain"), ("b.txt", b"x\ty\n", "text/plain")], "several labels files"),
    ([("set.zip", b"PK\x05\x06" + b"\0" * 18, "application/zip"), ("x.png", b"", "image/png")], "not both"),
])
def test_benchmark_bad_uploads_show_error(files: list[tuple[str, bytes, str]], message: str) -> None:
    engine = first_usable_ctc()
    at = start("benchmark", engine=engine, bench_engines=[engine], bench_decoders=["greedy"])
    at.file_uploader(key="bench_upload").set_value(files)
    at.run()
    at.button(key="bench_run_upload").click()
    finish_bench(at.run())
    assert not at.exception, at.exception
    assert any(message in e for e in error_texts(at)), error_texts(at)
    assert at.button(key="bench_run_upload")  # still there, still usable


def test_benchmark_sample_set_button() -> None:
    from ui.inputs import SAMPLE_LABELS

    if not SAMPLE_LABELS.is_file():
        pytest.skip("sample_images/labels.tsv is not there")
    engine = first_usable_ctc()
    at = start("benchmark", engine=engine, bench_engines=[engine], bench_decoders=["greedy"])
    at.button(key="bench_run_sample").click()
    finish_bench(at.run())
    assert not at.exception, at.exception
    assert not error_texts(at)
    assert int(summary_table(at)["n"].iloc[0]) > 0


# --- helpers that the pages use ---------------------------------------------------------------------------


def test_stage_upload_places_images_where_the_rows_name_them() -> None:
    from ocr.evaluation.datasets import open_labelled_set
    from ui.benchset import stage_upload

    files = [("labels.tsv", "sub/dir/a.png\t中\nb.png\t文\n".encode()), ("a.png", png("中")),
             ("b.png", png("文"))]
    with stage_upload(files) as source:
        assert isinstance(source, Path)
        folder = source.parent
        with open_labelled_set(source) as lset:
            assert [s.error for s in lset.samples] == [None, None]
    assert not folder.exists()  # removed on exit


def test_stage_upload_passes_a_zip_through_and_refuses_path_tricks() -> None:
    from ocr.errors import DatasetError
    from ui.benchset import stage_upload

    with stage_upload([("set.zip", b"PK\x03\x04abc")]) as source:
        assert source == b"PK\x03\x04abc"
    rows = ("../../etc/a.png", "../escaped/a.png")  # would land in /etc and beside the staging folder
    files = [("labels.tsv", "".join(f"{r}\tx\n" for r in rows).encode()), ("a.png", png("x"))]
    with stage_upload(files) as source:
        root = source.parent
        for row in rows:
            assert not (root / row).resolve().exists(), row
        assert sorted(p.relative_to(root).as_posix() for p in root.rglob("*")) == ["a.png", "labels.tsv"]
    with pytest.raises(DatasetError), stage_upload([]):
        pass


def test_ctc_figure_rows_hover_and_alignment() -> None:
    from ui.figures import ctc_figure

    rng = np.random.default_rng(0)
    t_steps, classes = 20, 50
    logits = rng.normal(size=(t_steps, classes))
    logprobs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    charset = ("", *[chr(0x4E00 + i) for i in range(classes - 2)], "<")
    image = np.full((48, 160, 3), 255, np.uint8)
    fig = ctc_figure(image, logprobs.astype(np.float32), charset, k=4, spans=[(2, 5)], span_chars=["<"])
    heat = next(t for t in fig.data if t.type == "heatmap")
    assert np.asarray(heat.z).shape == (5, t_steps)
    img = next(t for t in fig.data if t.type == "image")
    assert img.x0 - img.dx / 2 == pytest.approx(-0.5)
    assert img.x0 - img.dx / 2 + img.dx * 160 == pytest.approx(t_steps - 0.5)
    hover = np.asarray(heat.customdata)
    assert hover.shape[:2] == (5, t_steps)
    assert all(cell.count("<br>") == 4 for cell in hover[0, :, 0])  # five classes per timestep
    assert "<br><" not in "".join(hover[0, :, 0])  # '<' in the charset is escaped
