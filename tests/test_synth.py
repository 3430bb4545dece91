"""ocr.training.synth: determinism for a seed, font coverage, corpus sanity, shards, test-set layout."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ocr.charset import CHARSET_FILE, charset_sha256, gb2312_chars, load_charset
from ocr.training.synth import (
    HELD_OUT_FONT,
    Corpus,
    amount_upper,
    available_fonts,
    font_by_name,
    font_covers,
    load_shard,
    render_line,
    render_shards,
    render_test_set,
    training_fonts,
)


def test_charset_file_blank_and_sha() -> None:
    cs = load_charset()
    assert cs.chars[0] == ""
    assert len(set(cs.chars)) == len(cs.chars)
    assert all(len(c) == 1 for c in cs.chars[1:])
    assert cs.encode("中文A1，") and cs.decode(cs.encode("中文A1，")) == "中文A1，"
    assert charset_sha256(cs.chars) == cs.sha256
    assert CHARSET_FILE.read_text(encoding="utf-8").count("\n") == len(cs) - 1
    han = [c for c in gb2312_chars() if "\u4e00" <= c <= "\u9fff"]
    assert len(han) == 6763 and all(c in cs for c in han)


def test_amount_upper() -> None:
    assert amount_upper(1234, 5) == "壹仟贰佰叁拾肆元伍角"
    assert amount_upper(100000001) == "壹亿零壹元整"
    assert amount_upper(10203, 0, 7) == "壹万零贰佰零叁元零柒分"
    assert amount_upper(1005000) == "壹佰万零伍仟元整"


def test_corpus_lines_are_in_charset_and_deterministic() -> None:
    corpus, cs = Corpus(), load_charset()
    a = [corpus.line(np.random.default_rng([3, i]), 1, 30) for i in range(200)]
    b = [corpus.line(np.random.default_rng([3, i]), 1, 30) for i in range(200)]
    assert a == b
    assert all(1 <= len(t) <= 30 and cs.covers(t) for t in a)
    joined = "".join(a)
    assert any(c.isdigit() for c in joined) and any(c.isascii() and c.isalpha() for c in joined)



def test_corpus_prose_marks() -> None:
    """prose > 0 puts dashes, ellipses and interpuncts between words (inside the charset, within the
    length); 0 keeps the old lines (the held-out sets are rendered with it)."""
    from ocr.training.synth.corpus import _PUNCT_PROSE

    cs = load_charset()
    plain, prose, zero = Corpus(), Corpus(prose=0.3), Corpus(prose=0.0)  # each builds its word table once
    lines = [prose.line(np.random.default_rng([3, i]), 1, 30) for i in range(300)]
    assert lines == [prose.line(np.random.default_rng([3, i]), 1, 30) for i in range(300)]
    assert all(1 <= len(t) <= 30 and cs.covers(t) for t in lines)
    joined = "".join(lines)
    assert all(mark in joined for mark in ("——", "……", "·", "～"))
    old = [plain.line(np.random.default_rng([3, i]), 1, 30) for i in range(300)]
    assert old == [zero.line(np.random.default_rng([3, i]), 1, 30) for i in range(300)]
    assert sum("——" in t for t in old) < sum("——" in t for t in lines)
    assert all(cs.covers(m) for m in _PUNCT_PROSE)
    with pytest.raises(ValueError, match="prose"):
        Corpus(prose=1.0)

@pytest.mark.noto
@pytest.mark.parametrize("augment", [False, True])
def test_render_line_deterministic(augment: bool) -> None:
    font = font_by_name("noto-sans-sc")
    a = render_line("发票号码：No.12345 壹佰元整", font, 64, seed=11, augment=augment)
    b = render_line("发票号码：No.12345 壹佰元整", font, 64, seed=11, augment=augment)
    c = render_line("发票号码：No.12345 壹佰元整", font, 64, seed=12, augment=augment)
    assert a.dtype == np.uint8 and a.ndim == 2 and a.shape[0] == 64 and a.shape[1] > 64
    assert np.array_equal(a, b)
    if augment:
        assert not np.array_equal(a, c)
    assert a.mean() > 100  # mostly light background, dark text


@pytest.mark.noto
def test_font_coverage() -> None:
    # simplified faces cover GB2312 (the charset's traditional extension is drawn by the TC faces)
    han = "".join(c for c in gb2312_chars() if "\u4e00" <= c <= "\u9fff")
    for f in available_fonts():
        assert font_covers(f, "中华人民共和国0123456789ABCabc，。")
        if f.name not in ("smiley-sans", "gkai00mp"):  # GB2312-only faces may miss a few
            assert font_covers(f, han), f.name
    assert HELD_OUT_FONT not in {f.name for f in training_fonts()}
    assert not font_covers(font_by_name("noto-sans-sc"), "\U000f0000")  # a private-use code point


@pytest.mark.noto
def test_shard_round_trip(tmp_path: Path) -> None:
    stats = render_shards(tmp_path, n=7, seed=5, shard_size=4, max_len=6)
    assert stats["lines"] == 7
    paths = sorted(tmp_path.glob("shard_*.npz"))
    assert len(paths) == 2
    sh = load_shard(paths[0])
    assert len(sh) == 4 and sh.offsets[0] == 0 and sh.offsets[-1] == sh.pixels.shape[0]
    assert all(sh.image(i).shape[0] == 64 for i in range(4))
    assert all(1 <= len(t) <= 6 for t in sh.labels)
    # the same seed renders the same shard; existing shards are kept on a second call
    again = tmp_path / "again"
    render_shards(again, n=7, seed=5, shard_size=4, max_len=6)
    sh2 = load_shard(sorted(again.glob("shard_*.npz"))[0])
    assert sh2.labels == sh.labels and np.array_equal(sh2.pixels, sh.pixels)
    assert render_shards(tmp_path, n=7, seed=5, shard_size=4, max_len=6)["lines"] == 0
    # prose marks reach the shards' labels
    marked = tmp_path / "prose"
    render_shards(marked, n=12, seed=5, shard_size=12, max_len=24, prose=0.5)
    from ocr.training.synth.corpus import _PUNCT_PROSE

    assert any(m in t for t in load_shard(marked / "shard_00000.npz").labels for m in _PUNCT_PROSE)


@pytest.mark.noto
def test_render_test_set(tmp_path: Path) -> None:
    if not Path(font_by_name(HELD_OUT_FONT).path).exists():
        pytest.skip("held-out font fonts-arphic-uming not installed")
    labels = render_test_set(tmp_path, n=8, seed=1)
    rows = labels.read_text(encoding="utf-8").splitlines()
    assert len(rows) == 8
    for row in rows:
        rel, text = row.split("\t")
        assert (tmp_path / rel).is_file() and text


@pytest.mark.parametrize(("yuan", "text"), [
    (12345, "壹万贰仟叁佰肆拾伍元整"),
    (19215, "壹万玖仟贰佰壹拾伍元整"),
    (10001, "壹万零壹元整"),
    (100100, "壹拾万零壹佰元整"),
    (1010, "壹仟零壹拾元整"),
    (20000050, "贰仟万零伍拾元整"),
    (100000001, "壹亿零壹元整"),
    (101000000, "壹亿零壹佰万元整"),
])
def test_amount_upper_zeros(yuan: int, text: str) -> None:
    from ocr.training.synth import amount_upper

    assert amount_upper(yuan) == text
