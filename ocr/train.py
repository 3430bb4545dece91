"""Resumable CTC training of the CRNN on pre-rendered shards (ocr.synth.render_shards).

    cfg = TrainConfig(shards=Path("data/shards_train"), run_dir=Path("runs/ft"), init="ddddocr")
    best = train(cfg)          # -> the exported fp16 checkpoint (cfg.export), or the run's last.pt

Batches are a pure function of (seed, step): a shard is drawn, then a window of lines of similar
width, so a resumed run sees exactly the batches an uninterrupted one would. run_dir/last.pt holds
model, optimiser, step and RNG state; run_dir/log.jsonl gets one JSON object per evaluation.
The best model by held-out CER is exported as an fp16 checkpoint with metadata (see save_export).
"""

from __future__ import annotations

import json
import math
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from ocr.charset import Charset, load_charset
from ocr.metrics import score_lines
from ocr.models.crnn import COMPACT, CRNN, DDDDOCR, FAST32, CRNNConfig
from ocr.preprocess import border_level, pad_batch
from ocr.synth import Shard, load_shard

__all__ = [
    "EvalResult",
    "TrainConfig",
    "build_model",
    "distill_targets",
    "evaluate",
    "export_run",
    "greedy_decode",
    "jitter_line",
    "load_checkpoint",
    "read_labels",
    "rescale_batch",
    "save_export",
    "train",
]

ARCHS: dict[str, CRNNConfig] = {"ddddocr": DDDDOCR, "compact": COMPACT, "fast32": FAST32}
LENGTH_BUCKETS = ((1, 10), (11, 30), (31, 80), (81, 200))


@dataclass(frozen=True)
class TrainConfig:
    """One training run.

    init: "ddddocr" (port common.onnx, slice to the charset), a checkpoint path (fine-tune from it),
          or "" (random init of `arch`).
    freeze_layers: how many leading modules of model.cnn stay frozen (0 = train everything).
    eval_sets: labels.tsv files scored every `eval_every` steps (first `eval_limit` lines, evenly
          spaced); the first one picks the best checkpoint.
    time_limit_s: stop (and save) after this much wall time in this call; 0 = no limit.
    lr_schedule: "constant", or "cosine": linear warm-up over `warmup_steps`, then cosine decay to
          lr * min_lr_ratio at `steps`. The rate is a function of the step, so a resumed run follows it.
    head_rank: > 0 replaces a full classifier of the starting model by its rank-`head_rank` SVD
          factorisation (CRNN.factorize_head) before training; ignored on resume.
    augment: jitter every line as it is batched (jitter_line: width, vertical framing, contrast,
          gamma, noise), so repeated passes over the shards do not see identical pixels.
    teacher: an exported checkpoint (same charset, input height = the shards' height) to distil from:
          the loss adds kd_weight * KL(teacher frame || student frame), the teacher's frames pooled onto
          the student's (see distill_targets). The student may be lower (e.g. fast32: 32 px); the batch
          is then downscaled for it.
    """

    shards: Path | tuple[Path, ...]
    run_dir: Path
    init: str = "ddddocr"
    arch: str = "ddddocr"
    steps: int = 10_000
    batch_size: int = 16
    lr: float = 1e-4
    lr_schedule: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.02
    head_rank: int = 0
    head_lr_mult: float = 5.0
    weight_decay: float = 1e-4
    augment: bool = False
    freeze_layers: int = 0
    max_width: int = 1600
    eval_every: int = 200
    eval_sets: tuple[Path, ...] = ()
    eval_limit: int = 200
    checkpoint_every: int = 50
    export: Path | None = Path("models/crnn.pt")
    threads: int = 1
    seed: int = 0
    time_limit_s: float = 0.0
    progress: bool = False
    teacher: str = ""
    kd_weight: float = 1.0
    data_description: str = "synthetic lines (ocr.synth), training fonts only"
    extra: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        """JSON-friendly form."""
        return {k: (str(v) if isinstance(v, Path) else [str(p) for p in v] if isinstance(v, tuple) else v)
                for k, v in asdict(self).items()}


