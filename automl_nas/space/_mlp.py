"""The tabular MLP space: depth, per-layer widths, activation, normalisation, skips + training."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import CategoricalDistribution, IntDistribution
from torch import nn

from automl_nas.nn import ACTIVATIONS, MLP, NORMS, SuperMLP
from automl_nas.space._base import TRAINING_PARAMS, SearchSpace, training_distributions

# Widths the relaxed form mixes per layer: few, since the supernet holds a mask for each.
_RELAXED_WIDTHS = 6


class MLPSpace(SearchSpace):
    """Joint space of MLP architecture and training hyperparameters for tabular data.

    Architecture: ``n_layers``, ``units_0`` .. ``units_{max_layers-1}`` (the first ``n_layers``
    are used), ``activation``, ``norm`` and ``skip`` (residual connections). Training: ``lr``,
    ``weight_decay``, ``batch_size``, ``optimizer``, ``dropout``, ``epochs``. Its relaxed form
    (:meth:`relaxed`) is a :class:`~automl_nas.nn.SuperMLP` mixing all five architecture choices.

    Args:
        max_layers: Deepest network searched; one width parameter per layer.
        min_units: Smallest layer width.
        max_units: Largest layer width (sampled on a log scale).

    Example:
        >>> space = MLPSpace(max_layers=3).replace(activation=["relu", "gelu"], lr=(1e-3, 1e-2))
        >>> sorted(space.distributions)[:4]
        ['activation', 'batch_size', 'dropout', 'epochs']
    """

    def __init__(self, max_layers: int = 4, min_units: int = 16, max_units: int = 512) -> None:
        if max_layers < 1 or not 1 <= min_units <= max_units:
            raise ValueError(
                f"need max_layers >= 1 and 1 <= min_units <= max_units, got {max_layers}, "
                f"{min_units}, {max_units}"
            )
        self.max_layers = max_layers
        dists = {
            "n_layers": IntDistribution(1, max_layers),
            **{
                f"units_{i}": IntDistribution(min_units, max_units, log=True)
                for i in range(max_layers)
            },
            "activation": CategoricalDistribution(("relu", "gelu", "silu", "tanh")),
            "norm": CategoricalDistribution(NORMS),
            "skip": CategoricalDistribution((False, True)),
            **training_distributions(),
        }
        super().__init__(dists)

    def required_params(self) -> Sequence[str]:
        return (*TRAINING_PARAMS, "n_layers", "activation", "norm", "skip") + tuple(
            f"units_{i}" for i in range(self.max_layers)
        )

    def validate(self) -> None:
        super().validate()
        n_layers = self._distributions.get("n_layers")
        high = n_layers.high if n_layers is not None else self._fixed["n_layers"]
        if high > self.max_layers:
            raise ValueError(
                f"n_layers up to {high} needs MLPSpace(max_layers={high}), not {self.max_layers}"
            )
        self._check_choices("activation", ACTIVATIONS)

    def used_params(self, params: Mapping[str, Any]) -> set[str]:
        """All but the widths of layers beyond ``n_layers``."""
        depth = params.get("n_layers", self.max_layers)
        unused = {f"units_{i}" for i in range(depth, self.max_layers)}
        return set(params) - unused

    def _defaults(self) -> dict[str, Any]:
        return {
            "n_layers": 2,
            **{f"units_{i}": 256 for i in range(self.max_layers)},
            "activation": "relu",
            "norm": "batch",
            "skip": False,
            "lr": 2e-3,
            "weight_decay": 1e-4,
            "batch_size": 64,
            "optimizer": "adamw",
            "dropout": 0.1,
            "epochs": 100,
        }

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        n_inputs = 1
        for size in input_shape:
            n_inputs *= size
        widths = [params[f"units_{i}"] for i in range(params["n_layers"])]
        return MLP(
            n_inputs,
            widths,
            n_outputs,
            activation=params["activation"],
            norm=params["norm"],
            dropout=params["dropout"],
            skip=bool(params["skip"]),
        )

    def relaxed(self, input_shape: tuple[int, ...], n_outputs: int) -> SuperMLP:
        """The supernet mixing depths, activations, norms, skips and widths.

        Each layer of the deepest candidate mixes up to six widths spread geometrically over its
        ``units_i`` range.
        """
        depths = self._candidates("n_layers")
        return SuperMLP(
            math.prod(input_shape),
            n_outputs,
            n_layers=depths,
            units=[
                self._candidates(f"units_{i}", widths=_RELAXED_WIDTHS) for i in range(max(depths))
            ],
            activations=self._candidates("activation"),
            norms=self._candidates("norm"),
            skips=self._candidates("skip"),
        )
