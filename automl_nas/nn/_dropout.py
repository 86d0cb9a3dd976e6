"""Dropout whose masks come from the training thread's own generator.

``nn.Dropout`` draws from torch's global generator. Trials trained side by side in threads of
one process (``n_jobs``) share that generator, so which mask a trial gets depends on how its
steps interleave with the other trials' steps, and no seed can repeat it. The trainer sets a
generator of the trial's own (:func:`dropout_generator`, seeded from the trial's seed) for the
thread it trains in; :class:`Dropout` draws from it, so a trial's training depends on its
seed alone, whatever trains beside it. Outside that context (a user calling the network in
training mode) it is ``nn.Dropout``. It keeps ``nn.Dropout``'s attributes and state dict, so
stored models and the stacked form (:func:`~automl_nas.nn.stack_networks`) treat it alike.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import torch
from torch import nn

_local = threading.local()


@contextlib.contextmanager
def dropout_generator(generator: torch.Generator) -> Iterator[None]:
    """:class:`Dropout` layers run in this thread draw their masks from ``generator``."""
    before = getattr(_local, "generator", None)
    _local.generator = generator
    try:
        yield
    finally:
        _local.generator = before


class Dropout(nn.Dropout):
    """``nn.Dropout`` drawing from the thread's :func:`dropout_generator` when one is set.

    The mask keeps each unit with probability ``1 - p`` and scales kept units by
    ``1 / (1 - p)``, as ``nn.Dropout`` does; the generator must be on the input's device.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        generator = getattr(_local, "generator", None)
        if generator is None or not self.training or self.p == 0.0:
            return super().forward(x)
        if self.p == 1.0:
            return x * 0.0
        keep = torch.empty_like(x).bernoulli_(1.0 - self.p, generator=generator)
        out = x * keep.div_(1.0 - self.p)
        return x.copy_(out) if self.inplace else out
