"""A trained trial as the search keeps it: network, params and held-out outputs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from automl_nas.nn import FoldBag, input_dtype
from automl_nas.training import forward_all

#: Version of the trial file layout written by :meth:`TrialModel.to_file`.
TRIAL_FILE_FORMAT = 1


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
        # weights_only=False: a whole module object, written by this process's own store into
        # its private temporary directory (never a shared one).
        return torch.load(self.path, weights_only=False)

    def to_file(self) -> dict[str, Any]:
        """The trial as tensors and plain values, readable with ``weights_only=True``.

        The network is its ``state_dict``; :meth:`from_file` rebuilds the architecture from
        the params, so reading the file runs no code from it.
        """
        model = self.load_model()
        return {
            "format": TRIAL_FILE_FORMAT,
            "number": self.number,
            "value": float(self.value),
            "params": dict(self.params),
            "n_params": int(self.n_params),
            "best_epoch": int(self.best_epoch),
            "partial": bool(self.partial),
            "members": len(model.members) if isinstance(model, FoldBag) else 0,
            "val_output": torch.from_numpy(np.ascontiguousarray(self.val_output)),
            "state_dict": model.state_dict(),
        }

    @classmethod
    def from_file(
        cls, record: Mapping[str, Any], build: Callable[[Mapping[str, Any]], nn.Module]
    ) -> TrialModel:
        """The trial written by :meth:`to_file`; ``build(params)`` makes its untrained network."""
        if record.get("format") != TRIAL_FILE_FORMAT:
            raise ValueError(f"unknown trial file format {record.get('format')!r}")
        params = dict(record["params"])
        with torch.random.fork_rng():  # initial weights are overwritten: keep the caller's RNG
            if record["members"]:
                model = FoldBag([build(params) for _ in range(record["members"])])
            else:
                model = build(params)
        model.load_state_dict(record["state_dict"])
        return cls(
            number=record["number"],
            value=record["value"],
            params=params,
            model=model.eval(),
            val_output=record["val_output"].numpy(),
            n_params=record["n_params"],
            best_epoch=record["best_epoch"],
            partial=record["partial"],
        )


def model_bytes(model: nn.Module) -> int:
    """Memory held by a network's parameters and buffers."""
    tensors = [*model.parameters(), *model.buffers()]
    return sum(t.numel() * t.element_size() for t in tensors)


def predict_output(model: nn.Module, X: np.ndarray) -> np.ndarray:
    """Raw network outputs for ``X`` on CPU, in the dtype of the model's weights."""
    dtype = input_dtype(model)
    tensor = torch.as_tensor(np.ascontiguousarray(X), dtype=dtype)
    return forward_all(model, tensor).numpy()
