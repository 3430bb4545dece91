"""Port ddddocr's `common.onnx` (fp32) weights into the torch CRNN, and resize its classifier to a charset.

ONNX LSTM gate blocks are ordered (i, o, f, c); torch's are (i, f, g=c, o). ONNX keeps W (input) and
R (recurrent) weights and one bias vector [Wb; Rb] per direction.
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ocr.models.crnn import CRNN, DDDDOCR

__all__ = [
    "DDDDOCR_CHARSET_NAME",
    "ddddocr_charset",
    "ddddocr_onnx_path",
    "extend_classes",
    "grow",
    "port_ddddocr",
    "slice_classes",
]

DDDDOCR_CHARSET_NAME = "CHARSET_BETA"  # the class list that goes with common.onnx (ddddocr beta=True)
_ONNX_TO_TORCH_GATES = (0, 2, 3, 1)  # torch block k takes onnx block _ONNX_TO_TORCH_GATES[k]


def ddddocr_onnx_path() -> Path | None:
    """Path of ddddocr's fp32 common.onnx in site-packages, or None if ddddocr is not installed."""
    try:
        import ddddocr
    except ImportError:
        return None
    p = Path(ddddocr.__file__).resolve().parent / "common.onnx"
    return p if p.exists() else None


def ddddocr_charset() -> list[str]:
    """ddddocr's 8,210 classes for common.onnx (index 0 = blank "")."""
    from ddddocr import charsets

    return list(getattr(charsets, DDDDOCR_CHARSET_NAME))


def _gates(a: np.ndarray, hidden: int) -> np.ndarray:
    """Reorder the 4 gate blocks along axis 0 from ONNX (i,o,f,c) to torch (i,f,g,o)."""
    blocks = [a[k * hidden:(k + 1) * hidden] for k in range(4)]
    return np.concatenate([blocks[j] for j in _ONNX_TO_TORCH_GATES], axis=0)


