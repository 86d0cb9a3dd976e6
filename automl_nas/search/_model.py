"""A trained trial as the search keeps it: network, params and held-out outputs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_nas.training import forward_all


@dataclass
class TrialModel:
    """A trained trial: its network (CPU, eval mode), params and held-out outputs.

    ``model`` is None once the store has spilled the network to the file ``path``: read it with
    :meth:`load_model`.
    """

    number: int
    value: float
    params: dict[str, Any]
    model: nn.Module | None
    val_output: np.ndarray
    n_params: int
    best_epoch: int = 0
    path: str | None = None
    #: Cross-validated on some folds only (the deadline came): ranked after every full trial.
    partial: bool = False

    def load_model(self) -> nn.Module:
        """The network, read back from disk if it was spilled."""
        if self.model is not None:
            return self.model
        # weights_only=False: a whole module object, written by this process's own store.
        return torch.load(self.path, weights_only=False)


def model_bytes(model: nn.Module) -> int:
    """Memory held by a network's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def predict_output(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Raw network outputs for ``X`` on CPU, in the dtype of the model's weights."""
    dtype = next(model.parameters()).dtype
    tensor = torch.as_tensor(np.ascontiguousarray(X), dtype=dtype)
    return forward_all(model, tensor).numpy()
