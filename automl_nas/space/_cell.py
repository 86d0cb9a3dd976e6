"""The image cell space: one operation per cell edge, channels, cells stacked + training."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import CategoricalDistribution, IntDistribution
from torch import nn

from automl_nas.nn import CELL_OPS, CellNetwork, SuperNetwork, cell_edges
from automl_nas.space._base import TRAINING_PARAMS, SearchSpace, training_distributions


class CellSpace(SearchSpace):
    """Joint space of a DARTS / NAS-Bench-201 style image cell and training hyperparameters.

    Architecture: ``op_0`` .. ``op_{E-1}``, the operation on each of the cell's
    ``E = n_nodes * (n_nodes - 1) / 2`` edges (ordered as :func:`automl_nas.nn.cell_edges`:
    (0,1), (0,2), (1,2), (0,3), (1,3), (2,3) for 4 nodes); ``channels`` of the first cell;
    ``n_cells`` stacked, with a stride-2 residual block doubling the channels between cells.
    Training: ``lr``, ``weight_decay``, ``batch_size``, ``optimizer``, ``dropout``, ``epochs``.
    Its relaxed form (:meth:`relaxed`) is a :class:`~automl_nas.nn.SuperNetwork` mixing each
    edge's operations.

    Args:
        ops: Candidate operations of every edge (a subset of :data:`automl_nas.nn.CELL_OPS`).
        n_nodes: Nodes per cell, its input included.
        channels: Candidate channel counts.
        max_cells: Most cells stacked.

    Example:
        >>> space = CellSpace(ops=("conv_3x3", "skip", "avg_pool_3x3")).replace(n_cells=1)
        >>> space.distributions["op_5"].choices, space.fixed
        (('conv_3x3', 'skip', 'avg_pool_3x3'), {'n_cells': 1})
    """

    def __init__(
        self,
        ops: Sequence[str] = CELL_OPS,
        n_nodes: int = 4,
        channels: Sequence[int] = (8, 16, 32),
        max_cells: int = 3,
    ) -> None:
        unknown = [op for op in ops if op not in CELL_OPS]
        if unknown or not ops:
            raise ValueError(
                f"Unknown or no cell operations {unknown}; choose from {list(CELL_OPS)}"
            )
        if not channels or min(channels) < 1 or max_cells < 1:
            raise ValueError(f"need channels >= 1 and max_cells >= 1, got {channels}, {max_cells}")
        self.n_nodes = n_nodes
        self.n_edges = len(cell_edges(n_nodes))
        dists = {
            **{f"op_{e}": CategoricalDistribution(tuple(ops)) for e in range(self.n_edges)},
            "channels": CategoricalDistribution(tuple(int(c) for c in channels)),
            "n_cells": IntDistribution(1, max_cells),
            **training_distributions(),
        }
        super().__init__(dists)

    def required_params(self) -> Sequence[str]:
        return (*TRAINING_PARAMS, "channels", "n_cells") + tuple(
            f"op_{e}" for e in range(self.n_edges)
        )

    def validate(self) -> None:
        super().validate()
        names: list[str] = []
        for e in range(self.n_edges):
            dist = self._distributions.get(f"op_{e}")
            names += list(dist.choices) if dist is not None else [self._fixed[f"op_{e}"]]
        unknown = sorted({name for name in names if name not in CELL_OPS})
        if unknown:
            raise ValueError(f"Unknown cell operation(s) {unknown}; choose from {list(CELL_OPS)}")

    def _defaults(self) -> dict[str, Any]:
        # A residual chain: a conv into each node from its predecessor, skips elsewhere.
        ops = {
            f"op_{e}": "sep_conv_3x3" if i == j - 1 else "skip"
            for e, (i, j) in enumerate(cell_edges(self.n_nodes))
        }
        return {
            **ops,
            "channels": 16,
            "n_cells": 2,
            "lr": 3e-3,
            "weight_decay": 1e-4,
            "batch_size": 64,
            "optimizer": "adamw",
            "dropout": 0.1,
            "epochs": 30,
        }

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        if len(input_shape) != 3:
            raise ValueError(
                f"CellSpace needs images: input shape (C, H, W), got {input_shape}; pass image "
                "arrays (n, C, H, W) / (n, H, W) or image_shape=, or use MLPSpace for tables"
            )
        return CellNetwork(
            input_shape,
            n_outputs,
            [params[f"op_{e}"] for e in range(self.n_edges)],
            channels=int(params["channels"]),
            n_cells=int(params["n_cells"]),
            n_nodes=self.n_nodes,
            dropout=float(params["dropout"]),
        )

    def relaxed(self, input_shape: tuple[int, ...], n_outputs: int) -> SuperNetwork:
        """The supernet mixing each edge's operations.

        ``channels`` and ``n_cells`` are not relaxed: they are taken at their fixed or default
        values.
        """
        return SuperNetwork(
            input_shape,
            n_outputs,
            [self._candidates(f"op_{e}") for e in range(self.n_edges)],
            channels=int(self._fixed_or_default("channels")),
            n_cells=int(self._fixed_or_default("n_cells")),
            n_nodes=self.n_nodes,
        )
