"""Fine-tune one of our CRNNs on a user's labelled lines, on the CPU, without forgetting.

    cfg = FinetuneConfig(train="plates/train", val="plates/val", base="crnn", name="plates", minutes=10)
    result = finetune(cfg)            # -> FinetuneResult; models/user/plates/model.pt is engine user:plates

What happens (every step is reported through `on_event` and written under the job folder):
1. The labelled sets are read (labels file, folder or .zip, as `bench` reads them). Rows that cannot be
   used get a per-row message (RowIssue): unreadable image, empty label, characters nothing can learn
   (control or format characters), or a label longer than the line's width gives CTC frames for.
   Without a validation set, a seeded share of TRAIN (val_share, default 10 %) is held out.
2. The base checkpoint (ours only: format ocr-crnn/1, charset sha256 checked, weights_only=True) is
   loaded. Label characters the charset lacks are folded by NFKC when that gives a known class
   (full-width Ａ -> A), otherwise added as new classes: the classifier grows by one row each,
   initialised to the mean of the existing rows with the bias at the 5th percentile of the existing
   biases, so a new class starts as an unlikely but average-looking class rather than a random one.
3. Training: AdamW, each batch = user lines (augmented: ocr.training.augment's jitter_line, then
   distort_line's rotation, shear, perspective, blur and JPEG) + a share of rendered
   general lines (rehearsal, `rehearsal` of the batch and of the loss: the kinds of line the base was
   trained on, with their scan and photo degradations; optionally some rare-character lines) so that
   the model keeps reading general text; half the rehearsal lines (rehearsal_focus) hold a character
   that looks like one of the user's (the base's nearest classifier rows: l, I beside 1; o, O beside 0)
   beside general text, where a fine-tune starts reading look-alikes as the user's characters;
   `user_batch` can put more of the user's (cheap, short) lines
   in a batch without changing the rehearsal's share of the loss. The CNN learns at cnn_lr_mult x the
   rate (0.1 for 64-px bases: their convolutional features are what drifts). The rehearsal lines run in
   two width-sorted halves, each padded to its own widest line; on a CPU with native bfloat16 the
   64-px base trains under bfloat16 autocast (`precision`; ~1.4x the steps in a time budget).
   With head="seen" (the default) only the classifier rows of blank and of the characters in the
   training labels learn; the rows of every other class keep the base's values.
   Lines are preprocessed exactly as the engine preprocesses them at inference (ocr.preprocess with
   the default config: gray, auto-invert, resize to the model height, background padding).
4. The validation CER is measured every `eval_every_s` seconds; the best weights are kept. The run
   stops at `steps`, at the `minutes` budget, or when `stop()` returns True; Ctrl-C / SIGTERM (raised
   as KeyboardInterrupt by the caller) saves a resumable state first. The same call resumes it.
5. Blend against forgetting (weight-space ensembling, "WiSE-FT", Wortsman et al. 2022): the best weights
   are mixed with the base's, w = base + a * (best - base). The default walks from the trained weights
   towards the base, a = 1, 0.95, 0.9, ... (BLEND_GRID), and keeps the last share whose validation CER is
   at most `val_slack` (absolute; default_val_slack(base)) above the trained weights': the share closest
   to the base that your lines allow, since a fine-tune's forgetting grows with its distance from the
   base. With max_forgetting >= 0 the user's bound comes first: every share is scored, and the lowest
   validation CER among those whose reference CER rose by at most that much (relative) is kept, else the
   walk's share. val_slack < 0 keeps the trained weights (a = 1), as does a validation set too small to
   show the slack (fewer than MIN_SLACK_CHARS characters' worth). Every share tried is recorded with its
   validation and reference CER.
6. The kept weights are exported (fp16) as <user dir>/<name>/model.pt with meta.json: base, data hashes,
   steps, CPU time, before/after CER on the validation set and on a general reference set.

Job folder <user dir>/<name>/: model.pt, meta.json (when finished), status.json (phase, progress),
log.jsonl (one JSON object per logged step / evaluation), state/ (resumable state; removed when the run
finishes), job.log (the app's background jobs). Its disk use is checked against max_disk_mb.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import math
import os
import time
import unicodedata
from collections.abc import Callable, Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ocr.charset import Charset, charset_sha256
from ocr.decoding import greedy_decode
from ocr.engines.crnn import crnn_input_spec
from ocr.engines.user import USER_PREFIX, base_checkpoint, user_model_dir, valid_user_name
from ocr.errors import OCRError
from ocr.evaluation.confusions import collect_confusions
from ocr.evaluation.datasets import open_labelled_set
from ocr.evaluation.metrics import score_lines
from ocr.evaluation.normalize import normalize
from ocr.imageio import load_image
from ocr.models.checkpoint import load_checkpoint, save_export
from ocr.models.crnn import CRNN, CRNNConfig
from ocr.preprocess import PreprocessConfig, border_level, pad_batch, preprocess
from ocr.training.augment import distort_line, jitter_line
from ocr.training.jobs import (
    DEFAULT_REHEARSAL,
    DEFAULT_REHEARSAL_FOCUS,
    DEFAULT_REHEARSAL_RARE,
    PRECISIONS,
    REFERENCE_RENDERED,
    REFERENCE_RENDERED_TC,
    SCHEDULES,
)

if TYPE_CHECKING:
    from ocr.training.synth import Corpus, FontSpec

__all__ = [
    "DEFAULT_REHEARSAL",
    "DEFAULT_REHEARSAL_FOCUS",
    "DEFAULT_REHEARSAL_RARE",
    "FinetuneConfig",
    "FinetuneError",
    "FinetuneResult",
    "Line",
    "RowIssue",
    "blend_weights",
    "choose_blend",
    "default_cnn_lr_mult",
    "default_lr",
    "default_val_slack",
    "extend_classes",
    "finetune",
    "frames_needed",
    "grown_confusions",
    "lookalikes",
    "plan_labels",
    "read_lines",
    "reference_lines",
    "split_lines",
]

# shares of the fine-tuned change tried against forgetting, in the order of the walk towards the base
BLEND_GRID = (1.0, 0.95, 0.9, 0.85, 0.8, 0.75, 0.7, 0.6, 0.5, 0.4)
REFERENCE_SEED = 20261126
REHEARSAL_MAX_CHARS = 30  # as long as the base's training lines: the LSTM keeps its long context
# the walk needs a validation set on which the slack is at least this many characters: on fewer, every
# share reads it alike (a 1-line set reads 0 errors from a = 1 to 0.4) and the walk would undo the fine-tune
MIN_SLACK_CHARS = 2
LOOKALIKE_K = 3  # classifier rows nearest to each of your characters' that count as its look-alikes
MAX_LINES = 100_000
STATE_EVERY_S = 30.0  # resumable state saved at least this often
GROWN_TOP = 10  # confusions that grew on the reference set, reported with the result
Event = Callable[[dict[str, Any]], None]


def default_lr(config: CRNNConfig) -> float:
    """The peak learning rate when none is asked for: 1e-4 for the large 64-px model (`crnn` and its
    fine-tunes), 3e-4 for the 32-px `crnn-fast`. Measured on plates (session 10, 10 min each):
    `crnn` at 1e-4 reached val CER 0.018 and drifted less (real_dev +42 %, rendered +78 %) than at
    3e-4 (0.026; +58 %, +150 %); `crnn-fast` at 1e-3 did worse than at 3e-4 (session 9)."""
    return 1e-4 if config.height >= 64 else 3e-4


def default_cnn_lr_mult(config: CRNNConfig) -> float:
    """How fast the convolutional layers learn relative to the BiLSTM, when not asked for: 0.1 for the
    64-px `crnn` (session 11, plates, 10 min: real_dev drift +28 % -> +14 %, rendered +38 % -> +15 %, plates
    0.024 -> 0.029), 1 for the small 32-px `crnn-fast`, whose plates need its convolutions (x0.1: plates
    0.086 -> 0.100 for little: real_dev drift +15 % -> +14 %, rendered +17 % -> +11 %)."""
    return 0.1 if config.height >= 64 else 1.0


def lr_factor(schedule: str, step: int, max_steps: int, elapsed_s: float, budget_s: float) -> float:
    """The learning rate's multiple after warm-up: 1 for "constant"; for "cosine" 0.5 (1 + cos(pi p)),
    p the share of this call's run done (steps of max_steps, or training seconds of budget_s, whichever
    is further; 1 without either)."""
    if schedule == "constant":
        return 1.0
    shares = ([step / max_steps] if max_steps else []) + ([elapsed_s / budget_s] if budget_s else [])
    p = min(1.0, max(shares, default=0.0))
    return 0.5 * (1.0 + math.cos(math.pi * p))


def default_val_slack(config: CRNNConfig) -> float:
    """How much validation CER (absolute) the blend with the base may give up, when not asked for: 0.01
    (one character in a hundred) for the 64-px `crnn`, 0.002 (noise: three characters of a 200-plate
    set) for the 32-px `crnn-fast`. Measured on plates (session 19, docs/finetune.md): blends of three
    10-minute `crnn` fine-tunes read synth_test with +21 / +10 / +15 % drift at a = 1 and +7.4 / +6.9 /
    +7.8 % at the walk's share, for plates 0.0193 -> 0.0293 / 0.0264 / 0.0279; `crnn-fast` reads plates
    at 0.048-0.050 after its fine-tune and a = 0.9 costs it 0.009."""
    return 0.01 if config.height >= 64 else 0.002


def default_user_batch(config: CRNNConfig) -> int:
    """Your lines per batch when not asked for (0: the batch size less the rehearsal lines, 8 of 16): 0 for
    the 64-px `crnn`, 24 for the 32-px `crnn-fast`, whose steps are cheap enough to see three times your
    lines (the rehearsal keeps its share of the loss). With `default_ema`, on plates, 10 min each:
    session 16's 2.9 M `crnn-fast` read plates/val at 0.0564 / 0.0586 (seeds 0, 1) against 0.0629 and
    drifted less on real_dev (+11.6 / +11.2 % against +20.5 %; seed 0 paired -0.0149 [-0.0240, -0.0066]);
    session 14's 2.2 M model 0.0621 against 0.0664 at about the same drift (+20 % against +17 %)."""
    return 0 if config.height >= 64 else 24


