"""The joint search itself: one study, both kinds of parameters, pruning, determinism, threads."""

import os
import time

import numpy as np
import optuna
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_digits
from sklearn.model_selection import train_test_split

from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace, TabularSpace
from automl_nas.search import REFIT_SHARE, TRIAL_HARD_STOP, TRIAL_SHARE

HPARAMS = {"lr", "weight_decay", "batch_size", "optimizer", "dropout", "epochs", "schedule"}
ARCH = {"block", "n_blocks", "width", "numeric_transform", "embedding", "ensemble_k"}


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)


def test_trials_hold_hyperparameters_and_architecture(digits):
    Xtr, Xte, ytr, yte = digits
    clf = AutoNASClassifier(space=TabularSpace(), n_trials=4, max_epochs=4, cv=None, random_state=0)
    frame = clf.fit(Xtr, ytr).study_.trials_dataframe()
    keys = {c.removeprefix("params_") for c in frame.columns if c.startswith("params_")}
    assert HPARAMS <= keys and ARCH <= keys
    assert set(frame["user_attrs_stage"]) == {"default", "tpe"}
    assert clf.score(Xte, yte) > 0.8


@pytest.mark.parametrize("pruner", ["median", optuna.pruners.HyperbandPruner(min_resource=1, max_resource=8)])
def test_thirty_trials_some_pruned_with_epoch_values(pruner):
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:300], y[:300]
    space = MLPSpace(max_layers=2, max_units=64)
    clf = AutoNASClassifier(
        space=space, pruner=pruner, n_trials=30, max_epochs=8, time_budget=300, random_state=0
    ).fit(X, y)
    trials = clf.study_.trials
    assert len(trials) == 30
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "no trial was pruned"
    for trial in pruned:
        assert trial.intermediate_values and max(trial.intermediate_values) < 8
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert all(len(t.user_attrs["history"]) == len(t.intermediate_values) for t in complete)


@pytest.mark.parametrize("space, n_trials", [(TabularSpace(), 4), (None, 2)])
def test_same_seed_same_trials_and_predictions(digits, space, n_trials):
    Xtr, Xte, ytr, _ = digits
    options = {"space": space, "n_trials": n_trials, "max_epochs": 3, "cv": None}
    runs = [
        AutoNASClassifier(**options, random_state=7).fit(Xtr[:500], ytr[:500]) for _ in range(2)
    ]
    params = [[t.params for t in r.study_.trials] for r in runs]
    assert params[0] == params[1]
    np.testing.assert_array_equal(runs[0].predict_proba(Xte), runs[1].predict_proba(Xte))
    if space is not None:  # one start configuration, then the seeded sampler's
        other = AutoNASClassifier(**options, random_state=8).fit(Xtr[:500], ytr[:500])
        assert [t.params for t in other.study_.trials][1:] != params[0][1:]


def test_parallel_trials_in_threads(digits):
    """Networks trained two at a time in threads of one process. A small network space: the
    default space's start networks took 60 s here, and every family in parallel threads is
    ``test_mixed_families.py``'s."""
    Xtr, Xte, ytr, yte = digits
    space = MLPSpace(max_layers=2, max_units=64)
    clf = AutoNASClassifier(space=space, n_trials=6, max_epochs=3, n_jobs=2, random_state=0)
    clf.fit(Xtr, ytr)
    states = [t.state for t in clf.study_.trials]
    assert len(states) == 6 and optuna.trial.TrialState.FAIL not in states
    assert clf.score(Xte, yte) > 0.8


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="needs two cores")
@pytest.mark.parametrize(
    "n_trials, pruner, parallel",
    [(None, "median", True), (6, "median", False), (6, "hyperband", False)],
)
def test_seeded_search_the_clock_ends_trains_a_trial_per_core(
    digits, n_trials, pruner, parallel
):
    """``n_jobs=None`` with two torch threads: a seeded search that its time budget ends trains
    two single-threaded trials at once (their times overlap); with ``n_trials`` as well it is
    repeatable, so one trial at a time on both threads, whatever the pruner."""
    Xtr, _, ytr, _ = digits
    threads = torch.get_num_threads()
    torch.set_num_threads(2)  # the suite pins one thread per process (conftest.py)
    try:
        clf = AutoNASClassifier(
            space=MLPSpace(max_layers=2, max_units=64), n_trials=n_trials, time_budget=6,
            max_epochs=3, cv=None, verbose=0, random_state=0, pruner=pruner,
        ).fit(Xtr[:600], ytr[:600])
    finally:
        torch.set_num_threads(threads)
    spans = sorted(
        (t.datetime_start, t.datetime_complete) for t in clf.study_.trials if t.datetime_complete
    )
    overlaps = sum(later[0] < earlier[1] for earlier, later in zip(spans, spans[1:]))
    assert len(spans) >= 3
    assert (overlaps > 0) == parallel, spans


