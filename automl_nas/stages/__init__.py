"""Search stages: pluggable strategies that propose trials to one shared Optuna study."""

from automl_nas.stages._base import BaseStage, SearchContext
from automl_nas.stages._batch import BatchStage, batch_members
from automl_nas.stages._darts import DartsStage
from automl_nas.stages._promote import PROMOTE_SHARE, PromoteStage, best_configurations
from automl_nas.stages._registry import STAGES, make_stage, stage_names
from automl_nas.stages._sampler import SamplerStage

__all__ = [
    "PROMOTE_SHARE",
    "STAGES",
    "BaseStage",
    "BatchStage",
    "DartsStage",
    "PromoteStage",
    "SamplerStage",
    "SearchContext",
    "batch_members",
    "best_configurations",
    "make_stage",
    "stage_names",
]
