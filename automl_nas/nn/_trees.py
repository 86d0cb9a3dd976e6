"""Fitted tree ensembles and linear models as torch modules, so every family is one model type.

A gradient-boosting or linear trial is fitted by scikit-learn (``automl_nas.training``), then
its trees or coefficients are copied into one of these modules. From there it is a model like
any network: kept as a ``state_dict`` (a shared search's trial files stay data, never
pickles), bagged over folds, weighted in the ensemble, predicted in float32 chunks and served
by the same MLflow model.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

#: The per-node tensors of a :class:`TreeEnsemble`, each of shape (n_trees, n_nodes).
NODE_FIELDS = ("feature", "threshold", "left", "right", "missing_left", "is_leaf", "value")


class TreeEnsemble(nn.Module):
    """Sums the leaf values of binary decision trees into ``n_outputs`` raw outputs.

    Each tree adds to one output column (``tree_output``); ``baseline`` is added to every row.
    A node sends a row left when its ``feature`` is ``<= threshold``, and a missing value (NaN)
    the way ``missing_left`` says. Trees are stored as padded tensors (n_trees, n_nodes) and
    evaluated together: one gather per level of depth, on whatever device the module is on.

    The tensors are buffers whose shapes come from the fitted trees; :meth:`load_state_dict`
    takes them from the state it loads, so an unfitted ensemble (as a space builds it) can load
    any fitted one of the same family.

    Example:
        >>> trees = TreeEnsemble(n_features=3, n_outputs=2)
        >>> trees(torch.zeros(4, 3)).shape  # no trees yet: the baseline only
        torch.Size([4, 2])
    """

    def __init__(self, n_features: int, n_outputs: int) -> None:
        super().__init__()
        self.n_features = n_features
        self.n_outputs = n_outputs
        self.register_buffer("baseline", torch.zeros(n_outputs))
        self.register_buffer("tree_output", torch.zeros(0, dtype=torch.long))
        self.register_buffer("depth", torch.zeros((), dtype=torch.long))
        for name in NODE_FIELDS:
            dtype = torch.float32 if name in ("threshold", "value") else torch.long
            if name in ("missing_left", "is_leaf"):
                dtype = torch.bool
            self.register_buffer(name, torch.zeros(0, 0, dtype=dtype))

    @property
    def n_trees(self) -> int:
        return int(self.tree_output.numel())

    def set_trees(
        self,
        nodes: Mapping[str, torch.Tensor],
        tree_output: torch.Tensor,
        baseline: torch.Tensor,
        depth: int,
    ) -> None:
        """Replace the trees: ``nodes`` maps each of :data:`NODE_FIELDS` to (n_trees, n_nodes),
        ``tree_output`` says which output each tree adds to, ``depth`` is the most splits on
        any path from a root to a leaf."""
        missing = [name for name in NODE_FIELDS if name not in nodes]
        if missing:
            raise ValueError(f"tree tensors missing: {missing}")
        for name in NODE_FIELDS:
            setattr(self, name, nodes[name].to(getattr(self, name).dtype).contiguous())
        self.tree_output = tree_output.long()
        self.baseline = baseline.float().reshape(self.n_outputs)
        self.depth = torch.tensor(int(depth))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.baseline.to(x.dtype).expand(x.shape[0], self.n_outputs)
        if self.n_trees == 0:
            return out.clone()
        n_nodes = self.left.shape[1]
        offset = torch.arange(self.n_trees, device=x.device) * n_nodes
        flat = {name: getattr(self, name).reshape(-1) for name in NODE_FIELDS}
        node = offset.expand(x.shape[0], -1)  # (rows, trees): the flat index of each row's node
        for _ in range(int(self.depth)):
            values = x.gather(1, flat["feature"][node])
            left = torch.where(
                values.isnan(), flat["missing_left"][node], values <= flat["threshold"][node]
            )
            child = torch.where(left, flat["left"][node], flat["right"][node]) + offset
            node = torch.where(flat["is_leaf"][node], node, child)
        leaf_values = flat["value"][node].to(x.dtype)
        return out.index_add(1, self.tree_output, leaf_values)

    def _load_from_state_dict(
        self, state_dict: Mapping[str, Any], prefix: str, *args: Any, **kwargs: Any
    ) -> None:
        # Shapes come from the fitted trees: take them from the state before copying it.
        for name in (*NODE_FIELDS, "tree_output"):
            key = prefix + name
            if key in state_dict:
                setattr(self, name, torch.empty_like(state_dict[key], device=self.left.device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)


class LinearModel(nn.Linear):
    """A fitted linear model's coefficients as a linear layer: raw outputs ``x @ W.T + b``.

    A class of its own so that the trainer knows to fit it with scikit-learn's solver rather
    than by gradient steps.
    """
