"""The floating dtype a model computes in, whatever it holds its numbers in."""

from __future__ import annotations

import torch
from torch import nn


def input_dtype(model: nn.Module) -> torch.dtype:
    """The dtype ``model`` takes its inputs in: that of its first floating parameter, else of
    its first floating buffer (a :class:`~automl_nas.nn.TreeEnsemble` has no parameters),
    else float32."""
    for tensor in (*model.parameters(), *model.buffers()):
        if torch.is_floating_point(tensor):
            return tensor.dtype
    return torch.float32
