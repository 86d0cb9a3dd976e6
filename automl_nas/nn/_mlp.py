"""A configurable multilayer perceptron: the network of the tabular MLP space."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from automl_nas.nn._dropout import Dropout

#: Activation names a space may choose from.
ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "mish": nn.Mish,
    "selu": nn.SELU,
}

#: Normalisation names a space may choose from.
NORMS = ("none", "batch", "layer")


def make_norm(kind: str, width: int) -> nn.Module:
    """The normalisation layer ``kind`` for ``width`` features."""
    if kind == "batch":
        return nn.BatchNorm1d(width)
    if kind == "layer":
        return nn.LayerNorm(width)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"Unknown normalization {kind!r}; choose from {NORMS}")


class DenseBlock(nn.Module):
    """Linear -> norm -> activation -> dropout, plus a residual path when ``skip`` is set.

    The residual path is the identity when the widths match and a bias-free linear projection
    otherwise, so skip connections work between layers of any width.
    """

    def __init__(
        self, n_in: int, n_out: int, activation: str, norm: str, dropout: float, skip: bool
    ) -> None:
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.norm = make_norm(norm, n_out)
        self.act = ACTIVATIONS[activation]()
        self.drop = Dropout(dropout)
        self.shortcut: nn.Module | None = None
        if skip:
            self.shortcut = nn.Identity() if n_in == n_out else nn.Linear(n_in, n_out, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.drop(self.act(self.norm(self.linear(x))))
        return out if self.shortcut is None else out + self.shortcut(x)


class MLP(nn.Module):
    """Stack of :class:`DenseBlock` with one width per layer and a linear head."""

    def __init__(
        self,
        n_inputs: int,
        widths: Sequence[int],
        n_outputs: int,
        *,
        activation: str = "relu",
        norm: str = "none",
        dropout: float = 0.0,
        skip: bool = False,
    ) -> None:
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"Unknown activation {activation!r}; choose from {sorted(ACTIVATIONS)}")
        blocks, n_in = [], n_inputs
        for width in widths:
            blocks.append(DenseBlock(n_in, int(width), activation, norm, dropout, skip))
            n_in = int(width)
        self.body = nn.Sequential(*blocks)
        self.head = nn.Linear(n_in, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))
