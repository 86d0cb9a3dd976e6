"""Networks, boosted trees and linear models in one study and one ensemble (``families``)."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import make_classification, make_regression

from automl_nas import AutoNASClassifier, AutoNASRegressor
from automl_nas.nn import FoldBag, LinearModel, TabularNet, TreeEnsemble
from automl_nas.search import DiskTrialStore, SearchSpec
from automl_nas.space import FAMILIES, FamilySpace, TabularSpace
from automl_nas.space._families import portfolio

TINY = {"max_epochs": 3, "time_budget": 60, "random_state": 0, "verbose": 0}


@pytest.fixture(scope="module")
def table():
    X, y = make_classification(400, 10, n_informative=5, n_classes=3, random_state=0)
    return X[:300], X[300:], y[:300], y[300:]


def kinds(model):
    members = model.members if isinstance(model, FoldBag) else [model]
    return {type(m) for m in members}


def test_one_study_of_all_families_cross_validated_in_parallel(table, tmp_path):
    X, X_test, y, y_test = table
    clf = AutoNASClassifier(n_trials=6, n_jobs=2, **TINY).fit(X, y)
    trials = sorted(clf.study_.trials, key=lambda t: t.number)
    starts = clf.space_.start_params()[:6]  # the portfolio's first six
    assert [t.params["family"] for t in trials] == [s["family"] for s in starts]
    assert {t.params["family"] for t in trials} == {"gbdt", "nn"}
    assert all(t.user_attrs["stage"] == "default" for t in trials)
    assert all(t.state.name == "COMPLETE" for t in trials)
    assert len(trials[0].user_attrs["fold_scores"]) == 5  # 300 rows: cross-validated
    assert clf.score(X_test, y_test) > 0.6
    member_kinds = set().union(*(kinds(m) for m in clf.ensemble_.members))
    assert member_kinds <= {TreeEnsemble, TabularNet, LinearModel}
    board = clf.leaderboard()
    assert set(board["family"].dropna()) <= set(FAMILIES)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X_test), clf.predict_proba(X_test))


@pytest.mark.parametrize("family, kind", [("gbdt", TreeEnsemble), ("linear", LinearModel)])
def test_a_single_family_regression(family, kind):
    X, y = make_regression(300, 6, noise=2.0, random_state=0)
    # 30 epochs = 300 boosting rounds: the default learning rate (0.0111) needs them
    reg = AutoNASRegressor(families=[family], n_trials=3, cv=None, **{**TINY, "max_epochs": 30}).fit(X, y)
    assert {t.params["family"] for t in reg.study_.trials} == {family}
    assert all(kinds(m) == {kind} for m in reg.ensemble_.members)
    assert reg.score(X, y) > 0.8


def test_networks_only_start_from_the_portfolio_and_goals_keep_to_networks(table):
    X, _, y, _ = table
    nn_only = AutoNASClassifier(families=["nn"], n_trials=3, cv=None, **TINY).fit(X, y)
    assert isinstance(nn_only.space_, FamilySpace) and nn_only.space_.families == ("nn",)
    entries = [e for e in portfolio() if e["family"] == "nn"]
    assert len(entries) >= 3
    for trial, entry in zip(sorted(nn_only.study_.trials, key=lambda t: t.number), entries):
        assert trial.user_attrs["stage"] == "default"
        assert {k: trial.params[k] for k in entry} == entry  # the portfolio's network entries
    small = AutoNASClassifier(max_params=10**7, n_trials=1, cv=None, **TINY).fit(X, y)
    assert isinstance(small.space_, TabularSpace)
    assert isinstance(AutoNASClassifier(n_trials=1, cv=None, **TINY).fit(X, y).space_, FamilySpace)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"families": ["forest"]}, "choose one or more of"),
        ({"families": ["gbdt"], "space": TabularSpace()}, "either space or families"),
        ({"families": ["gbdt"], "stages": ["darts"]}, "cannot be searched with a DARTS stage"),
    ],
)
def test_families_errors_are_early_and_clear(table, options, match):
    X, _, y, _ = table
    with pytest.raises(ValueError, match=match):
        AutoNASClassifier(n_trials=1, **{**TINY, **options}).fit(X, y)


def _with_nan(X, share, seed):
    X = X.copy()
    X[np.random.default_rng(seed).random(X.shape) < share] = np.nan
    return X


def test_missing_values_stay_nan_in_the_search_and_every_family_takes_them(table, tmp_path):
    X, X_test, y, y_test = table
    X, X_test = _with_nan(X, 0.15, 0), _with_nan(X_test, 0.15, 1)
    storage = f"sqlite:///{tmp_path / 'search.db'}"
    clf = AutoNASClassifier(  # without the portfolio: each family's default, one a family
        space=FamilySpace(portfolio=False), n_trials=3, cv=None, storage=storage,
        study_name="s", artifact_dir=tmp_path / "artifacts", **TINY,
    ).fit(X, y)
    assert {t.params["family"] for t in clf.study_.trials} == set(FAMILIES)
    assert all(t.state.name == "COMPLETE" for t in clf.study_.trials)
    # the search's matrix: one column per column, NaN kept (no indicator columns)
    spec = SearchSpec.load(tmp_path / "artifacts" / "s" / "search.pt")  # reads back safely
    assert spec.X.shape == X.shape and np.isnan(spec.X).sum() == np.isnan(X).sum()
    missing = spec.space.family_space("nn").missing
    assert missing.columns == tuple(range(X.shape[1]))
    store = DiskTrialStore(str(tmp_path / "artifacts" / "s"), 3, clf.study_, spec.build)
    for trial in clf.study_.trials:  # each family's stored model rebuilds and reads NaN
        model = store.load(trial.number).load_model().eval()
        assert torch.isfinite(model(torch.from_numpy(spec.X[:20]))).all()
    proba = clf.predict_proba(X_test)
    assert np.isfinite(proba).all() and clf.score(X_test, y_test) > 0.5
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(X_test), proba)


def test_mlflow_records_families_and_serves_a_mixed_ensemble(table, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    X, X_test, y, _ = table
    # missing values, which each family fills or routes itself, in training and serving
    X, X_test = _with_nan(X, 0.1, 0), _with_nan(X_test, 0.1, 1)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    clf = AutoNASClassifier(  # without the portfolio: each family's default, one a family
        space=FamilySpace(portfolio=False), n_trials=3, mlflow_tracking_uri=uri,
        register_model="mixed", **TINY,
    ).fit(X, y)
    client = MlflowClient(uri)
    runs = client.search_runs([client.get_experiment_by_name("automl_nas").experiment_id])
    parent = next(r for r in runs if "automl_nas.trial_number" not in r.data.tags)
    assert parent.data.params["families"] == ", ".join(FAMILIES)
    tags = {r.data.tags.get("automl_nas.family") for r in runs if r is not parent}
    assert tags == set(FAMILIES)
    mlflow.set_tracking_uri(uri)
    try:
        served = mlflow.pyfunc.load_model("models:/mixed@champion")
        proba = served.predict(X_test[:5], params={"method": "predict_proba"})
    finally:
        mlflow.set_tracking_uri(None)
    np.testing.assert_allclose(proba, clf.predict_proba(X_test[:5]), rtol=1e-6)
