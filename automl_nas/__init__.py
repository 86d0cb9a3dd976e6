"""automl_nas: one Optuna study that searches hyperparameters and architecture together."""

from __future__ import annotations

import importlib
import importlib.metadata
from typing import TYPE_CHECKING, Any

__version__ = importlib.metadata.version("automl-nas")

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
    "TabularSpace",
]

# Each public name's package, imported on first use (PEP 562): `import automl_nas.cli` and
# `automl-nas --help` then cost no torch, Optuna or scikit-learn import.
_HOME = {
    "AutoNASClassifier": "automl_nas.estimator",
    "AutoNASRegressor": "automl_nas.estimator",
    "RegularizedEvolutionSampler": "automl_nas.samplers",
    "ReinforceSampler": "automl_nas.samplers",
    "CellSpace": "automl_nas.space",
    "MLPSpace": "automl_nas.space",
    "SearchSpace": "automl_nas.space",
    "TabularSpace": "automl_nas.space",
    "BaseStage": "automl_nas.stages",
    "DartsStage": "automl_nas.stages",
    "SamplerStage": "automl_nas.stages",
}

if TYPE_CHECKING:
    from automl_nas.estimator import AutoNASClassifier, AutoNASRegressor
    from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler
    from automl_nas.space import CellSpace, MLPSpace, SearchSpace, TabularSpace
    from automl_nas.stages import BaseStage, DartsStage, SamplerStage


def __getattr__(name: str) -> Any:
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
