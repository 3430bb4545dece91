"""CTC decoders: latency, what the LM fixes, and the alpha/beta sweep of the (older) shallow fusion.

Run: .venv/bin/python benchmarks/bench_decoders.py [--repeats N] [--engine ppocr-v4 --image PATH]
     .venv/bin/python benchmarks/bench_decoders.py --sweep [--lines 150]

Latency: median CPU (and wall) ms per line for greedy, beam (w = 1, 5, 10, 20) and beam + LM (w = 10)
on T = 80, C = 6625 matrices: "peaky" (synthetic, shaped like PP-OCRv4 output on clean lines: top-1
p > 0.999 on most frames, a few runners-up above e^-10), "stress" (every frame has a runner-up at
~e^-6 and ~25 labels above e^-10, like a very unsure model) and, when the engine loads, a real line.
Timings on a busy shared machine are inflated: compare CPU ms and note the load average printed.

Sweep: synthetic ambiguous matrices for Corpus lines (jieba-word sentences, rare characters, numbers,
Latin, mixed): 25% of characters have a distractor with p ~ U(0.3, 0.6), 5% are weak (p ~ U(0.3, 0.5)
against blank) and 5% of blank frames carry a spurious character (p ~ U(0.2, 0.45)). Prints CER per
(lm_weight, length_bonus) of fusion="shallow" (where length_bonus applies). These are not the real
samples, on purpose. The default beam_lm (rescoring) is swept on rendered lines by bench_rescore.py.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from ocr.decoding import DecoderConfig, decode, load_default_lm
from ocr.evaluation.metrics import edit_distance

T_LEN, N_CLS = 80, 6625


def _softmax_log(logits: np.ndarray) -> np.ndarray:
    m = logits.max(axis=1, keepdims=True)
    return (logits - m - np.log(np.exp(logits - m).sum(axis=1, keepdims=True))).astype(np.float32)


def peaky_matrix(seed: int = 0) -> np.ndarray:
    """(80, 6625) log-probs shaped like a confident engine: ~20 characters, 3-4 frames each."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.0, (T_LEN, N_CLS)).astype(np.float32)
    logits[:, 0] += 16.0
    for f in range(1, T_LEN, 4):
        c = int(rng.integers(1, N_CLS))
        logits[f, c] += 26.0
        if rng.random() < 0.3:  # a runner-up now and then
            logits[f, int(rng.integers(1, N_CLS))] += 26.0 - rng.uniform(2.0, 8.0)
        if f + 1 < T_LEN and rng.random() < 0.5:
            logits[f + 1, c] += 18.0
    return _softmax_log(logits)