def default_ema(config: CRNNConfig) -> float:
    """The moving-average decay when not asked for (0: validate and keep the weights themselves): 0 for
    the 64-px `crnn`, whose few hundred steps the average lags (session 14: best at step 175 of 318, no
    less drift), 0.99 for `crnn-fast` (see `default_user_batch`)."""
    return 0.0 if config.height >= 64 else 0.99


def default_precision(config: CRNNConfig) -> str:
    """"bf16" for the 64-px `crnn` where the CPU has native bfloat16 (AVX512-BF16 / AMX): a rehearsal
    step's forward and backward passes take 0.80 s instead of 1.29 s (session 12, 10 batches); "fp32"
    for the 32-px `crnn-fast` (no gain: 178 vs 182 ms) and on CPUs that would emulate bfloat16."""
    probe = getattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", None)  # absent: assume emulated
    native = torch.backends.mkldnn.is_available() and probe is not None and bool(probe())
    return "bf16" if config.height >= 64 and native else "fp32"


class FinetuneError(OCRError):
    """A fine-tune that cannot start or continue; the message says why and what to do."""


@dataclass(frozen=True)
class FinetuneConfig:
    """One fine-tuning job.

    train / val: labelled sets (labels file, folder or .zip). val None: a seeded `val_share` of train.
    base: one of our CRNN engines (crnn, crnn-fast, user:NAME). name: the new engine is user:<name>.
    minutes: training-time budget of this call (data loading and the before/after evaluations come on
        top; 0 = none). steps: total optimiser steps (0 = until the budget; neither: 300).
    rehearsal: share of every batch that is rendered general text (0 = off): batch_size x rehearsal lines,
        weighing that share of the loss. user_batch: your lines per batch (0 = the rest of batch_size;
        None = default_user_batch(base)).
    rehearsal_rare: share of the rehearsal lines that are random rare characters (the rest: the kinds mix).
    rehearsal_focus: share of the rehearsal lines drawn from the kinds mix until they hold a look-alike of
        your characters (lookalikes: l or I beside 1, o or O beside 0), where a fine-tune's drift shows.
    schedule: the learning rate after warm-up, "constant" or "cosine" (lr_factor).
    ema: > 0: validate, keep and export an exponential moving average of the weights (decay `ema`, warmed
        up as min(ema, (1 + t) / (10 + t))) instead of the raw weights; 0: the raw weights; None:
        default_ema(base).
    lr: peak learning rate of the BiLSTM (the head's is head_lr_mult x, the CNN's cnn_lr_mult x);
        0 = default_lr(base). cnn_lr_mult None = default_cnn_lr_mult(base).
    precision: "fp32", "bf16" (the training passes under CPU bfloat16 autocast; validation stays fp32) or
        "auto" = default_precision(base).
    val_slack / max_forgetting: how the final blend with the base is chosen (step 5 of the module
        docstring); val_slack: absolute validation CER, None = default_val_slack(base), < 0: no blend.
    head: "seen" trains only the classifier rows of blank and of the characters in the training labels
        (the other rows keep the base's values); "all" trains every row.
    kd_weight: weight of the per-frame KL(base || model) on the rehearsal lines (learning without
        forgetting); the CTC losses weigh 1.
    fresh: discard an earlier run or model of this name instead of resuming / refusing.
    """

    train: str
    name: str
    base: str = "crnn-fast"
    val: str | None = None
    minutes: float = 0.0
    steps: int = 0
    batch_size: int = 16
    user_batch: int | None = None
    rehearsal: float = DEFAULT_REHEARSAL
    augment: bool = True
    lr: float = 0.0
    head_lr_mult: float = 3.0
    cnn_lr_mult: float | None = None
    precision: str = "auto"
    warmup_steps: int = 5
    val_share: float = 0.1
    seed: int = 0
    threads: int = 2
    eval_every_s: float = 60.0
    eval_every_steps: int = 0
    reference: bool = True
    max_disk_mb: float = 1024.0
    val_slack: float | None = None
    max_forgetting: float = -1.0
    head: str = "seen"
    kd_weight: float = 1.0
    schedule: str = "constant"
    rehearsal_rare: float = DEFAULT_REHEARSAL_RARE
    rehearsal_focus: float = DEFAULT_REHEARSAL_FOCUS
    ema: float | None = None
    fresh: bool = False
    user_dir: str | None = None

    def fingerprint_fields(self) -> dict[str, object]:
        """The settings a resumed run must share with the interrupted one."""
        return {k: getattr(self, k) for k in ("base", "batch_size", "user_batch", "rehearsal", "augment",
                                              "lr", "head", "head_lr_mult", "cnn_lr_mult", "precision",
                                              "warmup_steps", "val_share", "seed", "kd_weight", "schedule",
                                              "rehearsal_rare", "rehearsal_focus", "ema")}


@dataclass(frozen=True)
class RowIssue:
    """A row of a labelled set that is not used as it stands (used False) or used with a change."""

    set: str
    line: int
    key: str
    issue: str
    used: bool = False


@dataclass
class Line:
    """One usable line: the engine-preprocessed image (H, W) uint8 (content only, no padding) and its
    label as the model will learn it."""

    key: str
    text: str
    image: np.ndarray


