"""Trials in waves: drawn in order in one thread, trained side by side, told in order."""

from __future__ import annotations

import time

import numpy as np
import optuna
import pytest
import torch
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from automl_nas.search import (
    MemoryTrialStore,
    SearchContext,
    TrialObjective,
    optimize,
    optimize_in_waves,
    waves_repeat,
)
from automl_nas.space import MLPSpace
from automl_nas.training import CLASSIFICATION_METRICS, TensorData

SPACE = MLPSpace(max_layers=2, max_units=32).replace(epochs=3, dropout=(0.1, 0.5))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make_context(objective_class: type = TrialObjective, n_jobs: int = 2) -> SearchContext:
    """The context ``fit`` builds for 400 digits (300 to train), with the search's objective."""
    X, y = load_digits(return_X_y=True)
    X = ((X[:400] - X.mean()) / X.std()).astype(np.float32)
    y = y[:400]
    data = TensorData(*(torch.as_tensor(a) for a in (X[:300], y[:300], X[300:], y[300:])))
    context = SearchContext(
        space=SPACE, deadline=time.monotonic() + 120, n_jobs=n_jobs, seed=3, data=data,
        loss_fn=torch.nn.CrossEntropyLoss(), input_shape=(64,), n_outputs=10, max_epochs=3,
        waves=True,
    )
    context.objective = objective_class(
        context, y_folds=[y[300:]], metric=CLASSIFICATION_METRICS["accuracy"], decode=softmax,
        patience=3, seed=3, store=MemoryTrialStore(8, True),
    )
    return context


def new_study() -> optuna.Study:
    return optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=0, n_startup_trials=2),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )


def search(
    context: SearchContext, n_trials: int, study: optuna.Study | None = None
) -> tuple[optuna.Study, list[int]]:
    study = study or new_study()
    told: list[int] = []
    context.callbacks = [lambda study, trial: told.append(trial.number)]
    optimize(study, context, n_trials=n_trials, timeout=120)
    return study, told


def test_waves_train_side_by_side_and_tell_in_trial_order():
    study, told = search(make_context(), n_trials=5)
    trials = study.trials
    assert told == [0, 1, 2, 3, 4]  # waves of 2, 2 and 1
    assert all(t.state in (TrialState.COMPLETE, TrialState.PRUNED) for t in trials)
    for first, second in ((trials[0], trials[1]), (trials[2], trials[3])):
        assert second.datetime_start < first.datetime_complete  # the wave's trials overlap
    # a wave starts when the last one was told: its draws saw every earlier trial finished
    assert trials[2].datetime_start >= max(trials[0].datetime_complete, trials[1].datetime_complete)


def test_waves_repeat_run_after_run():
    runs = [search(make_context(), n_trials=6)[0].trials for _ in range(2)]
    for a, b in zip(*runs):
        assert (a.params, a.state, a.values, a.intermediate_values) == (
            b.params, b.state, b.values, b.intermediate_values
        )


class InterruptedAt(TrialObjective):
    """Trial 3 fails with an ordinary error; trial 5 is interrupted."""

    def __call__(self, trial: optuna.Trial):
        if trial.number == 3:
            raise ValueError("a bad configuration")
        if trial.number == 5:
            raise KeyboardInterrupt
        return super().__call__(trial)


def test_a_failed_trial_ends_alone_and_an_interrupt_leaves_nothing_running():
    study = new_study()
    with pytest.raises(KeyboardInterrupt):
        search(make_context(InterruptedAt), n_trials=8, study=study)
    states = {t.number: t.state for t in study.trials}
    assert states[3] == TrialState.FAIL and states[2] != TrialState.FAIL  # the wave went on
    assert states[4] == states[5] == TrialState.FAIL  # the interrupted wave is told FAIL
    assert TrialState.RUNNING not in states.values() and len(states) == 6


def test_only_pruners_that_read_finished_trials_repeat_in_waves():
    assert waves_repeat(optuna.pruners.MedianPruner())
    assert waves_repeat(optuna.pruners.PercentilePruner(25.0))
    assert waves_repeat(optuna.pruners.NopPruner())
    assert not waves_repeat(optuna.pruners.HyperbandPruner())
    assert not waves_repeat(optuna.pruners.SuccessiveHalvingPruner())


def test_waves_need_the_search_objective():
    context = make_context()
    context.objective = lambda trial: 0.0
    with pytest.raises(TypeError, match="TrialObjective"):
        optimize_in_waves(optuna.create_study(), context, n_trials=2, timeout=10)