def stress_matrix(seed: int = 0) -> np.ndarray:
    """(80, 6625) log-probs of a very unsure model (runners-up everywhere)."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 1.5, (T_LEN, N_CLS)).astype(np.float32)
    lab = rng.integers(1, N_CLS, T_LEN)
    for t in range(T_LEN):
        if t % 4 == 1:
            logits[t, lab[t]] += 14.0
            logits[t, lab[t - 1]] += 10.0
        else:
            logits[t, 0] += 14.0
            logits[t, lab[t]] += 8.0
    return _softmax_log(logits)


def _time(matrix: np.ndarray, charset: list[str] | tuple[str, ...], cfg: DecoderConfig, repeats: int,
          lm: object) -> tuple[float, float, str]:
    decode(matrix, charset, cfg, lm=lm)  # type: ignore[arg-type]  # warm-up
    wall, cpu = [], []
    out = None
    for _ in range(repeats):
        t, c = time.perf_counter(), time.process_time()
        out = decode(matrix, charset, cfg, lm=lm)  # type: ignore[arg-type]
        cpu.append(time.process_time() - c)
        wall.append(time.perf_counter() - t)
    assert out is not None
    return float(np.median(cpu) * 1000), float(np.median(wall) * 1000), out[0].text


def latency(repeats: int, engine_name: str | None, image: str) -> None:
    lm = load_default_lm()
    cjk = ["", *[chr(0x4E00 + i) for i in range(N_CLS - 1)]]
    mats: list[tuple[str, np.ndarray, list[str] | tuple[str, ...]]] = [
        ("peaky", peaky_matrix(), cjk), ("stress", stress_matrix(), cjk)]
    if engine_name:
        try:
            from ocr.engines.registry import load_engine
            from ocr.imageio import load_image
            from ocr.preprocess import preprocess

            engine = load_engine(engine_name)
            m = engine.logprobs_batch([preprocess(load_image(image), engine.input_spec).tensor])[0]
            mats.append((f"{engine_name} real", m, engine.charset))
        except Exception as exc:  # the benchmark still reports the synthetic matrices
            print(f"(no real matrix: {type(exc).__name__}: {exc})")
    cases = [("greedy", DecoderConfig("greedy"))]
    cases += [(f"beam w={w}", DecoderConfig("beam", beam_width=w)) for w in (1, 5, 10, 20)]
    cases += [("beam+LM w=10", DecoderConfig("beam_lm", beam_width=10))]
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; median of {repeats} runs")
    for name, m, charset in mats:
        print(f"\n{name}: T={m.shape[0]}, C={m.shape[1]}")
        for case, cfg in cases:
            cpu, wall, _text = _time(m, charset, cfg, repeats, lm)
            print(f"  {case:<14} cpu {cpu:7.3f} ms   wall {wall:7.3f} ms")
    t = time.perf_counter()
    from ocr.decoding.lm import DEFAULT_LM_PATH, CharNgramLM

    CharNgramLM(DEFAULT_LM_PATH)
    print(f"\nLM file {DEFAULT_LM_PATH.stat().st_size / 1e6:.2f} MB, load {time.perf_counter() - t:.3f} s")


def ambiguous_matrix(text: str, charset: list[str], confusions: dict[int, tuple[str, float]]) -> np.ndarray:
    """A peaky matrix reading `text` (blank, char, char per character) where at position i the model
    prefers confusions[i] = (wrong, p_wrong) over the true character (p = 0.98 - p_wrong)."""
    idx = {ch: i for i, ch in enumerate(charset)}
    p = np.full((3 * len(text) + 1, len(charset)), 1e-6)
    p[:, 0] = 1.0
    for i, ch in enumerate(text):
        for f in (3 * i + 1, 3 * i + 2):
            p[f, 0] = 0.02
            if i in confusions:
                wrong, pw = confusions[i]
                p[f, idx[wrong]], p[f, idx[ch]] = pw, 0.98 - pw
            else:
                p[f, idx[ch]] = 0.98
    return np.log(p / p.sum(axis=1, keepdims=True)).astype(np.float32)


EXAMPLES = [
    ("我们的未来在于创新", {4: ("米", 0.55)}),
    ("今年的大米价格上涨", {4: ("来", 0.55)}),
    ("今年的大米价格上涨", {4: ("来", 0.50)}),
    ("壹万贰仟叁佰肆拾伍元整", {4: ("参", 0.55)}),
    ("壹万贰仟叁佰肆拾伍元整", {8: ("五", 0.55)}),
]


def examples() -> None:
    lm = load_default_lm()
    cfg = DecoderConfig("beam_lm")
    print(f"\nLM fixes (defaults lm_weight={cfg.lm_weight}, length_bonus={cfg.length_bonus}):")
    for text, conf in EXAMPLES:
        charset = ["", *sorted(set(text) | {w for w, _ in conf.values()})]
        m = ambiguous_matrix(text, charset, conf)
        beam = decode(m, charset, DecoderConfig("beam"))[0].text
        fused = decode(m, charset, cfg, lm=lm)[0].text
        print(f"  truth {text}   beam {beam}   beam+LM {fused}")


def sweep_matrix(text: str, charset: list[str], idx: dict[str, int], han: list[int],
                 rng: np.random.Generator) -> np.ndarray:
    """Synthetic ambiguous matrix for one line (see the module docstring)."""
    frames: list[dict[int, float]] = []
    for ch in text:
        if rng.random() < 0.05:
            frames.append({int(han[int(rng.integers(len(han)))]): float(rng.uniform(0.2, 0.45))})
        else:
            frames.append({})
        c = idx[ch]
        r = rng.random()
        if r < 0.25:
            d = int(han[int(rng.integers(len(han)))])
            pd = float(rng.uniform(0.3, 0.6))
            f = {d: pd, c: 0.97 - pd}
        elif r < 0.30:
            f = {c: float(rng.uniform(0.3, 0.5))}
        else:
            f = {c: float(rng.uniform(0.9, 0.99))}
        frames += [f, dict(f)]
    frames.append({})
    p = np.full((len(frames), len(charset)), 1e-7)
    for t, f in enumerate(frames):
        for k, v in f.items():
            p[t, k] += v
        p[t, 0] = max(1.0 - sum(f.values()), 0.01)
    return np.log(p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def sweep(n_lines: int, seed: int, alphas: list[float], betas: list[float]) -> None:
    from ocr.charset import load_charset
    from ocr.training.synth import Corpus

    cs = load_charset()
    charset = list(cs.chars)
    idx = {ch: i for i, ch in enumerate(charset)}
    han = [i for i, ch in enumerate(charset) if "\u4e00" <= ch <= "\u9fff"]
    corpus = Corpus(cs)
    rng = np.random.default_rng(seed)
    lines = [corpus.line(rng, 4, 20) for _ in range(n_lines)]
    mats = [sweep_matrix(t, charset, idx, han, rng) for t in lines]
    lm = load_default_lm()
    n_ref = sum(len(t) for t in lines)

    def cer_of(cfg: DecoderConfig) -> float:
        pairs = zip(lines, mats, strict=True)
        return sum(edit_distance(t, decode(m, charset, cfg, lm=lm)[0].text) for t, m in pairs) / n_ref

    print(f"\nsweep: {n_lines} lines, {n_ref} characters")
    greedy, beam = cer_of(DecoderConfig("greedy")), cer_of(DecoderConfig("beam"))
    print(f"  greedy CER {greedy:.4f}   beam CER {beam:.4f}")
    print("  beam+LM CER, rows lm_weight, columns length_bonus " + " ".join(f"{b:>6}" for b in betas))
    for a in alphas:
        row = [cer_of(DecoderConfig("beam_lm", lm_weight=a, length_bonus=b, fusion="shallow")) for b in betas]
        print(f"  {a:>50} " + " ".join(f"{x:6.4f}" for x in row))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=100)
    ap.add_argument("--engine", default="ppocr-v4", help="engine for a real matrix ('' to skip)")
    ap.add_argument("--image", default="sample_images/real/multi-line_cn1_0.png")
    ap.add_argument("--sweep", action="store_true", help="run the lm_weight/length_bonus sweep instead")
    ap.add_argument("--lines", type=int, default=150)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--alphas", default="0.1,0.2,0.3,0.5,0.7,1.0")
    ap.add_argument("--betas", default="0.0,0.5,1.0,1.5,2.0,3.0")
    args = ap.parse_args()
    if args.sweep:
        sweep(args.lines, args.seed, [float(x) for x in args.alphas.split(",")],
              [float(x) for x in args.betas.split(",")])
        return
    latency(args.repeats, args.engine or None, args.image)
    examples()


if __name__ == "__main__":
    main()
