"""Give freed image memory back to the system (glibc), so the server's RSS returns after big requests.

glibc raises its mmap threshold each time a large block is freed (up to 32 MB), after which
Pillow's 16 MB blocks and 20 MB arrays of a big image are carved from the worker threads' arenas;
once freed they sit at the top of those arenas, below glibc's (also rising) trim threshold, and
malloc_trim cannot shrink a thread arena's top: the server kept ~50 MB after four big images.

`large_blocks_unmapped_on_free` fixes both thresholds at the values the server converges to anyway
for the mmap threshold (32 MB: ordinary requests allocate exactly as before; measured CPU per
request unchanged) and 16 MB for the trim threshold, so an arena whose top holds more than 16 MB free
shrinks at once. (Lower mmap thresholds, 1-12 MB, cost 10-15 % of CPU per request here: some
per-request buffers then became mmap + munmap.) `release_free_memory` (malloc_trim) additionally
returns free pages inside the arenas; the API calls it after a request that decoded at least
TRIM_AFTER_BYTES and when the last of overlapping big requests ends. No-ops without glibc.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools

__all__ = ["KEEP_FREE", "MMAP_FROM", "TRIM_AFTER_BYTES", "large_blocks_unmapped_on_free",
           "release_free_memory"]

TRIM_AFTER_BYTES = 32 * 1024 * 1024  # decoded image bytes in one request that make a trim worth it


_M_TRIM_THRESHOLD = -1  # glibc's mallopt parameter numbers
_M_MMAP_THRESHOLD = -3
MMAP_FROM = 32 * 1024 * 1024
KEEP_FREE = 16 * 1024 * 1024


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if not name:
        return None
    try:
        return ctypes.CDLL(name)
    except OSError:
        return None


@functools.lru_cache(maxsize=1)
def _malloc_trim() -> object | None:
    libc = _libc()
    trim = getattr(libc, "malloc_trim", None)
    if trim is None:
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


def large_blocks_unmapped_on_free(mmap_from: int = MMAP_FROM, keep_free: int = KEEP_FREE) -> bool:
    """Fix glibc's mmap threshold at `mmap_from` and its trim threshold at `keep_free` (process-wide;
    call once at server start, see the module docstring). True if both were set."""
    mallopt = getattr(_libc(), "mallopt", None)
    if mallopt is None:
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, mmap_from)) and bool(mallopt(_M_TRIM_THRESHOLD, keep_free))


def release_free_memory() -> bool:
    """Return the free pages of every malloc arena to the system; True if glibc released any."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False  # type: ignore[operator]
