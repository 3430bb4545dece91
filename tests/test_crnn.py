"""CRNN model, the ddddocr port (against onnxruntime), and the `crnn` engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from ocr.charset import Charset, load_charset
from ocr.models.crnn import COMPACT, CRNN, DDDDOCR, CRNNConfig

SMALL = CRNNConfig(num_classes=37, widths=(8, 16, 16), expand=(1, 2, 2), depths=(1, 1, 1), hidden=16)


@pytest.mark.parametrize("width", [16, 57, 280, 333])
def test_output_shape(width: int) -> None:
    torch.manual_seed(0)
    model = CRNN(SMALL).eval()
    with torch.inference_mode():
        out = model(torch.rand(3, 1, 64, width))
    assert out.shape == (3, CRNN.output_length(width), 37)
    assert CRNN.output_length(width) == -(-width // 8)
    assert torch.isfinite(out).all()


def test_lengths_ignore_right_padding_in_lstm() -> None:
    torch.manual_seed(0)
    model = CRNN(SMALL).eval()
    x = torch.rand(2, 1, 64, 160)
    with torch.inference_mode():
        out = model(x, torch.tensor([20, 12]))
    assert out.shape == (2, 20, 37)


def test_wrong_height_raises() -> None:
    with pytest.raises(ValueError, match="height"):
        CRNN(SMALL)(torch.rand(1, 1, 32, 64))


def test_parameter_counts() -> None:
    n = sum(p.numel() for p in CRNN(DDDDOCR).parameters())
    assert 13_400_000 < n < 13_600_000  # FACTS.md: 13.5 M
    assert sum(p.numel() for p in CRNN(COMPACT).parameters()) < n / 3


def test_config_round_trip() -> None:
    assert CRNNConfig.from_dict(DDDDOCR.to_dict()) == DDDDOCR


def test_save_export_describes_the_model_whatever_meta_says(tmp_path: Path) -> None:
    """Metadata passed on from another checkpoint (a grown or blended model's parent) adds provenance;
    the config, charset and format keys are the saved model's own."""
    from ocr.models.checkpoint import FORMAT, load_checkpoint, save_export

    cs = Charset(["", *"abcdefghijklmnopqrstuvwxyz0123456789"])
    stale = {"format": "old", "config": COMPACT.to_dict(), "charset": ["", "x"], "charset_sha256": "0",
             "input": {"height": 32}, "init": "parent run"}
    save_export(CRNN(SMALL), tmp_path / "m.pt", cs, stale)
    model, meta = load_checkpoint(tmp_path / "m.pt")
    assert model.config == SMALL and meta["config"] == SMALL.to_dict() and meta["format"] == FORMAT
    assert meta["charset"] == list(cs.chars) and meta["charset_sha256"] == cs.sha256
    assert meta["input"]["height"] == SMALL.height and meta["init"] == "parent run"  # type: ignore[index]


def _ddddocr() -> Path:
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    from ocr.models.port import ddddocr_onnx_path

    path = ddddocr_onnx_path()
    if path is None:
        pytest.skip("ddddocr's common.onnx is not installed")
    assert ort is not None
    return path


def test_port_matches_onnxruntime() -> None:
    import onnxruntime as ort

    from ocr.models.port import port_ddddocr
    from tests.render import render

    path = _ddddocr()
    model = port_ddddocr(path)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for text in ("发票代码 044001900111", "合计（大写）：壹佰贰拾元整"):
        rgb = render(text, size=40)
        gray = np.asarray(rgb, np.float32).mean(axis=2)
        w = round(gray.shape[1] * 64 / gray.shape[0])
        import cv2

        x = cv2.resize(gray, (w, 64), interpolation=cv2.INTER_AREA)[None, None] / 255.0
        ref = sess.run(None, {"input1": x.astype(np.float32)})[0][:, 0]  # (T, C)
        with torch.inference_mode():
            out = model(torch.from_numpy(x.astype(np.float32)))[0].numpy()  # (T, C)
        assert out.shape == ref.shape
        assert np.abs(out - ref).max() <= 1e-3


def test_slice_classes_copies_rows() -> None:
    from ocr.models.port import slice_classes

    torch.manual_seed(0)
    src = ["", "a", "b", "c"]
    model = CRNN(CRNNConfig(num_classes=4, widths=(8, 16, 16), expand=(1, 2, 2), depths=(1, 1, 1),
                            hidden=16))
    out = slice_classes(model, src, ["", "c", "z", "a"])
    assert out.fc.weight.shape == (4, 32)
    assert torch.equal(out.fc.weight[1], model.fc.weight[3])
    assert torch.equal(out.fc.weight[3], model.fc.weight[1])
    assert torch.equal(out.fc.weight[0], model.fc.weight[0])
    assert torch.equal(out.rnn.weight_hh_l0, model.rnn.weight_hh_l0)


def _tiny_checkpoint(path: Path) -> Charset:
    from ocr.models.checkpoint import save_export

    cs = load_charset()
    torch.manual_seed(0)
    model = CRNN(CRNNConfig(num_classes=len(cs), widths=(8, 16, 16), expand=(1, 2, 2), depths=(1, 1, 1),
                            hidden=16))
    save_export(model, path, cs, {"init": "random (test)", "steps": 0})
    return cs


def test_engine_check_message_when_absent(tmp_path: Path) -> None:
    from ocr.engines import crnn as eng

    why = eng.check("crnn", tmp_path / "missing.pt")
    assert why is not None and "no model file at models/crnn.onnx" in why and "to-onnx" in why


def test_engine_logprobs(tmp_path: Path) -> None:
    from ocr.engines import crnn as eng

    ck = tmp_path / "crnn.pt"
    cs = _tiny_checkpoint(ck)
    engine = eng.load("crnn", ck)
    assert engine.charset == cs.chars and engine.input_spec.height == 64
    widths = (40, 200, 96)
    tensors = [np.random.default_rng(i).random((1, 64, w), dtype=np.float32) for i, w in enumerate(widths)]
    out = engine.logprobs_batch(tensors)
    assert [o.shape for o in out] == [(5, len(cs)), (25, len(cs)), (12, len(cs))]
    for o in out:
        assert o.dtype == np.float32 and np.isfinite(o).all()
        np.testing.assert_allclose(np.logaddexp.reduce(o, axis=1), 0.0, atol=1e-4)
    # a batched item equals the item run alone (LSTM gets lengths; conv border effects stay small)
    alone = engine.logprobs_batch([tensors[0]])[0]
    assert np.abs(alone - out[0]).max() < 0.5
    assert engine.describe()["classes"] == len(cs)


def test_onnx_file_matches_checkpoint_without_torch(tmp_path: Path) -> None:
    """The shipped .onnx (fp16 storage, metadata inside) gives the checkpoint's outputs, and loading it
    imports neither torch nor onnx."""
    import subprocess
    import sys

    from ocr.engines import crnn as eng
    from ocr.models.onnx_file import onnx_from_checkpoint

    ck, onnx_path = tmp_path / "crnn.pt", tmp_path / "crnn.onnx"
    cs = _tiny_checkpoint(ck)
    assert onnx_from_checkpoint(ck, onnx_path) > 0
    a, b = eng.load("crnn", ck), eng.load("crnn", onnx_path)
    assert b.charset == cs.chars and b.parameters == a.parameters and b.config == a.config
    x = [np.random.default_rng(3).random((1, 64, 120), dtype=np.float32)]
    np.testing.assert_allclose(a.logprobs_batch(x)[0], b.logprobs_batch(x)[0], atol=1e-5)
    code = ("import sys; from pathlib import Path; from ocr.engines.crnn import CrnnEngine; "
            f"CrnnEngine(Path({str(onnx_path)!r})); print('torch' in sys.modules, 'onnx' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


def test_int8_onnx_file_quantizes_lstm_and_head_and_stays_close(tmp_path: Path) -> None:
    """to-onnx --int8: the BiLSTM and classifier run as onnxruntime's dynamic int8 ops, the metadata says
    so, convolutions keep fp16 storage, and the log-probabilities stay close to the float file's."""
    onnx = pytest.importorskip("onnx")
    from ocr.engines import crnn as eng
    from ocr.models.onnx_file import INT8_NOTE, onnx_from_checkpoint

    ck, plain, int8 = tmp_path / "crnn.pt", tmp_path / "plain.onnx", tmp_path / "int8.onnx"
    _tiny_checkpoint(ck)
    onnx_from_checkpoint(ck, plain)
    onnx_from_checkpoint(ck, int8, int8=True)
    ops = {n.op_type for n in onnx.load(str(int8)).graph.node}
    assert {"DynamicQuantizeLSTM", "MatMulInteger", "Conv"} <= ops and not {"LSTM", "MatMul"} & ops
    a, b = eng.load("crnn", plain), eng.load("crnn", int8)
    assert b.meta["quantization"] == INT8_NOTE and "quantization" not in a.meta
    assert b.describe()["weights"] == INT8_NOTE and "float" in str(a.describe()["weights"])
    x = [np.random.default_rng(5).random((1, 64, 160), dtype=np.float32)]
    pa, pb = np.exp(a.logprobs_batch(x)[0]), np.exp(b.logprobs_batch(x)[0])
    assert pa.shape == pb.shape and np.abs(pa - pb).max() < 0.05
    assert np.abs(pa - pb).max() > 0  # it is quantized, not the float graph again
    # one activation scale per call: lines run one by one, so a neighbour never changes a line's output
    other = np.random.default_rng(6).random((1, 64, 160), dtype=np.float32) * 4
    together = b.logprobs_batch([x[0], other])
    np.testing.assert_array_equal(together[0], b.logprobs_batch(x)[0])
    np.testing.assert_array_equal(together[1], b.logprobs_batch([other])[0])


def test_fast_engine_check_names_its_own_checkpoint(tmp_path: Path) -> None:
    from ocr.engines import crnn as eng

    why = eng.check("crnn-fast", tmp_path / "missing.pt")
    assert why is not None and "models/crnn_fast.onnx" in why and "--arch fast32" in why


def test_head_rank_round_trip_and_old_checkpoints_load() -> None:
    cfg = CRNNConfig(**{**SMALL.__dict__, "head_rank": 4})
    assert CRNNConfig.from_dict(cfg.to_dict()) == cfg
    legacy = SMALL.to_dict()
    del legacy["head_rank"]  # checkpoints written before the low-rank head existed
    assert CRNNConfig.from_dict(legacy).head_rank == 0
    assert set(CRNN(SMALL).state_dict()) == {k for k in CRNN(cfg).state_dict() if k != "proj.weight"}


def test_factorize_head_full_rank_is_exact_and_low_rank_is_smaller() -> None:
    torch.manual_seed(0)
    model = CRNN(SMALL).eval()
    x = torch.rand(2, 1, 64, 96)
    full = model.factorize_head(2 * SMALL.hidden).eval()  # rank 2h: W = (U S) V^T exactly
    low = model.factorize_head(3).eval()
    with torch.inference_mode():
        torch.testing.assert_close(full(x), model(x), atol=1e-4, rtol=1e-4)
        assert low(x).shape == model(x).shape
    assert low.config.head_rank == 3 and isinstance(low.proj, torch.nn.Linear)
    assert sum(p.numel() for p in low.parameters()) < sum(p.numel() for p in model.parameters())
    with pytest.raises(ValueError, match="already"):
        low.factorize_head(2)


def test_onnx_export_matches_torch_per_item() -> None:
    ort = pytest.importorskip("onnxruntime")
    from ocr.models.onnx_export import to_onnx

    torch.manual_seed(0)
    model = CRNN(CRNNConfig(**{**SMALL.__dict__, "head_rank": 5})).half().train()
    onnx_bytes = to_onnx(model)
    assert model.training and next(model.parameters()).dtype == torch.float16  # the argument is untouched
    model = model.float().eval()
    session = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    x = torch.rand(3, 1, 64, 120)
    lengths = torch.tensor([15, 9, 4])
    got = session.run(None, {"x": x.numpy(), "lengths": lengths.numpy()})[0]
    with torch.inference_mode():
        want = model(x, lengths).log_softmax(-1).numpy()
    assert got.shape == want.shape == (3, 15, 37)
    for b, t in enumerate(lengths.tolist()):
        np.testing.assert_allclose(got[b, :t], want[b, :t], atol=1e-4)


@pytest.mark.parametrize("head_rank", [0, 12])
def test_grow_keeps_the_function_and_adds_trainable_capacity(head_rank: int) -> None:
    from ocr.models.crnn import FAST32
    from ocr.models.port import grow

    torch.manual_seed(0)
    small = CRNN(CRNNConfig(**{**FAST32.to_dict(), "num_classes": 40, "head_rank": head_rank,
                               "widths": (8, 16, 16), "hidden": 16})).eval()
    for p in small.parameters():  # a trained-looking model: no zero rows that would hide a misplaced copy
        p.data.add_(0.1 * torch.randn_like(p))
    big = grow(small, depths=(1, 2, 3), hidden=24, head_rank=head_rank and 20).eval()
    assert big.config.depths == (1, 2, 3) and big.config.hidden == 24
    assert sum(p.numel() for p in big.parameters()) > sum(p.numel() for p in small.parameters())
    x, lengths = torch.rand(3, 1, 32, 96), torch.tensor([12, 9, 5])
    with torch.no_grad():
        assert torch.allclose(big(x), small(x), atol=1e-5)
        assert torch.allclose(big(x, lengths), small(x, lengths), atol=1e-5)
    # one step moves the grown model away from the small one: the new parts are not dead
    big.train()
    opt = torch.optim.SGD(big.parameters(), lr=0.5)
    for _ in range(2):
        opt.zero_grad()
        big(x).logsumexp(-1).sum().backward()
        opt.step()
    with torch.no_grad():
        assert not torch.allclose(big.eval()(x), small(x), atol=1e-3)
        assert big.rnn.weight_hh_l0[:24, 16:].abs().sum() > 0  # old units now read the new ones
    with pytest.raises(ValueError, match="must not shrink"):
        grow(small, hidden=8)
