"""One small registry helper shared by engines and detectors: ordered names, availability, and a
thread-safe load-once cache.

    reg = Registry("detector", ["classical", "ppocr-det"], check=why_not, build=make, unknown=UnknownDetector)
    reg.names()            # ["classical", "ppocr-det"], in display order
    reg.available("x")     # (True, "") or (False, reason)
    reg.load("classical")  # built once per process; later calls return the same object

`names` may also be a callable returning the current names (a registry whose members come and go, such
as the engines fine-tuned here); `version(name)` then tells when a loaded thing is stale and must be
rebuilt (e.g. its file was replaced).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from ocr.errors import EngineUnavailable, OCRError

__all__ = ["Registry"]

T = TypeVar("T")


class Registry(Generic[T]):
    """Named things of one kind, each loaded at most once per process.

    check(name) returns why the thing cannot load here (None when it can); build(name) makes it.
    Unknown names raise `unknown` (an OCRError subclass); unavailable ones raise EngineUnavailable.
    """

    def __init__(
        self,
        kind: str,
        names: Iterable[str] | Callable[[], Iterable[str]],
        check: Callable[[str], str | None],
        build: Callable[[str], T],
        unknown: type[OCRError] = OCRError,
        version: Callable[[str], object] | None = None,
    ) -> None:
        self.kind = kind
        self._names_of = names if callable(names) else None
        self._fixed = () if callable(names) else tuple(names)
        self._check = check
        self._build = build
        self._unknown = unknown
        self._version = version or (lambda _name: None)
        self._loaded: dict[str, tuple[object, T]] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Registered names, in display order."""
        return list(self._names_of()) if self._names_of is not None else list(self._fixed)

    def __contains__(self, name: object) -> bool:
        return name in self.names()

    def require(self, name: str) -> str:
        """`name` if registered, else raise the registry's unknown-name error listing the choices."""
        names = self.names()
        if name not in names:
            raise self._unknown(f"unknown {self.kind} {name!r}; choose from {', '.join(names)}")
        return name

    def available(self, name: str) -> tuple[bool, str]:
        """(True, "") if `name` can load here, else (False, reason)."""
        reason = self._check(self.require(name))
        return reason is None, reason or ""

    def load(self, name: str) -> T:
        """The thing, built once per process (thread-safe). Raises EngineUnavailable with the reason."""
        with self._lock:
            version = self._version(name)
            if name in self._loaded and self._loaded[name][0] == version:
                return self._loaded[name][1]
            ok, reason = self.available(name)
            if not ok:
                raise EngineUnavailable(f"{self.kind} {name!r} is unavailable: {reason}")
            thing = self._build(name)
            self._loaded[name] = (version, thing)
            return thing
