"""Optuna samplers for architecture search: regularized evolution and a REINFORCE controller."""

from automl_nas.samplers._evolution import RegularizedEvolutionSampler
from automl_nas.samplers._reinforce import ReinforceSampler

__all__ = ["RegularizedEvolutionSampler", "ReinforceSampler"]
