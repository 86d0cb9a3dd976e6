"""Networks built from sampled parameters."""

from automl_nas.nn._bag import FoldBag
from automl_nas.nn._cell import CELL_OPS, PARAMETER_FREE_OPS, Cell, CellNetwork, cell_edges
from automl_nas.nn._dropout import Dropout, dropout_generator
from automl_nas.nn._dtype import input_dtype
from automl_nas.nn._missing import MissingFill, MissingValues
from automl_nas.nn._mlp import ACTIVATIONS, MLP, NORMS, DenseBlock
from automl_nas.nn._numeric import EMBEDDINGS, NUMERIC_TRANSFORMS, FeatureEncoder, PiecewiseLinear
from automl_nas.nn._stacked import NotStackableError, StackedNetwork, stack_networks
from automl_nas.nn._supernet import MixedOp, SuperCell, SuperMLP, Supernet, SuperNetwork
from automl_nas.nn._tabular import BLOCKS, ResidualBlock, TabularNet
from automl_nas.nn._trees import NODE_FIELDS, LinearModel, TreeEnsemble

__all__ = [
    "ACTIVATIONS",
    "BLOCKS",
    "CELL_OPS",
    "EMBEDDINGS",
    "MLP",
    "NODE_FIELDS",
    "NORMS",
    "NUMERIC_TRANSFORMS",
    "NotStackableError",
    "PARAMETER_FREE_OPS",
    "Cell",
    "CellNetwork",
    "DenseBlock",
    "Dropout",
    "FeatureEncoder",
    "FoldBag",
    "LinearModel",
    "MissingFill",
    "MissingValues",
    "MixedOp",
    "PiecewiseLinear",
    "ResidualBlock",
    "StackedNetwork",
    "SuperCell",
    "SuperMLP",
    "SuperNetwork",
    "Supernet",
    "TabularNet",
    "TreeEnsemble",
    "cell_edges",
    "dropout_generator",
    "input_dtype",
    "stack_networks",
]
