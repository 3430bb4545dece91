"""Aligned character confusions: what an engine reads instead of what is written.

The alignment is rapidfuzz's Levenshtein alignment (unit costs, so its edit count is the CER's
numerator). Minimum-cost alignments are not unique and rapidfuzz breaks ties without looking at matches
("未来可期" → "未米期x" comes back as three substitutions 来→米, 可→期, 期→x); within each run of edits
we therefore re-align with rapidfuzz's Indel (longest common subsequence) opcodes and pair the leftover
characters position by position, and keep that only when it costs the same number of edits — here
来→米, 可→"" (deleted), ""→x (inserted), with 期 matched.

    >>> c = collect_confusions([("未来可期", "未米期x")])
    >>> [(d["ref"], d["hyp"], d["count"]) for d in c.top(3)]
    [('', 'x', 1), ('可', '', 1), ('来', '米', 1)]
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from rapidfuzz.distance import Indel, Levenshtein

__all__ = ["AlignedOp", "Confusions", "align_chars", "collect_confusions", "kind_of"]

Tag = Literal["equal", "replace", "delete", "insert"]


@dataclass(frozen=True)
class AlignedOp:
    """One aligned position: ref_pos/hyp_pos index the (normalised) strings, -1 where a side is empty."""

    tag: Tag
    ref: str
    hyp: str
    ref_pos: int
    hyp_pos: int


def _pair_gaps(r: str, h: str, r0: int, h0: int) -> list[AlignedOp]:
    """Characters between matches, paired position by position; the rest deleted or inserted."""
    out = []
    for k in range(max(len(r), len(h))):
        if k < len(r) and k < len(h):
            out.append(AlignedOp("replace", r[k], h[k], r0 + k, h0 + k))
        elif k < len(r):
            out.append(AlignedOp("delete", r[k], "", r0 + k, -1))
        else:
            out.append(AlignedOp("insert", "", h[k], -1, h0 + k))
    return out


def _realign(r: str, h: str, r0: int, h0: int) -> list[AlignedOp]:
    """A run of edits re-aligned on its longest common subsequence (matches first, gaps paired)."""
    out: list[AlignedOp] = []
    i = j = 0  # end of the last matching block in r and h
    for op in Indel.opcodes(r, h):
        if op.tag != "equal":
            continue
        out += _pair_gaps(r[i:op.src_start], h[j:op.dest_start], r0 + i, h0 + j)
        out += [AlignedOp("equal", r[op.src_start + k], h[op.dest_start + k], r0 + op.src_start + k,
                          h0 + op.dest_start + k) for k in range(op.src_end - op.src_start)]
        i, j = op.src_end, op.dest_end
    return out + _pair_gaps(r[i:], h[j:], r0 + i, h0 + j)


def _cost(ops: list[AlignedOp]) -> int:
    return sum(op.tag != "equal" for op in ops)


def align_chars(ref: str, hyp: str) -> list[AlignedOp]:
    """Every position of a minimum-edit alignment of ref to hyp, matches preferred among ties.

    The number of non-equal ops equals Levenshtein.distance(ref, hyp).
    """
    out: list[AlignedOp] = []
    pending: list[tuple[int, int, int, int]] = []  # consecutive non-equal opcode blocks

    def flush() -> None:
        if not pending:
            return
        a, c = pending[0][0], pending[0][2]
        b, d = pending[-1][1], pending[-1][3]
        plain: list[AlignedOp] = []
        for sa, sb, da, db in pending:
            plain += _pair_gaps(ref[sa:sb], hyp[da:db], sa, da)
        better = _realign(ref[a:b], hyp[c:d], a, c)
        out.extend(better if _cost(better) <= _cost(plain) else plain)
        pending.clear()

    for op in Levenshtein.opcodes(ref, hyp):
        if op.tag == "equal":
            flush()
            out += [AlignedOp("equal", ref[op.src_start + k], hyp[op.dest_start + k], op.src_start + k,
                              op.dest_start + k) for k in range(op.src_end - op.src_start)]
        else:
            pending.append((op.src_start, op.src_end, op.dest_start, op.dest_end))
    flush()
    return out


def kind_of(ref: str, hyp: str) -> str:
    """"substitution", "deletion" (hyp empty) or "insertion" (ref empty)."""
    return "deletion" if not hyp else "insertion" if not ref else "substitution"


@dataclass
class Confusions:
    """Counts over a set of (normalised) line pairs.

    pairs:   (ref_char, hyp_char) -> count; "" on one side for deletions/insertions.
    lines:   (ref_char, hyp_char) -> indices of the lines (in input order) where it happens.
    ref/hyp: character counts in references/hypotheses; correct: matched characters.
    """

    pairs: Counter[tuple[str, str]] = field(default_factory=Counter)
    lines: dict[tuple[str, str], list[int]] = field(default_factory=dict)
    ref: Counter[str] = field(default_factory=Counter)
    hyp: Counter[str] = field(default_factory=Counter)
    correct: Counter[str] = field(default_factory=Counter)

    def add(self, index: int, ref: str, hyp: str) -> None:
        """Add one line pair (already normalised)."""
        self.ref.update(ref)
        self.hyp.update(hyp)
        for op in align_chars(ref, hyp):
            if op.tag == "equal":
                self.correct[op.ref] += 1
                continue
            key = (op.ref, op.hyp)
            self.pairs[key] += 1
            at = self.lines.setdefault(key, [])
            if not at or at[-1] != index:
                at.append(index)

    @property
    def totals(self) -> dict[str, int]:
        """Edits by kind: substitutions, deletions, insertions."""
        out = {"substitution": 0, "deletion": 0, "insertion": 0}
        for (r, h), n in self.pairs.items():
            out[kind_of(r, h)] += n
        return out

    def top(self, n: int = 10) -> list[dict[str, object]]:
        """The n most frequent confusions as {"ref", "hyp", "count"} (ties: by ref, then hyp)."""
        ranked = sorted(self.pairs.items(), key=lambda kv: (-kv[1], kv[0][0], kv[0][1]))[:n]
        return [{"ref": r, "hyp": h, "count": c} for (r, h), c in ranked]

    def char_scores(self, n: int = 20) -> list[dict[str, object]]:
        """Precision and recall of the n most frequent reference characters.

        recall = matched / occurrences in the references; precision = matched / occurrences in the
        hypotheses (None when the engine never output it).
        """
        rows = []
        for ch, n_ref in sorted(self.ref.items(), key=lambda kv: (-kv[1], kv[0]))[:n]:
            ok, n_hyp = self.correct[ch], self.hyp[ch]
            rows.append({"char": ch, "ref_count": n_ref, "hyp_count": n_hyp, "correct": ok,
                         "precision": ok / n_hyp if n_hyp else None, "recall": ok / n_ref})
        return rows


def collect_confusions(pairs: Iterable[tuple[str, str]]) -> Confusions:
    """Confusions over (ref, hyp) line pairs, already normalised (line indices in input order)."""
    c = Confusions()
    for i, (ref, hyp) in enumerate(pairs):
        c.add(i, ref, hyp)
    return c
