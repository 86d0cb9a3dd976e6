"""automl_nas: one Optuna study that searches hyperparameters and architecture together."""

import importlib.metadata

__version__ = importlib.metadata.version("automl-nas")

from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor
from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler
from automl_nas.space import CellSpace, MLPSpace, SearchSpace
from automl_nas.stages import BaseStage, DartsStage, SamplerStage

__all__ = [
    "AutoNASClassifier",
    "AutoNASRegressor",
    "BaseStage",
    "CellSpace",
    "DartsStage",
    "MLPSpace",
    "RegularizedEvolutionSampler",
    "ReinforceSampler",
    "SamplerStage",
    "SearchSpace",
]
