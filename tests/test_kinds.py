"""Training-line kinds (ocr.training.synth.kinds): shape, polarity, labels in the charset, determinism."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ocr.charset import load_charset
from ocr.errors import MissingFont
from ocr.preprocess import background_is_dark
from ocr.training.synth import Corpus, kinds
from ocr.training.synth.kinds import (
    KIND_MIX,
    KINDS,
    SIGN_FONTS,
    kind_lines,
    render_kind,
    render_kind_test_set,
)

pytestmark = pytest.mark.noto


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_a_model_view_line(kind: str) -> None:
    corpus, cs = Corpus(), load_charset()
    for i in range(3):
        text, img, font = render_kind(kind, np.random.default_rng([3, i]), corpus, height=64)
        assert text.strip() and cs.covers(text), (kind, text)
        assert img.dtype == np.uint8 and img.ndim == 2 and img.shape[0] == 64 and img.shape[1] >= 32
        assert not background_is_dark(img)[0], f"{kind} line {i} ({font}) is not dark-on-light"


def test_plate_text_format() -> None:
    corpus = Corpus()
    text, _, font = render_kind("plate", np.random.default_rng(5), corpus)
    assert font == "plate" and len(text) in (7, 8)
    assert "\u4e00" <= text[0] <= "\u9fff" and text[1:].isascii() and text[1:].isalnum()


def test_kind_lines_deterministic_and_mixed() -> None:
    a = list(kind_lines(12, seed=4, height=32))
    b = list(kind_lines(12, seed=4, height=32))
    assert [t for t, _, _ in a] == [t for t, _, _ in b]
    assert all(np.array_equal(x, y) for (_, x, _), (_, y, _) in zip(a, b, strict=True))
    assert len({k.split("/")[0] for _, _, k in a}) >= 3
    with pytest.raises(ValueError, match="unknown line kind"):
        render_kind("poster", np.random.default_rng(0), Corpus())


def test_kind_test_set_names_the_kind_in_the_first_folder(tmp_path: Path) -> None:
    # plates and symbol lines are never traditional, so the set renders without the training faces
    labels = render_kind_test_set(tmp_path / "k", n=6, mix={"plate": 1.0, "symbol": 1.0})
    rows = [line.split("\t") for line in labels.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 6 and all(len(r) == 2 for r in rows)
    assert {r[0].split("/")[0] for r in rows} == {"plate", "symbol"}
    assert all((labels.parent / r[0]).exists() for r in rows)


def test_held_out_lines_do_not_depend_on_the_training_faces(monkeypatch: pytest.MonkeyPatch) -> None:
    """Held-out lines of every kind (traditional ones too) and held-out plates draw only faces that
    `make install` provides: without the traditional training faces, HELD_OUT_TC_FONT and the other sign
    faces (a machine without `install_system.sh --training`) they render the same images."""
    corpus = Corpus()

    def lines() -> list[tuple[str, np.ndarray]]:
        return [render_kind(k, np.random.default_rng([33, i]), corpus, height=32, held_out=True)[:2]
                for k in ("doc_tc", "scene", "facade", "contact", "plate", "plate_cam") for i in range(6)]

    before = lines()
    monkeypatch.setattr(kinds, "TC_FONTS", ())
    monkeypatch.setattr(kinds, "SIGN_FONTS", tuple(f for f in kinds.SIGN_FONTS
                                                   if f.name in kinds.HELD_OUT_PLATE_FONTS))
    after = lines()
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(before, after, strict=True))
    assert render_kind("doc_tc", np.random.default_rng(4), corpus)[0]  # training lines still render


def test_held_out_lines_need_the_held_out_face(monkeypatch: pytest.MonkeyPatch) -> None:
    from dataclasses import replace

    from ocr.training.synth import fonts

    gone = tuple(replace(f, path="/nonexistent/uming.ttc") if f.name == fonts.HELD_OUT_FONT else f
                 for f in fonts.FONTS)
    monkeypatch.setattr(fonts, "FONTS", gone)
    with pytest.raises(MissingFont, match="fonts-arphic-uming"):
        render_kind("doc_sc", np.random.default_rng(4), Corpus(), held_out=True)


@pytest.mark.parametrize("kind", ["doc_tc", "form", "sign", "symbol", "scene", "facade", "contact"])
def test_max_chars_keeps_lines_short(kind: str) -> None:
    corpus = Corpus()
    for i in range(6):
        text, img, _ = render_kind(kind, np.random.default_rng([8, i]), corpus, height=32, max_chars=6)
        assert 0 < len(text) <= 6 and text == text.rstrip(), (kind, text)
        assert img.shape[0] == 32


def test_symbol_lines_draw_the_symbols_other_kinds_never_do() -> None:
    """The "symbol" kind (outside the default mix, so the held-out kinds set is unchanged) puts the
    charset's enumerations, relations, units, accents and code marks into lines; the default mix
    draws almost none of them."""
    assert "symbol" not in KIND_MIX and set(KIND_MIX) < set(KINDS)
    corpus, cs = Corpus(), load_charset()

    def marks(texts: list[str]) -> set[str]:
        return {c for t in texts for c in t if not c.isascii() and not "\u4e00" <= c <= "\u9fff"}

    symbol = [render_kind("symbol", np.random.default_rng([12, i]), corpus, height=32)[0] for i in range(60)]
    mixed = [t for t, _, _ in kind_lines(60, seed=12, height=32)]
    assert all(cs.covers(t) for t in symbol)
    assert len(marks(symbol)) >= 40 and len(marks(symbol)) > 3 * len(marks(mixed))
    assert any(c in "".join(symbol) for c in "①②③④⑤⑥⑦⑧⑨⑩") and "±" in "".join(
        corpus.symbolic(np.random.default_rng([5, i]), 12) for i in range(200))


def test_contact_lines_draw_what_the_probe_found_missing() -> None:
    """The "contact" kind (outside the default mix) draws lower-case web addresses, e-mails with `_`,
    starred notes and the `~` / `～` of opening hours, which the session-22 probe found misread; every
    line is in the charset and renders, as a document line or a sign."""
    assert "contact" not in KIND_MIX and "contact" in KINDS
    corpus, cs = Corpus(), load_charset()
    texts = [corpus.contact(np.random.default_rng([25, i])) for i in range(300)]
    joined = "\n".join(texts)
    assert all(t and cs.covers(t) for t in texts)
    assert "www." in joined and "@" in joined and "_" in joined and "*" in joined
    assert any(m in joined for m in "~～") and "http" in joined
    lower = [t for t in texts if "www." in t]
    assert len(lower) >= 20
    rendered = [render_kind("contact", np.random.default_rng([26, i]), corpus, height=32) for i in range(12)]
    assert all(cs.covers(t) and img.shape[0] == 32 and img.dtype == np.uint8 for t, img, _ in rendered)
    again = [render_kind("contact", np.random.default_rng([26, i]), corpus, height=32) for i in range(12)]
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(rendered, again, strict=True))


def test_receipt_lines_are_items_totals_fields_and_notes() -> None:
    """The "receipt" kind (outside the default mix) draws what receipts and tickets print: items with
    prices, totals, masked card numbers, date-times, shop names and printed notes, every line in the
    charset; it renders deterministically."""
    import re

    assert "receipt" not in KIND_MIX and "receipt" in KINDS
    corpus, cs = Corpus(), load_charset()
    texts = [corpus.receipt(np.random.default_rng([27, i])) for i in range(300)]
    joined = "\n".join(texts)
    assert all(t and cs.covers(t) for t in texts)
    assert sum(bool(re.search(r"\d\.\d\d$", t)) for t in texts) >= 60  # amounts end item and total lines
    assert "****" in joined and re.search(r"\d\d:\d\d:\d\d", joined) and "谢谢惠顾" in joined
    assert any(t.endswith(("超市", "便利店", "餐厅")) for t in texts)
    rendered = [render_kind("receipt", np.random.default_rng([28, i]), corpus, height=32) for i in range(16)]
    assert all(cs.covers(t) and img.shape[0] == 32 and img.dtype == np.uint8 for t, img, _ in rendered)
    again = [render_kind("receipt", np.random.default_rng([28, i]), corpus, height=32) for i in range(16)]
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(rendered, again, strict=True))


def test_label_lines_are_fibres_standards_care_fields_and_ingredients() -> None:
    """The "label" kind (outside the default mix) draws care and product labels: fibre content, standard
    numbers, care instructions, ingredient lists, every line in the charset; it renders deterministically."""
    import re

    assert "label" not in KIND_MIX and "label" in KINDS
    corpus, cs = Corpus(), load_charset()
    texts = [corpus.label(np.random.default_rng([29, i])) for i in range(300)]
    joined = "\n".join(texts)
    assert all(t and cs.covers(t) for t in texts)
    assert re.search(r"\d+%\S", joined) and re.search(r"GB(/T)? \d{4,5}-20\d\d", joined)
    assert "配料" in joined and "、" in joined and "不可漂白" in joined
    rendered = [render_kind("label", np.random.default_rng([30, i]), corpus, height=32) for i in range(16)]
    assert all(cs.covers(t) and img.shape[0] == 32 and img.dtype == np.uint8 for t, img, _ in rendered)
    again = [render_kind("label", np.random.default_rng([30, i]), corpus, height=32) for i in range(16)]
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(rendered, again, strict=True))


def test_accept_redraws_the_text_before_rendering() -> None:
    """A refused text is drawn again; the same seed without `accept` gives the unfiltered line; a kind
    that never passes raises LookupError, not a font error."""
    corpus = Corpus()
    for i in range(4):
        text, img, _ = render_kind("doc_sc", np.random.default_rng([9, i]), corpus, height=32,
                                   accept=lambda t: any(c.isdigit() for c in t))
        assert any(c.isdigit() for c in text) and img.shape[0] == 32
    plain = [render_kind("doc_sc", np.random.default_rng([9, i]), corpus, height=32)[0] for i in range(4)]
    again = [render_kind("doc_sc", np.random.default_rng([9, i]), corpus, height=32, accept=lambda t: True)[0]
             for i in range(4)]
    assert plain == again
    with pytest.raises(LookupError, match="accepted"):
        render_kind("plate", np.random.default_rng(0), corpus, accept=lambda t: False)


def test_scene_lines_are_sign_words_and_a_crop_can_cut_the_letters() -> None:
    """"scene" draws short words without punctuation in the sign faces; some crops cut the letters (the
    line is then lower than an uncut line of the same face and size would be)."""
    corpus, cs = Corpus(), load_charset()
    lines = [render_kind("scene", np.random.default_rng([21, i]), corpus, height=64) for i in range(24)]
    assert all(0 < len(t) <= 10 and t.isalnum() and cs.covers(t) for t, _, _ in lines)
    assert {f for _, _, f in lines} <= {f.name for f in SIGN_FONTS}
    from ocr.training.synth.kinds import _scene

    font = next(f for f in SIGN_FONTS if Path(f.path).exists())
    heights = {_scene("招牌", font, np.random.default_rng(s)).shape[0] for s in range(40)}
    assert len(heights) > 5  # extrusion depth, padding and cuts vary the crop


def test_facade_lines_are_sign_words_on_a_building() -> None:
    """"facade" (outside the default mix) draws scene's words in the sign faces on a wall: slats and
    siding groove the line (the shade dips once a board), other walls texture it; crops, weights and
    widths vary; the lines render deterministically."""
    from ocr.training.synth.kinds import _facade, _wall

    assert "facade" not in KIND_MIX and "facade" in KINDS
    corpus, cs = Corpus(), load_charset()
    lines = [render_kind("facade", np.random.default_rng([34, i]), corpus, height=32) for i in range(16)]
    assert all(0 < len(t) <= 10 and t.isalnum() and cs.covers(t) for t, _, _ in lines)
    assert all(img.shape[0] == 32 and img.dtype == np.uint8 for _, img, _ in lines)
    assert {f for _, _, f in lines} <= {f.name for f in SIGN_FONTS}
    again = [render_kind("facade", np.random.default_rng([34, i]), corpus, height=32) for i in range(16)]
    assert all(a[0] == b[0] and np.array_equal(a[1], b[1]) for a, b in zip(lines, again, strict=True))
    grooved = textured = 0
    for seed in range(60):
        tex, shade = _wall(60, 300, np.array([128, 128, 128]), 48, np.random.default_rng(seed))
        assert tex.shape == (60, 300, 3) and shade.shape == (60, 300)
        if shade.min() < 0.75:  # slats or siding: a groove in every board
            profile = shade.mean(axis=0) if shade.std(axis=0).max() < 1e-6 else shade.mean(axis=1)
            assert (np.diff((profile < 0.75).astype(int)) == 1).sum() >= 2
            grooved += 1
        elif tex.std() > 3:
            textured += 1
    assert grooved >= 10 and textured >= 15
    font = next(f for f in SIGN_FONTS if Path(f.path).exists())
    shapes = {_facade("招牌", font, np.random.default_rng(s)).shape[:2] for s in range(40)}
    assert len({h for h, _ in shapes}) > 5 and len({w for _, w in shapes}) > 5  # crops, widths, padding


def test_plate_cam_draws_plate_texts_as_a_camera_sees_them() -> None:
    """"plate_cam" (outside the default mix) draws the plate kind's texts, deterministically per seed, in
    another look: an even-stroke letter face for most plates, slant and light the `plate` kind lacks."""
    import cv2

    from ocr.training.synth.kinds import _stroke_glyph

    assert "plate_cam" not in KIND_MIX and "plate_cam" in KINDS
    corpus = Corpus()
    for i in range(6):
        cam = render_kind("plate_cam", np.random.default_rng([31, i]), corpus, height=32)
        plain = render_kind("plate", np.random.default_rng([31, i]), corpus, height=32)
        again = render_kind("plate_cam", np.random.default_rng([31, i]), corpus, height=32)
        assert cam[0] == plain[0] and cam[2] == "plate_cam" and plain[2] == "plate"
        assert np.array_equal(cam[1], again[1]) and not np.array_equal(cam[1], plain[1])
    eight = _stroke_glyph("8", (45, 90), 10, cv2.FONT_HERSHEY_SIMPLEX)
    one = _stroke_glyph("1", (45, 90), 10, cv2.FONT_HERSHEY_SIMPLEX)
    assert eight.shape == one.shape == (90, 45) and 0.1 < eight.mean() < 0.6
    assert one[:, :10].max() == 0 and one[:, 35:].max() == 0  # a '1' keeps its narrow stem, centred

