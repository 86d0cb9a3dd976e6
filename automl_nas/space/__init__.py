"""Search spaces: hyperparameters and architecture as one set of Optuna distributions."""

from automl_nas.space._base import (
    TRAINING_PARAMS,
    DataFacts,
    SearchSpace,
    suggest,
    training_distributions,
)
from automl_nas.space._boosting import BoostingSpace
from automl_nas.space._cell import CellSpace
from automl_nas.space._families import FAMILIES, FamilySpace, family_space
from automl_nas.space._linear import LinearSpace
from automl_nas.space._mlp import MLPSpace
from automl_nas.space._tabular import TabularSpace, batch_choices

__all__ = [
    "FAMILIES",
    "TRAINING_PARAMS",
    "BoostingSpace",
    "CellSpace",
    "DataFacts",
    "FamilySpace",
    "LinearSpace",
    "MLPSpace",
    "SearchSpace",
    "TabularSpace",
    "batch_choices",
    "family_space",
    "suggest",
    "training_distributions",
]
