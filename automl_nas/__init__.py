"""automl_nas: one Optuna study that searches hyperparameters and architecture together."""

__version__ = "0.1.0"

from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor  # noqa: E402
from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler  # noqa: E402
from automl_nas.space import CellSpace, MLPSpace, SearchSpace  # noqa: E402
from automl_nas.stages import BaseStage, DartsStage, SamplerStage  # noqa: E402

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
