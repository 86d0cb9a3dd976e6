"""Coordinators: a search alone in memory, or published in a storage that workers join."""

import os
import time

import numpy as np
import optuna
import pytest
import torch

from automl_nas.search import (
    BudgetPlan,
    DiskTrialStore,
    LocalCoordinator,
    MemoryTrialStore,
    SearchSpec,
    SharedCoordinator,
    StopAtTrialCap,
    StudyAttr,
    UnsafeFileError,
    open_search,
    run_search,
)
from automl_nas.space import MLPSpace
from automl_nas.stages import SamplerStage
from automl_nas.training import CLASSIFICATION_METRICS, probabilities


def _spec(fingerprint="f", seed=7):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    space = MLPSpace(max_layers=1).replace(epochs=2, batch_size=16)
    return SearchSpec(
        space=space, X=X, y=y, y_metric=y, splits=[(np.arange(30), np.arange(30, 40))],
        loss_fn=torch.nn.CrossEntropyLoss(), metric=CLASSIFICATION_METRICS["accuracy"],
        decode=probabilities, input_shape=(3,), n_outputs=2, max_epochs=2, patience=2,
        seed=seed, keep=2, pruner=optuna.pruners.NopPruner(), worker_samplers=["random"],
        fingerprint=fingerprint,
    )


def test_memory_and_in_memory_storages_are_searched_locally():
    for storage in (None, optuna.storages.InMemoryStorage()):
        coordinator = open_search(
            storage, study_name=None, directions=["maximize"], pruner=optuna.pruners.NopPruner()
        )
        assert isinstance(coordinator, LocalCoordinator) and not coordinator.shared
        assert isinstance(coordinator.store(_spec()), MemoryTrialStore)
        assert coordinator.resumed_seed("f") is None and coordinator.callbacks() == []


def test_a_shared_search_publishes_its_spec_deadline_and_cap(tmp_path):
    storage = optuna.storages.RDBStorage(f"sqlite:///{tmp_path / 's.db'}")
    coordinator = open_search(
        storage, study_name="s1", directions=["maximize"], pruner=optuna.pruners.NopPruner(),
        artifact_dir=tmp_path / "art",
    )
    assert isinstance(coordinator, SharedCoordinator) and coordinator.shared
    assert coordinator.spec_path == str(tmp_path / "art" / "s1" / "search.pt")
    spec = _spec()
    store = coordinator.store(spec)
    assert isinstance(store, DiskTrialStore) and os.path.isdir(tmp_path / "art" / "s1")
    plan = BudgetPlan.make(30, 40, cv=None, refit=False)
    coordinator.publish(spec, plan, n_trials=3)
    attrs = coordinator.study.user_attrs
    assert attrs[StudyAttr.SPEC] == coordinator.spec_path
    assert attrs[StudyAttr.MAX_TRIALS] == 3
    assert attrs[StudyAttr.DEADLINE] == pytest.approx(time.time() + 30, abs=2)
    assert [type(c) for c in coordinator.callbacks()] == [StopAtTrialCap]
    coordinator.stage_started(1)
    assert coordinator.study.user_attrs[StudyAttr.STAGE] == 1

    with pytest.raises(UnsafeFileError, match="outside the artifact directory"):
        open_search(
            storage, study_name="s1", directions=["maximize"],
            pruner=optuna.pruners.NopPruner(), artifact_dir=tmp_path / "elsewhere",
        )
    with pytest.raises(ValueError, match="to maximize its objectives, this search would minimize"):
        open_search(
            storage, study_name="s1", directions=["minimize"],
            pruner=optuna.pruners.NopPruner(), artifact_dir=tmp_path / "art",
        )
    resumed = open_search(
        storage, study_name="s1", directions=["maximize"], pruner=optuna.pruners.NopPruner(),
        artifact_dir=tmp_path / "art",
    )
    assert resumed.spec_path == coordinator.spec_path
    assert resumed.resumed_seed("f") == 7
    with pytest.raises(ValueError, match="holds a search on other data"):
        resumed.resumed_seed("other")

    started = time.monotonic()
    coordinator.finish(plan)
    assert coordinator.study.user_attrs[StudyAttr.DEADLINE] <= time.time()
    assert time.monotonic() - started < 1  # no worker trial runs: nothing to wait for


def test_run_search_starts_from_the_default_trial_and_respects_the_trial_count():
    coordinator = open_search(
        None, study_name=None, directions=["maximize"], pruner=optuna.pruners.NopPruner()
    )
    spec = _spec()
    plan = BudgetPlan.make(60, 40, cv=None, refit=False)
    seen = []
    objective = run_search(
        coordinator, spec, plan, [SamplerStage("random")], device=torch.device("cpu"), seed=0, n_trials=3,
        callbacks=[lambda study, trial: seen.append(trial.number)],
    )
    trials = coordinator.study.trials
    assert [t.user_attrs["stage"] for t in trials] == ["default", "random", "random"]
    assert seen == [0, 1, 2]
    assert [entry.number for entry in objective.store.ranked()]  # the trained trials are kept
