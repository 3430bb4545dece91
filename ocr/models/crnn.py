"""CRNN: an EfficientNetV2-style CNN -> BiLSTM -> Linear, returning CTC logits (B, T, C).

The default config is the architecture of ddddocr's `common.onnx` (21 convolutions, batch norm folded
into conv biases, SiLU, residual adds; 1x64xW gray input; T = ceil(W / 8); 512 features per step;
BiLSTM(512, 512); Linear(1024 -> C)), so its weights can be ported (tools/port_ddddocr.py).
The model returns logits only; log_softmax and decoding live outside it.
"""

from __future__ import annotations

from dataclasses import asdict

import torch
from torch import nn

from ocr.models.crnn_config import CRNNConfig, output_length

__all__ = ["ARCHS", "COMPACT", "CRNN", "DDDDOCR", "FAST32", "CRNNConfig"]


DDDDOCR = CRNNConfig(num_classes=8210)  # 13.5 M parameters with 8,210 classes
COMPACT = CRNNConfig(num_classes=8210, widths=(16, 32, 48), expand=(1, 2, 2), depths=(1, 2, 2), hidden=192)
# The latency student: 32-px input, one block per stage, BiLSTM(128), rank-96 head. 1.23 M parameters with
# 6,995 classes. A batch of 16 32x280 lines under onnxruntime, 2 threads: a full 256->C head took 56 ms,
# half of it the classifier MatMul; the rank-96 head cuts that MatMul to ~0.39x (benchmarks/bench_crnn.py).
# The shipped `crnn-fast` is this preset grown by ocr.models.port.grow: to depths (1, 2, 2), BiLSTM(192),
# rank 128 in session 13 and to depths (2, 2, 2), BiLSTM(256), rank 160 in session 16: 2.94 M parameters
# with 9,699 classes (its config travels in its checkpoint).
FAST32 = CRNNConfig(num_classes=8210, height=32, widths=(16, 32, 64), expand=(1, 2, 2), depths=(1, 1, 1),
                    hidden=128, head_rank=96)
# The presets by name (`python -m ocr train --arch NAME` for a random init).
ARCHS: dict[str, CRNNConfig] = {"ddddocr": DDDDOCR, "compact": COMPACT, "fast32": FAST32}


def _conv(cin: int, cout: int, k: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, k, stride, padding=k // 2, bias=True)  # BN folded: conv carries a bias


class FusedBlock(nn.Module):
    """x + conv1x1(silu(conv3x3(x))): (B, c, h, w) -> (B, c, h, w)."""

    def __init__(self, c: int, e: int) -> None:
        super().__init__()
        self.expand = _conv(c, c * e, 3)
        self.project = _conv(c * e, c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.project(nn.functional.silu(self.expand(x)))


class Downsample(nn.Module):
    """conv1x1(silu(conv3x3 stride 2(x))): (B, cin, h, w) -> (B, cout, ceil(h/2), ceil(w/2))."""

    def __init__(self, cin: int, cout: int, e: int) -> None:
        super().__init__()
        self.expand = _conv(cin, cin * e, 3, stride=2)
        self.project = _conv(cin * e, cout, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.project(nn.functional.silu(self.expand(x)))


class CRNN(nn.Module):
    """(B, 1, H, W) float in [0, 1] (dark text on light) -> logits (B, T, C), T = ceil(W / 8)."""

    def __init__(self, config: CRNNConfig) -> None:
        super().__init__()
        self.config = config
        w, e, d = config.widths, config.expand, config.depths
        layers: list[nn.Module] = [_conv(1, w[0], 3, stride=2), nn.SiLU()]  # (B, w0, H/2, W/2)
        for s in range(len(w)):
            if s > 0:
                layers.append(Downsample(w[s - 1], w[s], e[s]))  # halves H and W
            layers += [FusedBlock(w[s], e[s]) for _ in range(d[s])]
        self.cnn = nn.Sequential(*layers)  # (B, w[-1], H/8, W/8)
        self.feat_height = config.height // 2 ** len(w)
        features = w[-1] * self.feat_height  # 64 * 8 = 512 for the ddddocr config
        self.rnn = nn.LSTM(features, config.hidden, bidirectional=True)
        r = config.head_rank
        self.proj = nn.Linear(2 * config.hidden, r, bias=False) if r else nn.Identity()
        self.fc = nn.Linear(r or 2 * config.hidden, config.num_classes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """x (B, 1, H, W); lengths (B,) frames per item (optional: the LSTM then skips right padding,
        so a batched item equals the item alone up to conv border effects) -> logits (B, T, C)."""
        f = self.cnn(x)  # (B, c, h, T)
        b, c, h, t = f.shape
        if h != self.feat_height:
            raise ValueError(f"input height must be {self.config.height}, got {x.shape[2]}")
        seq = f.permute(3, 0, 1, 2).reshape(t, b, c * h)  # (T, B, c*h), channel-major like ddddocr
        if lengths is None:
            out, _ = self.rnn(seq)  # (T, B, 2*hidden)
        else:
            packed = nn.utils.rnn.pack_padded_sequence(seq, lengths.cpu(), enforce_sorted=False)
            out, _ = nn.utils.rnn.pad_packed_sequence(self.rnn(packed)[0], total_length=t)
        return self.fc(self.proj(out)).transpose(0, 1)  # (B, T, C)

    def factorize_head(self, rank: int) -> CRNN:
        """A copy whose full head Linear(2h -> C) is replaced by its best rank-`rank` factorisation
        (truncated SVD: W ~ (U S)(V^T), proj = V^T, fc = U S), for fine-tuning at lower cost."""
        if self.config.head_rank:
            raise ValueError(f"the head is already rank {self.config.head_rank}")
        w = self.fc.weight.detach().double()  # (C, 2h)
        u, s, vt = torch.linalg.svd(w, full_matrices=False)  # (C, k), (k,), (k, 2h)
        out = CRNN(CRNNConfig(**{**asdict(self.config), "head_rank": rank}))
        state = {k: v for k, v in self.state_dict().items() if not k.startswith("fc.")}
        state["proj.weight"] = vt[:rank].float()  # (r, 2h)
        state["fc.weight"] = (u[:, :rank] * s[:rank]).float()  # (C, r)
        state["fc.bias"] = self.fc.bias.detach().clone()
        out.load_state_dict(state)
        return out

    @staticmethod
    def output_length(width: int | torch.Tensor, stages: int = 3) -> int | torch.Tensor:
        """T for an input width W: W -> ceil(W / 2) applied once per stride-2 conv."""
        return output_length(width, stages)