def port_ddddocr(onnx_path: Path) -> CRNN:
    """A CRNN(DDDDOCR) holding common.onnx's weights (8,210 classes). Needs the `onnx` package."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(str(onnx_path)).graph
    init = {i.name: numpy_helper.to_array(i) for i in graph.initializer}
    convs = [n for n in graph.node if n.op_type == "Conv"]
    lstm = next(n for n in graph.node if n.op_type == "LSTM")
    gemm = next(n for n in graph.node if n.op_type == "Gemm")
    model = CRNN(DDDDOCR)
    torch_convs = [m for m in model.cnn.modules() if isinstance(m, torch.nn.Conv2d)]
    if len(torch_convs) != len(convs):
        raise ValueError(f"graph has {len(convs)} convs, model {len(torch_convs)}")
    sd: dict[str, torch.Tensor] = {}
    names = {id(m): n for n, m in model.named_modules()}
    for node, conv in zip(convs, torch_convs, strict=True):  # graph order == module order
        w, b = init[node.input[1]], init[node.input[2]]
        if tuple(w.shape) != tuple(conv.weight.shape):
            raise ValueError(f"conv shape {w.shape} != {tuple(conv.weight.shape)}")
        sd[names[id(conv)] + ".weight"] = torch.from_numpy(w.copy())
        sd[names[id(conv)] + ".bias"] = torch.from_numpy(b.copy())
    hidden = DDDDOCR.hidden
    W, R, B = (init[lstm.input[k]] for k in (1, 2, 3))  # (2, 4H, in), (2, 4H, H), (2, 8H)
    for d, suffix in enumerate(("", "_reverse")):
        sd[f"rnn.weight_ih_l0{suffix}"] = torch.from_numpy(_gates(W[d], hidden))
        sd[f"rnn.weight_hh_l0{suffix}"] = torch.from_numpy(_gates(R[d], hidden))
        sd[f"rnn.bias_ih_l0{suffix}"] = torch.from_numpy(_gates(B[d, :4 * hidden], hidden))
        sd[f"rnn.bias_hh_l0{suffix}"] = torch.from_numpy(_gates(B[d, 4 * hidden:], hidden))
    sd["fc.weight"] = torch.from_numpy(init[gemm.input[1]].copy())
    sd["fc.bias"] = torch.from_numpy(init[gemm.input[2]].copy())
    model.load_state_dict(sd, strict=True)
    return model.eval()


def slice_classes(model: CRNN, src: list[str], dst: list[str], seed: int = 0,
                  similar: dict[str, str] | None = None) -> CRNN:
    """A copy of `model` whose classifier has one row per `dst` class (dst[0] = blank).

    Rows of classes in `src` are copied. A new class c with similar[c] in `src` (e.g. a traditional
    character and its simplified form, which often share components) starts from that row, its bias
    lowered by log 4 so the known class still wins until training separates them; other new classes
    get small random weights and the mean bias of the copied non-blank rows (unlikely but trainable).
    """
    from ocr.models.crnn import CRNN as _CRNN

    cfg = type(model.config)(**{**model.config.__dict__, "num_classes": len(dst)})
    out = _CRNN(cfg)
    sd = {k: v.clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
    out.load_state_dict(sd, strict=False)
    index = {c: i for i, c in enumerate(src)}
    w_src, b_src = model.fc.weight.detach(), model.fc.bias.detach()
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(len(dst), w_src.shape[1], generator=g) * float(w_src.std()) * 0.5
    b = torch.full((len(dst),), float(b_src[1:].mean()))
    similar = similar or {}
    for j, c in enumerate(dst):
        i = 0 if j == 0 else index.get(c)
        if i is not None:
            w[j], b[j] = w_src[i], b_src[i]
        elif similar.get(c) in index:
            k = index[similar[c]]
            w[j], b[j] = w_src[k], b_src[k] - math.log(4.0)
    with torch.no_grad():
        out.fc.weight.copy_(w)
        out.fc.bias.copy_(b)
    return out.eval()


def extend_classes(model: CRNN, old: list[str], new: list[str]) -> CRNN:
    """`model` with its head grown from `old` to `new` classes (old a prefix of new); see slice_classes.

    A new traditional character starts from the row of its simplified form (OpenCC t2s) when that is a
    class. Needs `opencc`."""
    import opencc

    t2s = opencc.OpenCC("t2s")
    similar = {c: t2s.convert(c) for c in new[len(old):]}
    return slice_classes(model, old, new, similar={c: s for c, s in similar.items() if s != c})


def grow(model: CRNN, depths: tuple[int, ...] | None = None, hidden: int | None = None,
         head_rank: int | None = None, seed: int = 0) -> CRNN:
    """A larger copy of `model` that computes the same function (for continuing a model that underfits).

    depths: fused blocks per stage, each >= the old; a new block is appended to its stage with its 1x1
    project conv zeroed, so it starts as the identity (x + 0). hidden: the BiLSTM width, >= the old; a new
    unit's incoming weights are random, its outgoing ones (into the other units and into the head) zero.
    head_rank: the low-rank head's width (only for a model that has one), >= the old; a new rank row is
    random, its column of `fc` zero. Output logits (B, T, C) equal the old model's up to float rounding.
    """
    c = model.config
    depths, hidden = tuple(depths or c.depths), hidden or c.hidden
    head_rank = c.head_rank if head_rank is None else head_rank
    if len(depths) != len(c.depths) or any(n < o for n, o in zip(depths, c.depths, strict=True)):
        raise ValueError(f"depths {depths} must not shrink {c.depths}")
    if hidden < c.hidden:
        raise ValueError(f"hidden {hidden} must not shrink {c.hidden}")
    if bool(head_rank) != bool(c.head_rank) or head_rank < c.head_rank:
        raise ValueError(f"head_rank {head_rank} must not shrink {c.head_rank} "
                         "(nor add or drop the low-rank head)")
    with torch.random.fork_rng(devices=[]):  # seeded new weights without touching the caller's RNG
        torch.manual_seed(seed)
        out = CRNN(replace(c, depths=depths, hidden=hidden, head_rank=head_rank))
    old_state, state = model.state_dict(), out.state_dict()

    def stage_layers(config_depths: tuple[int, ...]) -> list[list[int]]:
        """Indices in `cnn` of each stage's fused blocks (stem conv + SiLU first, then per stage > 0 a
        Downsample)."""
        idx, stages = 2, []
        for s, d in enumerate(config_depths):
            idx += 1 if s else 0
            stages.append(list(range(idx, idx + d)))
            idx += d
        return stages

    old_stages, new_stages = stage_layers(c.depths), stage_layers(depths)
    renames = {0: 0}  # cnn layer index, old -> new
    for s, (o, n) in enumerate(zip(old_stages, new_stages, strict=True)):
        if s:
            renames[o[0] - 1] = n[0] - 1  # the stage's Downsample
        renames.update(zip(o, n, strict=False))
        for extra in n[len(o):]:
            state[f"cnn.{extra}.project.weight"].zero_()
            state[f"cnn.{extra}.project.bias"].zero_()
    for k, v in old_state.items():
        if k.startswith("cnn."):
            _, i, rest = k.split(".", 2)
            state[f"cnn.{renames[int(i)]}.{rest}"] = v.clone()

    h0, h1 = c.hidden, hidden
    for suffix in ("", "_reverse"):
        for key in (f"rnn.{t}_{k}_l0{suffix}" for t in ("weight", "bias") for k in ("ih", "hh")):
            old, new = old_state[key], state[key].clone()
            for g in range(4):  # gate blocks (i, f, g, o), `hidden` rows each: old units keep their rows
                rows, block = slice(g * h1, g * h1 + h0), old[g * h0:(g + 1) * h0]
                if old.dim() == 2:
                    new[rows] = 0.0  # weight_hh: old units ignore the new ones
                    new[rows, :old.shape[1]] = block
                else:
                    new[rows] = block
            state[key] = new

    first = "proj" if c.head_rank else "fc"  # the layer that reads the BiLSTM's (fwd, bwd) features
    w_old, w = old_state[f"{first}.weight"], torch.zeros_like(state[f"{first}.weight"])
    if c.head_rank:
        w[c.head_rank:] = state[f"{first}.weight"][c.head_rank:]  # new rank rows: random (read fwd and bwd)
    rows = slice(0, w_old.shape[0])
    w[rows, :h0], w[rows, h1:h1 + h0] = w_old[:, :h0], w_old[:, h0:]
    state[f"{first}.weight"] = w
    if c.head_rank:
        state["fc.weight"] = torch.zeros_like(state["fc.weight"])
        state["fc.weight"][:, :c.head_rank] = old_state["fc.weight"]
    state["fc.bias"] = old_state["fc.bias"].clone()
    out.load_state_dict(state)
    return out.train(model.training)
