"""The estimators' final ensemble end to end: prediction, pickling, leaderboard, refit."""

from __future__ import annotations

import pickle
import threading
import time
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer, load_diabetes, load_iris

import automl_nas.estimator._base as estimator_base
from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace
from automl_nas.ensemble import EnsembleModel
from automl_nas.search import TrialObjective, predict_output

# A small space and short trials: five trials take a few seconds.
_SPACE = MLPSpace(max_layers=2, max_units=64).replace(epochs=(3, 5))
TINY = dict(space=_SPACE, n_trials=5, max_epochs=5, time_budget=120, random_state=0)
FIXED_COLUMNS = ["trial", "stage", "state", "score", "ensemble_weight"]
FIXED_COLUMNS += ["train_seconds", "train_rows", "n_params", "best_epoch"]


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def iris_clf(iris):
    return AutoNASClassifier(metric="log_loss", **TINY).fit(*iris)


def test_ensemble_predicts_with_weights_over_completed_trials(iris_clf, iris):
    X, y = iris
    clf = iris_clf
    assert isinstance(clf.ensemble_, EnsembleModel)
    assert sum(clf.ensemble_weights_.values()) == pytest.approx(1.0)
    completed = {t.number for t in clf.study_.trials if t.state.name == "COMPLETE"}
    assert set(clf.ensemble_weights_) <= completed
    assert len(clf.ensemble_weights_) <= clf.ensemble_candidates
    proba = clf.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert proba.dtype == np.float64
    np.testing.assert_array_equal(clf.predict(X), clf.classes_[proba.argmax(1)])
    assert clf.score(X, y) > 0.8


def test_ensemble_survives_pickling(iris_clf, iris):
    X, _ = iris
    twin = pickle.loads(pickle.dumps(iris_clf))
    np.testing.assert_array_equal(twin.predict_proba(X), iris_clf.predict_proba(X))
    assert twin.ensemble_weights_ == iris_clf.ensemble_weights_


def test_leaderboard_lists_every_trial_best_first(iris_clf):
    board = iris_clf.leaderboard()
    assert list(board.columns[: len(FIXED_COLUMNS)]) == FIXED_COLUMNS
    assert {"n_layers", "units_0", "activation", "lr", "batch_size"} <= set(board.columns)
    assert len(board) == len(iris_clf.study_.trials)
    scores = board["score"].dropna().to_numpy()
    np.testing.assert_array_equal(scores, np.sort(scores))  # log-loss: lower first
    assert board.loc[0, "trial"] == iris_clf.best_trial_number_
    assert board["ensemble_weight"].sum() == pytest.approx(1.0)
    weights = dict(zip(board["trial"], board["ensemble_weight"]))
    assert {k: v for k, v in weights.items() if v > 0} == iris_clf.ensemble_weights_


def test_ensemble_size_one_is_the_best_model():
    X, y = load_breast_cancer(return_X_y=True)
    X, y = X[:300], y[:300]
    clf = AutoNASClassifier(ensemble_size=1, refit=False, **TINY).fit(X, y)
    assert clf.ensemble_weights_ == {clf.best_trial_number_: 1.0}
    best = clf._decode(predict_output(clf.best_model_, clf._features(X)))
    np.testing.assert_array_equal(clf.predict_proba(X), best)


def test_regressor_refit_retrains_the_members():
    """refit="auto" (the default) refits a holdout search; refit=False keeps the searched nets."""
    X, y = load_diabetes(return_X_y=True)
    params = dict(TINY, n_trials=3, cv=None)
    searched = AutoNASRegressor(refit=False, **params).fit(X, y)
    refitted = AutoNASRegressor(**params).fit(X, y)
    assert refitted.ensemble_weights_ == searched.ensemble_weights_  # same search, same selection
    assert refitted.refitted_ == list(refitted.ensemble_weights_) and searched.refitted_ == []
    assert not np.allclose(refitted.predict(X), searched.predict(X))
    np.testing.assert_array_equal(  # best_model_ stays the searched network
        predict_output(refitted.best_model_, refitted._features(X)),
        predict_output(searched.best_model_, searched._features(X)),
    )
    assert refitted.score(X, y) > 0.2


_REFIT = TrialObjective.refit


def _diverge(self, entry, data, deadline):
    raise FloatingPointError("validation loss is nan")


