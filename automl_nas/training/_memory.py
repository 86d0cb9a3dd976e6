"""Memory a trial freed handed back to the operating system (glibc's ``malloc_trim``).

glibc keeps what a thread frees in that thread's arena for its next allocations, and each
time a large block served by ``mmap`` is freed it raises the size from which it serves blocks
by ``mmap`` (up to 32 MiB on 64-bit), so later blocks of that size come from the arenas and
stay resident after they are freed. A search allocates and frees such blocks in every trial
(activations and gradients, optimizer state, LightGBM's buffers, a linear solver's work
arrays), two or more trials at a time in threads with arenas of their own: the process's
resident memory climbs to the sum of each arena's largest transient need and stays there,
well above what is alive at any moment. A default 30 s fit of 200,000 x 50 rows (2 cores)
peaked at 1.24-1.32 GiB above the data, 0.51 GiB with a trim every 0.2 s from another
thread; with a trim when each trial ends, the median peak of six seeds went from 787 to 670
MiB (``benchmarks/README.md``, "Freed memory handed back").

:func:`release_freed_memory` asks the C library to return the free pages of every arena
(``malloc_trim(0)``: ``madvise`` on whole free pages; 1-2 ms a call on a small table).
Dask's documentation gives its workers the same call for the same reason ("memory not
released back to the OS"). It does not change the allocator's policy (no ``mallopt``): the
host process keeps its settings. Where the C library has no ``malloc_trim`` (macOS, Windows)
it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, or None where the C library lacks it."""
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim


def release_freed_memory() -> bool:
    """Return the C heap's free pages to the operating system; whether the platform can.

    Called when a trial ends, in its thread (the call releases the GIL; other trials go on).
    Memory still in use is untouched, so it is safe at any time; it costs a walk over the
    arenas' free chunks.
    """
    trim = _malloc_trim()
    if trim is None:
        return False
    trim(0)
    return True
