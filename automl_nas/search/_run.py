"""run_search: a search spec's trials, proposed by stages in turn, on a coordinator's study."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import optuna
import torch

from automl_nas.search._budget import BudgetPlan
from automl_nas.search._coordinator import Coordinator
from automl_nas.search._keys import TrialAttr
from automl_nas.search._objective import TrialObjective
from automl_nas.search._reserve import RefitReserve
from automl_nas.search._spec import SearchSpec

#: The ``stage`` of the first trial of a new study: the space's default configuration.
DEFAULT_STAGE = "default"


def run_search(
    coordinator: Coordinator,
    spec: SearchSpec,
    plan: BudgetPlan,
    stages: Sequence[Any],
    *,
    device: torch.device,
    n_jobs: int = 1,
    seed: int | None = None,
    n_trials: int | None = None,
    callbacks: Sequence[Callable[[optuna.Study, optuna.trial.FrozenTrial], None]] = (),
    waves: bool = False,
) -> TrialObjective:
    """Run ``stages`` in order on the coordinator's study until the plan's deadline.

    A new study starts with the space's default configurations (one per model family,
    :meth:`~automl_nas.space.SearchSpace.start_params`). Each stage gets an equal part
    of the remaining time and of the ``n_trials`` left (:meth:`BudgetPlan.stage_limits`)
    unless it sets its own; trials count search-wide, workers' trials too. ``callbacks`` see
    every finished trial of this process. Returns the objective, whose ``store`` holds the
    trained trials (every process's, for a shared search, once the coordinator has finished).

    Args:
        coordinator: The study and how it is shared (:func:`open_search`).
        spec: The search as data: rows, splits, space, loss, metric, workers' samplers.
        plan: Deadlines; trials stop at ``plan.search_deadline``, or, before a refit inside
            the budget, as late as the refit's expected seconds allow (:class:`RefitReserve`).
        stages: :class:`~automl_nas.stages.BaseStage` objects, run in order.
        device: Where trials train.
        n_jobs: Trials trained at once in threads of this process.
        seed: Seed of the samplers (None: unseeded).
        n_trials: Most trials this search starts (None: only the deadline).
        callbacks: Progress and tracking callbacks.
        waves: Run the ``n_jobs`` trials in waves that repeat from ``seed``
            (:func:`~automl_nas.search.optimize_in_waves`; a study of this process alone).
    """
    study = coordinator.study
    context = spec.context(
        plan.latest_search_deadline, device, n_jobs=n_jobs, seed=seed, waves=waves
    )
    store = coordinator.store(spec)
    coordinator.publish(spec, plan, n_trials)
    context.objective = spec.objective(context, store)
    context.callbacks = [*callbacks, *coordinator.callbacks()]
    if plan.refit_in_budget:
        data = context.data
        reserve = RefitReserve(
            plan, context, n_rows=len(data.X_train) + len(data.X_val),
            n_train=len(data.X_train), maximize=spec.metric.maximize, at_once=n_jobs,
        )
        context.callbacks = [*context.callbacks, reserve]
    if not study.trials:
        starts = spec.space.start_params()[:n_trials]  # None: all of them
        for params in starts:
            study.enqueue_trial(params, user_attrs={TrialAttr.STAGE: DEFAULT_STAGE})
    n_before = coordinator.trials_started()
    for index, stage in enumerate(stages):
        left = None if n_trials is None else n_trials - (coordinator.trials_started() - n_before)
        if context.remaining() <= 0 or (left is not None and left <= 0):
            break
        coordinator.stage_started(index)
        share, stage_trials = plan.stage_limits(index, len(stages), left)
        stage.run(study, context, n_trials=stage_trials, default_share=share)
    coordinator.finish(plan)
    return context.objective
