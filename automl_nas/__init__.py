"""automl_nas: one Optuna study that searches hyperparameters and architecture together."""

__version__ = "0.1.0"

from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor  # noqa: E402
from automl_nas.space import MLPSpace, SearchSpace  # noqa: E402
from automl_nas.stages import BaseStage, SamplerStage  # noqa: E402

__all__ = [
    "AutoNASClassifier",
    "AutoNASRegressor",
    "BaseStage",
    "MLPSpace",
    "SamplerStage",
    "SearchSpace",
]
