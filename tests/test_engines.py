"""The ONNX and Tesseract engines in detail: charsets, batching, threads, real lines, runtime settings.

The contract every registered engine keeps is in test_engine_contract.py."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from ocr.decoding import greedy_decode
from ocr.engines import ddddocr, ppocr, tesseract
from ocr.engines.tesseract import join_cjk
from ocr.evaluation.metrics import cer
from ocr.imageio import load_image
from ocr.preprocess import preprocess
from tests.render import render

CTC = {"ppocr-v4": ppocr, "ppocr-v6": ppocr, "ddddocr": ddddocr}
LINES = ["识别中文文本行的测试", "今天天气很好，我们去公园散步", "中华人民共和国成立于1949年", "价格128元"]


def _engine(name: str):
    module = CTC.get(name, tesseract)
    why = module.check(name)
    if why:
        pytest.skip(f"{name} unavailable: {why}")
    return _cached(name, module)


_CACHE: dict[str, object] = {}


def _cached(name: str, module):
    if name not in _CACHE:
        _CACHE[name] = module.load(name)
    return _CACHE[name]


def greedy(lp: np.ndarray, charset: tuple[str, ...]) -> str:
    return greedy_decode(lp, charset).text


@pytest.mark.parametrize("name", list(CTC))
def test_ctc_engine_reads_rendered_line(name: str) -> None:
    engine = _engine(name)
    assert engine.charset[0] == "" and engine.has_ctc
    pre = preprocess(render(LINES[0]), engine.input_spec)
    (lp,) = engine.logprobs_batch([pre.tensor])
    assert lp.dtype == np.float32 and lp.shape == (pre.tensor.shape[2] // 8, len(engine.charset))
    assert np.isfinite(lp).all()
    assert np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-4)
    assert greedy(lp, engine.charset) == LINES[0]
    facts = engine.describe()
    assert facts["classes"] == len(engine.charset) and Path(str(facts["model_file"])).is_file()


def test_charset_sizes() -> None:
    sizes = {"ppocr-v4": 6625, "ppocr-v6": 18710, "ddddocr": 8210}
    for name, size in sizes.items():
        assert len(_engine(name).charset) == size


@pytest.mark.parametrize("name", list(CTC))
def test_batched_equals_single(name: str) -> None:
    engine = _engine(name)
    images = [render(t, size=s) for t in LINES for s in (24, 32)]
    images += [np.ascontiguousarray(255 - np.flip(img, axis=1)) for img in images]  # same widths, new content
    tensors = [preprocess(img, engine.input_spec).tensor for img in images]
    batched = engine.logprobs_batch(tensors)
    single = [engine.logprobs_batch([t])[0] for t in tensors]
    assert len({t.shape[2] for t in tensors}) < len(tensors)  # equal widths share a run
    for b, s in zip(batched, single, strict=True):
        assert b.shape == s.shape
        assert greedy(b, engine.charset) == greedy(s, engine.charset)
        assert np.abs(np.exp(b) - np.exp(s)).max() < 1e-3


@pytest.mark.parametrize("name", list(CTC))
def test_threads_equal_serial(name: str) -> None:
    engine = _engine(name)
    tensors = [preprocess(render(t), engine.input_spec).tensor for t in LINES]
    serial = [engine.logprobs_batch([t])[0] for t in tensors]
    with ThreadPoolExecutor(max_workers=8) as pool:
        parallel = list(pool.map(lambda i: engine.logprobs_batch([tensors[i % 4]])[0], range(16)))
    for i, p in enumerate(parallel):
        assert np.allclose(p, serial[i % 4], atol=1e-4)


def _real(root: Path) -> list[tuple[np.ndarray, str]]:
    folder = root / "cnocr_multiline"
    with open(folder / "labels.tsv", encoding="utf-8") as f:
        return [(load_image(folder / row[0]), row[1]) for row in csv.reader(f, delimiter="\t")]


def test_ppocr_v4_real_samples_cer(real_samples: Path) -> None:
    engine = _engine("ppocr-v4")
    data = _real(real_samples)
    lps = engine.logprobs_batch([preprocess(img, engine.input_spec).tensor for img, _ in data])
    hyps = [greedy(lp, engine.charset) for lp in lps]
    errors = sum(cer(ref, hyp) * len(ref) for (_, ref), hyp in zip(data, hyps, strict=True))
    assert errors / sum(len(ref) for _, ref in data) <= 0.02
    assert hyps[0] == "网络支付并无本质的区别，因为"
    assert hyps[1] == "每一个手机号码和邮件地址背后"


def test_tesseract_reads_line() -> None:
    engine = _engine("tesseract")
    assert not engine.has_ctc
    pre = preprocess(render(LINES[0]), engine.input_spec)
    assert engine.read_text(pre.model_image) == LINES[0]
    assert engine.describe()["model_file"]


def test_join_cjk() -> None:
    assert join_cjk("识 别 中 文\n") == "识别中文"
    assert join_cjk(" hello  world 中 文 123 ") == "hello world中文123"
    assert join_cjk("价 格 ： 1 2 8") == "价格：1 2 8"


def test_unknown_names_raise() -> None:
    from ocr.errors import UnknownEngine

    for module in (ppocr, ddddocr, tesseract):
        with pytest.raises(UnknownEngine):
            module.check("nope")


def _identity_onnx() -> bytes:
    import onnx.helper as oh
    from onnx import TensorProto

    graph = oh.make_graph([oh.make_node("Identity", ["x"], ["y"])], "identity",
                          [oh.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
                          [oh.make_tensor_value_info("y", TensorProto.FLOAT, [1])])
    model = oh.make_model(graph, opset_imports=[oh.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString()


@pytest.mark.parametrize(("env", "want"), [("", "0"), ("0", "0"), ("1", "1")])
def test_ort_spinning_follows_ocr_ort_spin(monkeypatch: pytest.MonkeyPatch, env: str, want: str) -> None:
    pytest.importorskip("onnxruntime")
    from ocr.engines.onnx_ctc import make_session

    monkeypatch.setenv("OCR_ORT_SPIN", env)
    session = make_session(_identity_onnx(), 1, name="identity")
    assert session.get_session_options().get_session_config_entry("session.intra_op.allow_spinning") == want


@pytest.mark.parametrize(("var", "value"),
                         [("OCR_ORT_SPIN", "yes"), ("OCR_THREADS", "0"), ("OCR_THREADS", "two")])
def test_bad_ort_settings_raise_clear_errors(monkeypatch: pytest.MonkeyPatch, var: str, value: str) -> None:
    from ocr.engines.onnx_ctc import onnx_spinning, onnx_threads
    from ocr.errors import OCRError

    monkeypatch.setenv(var, value)
    with pytest.raises(OCRError, match=var):
        onnx_spinning() if var == "OCR_ORT_SPIN" else onnx_threads()
