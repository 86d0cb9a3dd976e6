"""Where a network trains: CUDA when asked for or available, with the matching AMP settings."""

from __future__ import annotations

import contextlib
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


@contextlib.contextmanager
def single_threaded_cpu(device: torch.device) -> Iterator[None]:
    """One intra-op thread while training on CPU, restored afterwards.

    Search networks are small: a 64-row batch through 256-wide layers gains nothing from
    splitting each matmul across cores, and on a loaded machine OpenMP's spinning threads made a
    step 20-40x slower (measured: 8 ms vs 250 ms per step). Parallelism comes from ``n_jobs``
    trials at once instead.
    """
    if device.type != "cpu":
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)
