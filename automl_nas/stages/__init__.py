"""Search stages: pluggable strategies that propose trials to one shared Optuna study."""

from automl_nas.stages._base import BaseStage, SearchContext, is_failed_elsewhere, optimize
from automl_nas.stages._darts import DartsStage
from automl_nas.stages._registry import STAGES, make_stage, stage_names
from automl_nas.stages._sampler import SAMPLERS, SamplerStage, make_sampler

__all__ = [
    "SAMPLERS",
    "STAGES",
    "BaseStage",
    "DartsStage",
    "SamplerStage",
    "SearchContext",
    "is_failed_elsewhere",
    "make_sampler",
    "make_stage",
    "optimize",
    "stage_names",
]
