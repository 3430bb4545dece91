"""Resumable CTC training of the CRNN on pre-rendered shards (ocr.training.synth.render_shards).

    cfg = TrainConfig(shards=Path("data/shards_train"), run_dir=Path("runs/ft"), init="ddddocr")
    best = train(cfg)          # -> the exported fp16 checkpoint (cfg.export), or the run's last.pt

Batches are a pure function of (seed, step) (ocr.training.data), so a resumed run sees exactly the
batches an uninterrupted one would. run_dir/last.pt holds model, optimiser, step and RNG state
(ocr.models.checkpoint.save_state); run_dir/log.jsonl gets one JSON object per evaluation. The best
model by held-out CER (ocr.training.evaluate, the engine's path) is exported as an fp16 checkpoint with
metadata (ocr.models.checkpoint.save_export).
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import torch

from ocr.charset import Charset, load_charset
from ocr.models.checkpoint import load_checkpoint, load_state, save_export, save_state
from ocr.models.crnn import ARCHS, CRNN, CRNNConfig
from ocr.models.port import extend_classes
from ocr.training.config import TrainConfig
from ocr.training.data import Batches, rescale_batch, shard_files
from ocr.training.distill import Teacher, distill_targets, load_teacher
from ocr.training.evaluate import EvalResult, evaluate
from ocr.training.schedule import lr_factor

__all__ = ["build_model", "export_run", "train"]


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


# ------------------------------------------------------------------------------------------- exports
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
    model, state = load_state(last)
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
        model, state = load_state(last)
        origin = state["origin"]
    else:
        model, origin = build_model(cfg, charset)
        state = None
    frozen = [model.cnn, model.rnn] if cfg.freeze_body else list(model.cnn.children())[: cfg.freeze_layers]
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
    data = Batches(shard_files(cfg.shards), charset, cfg.batch_size, cfg.max_width, cfg.seed, cfg.augment)
    ctc = torch.nn.CTCLoss(blank=0, zero_infinity=True)
    teacher: Teacher | None = None
    if cfg.teacher:
        teacher, facts = load_teacher(cfg.teacher, charset.chars)
        origin = {**origin, **facts}
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
                t_logp, t_len = teacher(x, widths)
                target = distill_targets(t_logp, t_len, in_len)
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
                save_state(last, model, opt, step, extra())
            if cfg.time_limit_s and time.perf_counter() - t_start > cfg.time_limit_s:
                break
            if cfg.cpu_limit_s and cpu_s >= cfg.cpu_limit_s:  # an equal-compute budget (A/B runs)
                if cfg.eval_sets and step % cfg.eval_every:
                    do_eval()
                break
        save_state(last, model, opt, step, extra())
    finally:
        log.close()
        if bar is not None:
            bar.close()
    return Path(cfg.export) if cfg.export is not None and Path(cfg.export).exists() else last
