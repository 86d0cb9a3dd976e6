"""A network's arithmetic per row and the least time its epoch can take on this machine.

A search samples networks its trials cannot train in their time: on 40,000 x 50 rows one
epoch of a random draw from the tabular space took 0.88 s (the default 4 x 81 residual
network) to 117 s (16 members of 3 x 433 with piecewise-linear embeddings), on one thread of a
2-core VM, where a 30 s search gives a trial about 2.5 s. The trainer's probe
(``PROBE_WARMUP_STEPS`` and after) finds such a network within its first steps, but only after
it has allocated their activations: in 200,000 x 50 fits the probed networks were most of the
pruned trials and the largest held the fit's peak memory (a 4 x 929 residual network of 4
members, 589 MiB above the data, pruned after 2.3 s).

:func:`least_epoch_seconds` bounds an epoch from below before any training step: the
forward pass's floating-point operations per row, counted by torch's own
:class:`~torch.utils.flop_counter.FlopCounterMode` on a few rows (matrix products, the work
that dominates a wide network; element-wise work is left out, so the count is low), times
three for the backward pass, over the training rows, plus one forward pass over the
validation rows, at ``RATE_MARGIN`` times the rate a dense matrix product measured here
(:func:`dense_rate`). A real epoch took 3.6-10.1 times its least on one thread (13 sampled
networks, 17-47 GFLOP/s) and 2.3-10.5 times on two (9 networks, up to 80 GFLOP/s)
(``benchmarks/least_epoch.py``; ``benchmarks/README.md``, "Networks too slow for their trial
found before their first step").
"""

from __future__ import annotations

import threading
import time

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from automl_nas.training._device import amp_dtype, autocast

#: The least epoch assumes this many times the measured matrix-product rate: the measurement
#: may run beside another trial on the same cores, and it must never judge a network too slow
#: that would have trained in its time.
RATE_MARGIN = 2.0
#: Rows of the forward pass that counts a network's operations.
COUNT_ROWS = 4
#: The matrix product :func:`dense_rate` times: a batch of this many rows through a square
#: layer of ``RATE_WIDTH``, forward and backward, best of ``RATE_REPEATS``.
RATE_ROWS, RATE_WIDTH, RATE_REPEATS = 1024, 512, 3
#: The backward pass of a linear layer is two products the size of the forward one.
TRAIN_PASSES = 3


def forward_flops_per_row(model: nn.Module, X: torch.Tensor) -> float:
    """Floating-point operations of ``model``'s forward pass per row, counted on the first
    ``COUNT_ROWS`` rows of ``X`` in eval mode without gradients (the model's mode and state
    are left as they were; a TabM-style ensemble computes all its members either way)."""
    rows = X[:COUNT_ROWS]
    if len(rows) == 0:
        return 0.0
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(rows)
    finally:
        model.train(was_training)
    return counter.get_total_flops() / len(rows)


#: The best rate measured so far per (device, intra-op threads), in this process.
_rates: dict[tuple[torch.device, int], float] = {}
_lock = threading.Lock()  # one measurement at a time: two at once would slow each other


def _measure_rate(device: torch.device) -> float:
    amp = amp_dtype(device)
    a = torch.randn(RATE_ROWS, RATE_WIDTH, device=device, requires_grad=True)
    w = torch.randn(RATE_WIDTH, RATE_WIDTH, device=device, requires_grad=True)
    flops = TRAIN_PASSES * 2 * RATE_ROWS * RATE_WIDTH * RATE_WIDTH
    best = float("inf")
    for _ in range(RATE_REPEATS + 1):  # the first pays one-off costs
        started = time.perf_counter()
        with autocast(device, amp):
            (a @ w).sum().backward()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - started)
    return flops / max(best, 1e-9)


def dense_rate(device: torch.device, *, remeasure: bool = False) -> float:
    """Floating-point operations per second of a dense matrix product's forward and backward
    pass on ``device`` with the current intra-op threads (with AMP where training uses it).

    Measured once per device and thread count in a process (about 30 ms on one CPU thread),
    and again with ``remeasure``, keeping the best: other work on the cores can only make a
    measurement slow, and a slow one would make every least epoch too long.
    """
    key = (device, torch.get_num_threads())
    with _lock:
        if remeasure or key not in _rates:
            _rates[key] = max(_rates.get(key, 0.0), _measure_rate(device))
        return _rates[key]


def least_epoch_seconds(
    model: nn.Module, X_train: torch.Tensor, n_val: int, *, remeasure: bool = False
) -> float:
    """A lower bound on the seconds of one epoch of ``model`` over ``X_train`` with a scoring
    pass over ``n_val`` validation rows (see the module's docstring); ``remeasure`` measures
    the machine's rate again first (:func:`dense_rate`)."""
    per_row = forward_flops_per_row(model, X_train)
    work = per_row * (TRAIN_PASSES * len(X_train) + n_val)
    return work / (RATE_MARGIN * dense_rate(X_train.device, remeasure=remeasure))
