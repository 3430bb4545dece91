"""Metrics: CER / 1-NED / line accuracy definitions and normalisation."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocr.evaluation.metrics import Normalization, cer, diff_ops, ned, normalize, score_lines


def test_cer_counts_edits_over_reference_length() -> None:
    assert cer("未来可期", "未米可期") == pytest.approx(0.25)
    assert cer("未来", "未来") == 0.0
    assert cer("ab", "abcd") == pytest.approx(1.0)  # two insertions over two reference chars
    assert cer("", "") == 0.0
    assert cer("", "x") == 1.0


def test_ned_is_bounded_by_longer_string() -> None:
    assert ned("ab", "abcd") == pytest.approx(0.5)
    assert ned("", "") == 0.0


def test_normalisation_nfkc_and_spaces() -> None:
    assert normalize("ＡＢ１２，") == "AB12,"
    assert normalize("a  b\tc") == "abc"
    assert normalize(" a  b ", Normalization(nfkc=False, spaces="collapse")) == "a b"
    assert normalize("ＡＢ", Normalization(nfkc=False, spaces="keep")) == "ＡＢ"
    assert cer("电话：123", "电话:123") == 0.0  # full-width colon folds to ":"
    assert cer("电话：123", "电话:123", Normalization(nfkc=False)) == pytest.approx(1 / 6)


def test_pooled_scores() -> None:
    s = score_lines([("你好世界", "你好世界"), ("未来", "未米")])
    assert s.n == 2 and s.line_acc == 0.5
    assert s.cer == pytest.approx(1 / 6)
    assert s.ned == pytest.approx(1 - (0 + 0.5) / 2)
    empty = score_lines([])
    assert empty.n == 0 and empty.cer == 0.0


def test_diff_ops_marks_the_changed_character() -> None:
    ops = diff_ops("大写金额", "大与金额")
    assert ("replace", 1, 2, 1, 2) in ops
    assert all(tag in {"equal", "replace", "insert", "delete"} for tag, *_ in ops)


@given(st.text(max_size=30), st.text(max_size=30))
def test_metric_ranges(ref: str, hyp: str) -> None:
    assert 0.0 <= ned(ref, hyp) <= 1.0
    assert cer(ref, hyp) >= 0.0
    assert cer(ref, ref) == 0.0