@dataclass(frozen=True)
class EvalResult:
    """Greedy-decoding scores over one labelled set."""

    name: str
    n: int
    cer: float
    line_acc: float
    cer_by_length: dict[str, float | None]
    ms_per_line: float


SCHEDULES = ("constant", "cosine")


def lr_factor(cfg: TrainConfig, step: int) -> float:
    """Multiplier of cfg.lr at `step` (0-based) under cfg.lr_schedule."""
    if cfg.lr_schedule not in SCHEDULES:
        raise ValueError(f"unknown lr_schedule {cfg.lr_schedule!r}; choose from {SCHEDULES}")
    if cfg.warmup_steps and step < cfg.warmup_steps:
        return (step + 1) / cfg.warmup_steps
    if cfg.lr_schedule == "constant":
        return 1.0
    span = max(cfg.steps - cfg.warmup_steps, 1)
    done = min(max(step - cfg.warmup_steps, 0) / span, 1.0)
    return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * done))


# ----------------------------------------------------------------------------------------- model init
def build_model(cfg: TrainConfig, charset: Charset) -> tuple[CRNN, dict[str, object]]:
    """The starting model and a description of where it came from (its head factorised when
    cfg.head_rank asks for it)."""
    model, origin = _initial_model(cfg, charset)
    if cfg.head_rank and model.config.head_rank != cfg.head_rank:
        model = model.factorize_head(cfg.head_rank)
        origin = {**origin, "head": f"rank-{cfg.head_rank} SVD factorisation of the starting head"}
    return model, origin


def _initial_model(cfg: TrainConfig, charset: Charset) -> tuple[CRNN, dict[str, object]]:
    if cfg.init == "ddddocr":
        from ocr.models.port import ddddocr_charset, ddddocr_onnx_path, port_ddddocr, slice_classes

        path = ddddocr_onnx_path()
        if path is None:
            raise FileNotFoundError("ddddocr's common.onnx is not installed (pip install ddddocr==1.6.1)")
        model = slice_classes(port_ddddocr(path), ddddocr_charset(), list(charset.chars))
        return model, {"init": "ddddocr common.onnx (MIT), classifier sliced to the charset"}
    if cfg.init:
        model, meta = load_checkpoint(Path(cfg.init))
        keys = ("init", "head", "teacher", "steps", "samples_seen", "cpu_hours", "parent")
        parent = {k: meta[k] for k in keys if k in meta}  # the lineage: what the parent was made from
        origin = {"init": f"fine-tuned from {cfg.init}", "parent": parent}
        old = tuple(meta["charset"])  # type: ignore[arg-type]
        if old != charset.chars:
            if charset.chars[: len(old)] != old:
                raise ValueError(f"{cfg.init} was trained on another charset (not a prefix of this one)")
            model = extend_classes(model, list(old), list(charset.chars))
            origin["head"] = (f"extended from {len(old)} to {len(charset)} classes; a new traditional "
                              "character starts from the row of its simplified form (OpenCC t2s) when "
                              "that is a class, the rest from small random rows")
        return model, origin
    arch = ARCHS[cfg.arch]
    model = CRNN(CRNNConfig(**{**arch.__dict__, "num_classes": len(charset)}))
    return model, {"init": f"random ({cfg.arch})"}


def extend_classes(model: CRNN, old: list[str], new: list[str]) -> CRNN:
    """`model` with its head grown from `old` to `new` classes (old a prefix of new); see slice_classes."""
    import opencc

    from ocr.models.port import slice_classes

    t2s = opencc.OpenCC("t2s")
    similar = {c: t2s.convert(c) for c in new[len(old):]}
    return slice_classes(model, old, new, similar={c: s for c, s in similar.items() if s != c})