def _late(self, entry, data, deadline):
    return _REFIT(self, entry, data, deadline=0.0)  # the refit deadline has passed


@pytest.mark.parametrize(
    ("refit", "reason"), [(_diverge, "failed"), (_late, "passed the refit deadline")]
)
def test_a_failed_or_late_refit_keeps_the_searched_member(monkeypatch, iris, refit, reason):
    monkeypatch.setattr(TrialObjective, "refit", refit)
    X, y = iris
    params = dict(TINY, n_trials=2)
    with pytest.warns(RuntimeWarning, match=f"Refit of trial .* {reason}.*keeps its network"):
        clf = AutoNASClassifier(refit=True, **params).fit(X, y)
    assert clf.refitted_ == []
    plain = AutoNASClassifier(refit=False, cv=None, **params).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), plain.predict_proba(X))


def test_a_refit_the_deadline_cuts_in_its_first_epoch_is_not_validated(monkeypatch, iris):
    """The refit would be thrown away: no pass over the validation rows past the deadline
    (on 12,500 x 2,000 rows through a quantile transform, 3.4 s past the budget)."""
    from automl_nas.training import _trainer

    passes = []
    validate = _trainer.forward_all

    def cut(self, entry, data, deadline):
        with monkeypatch.context() as patch:
            patch.setattr(_trainer, "forward_all", lambda *a: passes.append(1) or validate(*a))
            return _REFIT(self, entry, data, deadline=time.monotonic())

    monkeypatch.setattr(TrialObjective, "refit", cut)
    X, y = iris
    with pytest.warns(RuntimeWarning, match=r"Refit of trial .* passed the refit deadline"):
        clf = AutoNASClassifier(refit=True, **dict(TINY, n_trials=2)).fit(X, y)
    assert clf.refitted_ == [] and passes == []


def test_a_refit_that_would_pass_the_deadline_is_not_started(monkeypatch, iris):
    """Its trial's seconds say it cannot end in time: it is not begun, and so not thrown away
    after running past the budget; refit=True says so, "auto" keeps quiet."""
    started = []
    monkeypatch.setattr(
        TrialObjective, "refit", lambda self, *args: started.append(args) or _REFIT(self, *args)
    )
    monkeypatch.setattr(estimator_base, "trial_refit_seconds", lambda *args: 1e9)
    X, y = iris
    params = dict(TINY, n_trials=2)
    with pytest.warns(RuntimeWarning, match=r"Refit of trial .* would take about 1000000000\.0 s"):
        clf = AutoNASClassifier(refit=True, **params).fit(X, y)
    auto = AutoNASClassifier(cv=None, **params).fit(X, y)  # 150 rows: refit="auto" refits
    assert started == [] and clf.refitted_ == [] and auto.refitted_ == []


def test_members_are_refitted_side_by_side(monkeypatch):
    """After a search of two trials at once the members are refitted two at a time (the first
    two meet at a barrier, which times out if they run one after the other), and each refit is
    the network it is when the members are refitted one at a time."""
    X, y = load_diabetes(return_X_y=True)
    params = dict(TINY, n_trials=6, cv=None, n_jobs=2, refit=True)
    barrier, calls = threading.Barrier(2, timeout=60), []

    def side_by_side(self, *args):
        calls.append(threading.get_ident())
        if len(calls) <= 2:
            barrier.wait()
        return _REFIT(self, *args)

    with monkeypatch.context() as patch, warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a refit that failed would warn
        patch.setattr(TrialObjective, "refit", side_by_side)
        together = AutoNASRegressor(**params).fit(X, y)
    assert len(together.ensemble_weights_) >= 2
    assert together.refitted_ == list(together.ensemble_weights_)
    assert len(set(calls[:2])) == 2

    refit_members = estimator_base.BaseAutoNAS._refit_members

    def one_at_a_time(self, entries, members, objective, deadline, at_once=1):
        return refit_members(self, entries, members, objective, deadline, 1)

    monkeypatch.setattr(estimator_base.BaseAutoNAS, "_refit_members", one_at_a_time)
    alone = AutoNASRegressor(**params).fit(X, y)
    assert alone.refitted_ == together.refitted_
    np.testing.assert_array_equal(alone.predict(X), together.predict(X))