@dataclass
class FinetuneResult:
    """What a finished (or stopped) call produced."""

    name: str
    engine: str
    model_path: Path | None
    meta: dict[str, Any]
    stopped_by: str  # "steps" | "budget" | "stop"
    issues: list[RowIssue] = field(default_factory=list)


# ------------------------------------------------------------------------------------------- labels
UNLEARNABLE = {"Cc": "a control character", "Cf": "an invisible format character",
               "Cs": "a lone surrogate", "Co": "a private-use character", "Cn": "an unassigned code point",
               "Zl": "a line separator", "Zp": "a paragraph separator"}


def plan_labels(texts: Sequence[str], chars: Sequence[str]) -> tuple[list[str | None], list[str], list[str]]:
    """Map labels onto the charset `chars` (index 0 = blank).

    Returns (per text: the label to learn, or None when it cannot be learnt; new characters to add as
    classes, in first-seen order; per text a note, "" when none). A character outside the charset is
    replaced by its NFKC form when every character of that form is known (full-width Ａ -> A);
    otherwise it becomes a new class, unless it is one no image shows (control, format, private-use,
    unassigned): such labels are refused with the reason.
    """
    known = set(chars[1:])
    new: list[str] = []
    out: list[str | None] = []
    notes: list[str] = []
    for text in texts:
        label = text.strip()
        bad = [c for c in label if unicodedata.category(c) in UNLEARNABLE]
        if not label:
            out.append(None)
            notes.append("empty label")
            continue
        if bad:
            c = bad[0]
            out.append(None)
            notes.append(f"label holds U+{ord(c):04X}, {UNLEARNABLE[unicodedata.category(c)]}: no image "
                         "shows it; fix the label")
            continue
        folded, changes = [], []
        for c in label:
            if c in known:
                folded.append(c)
                continue
            nf = unicodedata.normalize("NFKC", c)
            if nf and all(x in known for x in nf):
                folded.append(nf)
                changes.append(f"{c}->{nf}")
                continue
            if c not in new:
                new.append(c)
            folded.append(c)
        out.append("".join(folded))
        notes.append(f"folded by NFKC: {', '.join(changes)}" if changes else "")
    return out, new, notes


def frames_needed(label: str) -> int:
    """CTC frames a label needs at least: one per character plus a blank between repeated ones."""
    return len(label) + sum(a == b for a, b in itertools.pairwise(label))


# --------------------------------------------------------------------------------------------- data
def _prepare(image: np.ndarray, height: int) -> np.ndarray:
    """An RGB/gray uint8 line -> (height, W) uint8 exactly as the crnn engines feed it (gray,
    auto-invert, resize, background padding to the width multiple): validation then reads what `bench`
    reads. Stripping those few pixels (before session 16) changed the last frame of 16 of 200 plates
    (in-job 0.0500 against bench 0.0550 for the same model)."""
    pre = preprocess(image, crnn_input_spec(height), PreprocessConfig())
    return np.ascontiguousarray(pre.model_image)


def read_lines(source: str | Path | bytes, height: int, set_name: str
               ) -> tuple[list[tuple[str, str, np.ndarray, int]], list[RowIssue], str, str]:
    """Read a labelled set into memory: ([(key, raw label, preprocessed image, line no)], row issues,
    sha256 of the set's content (keys, labels, image bytes), display name)."""
    rows: list[tuple[str, str, np.ndarray, int]] = []
    issues: list[RowIssue] = []
    digest = hashlib.sha256()
    with open_labelled_set(source) as lset:
        name = lset.name
        for problem in lset.problems:
            issues.append(RowIssue(set_name, 0, "", problem, used=True))
        for s in lset.samples:
            if len(rows) >= MAX_LINES:
                issues.append(RowIssue(set_name, s.line_no, s.key, f"over {MAX_LINES} lines; not used"))
                continue
            if s.error is not None or s.image_path is None:
                issues.append(RowIssue(set_name, s.line_no, s.key, s.error or "no image"))
                continue
            try:
                data = s.image_path.read_bytes()
                image = _prepare(load_image(data), height)
            except (OCRError, OSError) as exc:
                issues.append(RowIssue(set_name, s.line_no, s.key, f"image cannot be used: {exc}"))
                continue
            if s.warning and s.warning != "empty label":
                issues.append(RowIssue(set_name, s.line_no, s.key, s.warning, used=True))
            digest.update(f"{s.key}\t{s.text}\n".encode())
            digest.update(hashlib.sha256(data).digest())
            rows.append((s.key, s.text, image, s.line_no))
    return rows, issues, digest.hexdigest(), name


def split_lines(n: int, share: float, seed: int) -> tuple[list[int], list[int]]:
    """(train indices, validation indices): a seeded `share` of n (at least 1 when n >= 2) held out."""
    if n < 2:
        raise FinetuneError(f"{n} usable line(s): fine-tuning needs at least 2 (one to validate on)")
    n_val = min(n - 1, max(1, round(n * share)))
    perm = np.random.default_rng([seed, 4242]).permutation(n)
    return sorted(int(i) for i in perm[n_val:]), sorted(int(i) for i in perm[:n_val])


def _usable(rows: list[tuple[str, str, np.ndarray, int]], labels: list[str | None], notes: list[str],
            set_name: str, issues: list[RowIssue]) -> list[Line]:
    out = []
    for (key, _text, image, line_no), label, note in zip(rows, labels, notes, strict=True):
        if label is None:
            issues.append(RowIssue(set_name, line_no, key, note))
            continue
        t = int(CRNN.output_length(image.shape[1]))
        need = frames_needed(label)
        if t < need:
            issues.append(RowIssue(set_name, line_no, key,
                                   f"label needs {need} CTC frames, the image gives {t} at the model's "
                                   f"height ({image.shape[1]} px wide): crop it wider or shorten the label"))
            continue
        if note:
            issues.append(RowIssue(set_name, line_no, key, note, used=True))
        out.append(Line(key, label, image))
    return out


def lookalikes(model: CRNN, chars: Sequence[str], yours: Collection[str], k: int = LOOKALIKE_K) -> set[str]:
    """The characters whose classifier rows are nearest (cosine) to those of `yours`, k for each of your
    characters, leaving out yours and blank: what a fine-tune on your lines starts reading as yours.
    For a plate set on `crnn`: 1 -> I l i, 0 -> O o (, A -> a, D -> d O ), 京 -> 凉 涼 原."""
    rows = torch.nn.functional.normalize(model.fc.weight.detach().float(), dim=1)  # (C, r)
    index = {c: i for i, c in enumerate(chars) if i > 0}
    ids = sorted({index[c] for c in yours if c in index})
    if not ids:
        return set()
    sim = rows[ids] @ rows[: len(chars)].T  # (len(ids), C)
    sim[:, ids] = -2.0
    sim[:, 0] = -2.0
    top = sim.topk(min(k, sim.shape[1]), dim=1).indices
    return {chars[int(j)] for j in top.flatten()} - set(yours)


