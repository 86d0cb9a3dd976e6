"""The final model of a search: a weighted average of trained networks' decoded outputs."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from torch import nn

from automl_nas.nn import input_dtype
from automl_nas.training import forward_all


class EnsembleModel:
    """Networks and weights whose prediction is the weighted mean of their decoded outputs.

    Outputs are averaged after ``decode`` (softmax probabilities for classification, predictions
    in the target's units for regression), as ensemble selection scored them; averaging raw
    logits would be a different model. Members are kept on CPU in the dtype they were given
    (the estimator passes float64 networks so a row's prediction never depends on its batch).

    Args:
        members: Trained networks (eval mode).
        weights: One non-negative weight per member; normalised to sum to 1.
        decode: Raw network outputs -> probabilities or original-unit predictions.
        numbers: The trial number of each member, for reports.

    Example:
        >>> nets = [nn.Linear(2, 1).double() for _ in range(2)]
        >>> model = EnsembleModel(nets, [3, 1], decode=lambda out: out[:, 0], numbers=[0, 4])
        >>> model.weights.tolist()
        [0.75, 0.25]
    """

    def __init__(
        self,
        members: Sequence[nn.Module],
        weights: Sequence[float] | np.ndarray,
        decode: Callable[[np.ndarray], np.ndarray],
        numbers: Sequence[int],
    ) -> None:
        weights = np.asarray(weights, dtype=np.float64)
        if not len(members) == len(weights) == len(numbers) or len(members) == 0:
            raise ValueError(
                f"need one weight and one trial number per member and at least one member, got "
                f"{len(members)} members, {len(weights)} weights, {len(numbers)} numbers"
            )
        if (weights < 0).any() or weights.sum() <= 0:
            raise ValueError(f"weights must be non-negative with a positive sum, got {weights}")
        self.members = list(members)
        self.weights = weights / weights.sum()
        self.decode = decode
        self.numbers = [int(n) for n in numbers]

    def predict_output(self, X: np.ndarray) -> np.ndarray:
        """Weighted mean of the members' decoded outputs for the preprocessed rows ``X``."""
        total = None
        for member, weight in zip(self.members, self.weights):
            dtype = input_dtype(member)
            raw = forward_all(member, torch.as_tensor(np.ascontiguousarray(X), dtype=dtype))
            out = weight * self.decode(raw.numpy())
            total = out if total is None else total + out
        return total

    def __len__(self) -> int:
        return len(self.members)

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}: {w:.3g}" for n, w in zip(self.numbers, self.weights))
        return f"EnsembleModel({{{parts}}})"
