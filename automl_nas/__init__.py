"""automl_nas: one Optuna study that searches hyperparameters and architecture together."""

from automl_nas.space import MLPSpace, SearchSpace

__all__ = ["MLPSpace", "SearchSpace"]
__version__ = "0.1.0"