class Rehearsal:
    """Rendered general lines, line i a pure function of (seed, i), memoised: the kinds of text the base
    model was trained on, mixed into every batch. A share `rare` of the lines, evenly spaced (0.5: the
    odd ones), are uniformly drawn characters in a training font (the base's rare classes); the others are
    ocr.training.synth.kinds lines in the base's training mix (simplified and traditional documents,
    form fields, signs, plates, handwriting-like, with their degradations), at most
    REHEARSAL_MAX_CHARS characters. A share `focus` of the lines (evenly spaced, half a period after the
    rare ones; a line both is rare) are kinds lines redrawn until their text holds one of `lookalike`
    and a character that is neither that nor one of `yours`: general text where the characters that look
    like the user's are written (lookalikes), not one more line of the user's kind (a plate)."""

    def __init__(self, height: int, chars: Sequence[str], seed: int, pool: int = 4096,
                 rare: float = DEFAULT_REHEARSAL_RARE, focus: float = DEFAULT_REHEARSAL_FOCUS,
                 lookalike: Collection[str] = (), yours: Collection[str] = ()) -> None:
        from ocr.training.synth import Corpus, training_fonts
        from ocr.training.synth.kinds import kind_sampler

        self.height, self.seed, self.pool, self.rare = height, seed, pool, rare
        self.focus = focus if lookalike else 0.0
        self.lookalike = frozenset(lookalike)
        self._near_or_yours = self.lookalike | frozenset(yours)
        self.known = set(chars[1:])
        self.fonts = training_fonts()
        if not self.fonts:
            raise FinetuneError("no training fonts installed for rehearsal (fonts-noto-cjk); use rehearsal 0")
        self.corpus = Corpus()
        self.draw_kind = kind_sampler()  # the bases' training mix, KIND_MIX
        self._cache: dict[int, Line] = {}

    def _focus_text(self, text: str) -> bool:
        return not self.lookalike.isdisjoint(text) and not self._near_or_yours.issuperset(text)

    def line(self, i: int) -> Line:
        """Line i of the pool (rendered on first use)."""
        from ocr.training.synth import font_covers, render_line
        from ocr.training.synth.kinds import render_kind

        i %= self.pool
        if i not in self._cache:
            rng = np.random.default_rng([self.seed, 777, i])
            rare = int((i + 1) * self.rare) > int(i * self.rare)  # evenly spaced, share self.rare
            focus = not rare and int((i + 1) * self.focus + 0.5) > int(i * self.focus + 0.5)
            accept = self._focus_text if focus else None
            while True:
                if not rare:
                    try:
                        text, img, _ = render_kind(self.draw_kind(rng), rng, self.corpus, self.height,
                                                   max_chars=REHEARSAL_MAX_CHARS, accept=accept)
                    except LookupError:  # a kind that never holds a look-alike (plates, for a plate set)
                        continue
                    if text and all(c in self.known for c in text):
                        break
                    continue
                text = self.corpus.rare(rng, int(rng.integers(2, 9)))
                fonts = [f for f in self.fonts if font_covers(f, text)]
                if fonts and all(c in self.known for c in text):
                    font = fonts[int(rng.integers(len(fonts)))]
                    img = render_line(text, font, self.height, int(rng.integers(2**31)), augment=True)
                    break
            self._cache[i] = Line(f"rehearsal/{i}", text, img)
        return self._cache[i]


def reference_lines(height: int) -> list[Line]:
    """The fixed general reference set: the project's sample lines (sample_images/labels.tsv: 17 real
    + 12 rendered), REFERENCE_RENDERED lines and REFERENCE_RENDERED_TC traditional lines (OpenCC s2t)
    rendered in the held-out font (uming-cn, never trained on; it draws traditional text too), when it is
    installed. Like the held-out sets (render_kind(held_out=True)) it uses only a face `make install`
    provides, so it is the same set on every machine; before session 27 the traditional lines drew the
    held-out traditional face (cwming), present only where the training faces were installed."""
    import opencc

    from ocr.training.synth import HELD_OUT_FONT, Corpus, font_by_name

    out: list[Line] = []
    samples = Path(__file__).resolve().parents[2] / "sample_images" / "labels.tsv"
    if samples.is_file():
        rows, _, _, _ = read_lines(samples, height, "reference")
        out += [Line(k, t, img) for k, t, img, _ in rows if t.strip()]
    corpus = Corpus()
    font = font_by_name(HELD_OUT_FONT)
    if Path(font.path).exists():
        out += _rendered_lines(corpus, font, REFERENCE_RENDERED, (REFERENCE_SEED,), "rendered", height)
        out += _rendered_lines(corpus, font, REFERENCE_RENDERED_TC, (REFERENCE_SEED, 1), "rendered_tc",
                               height, opencc.OpenCC("s2t").convert)
    return out


def _rendered_lines(corpus: Corpus, font: FontSpec, n: int, seed: tuple[int, ...], prefix: str, height: int,
                    convert: Callable[[str], str] = str) -> list[Line]:
    """n corpus lines (2-20 characters, through `convert`, redrawn until `font` covers them) rendered in
    `font` and preprocessed as the engine does; line i is a pure function of (seed, i)."""
    from ocr.training.synth import font_covers, render_line

    out = []
    for i in range(n):
        rng = np.random.default_rng([*seed, i])
        text = convert(corpus.line(rng, 2, 20))
        while not font_covers(font, text):
            text = convert(corpus.line(rng, 2, 20))
        img = render_line(text, font, 64, int(rng.integers(2**31)), augment=True)
        out.append(Line(f"{prefix}/{i}", text, _prepare(img, height)))
    return out


# -------------------------------------------------------------------------------------------- model
def extend_classes(model: CRNN, count: int) -> CRNN:
    """A copy of `model` with `count` more output classes. New classifier rows = the mean of the
    existing non-blank rows; new biases = the 5th percentile of the existing non-blank biases (an
    average-looking class that starts unlikely). Works for full and low-rank (factorised) heads."""
    if count <= 0:
        return model
    w = model.fc.weight.detach()  # (C, in)
    b = model.fc.bias.detach()  # (C,)
    new_w = w[1:].mean(0, keepdim=True).repeat(count, 1)
    new_b = torch.quantile(b[1:].float(), 0.05).repeat(count)
    out = CRNN(replace(model.config, num_classes=w.shape[0] + count))
    state = model.state_dict()
    state["fc.weight"] = torch.cat([w, new_w])
    state["fc.bias"] = torch.cat([b, new_b])
    out.load_state_dict(state)
    return out


@torch.inference_mode()
def _decode_lines(model: CRNN, lines: Sequence[Line], chars: Sequence[str], batch: int = 32) -> list[str]:
    model.eval()
    order = sorted(range(len(lines)), key=lambda i: lines[i].image.shape[1])
    hyps: dict[int, str] = {}
    for s in range(0, len(order), batch):
        idx = order[s:s + batch]
        imgs = [lines[i].image for i in idx]
        x = pad_batch([im[None].astype(np.float32) / 255.0 for im in imgs],
                      fill=[border_level(im) / 255.0 for im in imgs])
        lengths = [int(CRNN.output_length(im.shape[1])) for im in imgs]
        logp = model(torch.from_numpy(x), torch.tensor(lengths)).log_softmax(-1).numpy()
        for i, row, t in zip(idx, logp, lengths, strict=True):
            hyps[i] = greedy_decode(row[:t], chars).text
    return [hyps[i] for i in range(len(lines))]


def _score(model: CRNN, lines: Sequence[Line], chars: Sequence[str]) -> dict[str, float]:
    """{"cer", "line_acc", "n"} of greedy decoding (NFKC, spaces ignored, as bench scores)."""
    if not lines:
        return {"cer": float("nan"), "line_acc": float("nan"), "n": 0}
    return _score_texts(lines, _decode_lines(model, lines, chars))


def _score_texts(lines: Sequence[Line], hyps: Sequence[str]) -> dict[str, float]:
    sc = score_lines([(ln.text, h) for ln, h in zip(lines, hyps, strict=True)])
    return {"cer": round(sc.cer, 5), "line_acc": round(sc.line_acc, 5), "n": sc.n}


