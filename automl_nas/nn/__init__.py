"""Networks built from sampled parameters."""

from automl_nas.nn._bag import FoldBag
from automl_nas.nn._cell import CELL_OPS, PARAMETER_FREE_OPS, Cell, CellNetwork, cell_edges
from automl_nas.nn._mlp import ACTIVATIONS, MLP, NORMS, DenseBlock
from automl_nas.nn._supernet import MixedOp, SuperCell, SuperMLP, Supernet, SuperNetwork

__all__ = [
    "ACTIVATIONS",
    "CELL_OPS",
    "MLP",
    "NORMS",
    "PARAMETER_FREE_OPS",
    "Cell",
    "CellNetwork",
    "DenseBlock",
    "FoldBag",
    "MixedOp",
    "SuperCell",
    "SuperMLP",
    "SuperNetwork",
    "Supernet",
    "cell_edges",
]
