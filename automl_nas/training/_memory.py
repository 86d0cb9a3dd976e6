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

Trimming when a trial ends is not enough within one trial: a network's scoring pass frees and
allocates blocks of the same sizes chunk after chunk, and the resident memory still rises with
every chunk (20,000 rows through an 8-member 3 x 501 MLP, one thread: 397 MiB above the start,
5 MiB with a trim after each chunk); a trial of an 8-member 2 x 937 MLP on 75,000 x 50 rows
peaked at 761-1,413 MiB against about 140 MiB alive at once. :class:`FreedMemoryKeeper`
watches the process's resident memory from a thread of its own during a search and trims
whenever it has grown by :func:`keeper_growth` since the last trim, whatever library allocated
it (torch, LightGBM, scikit-learn's solvers): a default 30 s fit's median peak on 200,000 x 50
rows went from 595-696 to 453 MiB, on connect_4 from 421-550 to 231 (``benchmarks/README.md``,
"Freed memory handed back while a trial runs").
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import threading
from collections.abc import Callable
from types import TracebackType

#: :class:`FreedMemoryKeeper` trims once the resident memory has grown at least this much
#: since its last trim (more on large data: :func:`keeper_growth`), looks every
#: ``POLL_SECONDS`` and waits at least ``MIN_TRIM_INTERVAL`` after a trim before the next.
GROWTH_BYTES = 32 * 2**20
POLL_SECONDS = 0.05
MIN_TRIM_INTERVAL = 0.1


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


def resident_bytes() -> int | None:
    """This process's resident memory (Linux ``/proc/self/statm``), or None where unknown."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


def keeper_growth(data_bytes: int) -> int:
    """The growth that makes :class:`FreedMemoryKeeper` trim, for a search on ``data_bytes``.

    Half the data's bytes, at least ``GROWTH_BYTES``. What a trim hands back and the search
    then uses again is faulted back in page by page: on 50,000 x 2,000 rows, trims after every
    32 MiB took the first trial from 2.7-2.9 s to 3.2-3.8 s (its quantile transform frees and
    reuses blocks of hundreds of MiB); after every 190 MiB it stayed at 2.7-2.9 s. A growth in
    proportion to the data is the scale of the bound the search keeps to (twice the float32
    rows).
    """
    return max(GROWTH_BYTES, data_bytes // 2)


class FreedMemoryKeeper:
    """While open, trim the C heap whenever the resident memory grew by ``growth`` bytes.

    A context manager: entering starts a daemon thread that reads the resident memory every
    ``poll`` seconds and calls :func:`release_freed_memory` when it is ``growth`` bytes or more
    above what it was after the last trim, and not within ``min_interval`` seconds of that trim
    (memory that is alive stays; the next trim then waits for another ``growth``); leaving
    stops it. Where the platform has no ``malloc_trim`` or no ``/proc/self/statm`` it starts
    nothing. ``trims`` counts its calls.

    Example:
        >>> with FreedMemoryKeeper() as keeper:
        ...     pass  # train, score, fit
        >>> keeper.trims >= 0
        True
    """

    def __init__(
        self,
        growth: int = GROWTH_BYTES,
        poll: float = POLL_SECONDS,
        min_interval: float = MIN_TRIM_INTERVAL,
    ) -> None:
        self.growth, self.poll, self.min_interval = growth, poll, min_interval
        self.trims = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> FreedMemoryKeeper:
        if _malloc_trim() is not None and resident_bytes() is not None:
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._watch, name="automl_nas-memory", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None

    def _watch(self) -> None:
        floor = resident_bytes() or 0
        while not self._stop.wait(self.poll):
            now = resident_bytes() or 0
            if now - floor >= self.growth:
                release_freed_memory()
                self.trims += 1
                floor = resident_bytes() or 0
                if self._stop.wait(self.min_interval):
                    break