def grown_confusions(refs: Sequence[str], before: Sequence[str], after: Sequence[str], top: int = GROWN_TOP,
                     yours: Collection[str] = ()) -> list[dict[str, Any]]:
    """What a model reads differently after fine-tuning: the aligned confusions (ref char -> read char,
    "" for an insertion or a deletion) counted more often in `after` than in `before`, two readings of
    the same reference lines, normalised as bench scores them. Largest growth first; among equals, those
    read as one of `yours` (the characters of the user's labels: the classes the fine-tune trained)
    first, then by ref and read. At most `top`: [{"ref", "hyp", "before", "after", "lines", "yours",
    "example": {"text", "before", "after"}}], the example being the first line where the confusion is
    new."""
    refs_n = [normalize(r) for r in refs]
    was = collect_confusions(zip(refs_n, (normalize(h) for h in before), strict=True))
    now = collect_confusions(zip(refs_n, (normalize(h) for h in after), strict=True))
    grown = sorted(((k, n) for k, n in now.pairs.items() if n > was.pairs[k]),
                   key=lambda kv: (was.pairs[kv[0]] - kv[1], kv[0][1] not in yours, kv[0]))[:top]
    out = []
    for key, n in grown:
        old_lines = set(was.lines.get(key, ()))
        i = next((j for j in now.lines[key] if j not in old_lines), now.lines[key][0])
        out.append({"ref": key[0], "hyp": key[1], "before": was.pairs[key], "after": n,
                    "lines": len(now.lines[key]), "yours": key[1] in yours,
                    "example": {"text": refs[i], "before": before[i], "after": after[i]}})
    return out


class _Batches:
    """batch(step) -> (user lines, rehearsal lines), a pure function of (seed, step)."""

    def __init__(self, train: list[Line], rehearsal: Rehearsal | None, cfg: FinetuneConfig) -> None:
        self.train, self.rehearsal, self.cfg = train, rehearsal, cfg
        self.n_general = round(cfg.batch_size * cfg.rehearsal) if rehearsal is not None else 0
        self.n_user = cfg.user_batch or max(1, cfg.batch_size - self.n_general)

    def weights(self, n_user: int, n_general: int) -> tuple[float, float]:
        """Per-line loss weights (user, rehearsal): the rehearsal lines weigh `rehearsal` of the loss and
        the user lines the rest, however many of each a batch holds (with the default user_batch every line
        weighs about 1 / batch_size, as an unweighted mean)."""
        if not n_general:
            return 1.0 / max(1, n_user), 0.0
        share = self.cfg.rehearsal
        return (1.0 - share) / max(1, n_user), share / n_general

    def batch(self, step: int) -> tuple[list[Line], list[Line]]:
        rng = np.random.default_rng([self.cfg.seed, 31337, step])
        k = min(self.n_user, len(self.train))
        user = []
        for i in rng.choice(len(self.train), size=k, replace=False):
            line = self.train[int(i)]
            img = line.image
            if self.cfg.augment:
                jittered = distort_line(jitter_line(img, rng), rng)
                if CRNN.output_length(jittered.shape[1]) >= frames_needed(line.text):
                    img = jittered
            user.append(Line(line.key, line.text, img))
        general = []
        if self.rehearsal is not None and self.n_general:
            picks = rng.integers(0, self.rehearsal.pool, self.n_general)
            general = [self.rehearsal.line(int(i)) for i in picks]
        return user, general


def width_halves(lines: Sequence[Line]) -> list[list[Line]]:
    """`lines` sorted by width, in two halves (one group under 4 lines; none when empty): the rehearsal
    lines run from 2 to 30 characters, and each half is padded only to its own widest line (64-px crnn:
    1.37 -> 1.10 s per step, measured on 10 rehearsal batches; the loss is the same per-line sum, up to
    the padding each line's last frames see: 5.2863 vs 5.2893 on those batches)."""
    ordered = sorted(lines, key=lambda ln: ln.image.shape[1])
    if len(ordered) < 4:
        return [ordered] if ordered else []
    half = len(ordered) // 2
    return [ordered[:half], ordered[half:]]


def _forward_loss(model: CRNN, lines: Sequence[Line], index: dict[str, int],
                  teacher: CRNN | None = None, kd_weight: float = 1.0) -> torch.Tensor:
    """Summed per-line CTC loss (each divided by its label length) of one group of lines; with a
    teacher (the frozen base model) also its per-frame KL(teacher || model) over the base's classes,
    averaged over each line's frames: the rehearsal lines keep the base's outputs, not only its
    labels (learning without forgetting)."""
    imgs = [ln.image for ln in lines]
    x = torch.from_numpy(pad_batch([im[None].astype(np.float32) / 255.0 for im in imgs],
                                   fill=[border_level(im) / 255.0 for im in imgs]))
    lengths = CRNN.output_length(torch.tensor([im.shape[1] for im in imgs]))
    logp = model(x, lengths).float().log_softmax(-1)  # (B, T, C), fp32 under autocast too
    targets = torch.tensor([index[c] for ln in lines for c in ln.text], dtype=torch.long)
    t_len = torch.tensor([len(ln.text) for ln in lines], dtype=torch.long)
    loss = torch.nn.functional.ctc_loss(logp.transpose(0, 1), targets, lengths, t_len, blank=0,
                                        reduction="none", zero_infinity=True)
    total = (loss / t_len.clamp(min=1)).sum()
    if teacher is not None:
        with torch.no_grad():
            t_logp = teacher(x, lengths).float().log_softmax(-1)  # (B, T, C0), C0 <= C
        kl = (t_logp.exp() * (t_logp - logp[..., : t_logp.shape[-1]])).sum(-1)  # (B, T)
        mask = (torch.arange(kl.shape[1])[None, :] < lengths[:, None]).float()
        total = total + kd_weight * ((kl * mask).sum(1) / mask.sum(1)).sum()
    return total


def blend_weights(base: dict[str, torch.Tensor], tuned: dict[str, torch.Tensor], a: float
                  ) -> dict[str, torch.Tensor]:
    """base + a * (tuned - base) for every floating tensor (BatchNorm statistics included); integer
    tensors (BatchNorm's batch counter) from `tuned`."""
    return {k: (base[k] + a * (v - base[k])) if v.is_floating_point() else v for k, v in tuned.items()}


def choose_blend(rows: Sequence[dict[str, float]], ref_before: float, val_slack: float,
                 max_forgetting: float = -1.0) -> float:
    """The kept share `a` from rows {"a", "val_cer", "ref_cer"} in the walk's order (rows[0]: the trained
    weights, a = 1; then towards the base).

    max_forgetting >= 0 and some rows with ref CER <= ref_before * (1 + max_forgetting): the lowest val
    CER among them (ties: the smaller a). Otherwise the walk: the last share before the first whose val
    CER is more than `val_slack` above the trained weights' (val_slack < 0: a = 1)."""
    if max_forgetting >= 0:
        ok = [r for r in rows if r["ref_cer"] <= ref_before * (1 + max_forgetting) + 1e-12]
        if ok:
            return min(ok, key=lambda r: (r["val_cer"], r["a"]))["a"]
    keep = rows[0]["a"]
    if val_slack < 0:
        return keep
    for r in rows[1:]:
        if _past_slack(r, rows[0], val_slack):
            break
        keep = r["a"]
    return keep


def _past_slack(row: dict[str, float], trained: dict[str, float], val_slack: float) -> bool:
    """Whether a blend share's row reads the validation set more than `val_slack` (absolute CER) worse than
    the trained weights' row: where the walk towards the base stops."""
    return row["val_cer"] > trained["val_cer"] + val_slack + 1e-12


