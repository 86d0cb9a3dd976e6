"""Memory a trial freed goes back to the operating system (glibc's ``malloc_trim``)."""

import os
import platform
import threading

import pytest

from automl_nas.training import release_freed_memory

glibc = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="malloc_trim is glibc's")


def _resident_mib() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@glibc
def test_the_free_pages_of_a_trial_threads_arena_go_back_to_the_system():
    """Blocks a thread freed between blocks it keeps stay resident in its arena (glibc trims
    only an arena's top) until :func:`release_freed_memory`; kept blocks are untouched."""
    kept: list[bytearray] = []
    resident: dict[str, float] = {}

    def trial() -> None:  # in a thread of its own, as trials run: its own arena
        blocks = [bytearray(b"x" * 2048) for _ in range(100_000)]  # 200 MiB of 2 KiB blocks
        kept.extend(blocks[::64])  # one in 64 kept: 126 KiB free holes, whole pages
        blocks.clear()
        resident["freed"] = _resident_mib()
        assert release_freed_memory()
        resident["released"] = _resident_mib()

    before = _resident_mib()
    worker = threading.Thread(target=trial)
    worker.start()
    worker.join()
    assert resident["freed"] - before > 150  # freed, yet resident
    assert resident["freed"] - resident["released"] > 150
    assert all(block == b"x" * 2048 for block in kept)
