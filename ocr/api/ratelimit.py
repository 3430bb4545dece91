"""A thread-safe sliding-window rate limiter (per key)."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

__all__ = ["SlidingWindowLimiter"]


class SlidingWindowLimiter:
    """At most `limit` requests per `window_s` seconds for each bucket (a sliding log).

    `hit(bucket)` records a request and returns 0.0 if it is allowed, or else the seconds to
    wait until the oldest request in the window expires (nothing is recorded then).
    At most `max_buckets` buckets are kept: idle ones are dropped first.
    """

    def __init__(
        self,
        limit: int,
        window_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_buckets: int = 10_000,
    ) -> None:
        if limit < 1 or window_s <= 0:
            raise ValueError("limit must be >= 1 and window_s > 0")
        self.limit = limit
        self.window_s = window_s
        self._clock = clock
        self._max_buckets = max_buckets
        self._log: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _expire(self, log: deque[float], now: float) -> None:
        while log and log[0] <= now - self.window_s:
            log.popleft()

    def _evict(self, now: float) -> None:
        for name in [b for b, log in self._log.items() if not log or log[-1] <= now - self.window_s]:
            del self._log[name]
        while len(self._log) >= self._max_buckets:  # all busy: drop the least recently used
            oldest = min(self._log, key=lambda b: self._log[b][-1])
            del self._log[oldest]

    def hit(self, bucket: str) -> float:
        """Record one request for `bucket`; 0.0 if allowed, else the wait in seconds (> 0)."""
        with self._lock:
            now = self._clock()
            log = self._log.get(bucket)
            if log is None:
                if len(self._log) >= self._max_buckets:
                    self._evict(now)
                log = self._log[bucket] = deque()
            self._expire(log, now)
            if len(log) >= self.limit:
                return max(log[0] + self.window_s - now, 1e-3)
            log.append(now)
            return 0.0

    def blocked(self, bucket: str) -> float:
        """0.0 if `bucket` has room for another request now, else the wait in seconds; records nothing."""
        with self._lock:
            log = self._log.get(bucket)
            if log is None:
                return 0.0
            now = self._clock()
            self._expire(log, now)
            return max(log[0] + self.window_s - now, 1e-3) if len(log) >= self.limit else 0.0

    @staticmethod
    def retry_after(wait_s: float) -> str:
        """The Retry-After header value (whole seconds, at least 1)."""
        return str(max(1, math.ceil(wait_s)))
