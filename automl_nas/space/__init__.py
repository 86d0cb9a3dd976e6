"""Search spaces: hyperparameters and architecture as one set of Optuna distributions."""

from automl_nas.space._base import (
    TRAINING_PARAMS,
    DataFacts,
    SearchSpace,
    suggest,
    training_distributions,
)
from automl_nas.space._cell import CellSpace
from automl_nas.space._mlp import MLPSpace
from automl_nas.space._tabular import TabularSpace, batch_choices

__all__ = [
    "TRAINING_PARAMS",
    "CellSpace",
    "DataFacts",
    "MLPSpace",
    "SearchSpace",
    "TabularSpace",
    "batch_choices",
    "suggest",
    "training_distributions",
]
