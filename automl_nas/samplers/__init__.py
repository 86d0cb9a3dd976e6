"""Optuna samplers for architecture search: regularized evolution, a REINFORCE controller, and
a floor on each model family's share of the search time around any sampler."""

from automl_nas.samplers._evolution import RegularizedEvolutionSampler
from automl_nas.samplers._family_share import FamilyShareSampler, check_floors, family_seconds
from automl_nas.samplers._reinforce import ReinforceSampler

__all__ = [
    "FamilyShareSampler",
    "RegularizedEvolutionSampler",
    "ReinforceSampler",
    "check_floors",
    "family_seconds",
]
