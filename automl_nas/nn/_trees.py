"""Fitted tree ensembles and linear models as torch modules, so every family is one model type.

A gradient-boosting trial is fitted by LightGBM, a linear one by scikit-learn
(``automl_nas.training``); then its trees or coefficients are copied into one of these
modules. From there it is a model like any network: kept as a ``state_dict`` (a shared
search's trial files stay data, never pickles), bagged over folds, weighted in the ensemble,
predicted in float32 chunks and served by the same MLflow model.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from automl_nas.nn._missing import MissingFill

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
        n_trees, n_nodes = self.left.shape
        index = torch.int32 if 2 * n_trees * n_nodes < 2**31 else torch.long
        own = torch.arange(n_trees * n_nodes, device=x.device).view(n_trees, n_nodes)
        # children[2 * node + goes_right] is a node's next node (flat index over all trees); a
        # leaf is its own child, so a row that reached one stays there: no leaf test per level.
        left = torch.where(self.is_leaf, own, self.left + own[:, :1])
        right = torch.where(self.is_leaf, own, self.right + own[:, :1])
        walk = _Walk(
            roots=own[:, 0].to(index),
            children=torch.stack([left, right], dim=-1).reshape(-1).to(index),
            feature=self.feature.reshape(-1).to(index),
            threshold=self.threshold.reshape(-1),
            missing_left=self.missing_left.reshape(-1),
            depth=int(self.depth),
        )
        # Rows in parts of about WALK_ENTRIES (row, tree) pairs: the walk's index tensors then
        # stay in cache (twice as fast on CPU as one pass over 2,000 trees x 2,400 rows).
        rows = max(1, WALK_ENTRIES // n_trees)
        leaves = torch.cat([walk.leaves(part) for part in x.split(rows)])
        leaf_values = self.value.reshape(-1).index_select(0, leaves.reshape(-1))
        leaf_values = leaf_values.view(leaves.shape).to(x.dtype)
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


#: (row, tree) pairs walked at once by :meth:`TreeEnsemble.forward`.
WALK_ENTRIES = 1 << 19


@dataclass(frozen=True)
class _Walk:
    """A tree ensemble's nodes as flat tables, and the walk of rows from the roots to leaves.

    The walk is 1-D ``index_select`` on int32 indices, one entry per (row, tree): several
    times faster on CPU than advanced indexing of (rows, trees) with int64 indices.
    """

    roots: torch.Tensor
    children: torch.Tensor
    feature: torch.Tensor
    threshold: torch.Tensor
    missing_left: torch.Tensor
    depth: int

    def leaves(self, x: torch.Tensor) -> torch.Tensor:
        """The flat index of the leaf each row of ``x`` reaches in each tree: (rows, trees)."""
        n_rows, n_features = x.shape
        n_trees = len(self.roots)
        # where each row starts in the flat input (int64 when the part is too large for int32)
        index = torch.int32 if n_rows * n_features < 2**31 else torch.long
        starts = torch.arange(0, n_rows * n_features, n_features, dtype=index, device=x.device)
        starts = starts.unsqueeze(1).expand(n_rows, n_trees).reshape(-1)
        node = self.roots.unsqueeze(0).expand(n_rows, n_trees).reshape(-1)
        flat_x = x.contiguous().reshape(-1)
        # NaN only in columns the preprocessor left missing: the rule is applied only then.
        missing = bool(x.isnan().any())
        for _ in range(self.depth):
            values = flat_x.index_select(0, starts + self.feature.index_select(0, node))
            goes_left = values <= self.threshold.index_select(0, node)
            if missing:
                goes_left |= values.isnan() & self.missing_left.index_select(0, node)
            child = self.children.index_select(0, 2 * node + (~goes_left).to(node.dtype))
            if torch.equal(child, node):  # every row is at a leaf of every tree
                break
            node = child
        return node.view(n_rows, n_trees)


class LinearModel(nn.Linear):
    """A fitted linear model's coefficients as a linear layer: raw outputs ``x @ W.T + b``.

    A class of its own so that the trainer knows to fit it with scikit-learn's solver rather
    than by gradient steps. With ``missing``, its input's NaN are filled (and flagged, if
    ``missing.flags``) first (``in_features`` counts any indicator columns).
    """

    def __init__(self, in_features: int, out_features: int, missing: MissingFill | None = None):
        super().__init__(in_features, out_features)
        self.register_module("missing", missing)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        missing = self._modules.get("missing")  # absent from models pickled before it
        return super().forward(x if missing is None else missing(x))