# ---------------------------------------------------------------------------------------------- data
def jitter_line(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A cheap random variant of one (H, W) uint8 line, same H: width scaled 0.8-1.2x, the vertical
    frame shifted / tightened / loosened by up to 8% of H, then contrast, brightness, gamma and
    Gaussian noise. Complements the render-time degradations of ocr.synth, which are baked into the
    shards."""
    h, w = img.shape
    a = img
    if rng.random() < 0.7:  # horizontal scale: glyph widths and spacing differ between fonts
        new_w = max(h // 2, round(w * float(rng.uniform(0.8, 1.2))))
        a = np.asarray(Image.fromarray(a).resize((new_w, h), Image.BILINEAR))
    if rng.random() < 0.5:  # vertical framing: a detector's box is rarely tight in the same way
        m = max(1, round(0.08 * h))
        top, bottom = (int(v) for v in rng.integers(-m, m + 1, 2))
        bg = round(border_level(a))
        if top < 0 or bottom < 0:  # pad with the background
            a = np.pad(a, ((max(0, -top), max(0, -bottom)), (0, 0)), constant_values=bg)
        a = a[max(0, top): a.shape[0] - max(0, bottom)]
        a = np.asarray(Image.fromarray(a).resize((a.shape[1], h), Image.BILINEAR))
    f = a.astype(np.float32) / 255.0
    if rng.random() < 0.5:  # contrast about the mean, brightness
        mean = float(f.mean())
        f = (f - mean) * float(rng.uniform(0.6, 1.15)) + mean + float(rng.uniform(-0.1, 0.1))
    if rng.random() < 0.3:
        f = np.clip(f, 0.0, 1.0) ** float(rng.uniform(0.7, 1.4))
    if rng.random() < 0.3:
        f = f + rng.normal(0.0, float(rng.uniform(0.01, 0.05)), f.shape).astype(np.float32)
    return (np.clip(f, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


def shard_files(shards: Path | Sequence[Path]) -> list[Path]:
    """The shard_*.npz files of one folder or of several: folders in the order given, names sorted
    within each, so the same folders always give the same list (and resumed runs the same batches)."""
    folders = [Path(shards)] if isinstance(shards, str | Path) else [Path(d) for d in shards]
    missing = [str(d) for d in folders if not d.is_dir()]
    if missing:
        raise FileNotFoundError(f"shard folder(s) not found: {', '.join(missing)}")
    return [f for d in folders for f in sorted(d.glob("shard_*.npz"))]


class _Batches:
    """Deterministic width-bucketed batches: batch(step) depends only on (seed, step)."""

    def __init__(self, paths: list[Path], charset: Charset, batch_size: int, max_width: int, seed: int,
                 augment: bool = False):
        if not paths:
            raise FileNotFoundError("no shard_*.npz files found")
        self.paths, self.charset, self.bs = paths, charset, batch_size
        self.max_width, self.seed, self.augment = max_width, seed, augment
        self._cache: OrderedDict[Path, tuple[Shard, np.ndarray]] = OrderedDict()

    def _shard(self, path: Path) -> tuple[Shard, np.ndarray]:
        if path not in self._cache:
            sh = load_shard(path)
            order = np.argsort(np.diff(sh.offsets), kind="stable")
            self._cache[path] = (sh, order)
            while len(self._cache) > 4:
                self._cache.popitem(last=False)
        return self._cache[path]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images (B,1,H,W) float in [0,1], targets (sum L,), target_lengths (B,), widths (B,) in px)."""
        rng = np.random.default_rng([self.seed, step])
        sh, order = self._shard(self.paths[int(rng.integers(len(self.paths)))])
        start = int(rng.integers(0, max(1, len(order) - self.bs + 1)))
        idx = order[start:start + self.bs]
        imgs, labels = [], []
        for i in idx:
            img, text = sh.image(int(i)), sh.labels[int(i)]
            if not self.charset.covers(text) or not text:
                continue
            if self.augment:
                img = jitter_line(img, rng)
            if img.shape[1] > self.max_width:  # squeeze overly wide lines
                img = np.asarray(Image.fromarray(img).resize((self.max_width, img.shape[0]), Image.BILINEAR))
            imgs.append(img)
            labels.append(self.charset.encode(text))
        # (B, 1, H, W_max), each line right-padded with its own background level
        x = pad_batch([img[None].astype(np.float32) for img in imgs],
                      fill=[border_level(img) for img in imgs])
        x /= 255.0
        widths = torch.tensor([i.shape[1] for i in imgs], dtype=torch.long)
        tgt = torch.tensor([c for lab in labels for c in lab], dtype=torch.long)
        tgt_len = torch.tensor([len(lab) for lab in labels], dtype=torch.long)
        return torch.from_numpy(x), tgt, tgt_len, widths


def rescale_batch(x: torch.Tensor, widths: torch.Tensor, height: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, 1, H, W) images + widths (B,) -> the same lines at `height` px (area filter), new widths (B,)."""
    if x.shape[2] == height:
        return x, widths
    scale = height / x.shape[2]
    new_w = max(8, round(x.shape[3] * scale))
    small = torch.nn.functional.interpolate(x, size=(height, new_w), mode="area")
    return small, (widths.float() * scale).round().clamp(min=8).long()


def distill_targets(teacher_logp: torch.Tensor, t_len: torch.Tensor, s_len: torch.Tensor) -> torch.Tensor:
    """Teacher log-probs (B, Tt, C) -> per-student-frame target log-probs (B, Ts, C), Ts = max(s_len).

    Student frame s covers teacher frames [floor(s*r), floor((s+1)*r)), r = t_len/s_len per item; the
    target is the covered teacher frame least likely to be blank, so a character the teacher emits in
    one of two pooled frames is kept instead of being averaged into a half-blank frame."""
    b, _, c = teacher_logp.shape
    ts = int(s_len.max())
    out = torch.empty(b, ts, c, dtype=teacher_logp.dtype)
    for i in range(b):
        tt, sl = int(t_len[i]), int(s_len[i])
        edges = (torch.arange(sl + 1, dtype=torch.float64) * tt / sl).floor().long().clamp(max=tt)
        frame = torch.arange(tt)
        group = torch.bucketize(frame, edges[1:], right=True).clamp(max=sl - 1)  # (tt,) student frame
        blank = teacher_logp[i, :tt, 0].double().clamp(min=-1000.0)
        order = torch.argsort(group.double() * 1e4 + blank, stable=True)  # by group, then blank ascending
        sorted_group = group[order]
        first = torch.ones(tt, dtype=torch.bool)
        first[1:] = sorted_group[1:] != sorted_group[:-1]
        pick = torch.zeros(sl, dtype=torch.long)
        pick[sorted_group[first]] = frame[order][first]  # per student frame: its least-blank teacher frame
        out[i, :sl] = teacher_logp[i, pick]
        out[i, sl:] = teacher_logp[i, pick[-1]]
    return out


# ---------------------------------------------------------------------------------------- evaluation
def read_labels(path: Path) -> list[tuple[Path, str]]:
    """(image path, text) rows of a PaddleOCR-style `relative/path<TAB>text` file (UTF-8)."""
    rows = []
    for line in Path(path).read_text(encoding="utf-8-sig").splitlines():
        if "\t" not in line:
            continue
        rel, text = line.split("\t", 1)
        rows.append((Path(path).parent / rel, text))
    return rows


def to_model_input(img: Image.Image | np.ndarray, height: int, max_width: int = 12800) -> np.ndarray:
    """Any line image -> (height, W) float32 gray in [0, 1], aspect kept (W capped at max_width)."""
    im = img if isinstance(img, Image.Image) else Image.fromarray(img)
    im = im.convert("L")
    w = max(8, min(max_width, round(im.width * height / max(im.height, 1))))
    return np.asarray(im.resize((w, height), Image.BILINEAR), dtype=np.float32) / 255.0


def greedy_decode(logits: torch.Tensor, lengths: Sequence[int], chars: Sequence[str]) -> list[str]:
    """Best-path CTC decoding of (B, T, C) logits, item b using its first lengths[b] frames."""
    best = logits.argmax(-1).numpy()
    out = []
    for b, t in enumerate(lengths):
        seq = best[b, :t]
        keep = np.concatenate([[True], seq[1:] != seq[:-1]]) & (seq != 0)
        out.append("".join(chars[i] for i in seq[keep]))
    return out


@torch.inference_mode()
def evaluate(model: CRNN, labels: Path, chars: Sequence[str], limit: int = 0,
             batch_size: int = 8) -> tuple[EvalResult, list[tuple[str, str]]]:
    """Greedy CER over a labelled set (limit > 0: that many lines, evenly spaced). Also (ref, hyp) pairs."""
    rows = read_labels(labels)
    if limit and len(rows) > limit:
        rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    model.eval()
    height = model.config.height
    items = [(to_model_input(Image.open(p), height), t) for p, t in rows]
    order = sorted(range(len(items)), key=lambda i: items[i][0].shape[1])
    hyps: dict[int, str] = {}
    t0 = time.perf_counter()
    for s in range(0, len(order), batch_size):
        idx = order[s:s + batch_size]
        lines = [items[i][0] for i in idx]  # each padded with its own background, as training does
        x = pad_batch([line[None] for line in lines], fill=[border_level(line) for line in lines])
        lengths = [int(CRNN.output_length(items[i][0].shape[1])) for i in idx]
        logits = model(torch.from_numpy(x), torch.tensor(lengths))
        for i, h in zip(idx, greedy_decode(logits, lengths, chars), strict=True):
            hyps[i] = h
    ms = (time.perf_counter() - t0) * 1000 / max(len(items), 1)
    pairs = [(t, hyps[i]) for i, (_, t) in enumerate(items)]
    score = score_lines(pairs)
    buckets: dict[str, float | None] = {}
    for lo, hi in LENGTH_BUCKETS:
        sel = [(r, h) for r, h in pairs if lo <= len(r) <= hi]
        buckets[f"{lo}-{hi}"] = score_lines(sel).cer if sel else None
    name = Path(labels).parent.name
    return EvalResult(name, score.n, score.cer, score.line_acc, buckets, ms), pairs


# --------------------------------------------------------------------------------------- checkpoints
def save_export(model: CRNN, path: Path, charset: Charset, meta: dict[str, object]) -> None:
    """fp16 weights + metadata (charset, sha256, input height, normalisation, ...) -> path (atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "format": "ocr-crnn/1",
        "config": model.config.to_dict(),
        "charset": list(charset.chars),
        "charset_sha256": charset.sha256,
        "input": {"height": model.config.height, "channels": 1, "mean": 0.0, "std": 1.0,
                  "downsample": 8, "polarity": "dark text on light background, x/255"},
        **meta,
    }
    sd = {k: v.detach().to(torch.float16) for k, v in model.state_dict().items()}
    tmp = path.with_suffix(".tmp")
    torch.save({"meta": info, "state_dict": sd}, tmp)
    tmp.replace(path)


def load_checkpoint(path: Path) -> tuple[CRNN, dict[str, object]]:
    """(float32 model in eval mode, metadata) from an exported checkpoint."""
    ck = torch.load(path, map_location="cpu", weights_only=True)
    meta = ck["meta"]
    model = CRNN(CRNNConfig.from_dict(meta["config"]))
    model.load_state_dict({k: v.float() for k, v in ck["state_dict"].items()})
    return model.eval(), meta


def _save_state(
    path: Path, model: CRNN, opt: torch.optim.Optimizer, step: int, extra: dict[str, object]
) -> None:
    tmp = path.with_suffix(".tmp")
    torch.save({"model": model.state_dict(), "config": model.config.to_dict(), "opt": opt.state_dict(),
                "step": step, "torch_rng": torch.get_rng_state(), **extra}, tmp)
    tmp.replace(path)


def _load_state(path: Path) -> tuple[CRNN, dict[str, Any]]:
    """(float32 model, the whole training state) from a run's last.pt."""
    state = torch.load(path, map_location="cpu", weights_only=False)
    model = CRNN(CRNNConfig.from_dict(state["config"]))
    model.load_state_dict(state["model"])
    return model, state


def _export_meta(origin: dict[str, object], step: int, seen: int, cpu_s: float,
                 train_config: dict[str, object], results: Sequence[EvalResult]) -> dict[str, object]:
    """The metadata an export records beside the charset and input spec."""
    return {**origin, "steps": step, "samples_seen": seen, "cpu_hours": round(cpu_s / 3600, 3),
            "data": train_config.get("data_description"), "eval": [asdict(r) for r in results],
            "train_config": train_config}


def export_run(run_dir: Path, path: Path, eval_sets: Sequence[Path] = (),
               eval_limit: int = 0) -> list[EvalResult]:
    """Export a run's latest weights (run_dir/last.pt) as an fp16 checkpoint at `path`, evaluated on
    `eval_sets` (recorded in its metadata; eval_limit > 0: that many evenly spaced lines). The training
    loop exports the best checkpoint by its periodic evaluation; this exports where the run ended,
    e.g. at the end of a learning-rate schedule."""
    last = Path(run_dir) / "last.pt"
    if not last.is_file():
        raise FileNotFoundError(f"no training state at {last}")
    model, state = _load_state(last)
    charset = load_charset()
    model = model.half().float().eval()  # evaluate the weights the fp16 export will hold
    results = [evaluate(model, Path(p), charset.chars, eval_limit)[0] for p in eval_sets]
    meta = _export_meta(state["origin"], state["step"], state["seen"], state["cpu_s"],
                        state["train_config"], results)
    save_export(model, Path(path), charset, meta)
    return results


# ---------------------------------------------------------------------------------------------- train
def train(config: TrainConfig) -> Path:
    """Train (or resume) per `config`; returns the exported checkpoint path (or run_dir/last.pt)."""
    cfg = config
    torch.set_num_threads(cfg.threads)
    charset = load_charset()
    run = Path(cfg.run_dir)
    run.mkdir(parents=True, exist_ok=True)
    last = run / "last.pt"
    torch.manual_seed(cfg.seed)
    if last.exists():  # resume
        model, state = _load_state(last)
        origin = state["origin"]
    else:
        model, origin = build_model(cfg, charset)
        state = None
    frozen = list(model.cnn.children())[: cfg.freeze_layers]
    for m in frozen:
        for p in m.parameters():
            p.requires_grad_(False)
    head = list(model.fc.parameters())
    body = [p for n, p in model.named_parameters() if p.requires_grad and not n.startswith("fc.")]
    base_lrs = (cfg.lr, cfg.lr * cfg.head_lr_mult)  # body, head: scaled by lr_factor every step
    groups = [{"params": body, "lr": base_lrs[0]}, {"params": head, "lr": base_lrs[1]}]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    step, best, cpu_s, seen = 0, float("inf"), 0.0, 0
    if state is not None:
        opt.load_state_dict(state["opt"])
        torch.set_rng_state(state["torch_rng"])
        step, best, cpu_s, seen = state["step"], state["best"], state["cpu_s"], state["seen"]
    data = _Batches(shard_files(cfg.shards), charset, cfg.batch_size, cfg.max_width, cfg.seed, cfg.augment)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    teacher: CRNN | None = None
    if cfg.teacher:
        teacher, t_meta = load_checkpoint(Path(cfg.teacher))
        if tuple(t_meta["charset"]) != charset.chars:  # type: ignore[arg-type]
            raise ValueError(f"teacher {cfg.teacher} was trained on another charset")
        for p in teacher.parameters():
            p.requires_grad_(False)
        origin = {**origin, "teacher": cfg.teacher, "teacher_steps": t_meta.get("steps")}
    bar = None
    if cfg.progress:
        from tqdm import tqdm

        bar = tqdm(total=cfg.steps, initial=step, unit="step", desc="train")
    t_start = time.perf_counter()
    t_mark, seen_mark = t_start, 0
    log = (run / "log.jsonl").open("a", encoding="utf-8")

    def extra() -> dict[str, object]:
        return {"origin": origin, "best": best, "cpu_s": cpu_s, "seen": seen, "train_config": cfg.to_dict()}

    def do_eval() -> None:
        nonlocal best
        results = [evaluate(model, p, charset.chars, cfg.eval_limit)[0] for p in cfg.eval_sets]
        rec = {"step": step, "seen": seen, "cpu_h": cpu_s / 3600, "time": time.time(),
               "evals": [asdict(r) for r in results]}
        if results and results[0].cer < best:
            best = results[0].cer
            rec["best"] = True
            if cfg.export is not None:
                meta = _export_meta(origin, step, seen, cpu_s, cfg.to_dict(), results)
                save_export(model, Path(cfg.export), charset, meta)
        log.write(json.dumps(rec, ensure_ascii=False) + "\n")
        log.flush()
        model.train()

    try:
        if step == 0 and cfg.eval_sets:
            do_eval()
        model.train()
        while step < cfg.steps:
            t0 = time.process_time()
            x, tgt, tgt_len, widths = data.batch(step)
            xs, s_widths = rescale_batch(x, widths, model.config.height)
            in_len = CRNN.output_length(s_widths)
            logp = model(xs, in_len).log_softmax(-1)  # (B, T, C)
            loss = ctc(logp.transpose(0, 1), tgt, in_len, tgt_len)
            if teacher is not None:
                t_len = CRNN.output_length(widths)
                with torch.no_grad():
                    target = distill_targets(teacher(x, t_len).log_softmax(-1), t_len, in_len)
                mask = (torch.arange(logp.shape[1])[None, :] < in_len[:, None]).float()  # (B, T)
                kl = (target.exp() * (target - logp)).sum(-1)  # (B, T) KL(teacher || student)
                loss = loss + cfg.kd_weight * (kl * mask).sum() / mask.sum()
            for g, base in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = base * lr_factor(cfg, step)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            step += 1
            seen += x.shape[0]
            cpu_s += time.process_time() - t0  # CPU time of all threads (a paused run does not count)
            if bar is not None:
                now = time.perf_counter()
                rate = (seen - seen_mark) / max(now - t_mark, 1e-9)
                bar.set_postfix(loss=f"{loss.item():.3f}", sps=f"{rate:.2f}")
                bar.update(1)
            if step % 20 == 0:
                log.write(json.dumps({"step": step, "loss": round(loss.item(), 4), "seen": seen,
                                      "sps": round((seen - seen_mark) / (time.perf_counter() - t_mark), 3),
                                      "time": time.time()}) + "\n")
                log.flush()
                t_mark, seen_mark = time.perf_counter(), seen
            if cfg.eval_sets and step % cfg.eval_every == 0:
                do_eval()
            if step % cfg.checkpoint_every == 0 or step == cfg.steps:
                _save_state(last, model, opt, step, extra())
            if cfg.time_limit_s and time.perf_counter() - t_start > cfg.time_limit_s:
                break
        _save_state(last, model, opt, step, extra())
    finally:
        log.close()
        if bar is not None:
            bar.close()
    return Path(cfg.export) if cfg.export is not None and Path(cfg.export).exists() else last
