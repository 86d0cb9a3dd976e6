"""FoldBag: the networks one cross-validated trial trained, one per fold, as one model."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class FoldBag(nn.Module):
    """Predicts the mean raw output (logits, or scaled regression targets) of its members.

    A trial validated by k-fold cross-validation trains one network per fold, each on the
    other folds' rows; together they have seen every row, so the bag is the trial's final
    model and needs no refit (bagging, as AutoGluon's k-fold bagged models).

    Example:
        >>> bag = FoldBag([nn.Linear(3, 2) for _ in range(5)])
        >>> bag(torch.zeros(4, 3)).shape
        torch.Size([4, 2])
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if not members:
            raise ValueError("a FoldBag needs at least one network")
        self.members = nn.ModuleList(members)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.stack([member(x) for member in self.members]).mean(dim=0)
