"""API-key checking in constant time."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["KeyRing"]


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


class KeyRing:
    """The accepted API keys, kept only as SHA-256 digests.

    `match` compares the presented key's digest with every stored digest using
    `hmac.compare_digest` and without an early exit, so its timing depends neither on where
    the first differing byte is nor on which key matched. The returned id (a digest prefix)
    names the key in rate-limit buckets and logs without revealing it.
    """

    def __init__(self, keys: frozenset[str] | set[str]) -> None:
        self._digests = tuple(_digest(k) for k in sorted(keys))

    def __bool__(self) -> bool:
        return bool(self._digests)

    def __len__(self) -> int:
        return len(self._digests)

    def match(self, presented: str | None) -> str | None:
        """The key id ("key:" + 12 hex digits) if `presented` is an accepted key, else None."""
        if presented is None:
            return None
        probe = _digest(presented)
        found: bytes | None = None
        for d in self._digests:
            if hmac.compare_digest(probe, d):
                found = d
        return None if found is None else "key:" + found.hex()[:12]
