"""Where a network trains: CUDA when asked for or available, with the matching AMP settings."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch


def resolve_device(device: str | torch.device) -> torch.device:
    """``"auto"`` is CUDA when present, else CPU; anything else is checked and passed through."""
    if isinstance(device, str) and device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} was requested but CUDA is not available")
    return resolved


def amp_dtype(device: torch.device) -> torch.dtype | None:
    """bf16 autocast where the GPU supports it, fp16 (with a grad scaler) otherwise; none on CPU."""
    if device.type != "cuda":
        return None
    return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16


@contextlib.contextmanager
def autocast(device: torch.device, dtype: torch.dtype | None) -> Iterator[None]:
    """Mixed precision on CUDA, a no-op elsewhere."""
    if dtype is None:
        yield
        return
    with torch.autocast(device_type=device.type, dtype=dtype):
        yield


def to_device(array: object, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    """Copy a numpy array to ``device``, through pinned memory for an asynchronous CUDA copy."""
    tensor = torch.as_tensor(array, dtype=dtype)
    if device.type == "cuda":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor


def available_cores() -> int:
    """CPU threads the search may use: torch's intra-op thread count, which follows
    ``OMP_NUM_THREADS`` and ``torch.set_num_threads`` and is otherwise the machine's cores,
    capped by the cores this process may run on (its affinity mask)."""
    allowed = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(torch.get_num_threads(), allowed or 1))


def plan_parallelism(n_jobs: int | None, device: torch.device, serial: bool) -> tuple[int, int]:
    """(trials at once, intra-op threads per trial) for ``n_jobs`` on ``device``.

    ``n_jobs=None`` uses the machine: on CPU one trial per core, each single-threaded (small
    networks gain more from parallel trials than from splitting their matmuls: on 2 cores, 30 s
    searches completed 1.3-2.7x the trials of one trial at a time, benchmarks/README.md), or,
    when the search must be ``serial`` (seeded, with a trial count as its limit, so that it
    repeats), one trial at a time on all cores. On CUDA one trial at a time. An explicit
    ``n_jobs`` shares the cores among its trials, so nothing is oversubscribed (a repeatable
    search then runs them in waves, :func:`~automl_nas.search.optimize_in_waves`).
    """
    cores = available_cores()
    if n_jobs is None:
        if device.type != "cpu":
            return 1, 1
        return (1, cores) if serial else (cores, 1)
    return n_jobs, max(1, cores // n_jobs)


@contextlib.contextmanager
def cpu_threads(device: torch.device, threads: int) -> Iterator[None]:
    """``threads`` intra-op threads while training on CPU, restored afterwards.

    Search networks are small: with more threads than cores, or on a loaded machine,
    OpenMP's spinning threads made a 64-row step 20-40x slower (measured: 8 ms vs 250 ms), so
    callers give each of their parallel trials its share of the cores
    (:func:`plan_parallelism`).
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)
