"""Give freed image memory back to the system (glibc), so the server's RSS returns after big requests.

glibc raises its mmap threshold each time a large block is freed, so after the first big image,
16 MB image blocks (Pillow's) and multi-MB bands are carved from the worker threads' arenas, and
stay resident when freed. Pinning the threshold at 1 MiB keeps every large buffer in its own
mapping, which free() unmaps at once. No-op where glibc's mallopt is not available.
"""

from __future__ import annotations

import ctypes
import ctypes.util

__all__ = ["MMAP_THRESHOLD", "release_large_blocks_on_free"]

MMAP_THRESHOLD = 1 << 20
_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number


def release_large_blocks_on_free(threshold: int = MMAP_THRESHOLD) -> bool:
    """Serve allocations of `threshold` bytes and more with their own mmap (process-wide); True if set."""
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, int(threshold)))
