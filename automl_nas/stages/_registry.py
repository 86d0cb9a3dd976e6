"""Stages by short name, so ``stages=["darts", "evolution", "tpe"]`` reads like a recipe."""

from __future__ import annotations

import copy
from collections.abc import Callable

from automl_nas.search import SAMPLERS
from automl_nas.stages._base import BaseStage
from automl_nas.stages._batch import BatchStage
from automl_nas.stages._darts import DartsStage
from automl_nas.stages._promote import PromoteStage
from automl_nas.stages._sampler import SamplerStage

#: Stage factories by name beyond the sampler names (each sampler name is a SamplerStage).
STAGES: dict[str, Callable[[], BaseStage]] = {
    "batch": BatchStage,
    "darts": DartsStage,
    "promote": PromoteStage,
}


def stage_names() -> list[str]:
    """Every name ``make_stage`` accepts."""
    return sorted({*SAMPLERS, *STAGES})


def make_stage(stage: str | BaseStage) -> BaseStage:
    """A fresh stage from its name, or a private copy of the given stage object."""
    if isinstance(stage, BaseStage):
        return copy.deepcopy(stage)
    if isinstance(stage, str) and stage in STAGES:
        return STAGES[stage]()
    if isinstance(stage, str) and stage in SAMPLERS:
        return SamplerStage(stage)
    raise ValueError(f"Unknown stage {stage!r}; choose from {stage_names()} or pass a BaseStage")