@pytest.mark.parametrize("space", [TabularSpace(), None])
def test_parallel_trials_repeat_from_a_seed(digits, space):
    """``n_jobs=2`` with ``random_state`` and ``n_trials``: the trials run two at a time and
    the search repeats: same parameters, states, values, epoch reports and predictions."""
    Xtr, Xte, ytr, _ = digits
    n_trials = 4  # two waves of two
    options = {"space": space, "n_trials": n_trials, "max_epochs": 3, "cv": None, "n_jobs": 2}
    runs = [
        AutoNASClassifier(**options, random_state=7, verbose=0).fit(Xtr[:600], ytr[:600])
        for _ in range(2)
    ]
    first, second = (run.study_.trials for run in runs)
    assert len(first) == n_trials
    for a, b in zip(first, second):
        assert (a.params, a.state, a.values, a.intermediate_values) == (
            b.params, b.state, b.values, b.intermediate_values
        )
    np.testing.assert_array_equal(runs[0].predict_proba(Xte), runs[1].predict_proba(Xte))
    assert first[1].datetime_start < first[0].datetime_complete  # trained side by side
    if space is not None:
        assert any(t.params.get("dropout", 0.0) > 0 for t in first)  # masks were drawn


def test_time_budget_holds_when_one_trial_is_long():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 40))
    y = (X[:, :5].sum(1) > 0).astype(int)
    # The default first trial (2 x 256 units, up to 500 epochs) alone would take minutes.
    space = MLPSpace().replace(epochs=500, batch_size=32)
    budget = 6.0
    start = time.monotonic()
    # refit="auto" (6000 rows): trials are sized from 85% of the budget, the refit ends by
    # its end.
    clf = AutoNASClassifier(space=space, time_budget=budget, max_epochs=500, patience=500, random_state=0)
    clf.fit(X, y)
    elapsed = time.monotonic() - start
    assert elapsed < budget * 1.05 + 1.0, f"fit took {elapsed:.2f}s for a {budget}s budget"
    # The trial's epochs were cut to its share of the search (TRIAL_SHARE), not run to 500.
    first = clf.study_.trials[0]
    assert first.user_attrs["epochs"] < 500
    share = TRIAL_SHARE * budget * (1 - REFIT_SHARE)
    assert first.user_attrs["train_seconds"] < TRIAL_HARD_STOP * share + 0.5
    assert len(clf.study_.trials) > 1
    assert clf.score(X, y) > 0.6


def test_regressor_multioutput_and_original_units():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 3))
    Y = np.c_[1000 * X[:, 0] + 5000, -X[:, 1]]
    reg = AutoNASRegressor(n_trials=3, max_epochs=30, cv=None, random_state=0).fit(X, Y)
    assert reg.predict(X).shape == (300, 2)
    assert reg.score(X, Y) > 0.8
    assert abs(reg.predict(X)[:, 0].mean() - 5000) < 300


def test_chained_stages_share_one_study_within_the_budget(digits):
    Xtr, _, ytr, _ = digits
    X = Xtr[:400]
    budget = 12.0
    start = time.monotonic()
    clf = AutoNASClassifier(
        stages=["darts", "evolution", "tpe"], time_budget=budget, max_epochs=4, random_state=0
    ).fit(X, ytr[:400])
    elapsed = time.monotonic() - start
    assert elapsed < budget * 1.05 + 2.0, f"fit took {elapsed:.2f}s for a {budget}s budget"
    stages = {t.user_attrs.get("stage") for t in clf.study_.trials}
    assert {"darts", "evolution", "tpe"} <= stages
    assert clf.score(X, ytr[:400]) > 0.5


@pytest.mark.parametrize("sampler", ["cmaes", "gp", "nsga2", "qmc", "random"])
def test_each_optuna_sampler_by_name_runs_inside_fit(sampler):
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(
        space=TabularSpace(), sampler=sampler, n_trials=4, max_epochs=2, random_state=0
    ).fit(X[:200], y[:200])
    assert [t.state.name for t in clf.study_.trials] == ["COMPLETE"] * 4
    assert [t.user_attrs["stage"] for t in clf.study_.trials] == ["default"] + [sampler] * 3
    assert clf.score(X[200:], y[200:]) > 0.8


def test_a_sampler_without_its_package_fails_before_the_study_exists(monkeypatch, tmp_path):
    from automl_nas.search import _factories

    monkeypatch.setitem(_factories.REQUIRES, "cmaes", ("cmaes_missing", "automl-nas[cmaes]"))
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(sampler="cmaes", storage=storage, study_name="s", n_trials=2)
    with pytest.raises(ImportError, match=r"pip install 'automl-nas\[cmaes\]'"):
        clf.fit(X, y)
    assert optuna.get_all_study_names(storage) == []


@pytest.mark.parametrize("stage", ["evolution", "rl", "darts"])
def test_each_nas_stage_runs_inside_fit_on_a_tabular_dataset(stage):
    X, y = load_breast_cancer(return_X_y=True)
    # One default start, then the stage (the default families space starts from the
    # portfolio's several entries); DARTS needs the default relaxed space of networks.
    space = {"families": ["nn"]} if stage == "darts" else {"space": TabularSpace()}
    clf = AutoNASClassifier(stages=[stage], n_trials=4, max_epochs=4, random_state=0, **space).fit(X, y)
    stages = [t.user_attrs.get("stage") for t in clf.study_.trials]
    # DARTS proposes exactly one (derived) architecture; the samplers fill the trial count.
    assert stage in stages and len(stages) == (2 if stage == "darts" else 4)
    assert clf.leaderboard()["stage"].isin(["default", stage]).all()
    assert clf.score(X, y) > 0.8
