"""CTC decoders: hand-worked greedy cases, beam search against brute force, alignment, properties, LM."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ocr.decoding import DecoderConfig, align, decode, greedy_decode, load_default_lm, prefix_beam_search

CS = ("", "a", "b", "c")


def _lp(probs: list[list[float]]) -> np.ndarray:
    p = np.asarray(probs, dtype=np.float64)
    return np.log(p / p.sum(axis=1, keepdims=True)).astype(np.float32)


def _collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    out: list[int] = []
    prev = -1
    for s in path:
        if s != prev and s != 0:
            out.append(s)
        prev = s
    return tuple(out)


def _brute_force(lp: np.ndarray) -> dict[tuple[int, ...], float]:
    """log P(labelling) summed over every alignment (T^C paths)."""
    t_len, c = lp.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(c), repeat=t_len):
        s = float(sum(lp[t, k] for t, k in enumerate(path)))
        lab = _collapse(path)
        totals[lab] = float(np.logaddexp(totals[lab], s)) if lab in totals else s
    return totals


def test_greedy_hand_worked() -> None:
    # frames: a a blank a b b -> "aab"; spans [0,2) [3,4) [4,6)
    lp = _lp([[.1, .8, .05, .05], [.1, .7, .1, .1], [.9, .05, .03, .02],
              [.2, .6, .1, .1], [.1, .1, .7, .1], [.1, .1, .6, .2]])
    d = greedy_decode(lp, CS)
    assert d.text == "aab" and d.labels == (1, 1, 2)
    assert d.spans == ((0, 2), (3, 4), (4, 6))
    assert d.confidences == pytest.approx((0.8, 0.6, 0.7), abs=1e-5)
    assert d.score == pytest.approx(math.log(.8 * .7 * .9 * .6 * .7 * .6), abs=1e-5)


def test_greedy_repeats_without_blank_merge() -> None:
    lp = _lp([[.05, .9, .03, .02]] * 3)  # "aaa" without a blank between is one "a"
    d = greedy_decode(lp, CS)
    assert d.text == "a" and d.spans == ((0, 3),)


@pytest.mark.parametrize("t_len", [0, 1])
def test_empty_and_single_frame(t_len: int) -> None:
    lp = _lp([[.2, .5, .2, .1]] * t_len) if t_len else np.zeros((0, 4), np.float32)
    g = greedy_decode(lp, CS)
    b = prefix_beam_search(lp, CS, beam_width=4)
    assert g.text == b[0].text == ("a" if t_len else "")


def test_all_blank_gives_empty_text() -> None:
    lp = _lp([[.97, .01, .01, .01]] * 6)
    assert greedy_decode(lp, CS).text == ""
    best = prefix_beam_search(lp, CS)[0]
    assert best.text == "" and best.spans == ()


def test_bad_input_raises_clearly() -> None:
    with pytest.raises(ValueError, match="classes"):
        greedy_decode(np.zeros((3, 5), np.float32), CS)
    with pytest.raises(ValueError, match=r"\(T, C\)"):
        greedy_decode(np.zeros(4, np.float32), CS)
    with pytest.raises(ValueError, match="beam_width"):
        prefix_beam_search(np.zeros((2, 4), np.float32), CS, beam_width=0)
    with pytest.raises(ValueError, match="language model"):
        decode(np.zeros((2, 4), np.float32), CS, DecoderConfig(method="beam_lm"))
    with pytest.raises(ValueError, match="unknown decoder"):
        DecoderConfig(method="viterbi")  # type: ignore[arg-type]


def test_options_become_one_config() -> None:
    base = DecoderConfig()
    assert DecoderConfig.from_options("beam") == DecoderConfig(method="beam")
    assert DecoderConfig.from_options("greedy", lm=True).method == "beam_lm"  # --lm / lm=true wins
    cfg = DecoderConfig.from_options("beam_lm", beam_width=4, nbest=2, lm_weight=None, length_bonus=0.5)
    assert (cfg.beam_width, cfg.nbest, cfg.lm_weight, cfg.length_bonus) == (4, 2, base.lm_weight, 0.5)
    with pytest.raises(ValueError, match="unknown decoder"):
        DecoderConfig.from_options("viterbi")
    with pytest.raises(ValueError):
        DecoderConfig.from_options("beam", beam_width=0)


@pytest.mark.parametrize("seed", range(12))
def test_beam_matches_brute_force(seed: int) -> None:
    rng = np.random.default_rng(seed)
    t_len, c = int(rng.integers(2, 6)), int(rng.integers(3, 5))
    lp = np.log(rng.dirichlet(np.ones(c) * 0.7, size=t_len)).astype(np.float64)
    charset = CS[:c]
    truth = sorted(_brute_force(lp).items(), key=lambda kv: kv[1], reverse=True)
    got = prefix_beam_search(lp, charset, beam_width=200, nbest=3, top_k=c, prune_logprob=-1e9)
    assert got[0].labels == truth[0][0]
    assert got[0].score == pytest.approx(truth[0][1], abs=1e-6)
    for d, (lab, score) in zip(got, truth[:3], strict=False):
        assert d.score == pytest.approx(score, abs=1e-6)
        assert d.labels == lab or math.isclose(d.score, score, abs_tol=1e-9)


def test_beam_beats_greedy_when_alignments_add_up() -> None:
    # greedy path: blank,blank -> "" (p .36); but "a" sums over 3 alignments (.24 + .24 + .16 = .64)
    lp = _lp([[.6, .4, 0.0001, 0.0001], [.6, .4, 0.0001, 0.0001]])
    assert greedy_decode(lp, CS).text == ""
    best = prefix_beam_search(lp, CS, beam_width=5)[0]
    assert best.text == "a"
    assert math.exp(best.score) == pytest.approx(.4 * .4 + .6 * .4 + .4 * .6, rel=1e-3)


def test_alignment_spans_are_monotone_and_in_range() -> None:
    rng = np.random.default_rng(3)
    lp = np.log(rng.dirichlet(np.ones(4), size=12)).astype(np.float32)
    spans, confs = align(lp, [1, 1, 2, 3])
    assert len(spans) == 4 and all(0 <= s < e <= 12 for s, e in spans)
    assert all(spans[i][1] <= spans[i + 1][0] for i in range(3))
    assert spans[0][1] < spans[1][0]  # repeated label needs a blank between
    assert all(0 < c <= 1 for c in confs)
    with pytest.raises(ValueError, match="cannot be aligned"):
        align(lp[:2], [1, 1, 2])


matrices = st.integers(0, 9).flatmap(
    lambda t: st.integers(2, 6).flatmap(
        lambda c: st.lists(st.lists(st.floats(0.001, 1.0), min_size=c, max_size=c), min_size=t, max_size=t)
        .map(lambda rows, c=c: (np.log(np.asarray(rows).reshape(-1, c) / np.asarray(rows).reshape(-1, c)
                                       .sum(axis=1, keepdims=True)) if rows else np.zeros((0, c))))))


@settings(max_examples=60, deadline=None)
@given(matrices, st.sampled_from(["greedy", "beam"]))
def test_decoder_contract_properties(lp: np.ndarray, method: str) -> None:
    c = lp.shape[1]
    charset = ("", *"abcdef"[: c - 1])
    out = decode(lp.astype(np.float32), charset, DecoderConfig(method=method, beam_width=4))  # type: ignore[arg-type]
    assert 1 <= len(out) <= 5
    for d in out:
        assert len(d.labels) == len(d.confidences) == len(d.spans) == len(d.text)
        assert all(0 < lab < c for lab in d.labels)
        assert all(0.0 <= x <= 1.0 for x in d.confidences)
        assert all(0 <= s < e <= lp.shape[0] for s, e in d.spans)
        assert all(d.spans[i][1] <= d.spans[i + 1][0] for i in range(len(d.spans) - 1))
    if method == "beam" and lp.shape[0]:
        g = greedy_decode(lp.astype(np.float32), charset)
        assert out[0].score >= g.score - 1e-4  # a labelling's sum of paths >= its best path
    scores = [d.score for d in out]
    assert scores == sorted(scores, reverse=True)


def test_lm_prefers_real_words() -> None:
    lm = load_default_lm()
    assert lm.score("未", "来") > lm.score("未", "米") + 3
    assert lm.score("大", "米") > lm.score("大", "来") + 1
    assert lm.score("肆", "拾") > lm.score("肆", "十")
    assert lm.score("", "A") == lm.score("", "7")  # non-CJK: flat


def _ambiguous(text: str, confusions: dict[int, tuple[str, float]], charset: list[str]) -> np.ndarray:
    """A peaky matrix reading `text`, where at char position i the acoustic model slightly prefers
    a wrong character (confusions[i] = (wrong, p_wrong))."""
    idx = {ch: i for i, ch in enumerate(charset)}
    t_len = 3 * len(text) + 1
    lp = np.full((t_len, len(charset)), 1e-6)
    lp[:, 0] = 1.0
    for i, ch in enumerate(text):
        f = 3 * i + 1
        lp[f, 0] = 0.01
        if i in confusions:
            wrong, p = confusions[i]
            lp[f, idx[wrong]] = p
            lp[f, idx[ch]] = 1 - p - 0.01
        else:
            lp[f, idx[ch]] = 0.99
    return np.log(lp / lp.sum(axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize(("text", "confusions"), [
    ("我们的未来在于创新", {4: ("米", 0.55)}),
    # the LM prefers 大米 over 大来 here by only 0.46 nats, so it can only settle a near coin-flip
    ("今年的大米价格", {4: ("来", 0.51)}),
    ("壹万贰仟叁佰肆拾伍元整", {4: ("参", 0.55)}),
])
def test_lm_fixes_context_confusions(text: str, confusions: dict[int, tuple[str, float]]) -> None:
    chars = sorted(set(text) | {w for w, _ in confusions.values()})
    charset = ["", *chars]
    lp = _ambiguous(text, confusions, charset)
    beam = decode(lp, charset, DecoderConfig(method="beam"))[0].text
    fused = decode(lp, charset, DecoderConfig(method="beam_lm"), lm=load_default_lm())[0].text
    assert beam != text  # the acoustic model alone picks the confusion
    assert fused == text


def test_long_lines_align() -> None:
    # 150 labels -> 301 alignment states: state indices must not overflow small integer types
    rng = np.random.default_rng(5)
    n_cls, n = 50, 150
    labels = rng.integers(1, n_cls, n)
    lp = np.full((3 * n + 2, n_cls), -12.0, np.float32)
    lp[:, 0] = 0.0
    for i, c in enumerate(labels):
        lp[3 * i + 1, c], lp[3 * i + 1, 0] = 0.0, -12.0
    charset = ["", *[chr(0x4E00 + i) for i in range(1, n_cls)]]
    best = prefix_beam_search(lp, charset, beam_width=5)[0]
    assert best.labels == tuple(int(x) for x in labels)
    assert best.spans[-1][0] == 3 * (n - 1) + 1


def _forward_logprob(lp: np.ndarray, labels: tuple[int, ...]) -> float:
    """log P(labels) by the CTC forward algorithm (every alignment), independent of the beam code."""
    ext = [0]
    for c in labels:
        ext += [c, 0]
    alpha = np.full(len(ext), -np.inf)
    alpha[0] = lp[0, 0]
    if len(ext) > 1:
        alpha[1] = lp[0, ext[1]]
    for t in range(1, lp.shape[0]):
        new = np.full(len(ext), -np.inf)
        for s, c in enumerate(ext):
            terms = [alpha[s]]
            if s >= 1:
                terms.append(alpha[s - 1])
            if s >= 2 and c != 0 and ext[s - 2] != c:
                terms.append(alpha[s - 2])
            new[s] = np.logaddexp.reduce(terms) + lp[t, c]
        alpha = new
    return float(np.logaddexp(alpha[-1], alpha[-2]) if len(ext) > 1 else alpha[-1])


@settings(max_examples=40, deadline=None)
@given(matrices.filter(lambda m: m.shape[0] > 0), st.integers(1, 6))
def test_beam_scores_are_lower_bounds_of_the_forward_probability(lp: np.ndarray, width: int) -> None:
    charset = ("", *"abcdef"[: lp.shape[1] - 1])
    out = prefix_beam_search(lp.astype(np.float32), charset, beam_width=width, nbest=width, top_k=2)
    for d in out:  # pruned alignments can only lower a labelling's score, never raise it
        assert d.score <= _forward_logprob(lp.astype(np.float32), d.labels) + 1e-4
    assert len({d.labels for d in out}) == len(out)  # no labelling twice


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 5).flatmap(lambda t: st.lists(
    st.lists(st.floats(0.001, 1.0), min_size=3, max_size=3), min_size=t, max_size=t)))
def test_unpruned_beam_is_exact_and_beats_the_greedy_path(rows: list[list[float]]) -> None:
    p = np.asarray(rows)
    lp = np.log(p / p.sum(axis=1, keepdims=True))
    best = prefix_beam_search(lp, CS[:3], beam_width=400, nbest=1, top_k=3, prune_logprob=-1e9)[0]
    assert best.score == pytest.approx(max(_brute_force(lp).values()), abs=1e-6)
    assert best.score == pytest.approx(_forward_logprob(lp, best.labels), abs=1e-6)
    assert best.score >= greedy_decode(lp, CS[:3]).score - 1e-9


def test_nbest_order_matches_brute_force_exactly() -> None:
    rng = np.random.default_rng(11)
    lp = np.log(rng.dirichlet(np.ones(4) * 2.0, size=5))
    truth = sorted(_brute_force(lp).items(), key=lambda kv: kv[1], reverse=True)[:6]
    got = prefix_beam_search(lp, CS, beam_width=500, nbest=6, top_k=3, prune_logprob=-1e9)
    assert [d.labels for d in got] == [lab for lab, _ in truth]
    assert [d.score for d in got] == pytest.approx([s for _, s in truth], abs=1e-6)


@pytest.mark.parametrize("context", ["", "未", "大", "我们", "壹万", "中华人民"])
def test_lm_normalises_over_its_vocabulary(context: str) -> None:
    lm = load_default_lm()
    vocab = [chr(int(k)) for k in lm._k[1]]  # the modelled characters (CJK ideographs seen in training)
    total = sum(math.exp(lm.score(context, ch)) for ch in vocab)
    assert total == pytest.approx(1.0, abs=0.01)  # float16 storage rounds each log-probability


def test_lm_is_flat_outside_chinese_and_loads_order() -> None:
    lm = load_default_lm()
    assert lm.order == 3
    assert lm.score("未", "A") == lm.score("", "7") == lm.score("ABC", "x")
    assert lm.score("9", "年") == lm.score("中国9", "年") == lm.score("", "年")  # after non-CJK: a new word
