"""The engine contract, checked for every registered engine (each skipped where it cannot load here).

Runs through the pipeline's own steps (prepare -> run_model -> decode_output), so what is checked is
what the CLI, app, API and benchmark get.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from ocr.decoding import DECODERS, DecoderConfig
from ocr.engines.base import Engine
from ocr.engines.registry import ENGINES, available, engine_names, load_engine
from ocr.engines.user import USER_PREFIX
from ocr.evaluation.metrics import score_lines
from ocr.pipeline import (
    decode_output,
    prepare,
    recognize,
    recognize_batch,
    recognize_each_decoder,
    run_model,
)
from tests.render import render

LINES = ["识别中文文本行的测试", "今天天气很好，我们去公园散步", "中华人民共和国成立于1949年", "价格128元"]


# The shipped engines. Fine-tuned user:NAME models in the local models/user folder are left out: they are
# this machine's data (a plates model need not read general text), and tests must not depend on them;
# tests/test_finetune.py checks a user engine it builds itself against the same contract.
SHIPPED = [n for n in engine_names() if not n.startswith(USER_PREFIX)]


@pytest.fixture(scope="module", params=SHIPPED)
def engine(request: pytest.FixtureRequest) -> Engine:
    ok, why = available(request.param)
    if not ok:
        pytest.skip(f"{request.param} unavailable here: {why}")
    return load_engine(request.param)


def test_engine_matches_its_registry_entry(engine: Engine) -> None:
    info = ENGINES[engine.name]
    assert engine.title == info.title and engine.has_ctc == info.has_ctc
    assert load_engine(engine.name) is engine  # loaded once per process
    facts = engine.describe()
    assert isinstance(facts, dict) and facts


def test_model_output_shapes(engine: Engine) -> None:
    pres = [prepare(render(t), engine) for t in LINES[:2]]
    outputs = run_model(engine, pres)
    assert len(outputs) == len(pres)
    if not engine.has_ctc:
        assert all(isinstance(o.text, str) and o.logprobs is None for o in outputs)
        with pytest.raises(NotImplementedError):
            engine.logprobs_batch([pres[0].tensor])
        return
    assert engine.charset[0] == "" and len(set(engine.charset[1:])) == len(engine.charset) - 1
    for pre, out in zip(pres, outputs, strict=True):
        lp = out.logprobs
        assert out.text is None and lp is not None and lp.dtype == np.float32
        assert lp.shape == (pre.tensor.shape[2] // engine.input_spec.downsample, len(engine.charset))
        assert np.isfinite(lp).all()
        assert np.allclose(np.exp(lp).sum(axis=1), 1.0, atol=1e-3)  # rows are log-probabilities
    with pytest.raises(NotImplementedError):
        engine.read_text(pres[0].model_image)


def test_recognitions_keep_the_contract(engine: Engine) -> None:
    configs = [DecoderConfig(method=m) for m in DECODERS]
    recs = recognize_each_decoder(render(LINES[2]), engine, configs)
    assert [r.decoder for r in recs] == (list(DECODERS) if engine.has_ctc else ["text"])
    for rec in recs:
        assert rec.engine == engine.name and isinstance(rec.text, str)
        assert set(rec.timings) == {"preprocess", "model", "decode"} and rec.elapsed_ms >= 0
        if not engine.has_ctc:
            assert rec.best is None and rec.logprobs is None and rec.nbest == ()
            continue
        assert rec.best is not None and rec.text == rec.best.text and 1 <= len(rec.nbest) <= 5
        assert set(rec.text) <= set(engine.charset[1:])  # output characters are in the vocabulary
        assert 0.0 <= rec.best.mean_confidence <= 1.0
        frames = rec.logprobs.shape[0]
        assert all(0 <= s < e <= frames for s, e in rec.best.spans)
        again = decode_output(run_model(engine, [rec.pre])[0], engine.charset, DecoderConfig(rec.decoder))
        assert again[0].text == rec.text  # the same steps give the same reading


def test_reads_clean_rendered_lines(engine: Engine) -> None:
    recs = recognize_batch([render(t) for t in LINES], engine)
    assert score_lines(list(zip(LINES, [r.text for r in recs], strict=True))).cer <= 0.05


def test_batched_equals_one_by_one_and_threads(engine: Engine) -> None:
    images = [render(t) for t in LINES]
    batched = [r.text for r in recognize_batch(images, engine)]
    single = [recognize(img, engine).text for img in images]
    assert batched == single
    with ThreadPoolExecutor(max_workers=4) as pool:
        parallel = list(pool.map(lambda img: recognize(img, engine).text, images))
    assert parallel == single
