"""User models: CRNNs fine-tuned here (`python -m ocr finetune`, the app's Fine-tune page), each one
engine `user:NAME` in the one engine registry (ocr.engines.registry lists them from this module).

Folder: `OCR_USER_MODELS`, default `models/user/` (gitignored). A model is <folder>/<NAME>/model.pt (an
fp16 checkpoint in this project's format, written atomically when its fine-tune finishes) with
meta.json beside it; a folder without model.pt is a job still running (or stopped) and is not listed.
Loading reads the checkpoint with torch.load(weights_only=True) and checks the charset's sha256.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from ocr.errors import EngineUnavailable, UnknownEngine

__all__ = [
    "USER_PREFIX",
    "UserModel",
    "base_checkpoint",
    "check",
    "finetunable_engines",
    "list_user_models",
    "load",
    "model_version",
    "user_model_dir",
    "user_models_dir",
    "user_models_signature",
    "valid_user_name",
]

USER_PREFIX = "user:"
ENV = "OCR_USER_MODELS"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "models" / "user"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")


@dataclass(frozen=True)
class UserModel:
    """One finished fine-tune: engine name, checkpoint, and what its meta.json says."""

    name: str  # NAME, without the prefix
    checkpoint: Path
    title: str
    summary: str
    mtime_ns: int

    @property
    def engine(self) -> str:
        return USER_PREFIX + self.name


def user_models_dir(override: str | Path | None = None) -> Path:
    """The user-models folder: `override`, else $OCR_USER_MODELS, else models/user/."""
    return Path(override or os.environ.get(ENV) or DEFAULT_DIR)


def valid_user_name(name: str) -> bool:
    """1-40 letters, digits, '-', '_' or '.', starting with a letter or digit (a safe folder name)."""
    return bool(_NAME.fullmatch(name)) and name not in (".", "..")


def user_model_dir(name: str, override: str | Path | None = None) -> Path:
    """<user-models folder>/<name> (raises UnknownEngine for a name that is not a safe folder name)."""
    if not valid_user_name(name):
        raise UnknownEngine(f"bad user model name {name!r}")
    return user_models_dir(override) / name


@lru_cache(maxsize=256)
def _describe(name: str, folder: Path, _mtime_ns: int) -> tuple[str, str]:
    """(title, summary) from meta.json (cached per model file version); plain ones when it is missing
    or damaged."""
    try:
        meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
        base = str(meta.get("base", "?"))
        before, after = meta["before"]["val"]["cer"], meta["after"]["val"]["cer"]
        lines = meta["train"]["lines"]
        return (f"{name} (fine-tuned {base})",
                f"{base} fine-tuned here on {lines} lines ({meta.get('steps')} steps); validation CER "
                f"{before:.3f} -> {after:.3f} ({folder})")
    except (OSError, ValueError, KeyError, TypeError):
        return f"{name} (fine-tuned)", f"a CRNN fine-tuned here ({folder})"


def _scan(root: Path) -> list[tuple[str, Path, int]]:
    """(name, checkpoint, mtime_ns) of every finished model under root, sorted by name (stat only)."""
    if not root.is_dir():
        return []
    out = []
    for folder in sorted(root.iterdir()):
        ckpt = folder / "model.pt"
        if valid_user_name(folder.name) and folder.is_dir():
            try:
                out.append((folder.name, ckpt, ckpt.stat().st_mtime_ns))
            except OSError:  # no model yet: a job still running, or stopped
                continue
    return out


def list_user_models(override: str | Path | None = None) -> list[UserModel]:
    """Finished user models, sorted by name."""
    return [UserModel(name, ckpt, *_describe(name, ckpt.parent, mtime), mtime)
            for name, ckpt, mtime in _scan(user_models_dir(override))]


def user_models_signature(override: str | Path | None = None) -> tuple[str, tuple[tuple[str, int], ...]]:
    """(folder, ((name, mtime_ns), ...)): changes whenever a user model is added, replaced or removed."""
    root = user_models_dir(override)
    return str(root), tuple((name, mtime) for name, _, mtime in _scan(root))


def model_version(engine: str) -> int | None:
    """The mtime of user model `engine`'s checkpoint (None when it does not exist)."""
    found = _find(engine)
    return found.mtime_ns if found is not None else None


def _find(engine: str) -> UserModel | None:
    if not engine.startswith(USER_PREFIX):
        raise UnknownEngine(f"{engine!r} is not a user model (user:NAME)")
    name = engine[len(USER_PREFIX):]
    return next((m for m in list_user_models() if m.name == name), None)


def check(name: str) -> str | None:
    """Why user model `name` (user:NAME) cannot load here, or None."""
    import importlib.util

    if importlib.util.find_spec("torch") is None:
        return "torch is not installed (see requirements.txt)"
    if _find(name) is None:
        return f"no finished fine-tune called {name[len(USER_PREFIX):]!r} in {user_models_dir()}"
    return None


def load(name: str):  # -> CrnnEngine
    """Load user model `name` as a CRNN engine (raises EngineUnavailable with the reason)."""
    from ocr.engines.crnn import CrnnEngine

    model = _find(name)
    if model is None:
        raise EngineUnavailable(check(name) or f"{name} not found")
    return CrnnEngine(model.checkpoint, name=name)


def finetunable_engines() -> list[str]:
    """The registered engines that are our own CRNNs (built-in or fine-tuned here), in registry order:
    the bases a fine-tune can start from."""
    from ocr.engines.registry import ENGINES

    return [n for n, info in ENGINES.items() if info.module in ("ocr.engines.crnn", __name__)]


def base_checkpoint(engine: str) -> Path:
    """The checkpoint behind one of our CRNN engines (crnn, crnn-fast, user:NAME): what can be
    fine-tuned. Raises UnknownEngine for any other engine, EngineUnavailable when the file is missing."""
    from ocr.engines.crnn import VARIANTS

    if engine in VARIANTS:  # the engine may run from an .onnx file; training needs the torch weights
        path = VARIANTS[engine].checkpoint.with_suffix(".pt")
    elif engine.startswith(USER_PREFIX):
        found = _find(engine)
        if found is None:
            raise EngineUnavailable(check(engine) or f"{engine} not found")
        path = found.checkpoint
    else:
        ours = ", ".join([*VARIANTS, *(m.engine for m in list_user_models())])
        raise UnknownEngine(f"only our own CRNN engines can be fine-tuned: {ours} (not {engine!r})")
    if not path.is_file():
        raise EngineUnavailable(f"no torch checkpoint at {path} to fine-tune {engine} from")
    return path
