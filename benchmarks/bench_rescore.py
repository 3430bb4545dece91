"""How the beam + LM rescoring defaults were chosen (issue 20): a sweep on rendered dev lines only.

    python benchmarks/bench_rescore.py [--n 300] [--engines ppocr-v4,ppocr-v6,crnn]

Dev lines: corpus lines (ocr.training.synth.Corpus; words, numbers, Latin and random rare characters)
rendered with augmentation in the held-out uming-cn font, once as written (simplified) and once
converted to traditional with OpenCC s2t (lines the font cannot draw are redrawn from the corpus). Each
engine's (T, C) matrix is computed once per line; the beam's best labelling once per line; then every
(alpha, margin, switch cost) of the grid rescores it (ocr.decoding.rescore.rescore_decoded). Prints CER
(default normalisation) per set × engine for greedy, beam and each grid point; the row marked * is
DecoderConfig's default. Real sets are never used here. Takes a few minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import itertools

import numpy as np

from ocr.decoding import DecoderConfig, load_default_lm, prefix_beam_search
from ocr.decoding.greedy import greedy_decode
from ocr.decoding.rescore import rescore_decoded
from ocr.engines.registry import load_engine
from ocr.evaluation.metrics import score_lines
from ocr.pipeline import recognize
from ocr.training.synth import Corpus, font_by_name, font_covers, render_line

ALPHAS = (0.3, 0.6, 1.0)
MARGINS = (0.2, 0.4, 0.6)
SWITCH = (0.5, 1.0, 1.5)


def dev_lines(n: int, seed: int, traditional: bool) -> list[tuple[str, np.ndarray]]:
    """n (text, RGB image) lines in the held-out font; deterministic for (n, seed, traditional)."""
    import opencc

    conv = opencc.OpenCC("s2t")
    font = font_by_name("uming-cn")
    corpus = Corpus()
    out = []
    for i in range(n):
        rng = np.random.default_rng([seed, i])
        while True:
            text = corpus.line(rng, 2, 24)
            text = conv.convert(text) if traditional else text
            if font_covers(font, text):
                break
        gray = render_line(text, font, 64, int(rng.integers(2**31)), True)
        out.append((text, np.repeat(gray[:, :, None], 3, axis=2)))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=300, help="lines per dev set (default 300)")
    parser.add_argument("--engines", default="ppocr-v4,ppocr-v6,crnn")
    args = parser.parse_args()
    lm = load_default_lm()
    default = DecoderConfig()
    grid = list(itertools.product(ALPHAS, MARGINS, SWITCH))
    sets = {"simplified": dev_lines(args.n, 11, False), "traditional": dev_lines(args.n, 12, True)}
    print("set × engine: greedy, beam, then CER per (alpha, margin, switch cost)")
    totals = {g: [] for g in grid}
    for (set_name, lines), engine_name in itertools.product(sets.items(), args.engines.split(",")):
        engine = load_engine(engine_name)
        cs = engine.charset
        mats = [recognize(img, engine).logprobs for _, img in lines]
        refs = [t for t, _ in lines]
        greedy = score_lines(zip(refs, (greedy_decode(m, cs).text for m in mats), strict=True)).cer
        bests = [prefix_beam_search(m, cs, beam_width=default.beam_width, nbest=1)[0] for m in mats]
        beam = score_lines(zip(refs, (b.text for b in bests), strict=True)).cer
        print(f"\n{set_name} × {engine_name}: greedy {greedy:.4f}  beam {beam:.4f}")
        for a, m, s in grid:
            hyps = [rescore_decoded(mat, cs, b, lm, a, m, s).text for mat, b in zip(mats, bests, strict=True)]
            c = score_lines(zip(refs, hyps, strict=True)).cer
            totals[(a, m, s)].append(c <= greedy)
            mark = "*" if (a, m, s) == (default.lm_weight, default.lm_margin, default.switch_cost) else " "
            print(f"  {mark} alpha {a:<4} margin {m:<4} switch {s:<4} CER {c:.4f} ({c - greedy:+.4f})")
    never_worse = [g for g, ok in totals.items() if all(ok)]
    print(f"\ngrid points at or below greedy CER in every set × engine: {never_worse}")


if __name__ == "__main__":
    main()