def _dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class _Job:
    """The job folder: status.json, log.jsonl, state/, model.pt, meta.json."""

    def __init__(self, folder: Path, max_bytes: float) -> None:
        self.folder, self.max_bytes = folder, max_bytes
        self.state_dir = folder / "state"
        self.status: dict[str, Any] = {}

    def write_status(self, **fields: Any) -> None:
        self.status.update(fields, updated=_now(), pid=os.getpid())
        _write_json(self.folder / "status.json", self.status)

    def log(self, record: dict[str, Any]) -> None:
        with (self.folder / "log.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps({**record, "time": round(time.time(), 3)}, ensure_ascii=False) + "\n")

    def check_disk(self) -> int:
        used = _dir_bytes(self.folder)
        if used > self.max_bytes:
            raise FinetuneError(f"job folder {self.folder} holds {used / 2**20:.0f} MB, over its limit of "
                                f"{self.max_bytes / 2**20:.0f} MB (OCR_FINETUNE_MAX_MB)")
        return used


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    tmp.replace(path)


def _sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _load_base(base: str) -> tuple[CRNN, dict[str, Any], Path]:
    """Our checkpoint behind engine `base` (format ocr-crnn/1, charset sha256 checked)."""
    path = base_checkpoint(base)
    try:
        model, meta = load_checkpoint(path)  # torch.load(weights_only=True)
    except Exception as exc:  # a damaged or foreign file: refuse it with the reason
        raise FinetuneError(f"cannot load the base model {base} ({path}): {exc}") from exc
    chars = meta.get("charset")
    if meta.get("format") != "ocr-crnn/1" or not isinstance(chars, list) or chars[:1] != [""]:
        raise FinetuneError(f"{path} is not one of this project's CRNN checkpoints (format ocr-crnn/1)")
    if charset_sha256(chars) != meta.get("charset_sha256"):
        raise FinetuneError(f"{path}: its charset does not match its recorded sha256")
    return model, meta, path


def finetune(cfg: FinetuneConfig, on_event: Event | None = None,
             stop: Callable[[], bool] | None = None) -> FinetuneResult:
    """Run (or resume) one fine-tune per `cfg`; see the module docstring. Raises FinetuneError
    (or DatasetError for an unreadable set) with the reason. KeyboardInterrupt during training saves
    the resumable state, then propagates."""
    emit = on_event or (lambda _e: None)
    if not valid_user_name(cfg.name):
        raise FinetuneError(f"bad model name {cfg.name!r}: use 1-40 letters, digits, '-', '_' or '.', "
                            "starting with a letter or digit")
    if cfg.head not in ("seen", "all"):
        raise FinetuneError(f"head must be 'seen' or 'all', got {cfg.head!r}")
    if cfg.schedule not in SCHEDULES:
        raise FinetuneError(f"schedule must be one of {', '.join(SCHEDULES)}, got {cfg.schedule!r}")
    if cfg.precision not in PRECISIONS:
        raise FinetuneError(f"precision must be one of {', '.join(PRECISIONS)}, got {cfg.precision!r}")
    if cfg.ema is not None and not 0.0 <= cfg.ema < 1.0:
        raise FinetuneError(f"ema must be in [0, 1), got {cfg.ema}")
    if not 0.0 <= cfg.rehearsal_rare <= 1.0:
        raise FinetuneError(f"the rare-character share of the rehearsal must be in [0, 1], "
                            f"got {cfg.rehearsal_rare}")
    if not 0.0 <= cfg.rehearsal_focus <= 1.0 or cfg.rehearsal_rare + cfg.rehearsal_focus > 1.0:
        raise FinetuneError(f"the look-alike share of the rehearsal must be in [0, 1] and, with the rare "
                            f"share, at most 1; got {cfg.rehearsal_focus} (rare {cfg.rehearsal_rare})")
    if not 0.0 <= cfg.rehearsal < 1.0:
        raise FinetuneError(f"rehearsal share must be in [0, 1), got {cfg.rehearsal}")
    if cfg.batch_size < 1 or (cfg.user_batch or 0) < 0 or cfg.steps < 0 or cfg.minutes < 0:
        raise FinetuneError("batch size must be >= 1, user batch, steps and minutes >= 0")
    folder = user_model_dir(cfg.name, cfg.user_dir)
    engine_name = USER_PREFIX + cfg.name
    if cfg.base == engine_name:
        raise FinetuneError(f"{engine_name} cannot be its own base; choose another --name")
    last = folder / "state" / "last.pt"
    if cfg.fresh and folder.exists():  # everything but input/ (the app stages the uploaded sets there)
        import shutil

        for child in folder.iterdir():
            if child.name == "input":
                continue
            if child.is_dir():
                shutil.rmtree(child)
            else:
                child.unlink()
    if (folder / "model.pt").exists() and not last.exists():
        raise FinetuneError(f"{engine_name} already exists ({folder}); choose another name or pass --fresh "
                            "to replace it")
    folder.mkdir(parents=True, exist_ok=True)
    job = _Job(folder, cfg.max_disk_mb * 2**20)
    t_call, cpu_call = time.perf_counter(), time.process_time()
    job.write_status(name=cfg.name, engine=engine_name, base=cfg.base, phase="preparing", started=_now(),
                     minutes=cfg.minutes, steps=cfg.steps, step=0, message="reading the data")
    torch.set_num_threads(max(1, cfg.threads))
    torch.manual_seed(cfg.seed)
    try:
        return _run(cfg, job, engine_name, emit, stop or (lambda: False), t_call, cpu_call)
    except KeyboardInterrupt:
        job.write_status(phase="interrupted", message="interrupted; run the same command again to resume")
        raise
    except Exception as exc:
        job.write_status(phase="failed", message=str(exc))
        raise


def _run(cfg: FinetuneConfig, job: _Job, engine_name: str, emit: Event, stop: Callable[[], bool],
         t_call: float, cpu_call: float) -> FinetuneResult:
    model, base_meta, base_path = _load_base(cfg.base)
    cfg = replace(cfg,  # the settings left to the base
                  user_batch=default_user_batch(model.config) if cfg.user_batch is None else cfg.user_batch,
                  ema=default_ema(model.config) if cfg.ema is None else cfg.ema,
                  val_slack=default_val_slack(model.config) if cfg.val_slack is None else cfg.val_slack)
    height = model.config.height
    chars = list(base_meta["charset"])
    issues: list[RowIssue] = []
    train_rows, more, train_hash, train_name = read_lines(cfg.train, height, "train")
    issues += more
    if cfg.val:
        val_rows, more, val_hash, val_name = read_lines(cfg.val, height, "val")
        issues += more
        split_note = f"validation set {val_name} ({len(val_rows)} lines)"
    else:
        tr, va = split_lines(len(train_rows), cfg.val_share, cfg.seed)
        val_rows = [train_rows[i] for i in va]
        train_rows = [train_rows[i] for i in tr]
        val_hash = hashlib.sha256(("\n".join(r[0] for r in val_rows)).encode()).hexdigest()
        total = len(val_rows) + len(train_rows)
        split_note = (f"no validation set: held out {len(val_rows)} of {total} lines of {train_name} "
                      f"({cfg.val_share:.0%}, seed {cfg.seed})")
        emit({"kind": "split", "message": split_note, "val_keys": [r[0] for r in val_rows]})
    labels, new_chars, notes = plan_labels([r[1] for r in train_rows + val_rows], chars)
    n_tr = len(train_rows)
    train = _usable(train_rows, labels[:n_tr], notes[:n_tr], "train", issues)
    val = _usable(val_rows, labels[n_tr:], notes[n_tr:], "val", issues)
    for issue in issues:
        emit({"kind": "row", **asdict(issue)})
    job.write_status(issues=[asdict(i) for i in issues[:1000]], issues_total=len(issues))
    if not train or not val:
        raise FinetuneError(f"{len(train)} usable training and {len(val)} validation lines: need at least "
                            "one of each (see the row messages)")
    init_note = ("new classes start from the mean of the existing classifier rows, bias at the 5th "
                 "percentile of the existing biases")
    if new_chars:
        emit({"kind": "classes", "message": f"{len(new_chars)} new class(es): {''.join(new_chars)}; "
                                            + init_note, "new": new_chars})
    fingerprint = hashlib.sha256(json.dumps(
        {"train": train_hash, "val": val_hash, "base": _sha256_file(base_path), **cfg.fingerprint_fields()},
        sort_keys=True).encode()).hexdigest()
    all_chars = chars + new_chars
    index = {c: i for i, c in enumerate(all_chars) if i}
    reference = reference_lines(height) if cfg.reference else []
    state: dict[str, Any] | None = None
    base_reads: list[str] | None = None  # the base's greedy reading of the reference lines
    last = job.state_dir / "last.pt"
    if last.exists():
        state = torch.load(last, map_location="cpu", weights_only=True)
        if state["fingerprint"] != fingerprint:
            raise FinetuneError(f"{job.folder} holds an interrupted run on other data or settings; pass "
                                "--fresh to discard it, or choose another name")
        before, base_reads = state["before"], state.get("base_reads")
        emit({"kind": "info", "message": f"resuming at step {state['step']}"})
    else:
        job.write_status(phase="baseline", message="measuring the base model")
        before = {"val": _score(model, val, chars)}
        if reference:
            base_reads = _decode_lines(model, reference, chars)
            before["reference"] = _score_texts(reference, base_reads)
        emit({"kind": "baseline", "before": before})
    if reference and base_reads is None:  # a state saved before the base's reading was kept in it
        base_reads = _decode_lines(model, reference, chars)
    teacher: CRNN | None = None
    if cfg.rehearsal > 0:  # the frozen base: its outputs on the rehearsal lines are targets too
        teacher = CRNN(model.config)
        teacher.load_state_dict(model.state_dict())
        teacher.eval().requires_grad_(False)
    model = extend_classes(model, len(new_chars))
    base_state = {k: v.detach().clone() for k, v in model.state_dict().items()}  # the blend's origin
    if state is not None:
        model.load_state_dict(state["model"])
    # Frozen classifier rows (head="seen"): every softmax step pushes down the rows of classes a batch
    # never shows, and a user's set shows few (46 of 6,995 for plates): those rows are what the base
    # reads rare characters with, so they keep the base's values (restored after each step).
    seen_chars = {c for ln in train for c in ln.text}
    frozen = torch.tensor([i > 0 and c not in seen_chars for i, c in enumerate(all_chars)])
    if cfg.head == "all" or not frozen.any():
        frozen = None
    head = list(model.fc.parameters())
    cnn = list(model.cnn.parameters())
    body = [p for n, p in model.named_parameters() if not n.startswith(("fc.", "cnn."))]
    lr = cfg.lr or default_lr(model.config)
    cnn_mult = default_cnn_lr_mult(model.config) if cfg.cnn_lr_mult is None else cfg.cnn_lr_mult
    base_lrs = (lr, lr * cfg.head_lr_mult, lr * cnn_mult)
    if cnn_mult == 0:  # frozen convolutions: backward stops at the BiLSTM's input (no CNN gradients)
        model.cnn.requires_grad_(False)
    precision = default_precision(model.config) if cfg.precision == "auto" else cfg.precision
    opt = torch.optim.AdamW([{"params": body, "lr": base_lrs[0]}, {"params": head, "lr": base_lrs[1]},
                             {"params": cnn, "lr": base_lrs[2]}], weight_decay=1e-4)
    step, seen_user, seen_general, train_cpu = 0, 0, 0, 0.0
    best_cer, best_step, cpu_prev, wall_prev = float("inf"), 0, 0.0, 0.0
    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    averaged: CRNN | None = None  # the moving average of the weights (cfg.ema > 0): what is validated
    ema_pairs: list[tuple[torch.Tensor, torch.Tensor]] = []  # (average, weight), updated in place
    if cfg.ema > 0:
        averaged = CRNN(model.config)
        averaged.load_state_dict(state["ema"] if state is not None else model.state_dict())
        ema_pairs = list(zip(averaged.state_dict().values(), model.state_dict().values(), strict=True))
    if state is not None:
        opt.load_state_dict(state["opt"])
        torch.set_rng_state(state["torch_rng"])
        step, seen_user, seen_general = state["step"], state["seen_user"], state["seen_general"]
        train_cpu, best_cer, best_step = state["train_cpu"], state["best_cer"], state["best_step"]
        cpu_prev, wall_prev = state["cpu"], state["wall"]
        best_state = state["best_model"]
    rehearsal, near = None, set()
    if teacher is not None:  # look-alikes from the base's rows, as they were before any step
        if cfg.rehearsal_focus > 0:
            near = lookalikes(teacher, chars, seen_chars)
        if near:
            note = (f"{cfg.rehearsal_focus:.0%} of the rehearsal lines hold one of the {len(near)} "
                    f"look-alikes of your characters: {''.join(sorted(near))}")
            emit({"kind": "info", "message": note})
        rehearsal = Rehearsal(height, all_chars, cfg.seed, rare=cfg.rehearsal_rare, focus=cfg.rehearsal_focus,
                              lookalike=near, yours=seen_chars)
    batches = _Batches(train, rehearsal, cfg)
    max_steps = cfg.steps or (0 if cfg.minutes else 300)
    budget_s = cfg.minutes * 60.0
    t_train = time.perf_counter()

    def save_state() -> None:
        job.state_dir.mkdir(exist_ok=True)
        tmp = last.with_suffix(".tmp")
        torch.save({"fingerprint": fingerprint, "model": model.state_dict(), "opt": opt.state_dict(),
                    "torch_rng": torch.get_rng_state(), "step": step, "seen_user": seen_user,
                    "seen_general": seen_general, "train_cpu": train_cpu, "best_cer": best_cer,
                    "best_step": best_step, "best_model": best_state, "before": before,
                    "base_reads": base_reads,
                    **({"ema": averaged.state_dict()} if averaged is not None else {}),
                    "cpu": cpu_prev + time.process_time() - cpu_call,
                    "wall": wall_prev + time.perf_counter() - t_call}, tmp)
        tmp.replace(last)
        job.write_status(disk_bytes=job.check_disk())

    eval_cost = 0.0  # wall seconds of the last evaluation
    eval_step = step  # the step last evaluated

    def evaluate() -> float:
        nonlocal best_cer, best_step, best_state, eval_cost, eval_step
        eval_step = step
        t0 = time.perf_counter()
        scored = averaged if averaged is not None else model
        score = _score(scored, val, all_chars)
        eval_cost = time.perf_counter() - t0
        cer = score["cer"]
        if cer < best_cer:
            best_cer, best_step = cer, step
            best_state = {k: v.detach().clone() for k, v in scored.state_dict().items()}
        job.log({"kind": "eval", "step": step, "val_cer": cer, "val_line_acc": score["line_acc"],
                 "best": best_step == step})
        emit({"kind": "eval", "step": step, "val_cer": cer, "best_cer": best_cer})
        model.train()
        return cer

    stopped_by = "steps"
    job.write_status(phase="training", message="training", step=step, steps=max_steps, val_total=len(val),
                     train_total=len(train), new_classes=new_chars, before=before,
                     deadline=(time.time() + budget_s) if budget_s else None)
    emit({"kind": "start", "step": step, "steps": max_steps, "budget_s": budget_s, "train": len(train),
          "val": len(val), "per_batch": (batches.n_user, batches.n_general)})
    if step == 0:  # step 0 = the base model: its "before" score (new classes start improbable)
        best_cer = before["val"]["cer"]
        job.log({"kind": "eval", "step": 0, "val_cer": best_cer, "val_line_acc": before["val"]["line_acc"],
                 "best": True})
        emit({"kind": "eval", "step": 0, "val_cer": best_cer, "best_cer": best_cer})
    model.train()
    last_eval = last_save = time.perf_counter()
    loss_acc, lines_acc, t_mark = 0.0, 0, time.perf_counter()
    try:
        while True:
            if max_steps and step >= max_steps:
                break
            if budget_s and time.perf_counter() - t_train >= budget_s:
                stopped_by = "budget"
                break
            if stop():
                stopped_by = "stop"
                break
            c0 = time.process_time()
            user, general = batches.batch(step)
            factor = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
            factor *= lr_factor(cfg.schedule, step, max_steps, time.perf_counter() - t_train, budget_s)
            for g, group_lr in zip(opt.param_groups, base_lrs, strict=True):
                g["lr"] = group_lr * factor
            opt.zero_grad(set_to_none=True)
            total = len(user) + len(general)
            w_user, w_general = batches.weights(len(user), len(general))
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision == "bf16"):
                loss = _forward_loss(model, user, index) * w_user
                for part in width_halves(general):
                    loss = loss + _forward_loss(model, part, index, teacher, cfg.kd_weight) * w_general
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            if frozen is not None:
                with torch.no_grad():
                    model.fc.weight[frozen] = base_state["fc.weight"][frozen]
                    model.fc.bias[frozen] = base_state["fc.bias"][frozen]
            if ema_pairs:
                decay = min(cfg.ema, (1 + step) / (10 + step))
                with torch.no_grad():
                    for a_t, m_t in ema_pairs:
                        a_t.lerp_(m_t, 1.0 - decay)
            step += 1
            seen_user += len(user)
            seen_general += len(general)
            train_cpu += time.process_time() - c0
            loss_acc += float(loss.detach()) * total
            lines_acc += total
            now = time.perf_counter()
            if step % 5 == 0 or step == max_steps:
                rate = lines_acc / max(now - t_mark, 1e-9)
                job.log({"kind": "train", "step": step, "loss": round(loss_acc / lines_acc, 4),
                         "lines_per_s": round(rate, 2)})
                emit({"kind": "step", "step": step, "loss": loss_acc / lines_acc, "lines_per_s": rate})
                job.write_status(step=step)
                loss_acc, lines_acc, t_mark = 0.0, 0, now
            else:
                emit({"kind": "tick", "step": step})
            # by time: every eval_every_s, but at most ~1/6 of the time goes to validation
            if (cfg.eval_every_steps and step % cfg.eval_every_steps == 0) or (
                    not cfg.eval_every_steps and now - last_eval >= max(cfg.eval_every_s, 5 * eval_cost)):
                evaluate()
                last_eval = time.perf_counter()
            if now - last_save >= STATE_EVERY_S:
                save_state()
                last_save = time.perf_counter()
    except KeyboardInterrupt:
        save_state()
        raise
    if eval_step != step:
        evaluate()
    save_state()
    job.write_status(phase="final", message="measuring the fine-tuned model")
    def blended(a: float) -> None:  # the model holds base + a * (best - base), as the fp16 export will
        model.load_state_dict(blend_weights(base_state, best_state, a))
        model.half().float().eval()  # in place: the fp16 rounding of the export

    ref_reads: dict[float, list[str]] = {}  # the reference lines as read at each blend share

    def scores(a: float) -> dict[str, dict[str, float]]:
        out = {"val": _score(model, val, all_chars)}
        if reference:
            ref_reads[a] = _decode_lines(model, reference, all_chars)
            out["reference"] = _score_texts(reference, ref_reads[a])
        return out

    blend: list[dict[str, float]] = []
    by_share: dict[float, dict[str, dict[str, float]]] = {}
    keep = 1.0
    if reference and cfg.val_slack >= 0:
        val_chars = sum(len(ln.text) for ln in val)
        if cfg.max_forgetting >= 0 or val_chars * cfg.val_slack >= MIN_SLACK_CHARS:
            job.write_status(phase="final", message="blending with the base against forgetting")
            for a in BLEND_GRID:
                blended(a)
                by_share[a] = scores(a)
                blend.append({"a": a, "val_cer": by_share[a]["val"]["cer"],
                              "ref_cer": by_share[a]["reference"]["cer"]})
                emit({"kind": "blend", **blend[-1]})
                if cfg.max_forgetting < 0 and _past_slack(blend[-1], blend[0], cfg.val_slack):
                    break  # the walk ends here: no share nearer the base is kept (choose_blend)
            keep = choose_blend(blend, before["reference"]["cer"], cfg.val_slack, cfg.max_forgetting)
        else:
            note = (f"no blend with the base: on the validation set's {val_chars} characters a loss of "
                    f"{cfg.val_slack:g} CER is under {MIN_SLACK_CHARS} characters; the trained weights are "
                    "kept")
            emit({"kind": "info", "message": note})
    blended(keep)
    after = by_share[keep] if keep in by_share else scores(keep)
    grown: list[dict[str, Any]] = []  # what the kept model reads differently from the base
    if reference and base_reads is not None:
        grown = grown_confusions([ln.text for ln in reference], base_reads, ref_reads[keep],
                                 yours={normalize(c) for c in seen_chars} - {""})
    cpu_total = cpu_prev + time.process_time() - cpu_call
    wall_total = wall_prev + time.perf_counter() - t_call
    meta: dict[str, Any] = {
        "name": cfg.name, "engine": engine_name, "created": _now(),
        "base": cfg.base, "base_checkpoint": str(base_path), "base_sha256": _sha256_file(base_path),
        "init": f"fine-tuned from {cfg.base}",
        "parent": {k: base_meta[k] for k in ("init", "steps", "cpu_hours", "base") if k in base_meta},
        "train": {"source": str(cfg.train) if isinstance(cfg.train, str | Path) else "upload",
                  "lines": len(train), "sha256": train_hash},
        "val": {"source": str(cfg.val) if cfg.val else "split", "lines": len(val), "sha256": val_hash,
                "note": split_note},
        "new_classes": new_chars, "new_class_init": init_note if new_chars else "",
        "rows_not_used": sum(not i.used for i in issues),
        "steps": step, "best_step": best_step, "user_lines_seen": seen_user,
        "rehearsal_lines_seen": seen_general,
        "train_cpu_seconds": round(train_cpu, 1), "cpu_seconds": round(cpu_total, 1),
        "cpu_hours": round(cpu_total / 3600, 4), "wall_seconds": round(wall_total, 1),
        "stopped_by": stopped_by,
        "blend": {"kept": keep, "rule": "bound" if cfg.max_forgetting >= 0 else "walk",
                  "val_slack": cfg.val_slack, "max_forgetting": cfg.max_forgetting,
                  "tried": blend},
        "settings": {**{k: getattr(cfg, k) for k in ("batch_size", "user_batch", "rehearsal", "augment",
                                                     "head_lr_mult",
                                                     "warmup_steps", "seed", "threads", "minutes",
                                                     "val_slack", "max_forgetting", "head", "kd_weight",
                                                     "schedule", "rehearsal_rare", "rehearsal_focus", "ema")},
                     "lr": lr, "cnn_lr_mult": cnn_mult, "precision": precision},
        "rehearsal_lookalikes": "".join(sorted(near)),
        "before": before, "after": after, "reference_grown_confusions": grown,
        "eval": [{"name": k, "cer": v["cer"], "n": v["n"]} for k, v in after.items()],
        "reference_set": (f"sample_images/labels.tsv + {REFERENCE_RENDERED} simplified and "
                          f"{REFERENCE_RENDERED_TC} traditional lines rendered in the held-out font"
                          if reference else ""),
    }
    charset = Charset(all_chars)
    save_export(model, job.folder / "model.pt", charset, meta)  # atomic: the engine appears complete
    for p in job.state_dir.glob("*"):
        p.unlink()
    with contextlib.suppress(OSError):
        job.state_dir.rmdir()
    meta["disk_bytes"] = job.check_disk()
    _write_json(job.folder / "meta.json", meta)
    job.write_status(phase="done", message=f"{engine_name} is ready", step=step, after=after,
                     disk_bytes=meta["disk_bytes"], blend=meta["blend"], reference_grown_confusions=grown,
                     rehearsal_lookalikes=meta["rehearsal_lookalikes"])
    emit({"kind": "done", "meta": meta})
    return FinetuneResult(cfg.name, engine_name, job.folder / "model.pt", meta, stopped_by, issues)
