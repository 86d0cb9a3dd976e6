"""A trial, a batch of trials and a refit hand what they freed back when they end."""

import time

import numpy as np
import optuna
import pytest
import torch
from sklearn.datasets import load_digits

from automl_nas.search import MemoryTrialStore, SearchContext, TrialObjective, _objective
from automl_nas.space import MLPSpace
from automl_nas.training import CLASSIFICATION_METRICS, TensorData


@pytest.fixture
def releases(monkeypatch: pytest.MonkeyPatch) -> list[None]:
    """One entry per call the search makes to ``release_freed_memory``."""
    calls: list[None] = []
    monkeypatch.setattr(_objective, "release_freed_memory", lambda: calls.append(None))
    return calls


def _objective_on_digits() -> TrialObjective:
    X, y = load_digits(return_X_y=True)
    X = ((X[:400] - X.mean()) / X.std()).astype(np.float32)
    data = TensorData(*(torch.as_tensor(a) for a in (X[:300], y[:300], X[300:], y[300:400])))
    context = SearchContext(
        space=MLPSpace(max_layers=1, max_units=16).replace(epochs=2),
        deadline=time.monotonic() + 60, n_jobs=1, seed=0, data=data,
        loss_fn=torch.nn.CrossEntropyLoss(), input_shape=(64,), n_outputs=10, max_epochs=2,
    )
    return TrialObjective(
        context, y_folds=[y[300:400]], metric=CLASSIFICATION_METRICS["accuracy"],
        decode=lambda z: z, patience=2, seed=0, store=MemoryTrialStore(4, True),
    )


def test_every_trial_batch_and_refit_releases_freed_memory_once_it_has_trained(releases):
    objective = _objective_on_digits()
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
