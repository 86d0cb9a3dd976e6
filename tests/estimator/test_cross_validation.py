"""k-fold validation of trials: folds, out-of-fold scores, fold bags, pruning, the deadline."""

import time

import numpy as np
import pytest
import torch
from sklearn.datasets import load_breast_cancer, load_diabetes
from torch import nn

from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace
from automl_nas.data import cross_validation_folds
from automl_nas.nn import FoldBag
from automl_nas.search import CV_AUTO_ROWS_PER_SECOND

SPACE = MLPSpace(max_layers=2, max_units=32)
FAST = dict(space=SPACE, max_epochs=4, time_budget=120, random_state=0)


@pytest.fixture(scope="module")
def balanced():
    """200 rows, 100 per class: stratified 5-fold gives five folds of exactly 40 rows."""
    X, y = load_breast_cancer(return_X_y=True)
    rows = np.r_[np.flatnonzero(y == 0)[:100], np.flatnonzero(y == 1)[:100]]
    return X[rows], y[rows]


def test_folds_validate_every_row_once_and_keep_class_shares():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    folds = cross_validation_folds(len(y), 5, y, seed=0)
    val = np.concatenate([v for _, v in folds])
    np.testing.assert_array_equal(np.sort(val), np.arange(len(y)))
    for train, v in folds:
        assert not set(train) & set(v) and len(train) + len(v) == len(y)
        np.testing.assert_array_equal(np.bincount(y[v]), [10, 6, 4])
    rare = np.r_[np.zeros(98, int), 1, 1]  # a class smaller than the folds: plain k-fold
    assert len(cross_validation_folds(100, 5, rare, seed=0)) == 5
    with pytest.raises(ValueError, match="cv=5 folds need"):
        cross_validation_folds(4, 5, None, seed=0)


def test_small_data_trials_are_cross_validated_and_the_model_is_a_fold_bag(balanced):
    X, y = balanced
    clf = AutoNASClassifier(n_trials=3, **FAST).fit(X, y)
    complete = [t for t in clf.study_.trials if t.state.name == "COMPLETE"]
    assert complete
    for trial in complete:
        folds = trial.user_attrs["fold_scores"]
        assert len(folds) == 5
        # The out-of-fold score over all 200 rows: with folds of 40 rows, the mean of the folds.
        assert trial.value == pytest.approx(np.mean(folds))
        # epochs >= 10 and patience 10: each of the 5 folds trains all max_epochs=4 epochs.
        assert trial.user_attrs["epochs"] == 5 * FAST["max_epochs"]
    assert isinstance(clf.best_model_, FoldBag) and len(clf.best_model_.members) == 5
    bag = clf.best_model_
    X_pre = torch.as_tensor(clf._features(X[:7]), dtype=torch.float64)
    expected = torch.stack([m(X_pre) for m in bag.members]).mean(0)
    torch.testing.assert_close(bag(X_pre), expected)
    each = sum(p.numel() for p in bag.members[0].parameters())
    assert clf.study_.trials[clf.best_trial_number_].user_attrs["n_params"] == 5 * each
    assert clf.refitted_ == []  # the folds' networks together trained on every row
    assert clf.score(X, y) > 0.85


def test_pruner_sees_the_first_fold_and_pruned_trials_train_one_network():
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(pruner="median", n_trials=14, **FAST).fit(X[:300], y[:300])
    pruned = [t for t in clf.study_.trials if t.state.name == "PRUNED"]
    assert pruned
    for trial in pruned:
        assert trial.intermediate_values and "fold_scores" not in trial.user_attrs
    for trial in clf.study_.trials:
        if trial.state.name == "COMPLETE":
            history = trial.user_attrs["history"]  # the first fold's epochs, as reported
            assert [r["val_score"] for r in history] == list(trial.intermediate_values.values())


def test_holdout_when_asked_or_when_data_is_large():
    X, y = load_diabetes(return_X_y=True)
    holdout = AutoNASRegressor(n_trials=2, cv=None, **FAST).fit(X, y)
    assert not isinstance(holdout.best_model_, FoldBag)
    assert all("fold_scores" not in t.user_attrs for t in holdout.study_.trials)
    three = AutoNASRegressor(n_trials=2, cv=3, **FAST).fit(X, y)
    assert len(three.best_model_.members) == 3
    rng = np.random.default_rng(0)
    X_big = rng.normal(size=(CV_AUTO_ROWS_PER_SECOND * FAST["time_budget"] + 1, 3))
    big = AutoNASRegressor(n_trials=1, **FAST).fit(X_big, X_big @ [1.0, 2.0, 3.0])
    assert not isinstance(big.best_model_, FoldBag)


def test_refit_true_means_a_holdout_search(balanced):
    X, y = balanced
    clf = AutoNASClassifier(n_trials=2, refit=True, **FAST).fit(X, y)
    assert not isinstance(clf.best_model_, FoldBag) and clf.refitted_
    with pytest.raises(ValueError, match="refit=True .* cv=3"):
        AutoNASClassifier(n_trials=2, refit=True, cv=3, **FAST).fit(X, y)


class _Sleepy(nn.Module):
    """A network whose every forward pass takes 20 ms: a trial slower than its time."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x):
        time.sleep(0.02)
        return self.net(x)


class _SlowSpace(MLPSpace):
    def build(self, params, input_shape, n_outputs):
        return _Sleepy(super().build(params, input_shape, n_outputs))


def test_a_trial_the_deadline_cuts_keeps_its_finished_folds(balanced):
    """The only trial runs past its time (an epoch longer than its share of the budget, so the
    trial's hard stop ends it mid-fold): fit still returns its finished folds as the model."""
    X, y = balanced
    slow = _SlowSpace(max_layers=1).replace(n_layers=1, batch_size=16, epochs=10_000)
    clf = AutoNASClassifier(
        space=slow, cv=5, n_trials=1, max_epochs=10_000, patience=10_000, time_budget=3,
        random_state=0,
    ).fit(X, y)
    trial = clf.study_.trials[0]
    done = int(trial.user_attrs["partial_folds"].split("/")[0])
    assert trial.state.name == "COMPLETE" and 1 <= done < 5
    assert len(clf.best_model_.members) == done
    assert trial.user_attrs["stopped_by"] == "time_budget"
    assert clf.predict(X).shape == (len(X),)
