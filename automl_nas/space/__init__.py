"""Search spaces: hyperparameters and architecture as one set of Optuna distributions."""

from automl_nas.space._base import TRAINING_PARAMS, SearchSpace, suggest, training_distributions
from automl_nas.space._cell import CellSpace
from automl_nas.space._mlp import MLPSpace

__all__ = [
    "TRAINING_PARAMS",
    "CellSpace",
    "MLPSpace",
    "SearchSpace",
    "suggest",
    "training_distributions",
]
