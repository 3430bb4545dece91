"""One small registry helper shared by engines and detectors: ordered names, availability, and a
thread-safe load-once cache.

    reg = Registry("detector", ["classical", "ppocr-det"], check=why_not, build=make, unknown=UnknownDetector)
    reg.names()            # ["classical", "ppocr-det"], in display order
    reg.available("x")     # (True, "") or (False, reason)
    reg.load("classical")  # built once per process; later calls return the same object
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
        names: Iterable[str],
        check: Callable[[str], str | None],
        build: Callable[[str], T],
        unknown: type[OCRError] = OCRError,
    ) -> None:
        self.kind = kind
        self._names = tuple(names)
        self._check = check
        self._build = build
        self._unknown = unknown
        self._loaded: dict[str, T] = {}
        self._lock = threading.Lock()

    def names(self) -> list[str]:
        """Registered names, in display order."""
        return list(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def require(self, name: str) -> str:
        """`name` if registered, else raise the registry's unknown-name error listing the choices."""
        if name not in self._names:
            raise self._unknown(f"unknown {self.kind} {name!r}; choose from {', '.join(self._names)}")
        return name

    def available(self, name: str) -> tuple[bool, str]:
        """(True, "") if `name` can load here, else (False, reason)."""
        reason = self._check(self.require(name))
        return reason is None, reason or ""

    def load(self, name: str) -> T:
        """The thing, built once per process (thread-safe). Raises EngineUnavailable with the reason."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            ok, reason = self.available(name)
            if not ok:
                raise EngineUnavailable(f"{self.kind} {name!r} is unavailable: {reason}")
            thing = self._build(name)
            self._loaded[name] = thing
            return thing
