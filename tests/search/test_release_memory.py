"""A trial, a batch of trials and a refit hand what they freed back when they end."""

import time

import optuna
import pytest

from automl_nas.search import _objective
from tests.search._digits import digits_objective


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per call the search makes to ``release_freed_memory``."""
    calls: list[None] = []
    monkeypatch.setattr(_objective, "release_freed_memory", lambda: calls.append(None))
    return calls


def test_every_trial_batch_and_refit_releases_freed_memory_once_it_has_trained(releases):
    objective = digits_objective(epochs=2)
    study = optuna.create_study(direction="maximize")
    trial = study.ask()
    study.tell(trial, objective(trial))
    assert len(releases) == 1

    for _ in range(2):  # the same architecture and recipe: a batch can stack them
        study.enqueue_trial(study.trials[0].params)
    batch = [study.ask() for _ in range(2)]
    assert objective.batchable(objective.begin(batch[0]))
    values = objective.run_batch(batch)
    assert len(releases) == 2 and all(isinstance(v, float) for v in values)

    entry = objective.store.ranked()[0]
    objective.refit(entry, objective.context.data, time.monotonic() + 60)
    assert len(releases) == 3
