"""Boosted trees and linear models fitted by scikit-learn, copied into torch modules."""

import math
import time

import numpy as np
import optuna
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn

import automl_nas.nn._trees as trees_module
import automl_nas.training._fitted as fitted_module
from automl_nas.nn import FoldBag, LinearModel, TreeEnsemble
from automl_nas.space import BoostingSpace
from automl_nas.training import ROUNDS_PER_EPOCH, TensorData, TooSlowForLimit, train
from automl_nas.training._fitted import _class_columns, load_boosted_trees

GBDT = BoostingSpace().default_params()


def classes(n_classes, n=1200, nan=True, seed=0):
    X, y = make_classification(n, 12, n_informative=6, n_classes=n_classes, random_state=seed)
    X = X.astype(np.float32)
    if nan:
        X[::9, 2] = np.nan  # missing values follow each split's learned direction
    return X, y


def tensors(X, y, n_train):
    y_t = torch.as_tensor(y)
    y_t = y_t.long() if not np.issubdtype(y.dtype, np.floating) else y_t.float().reshape(len(y), -1)
    X_t = torch.as_tensor(X)
    return TensorData(X_t[:n_train], y_t[:n_train], X_t[n_train:], y_t[n_train:])


def accuracy(y):
    return lambda output: float((output.argmax(1).numpy() == y).mean())


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("nan", [True, False])
def test_copied_trees_predict_as_scikit_learn(n_classes, nan):
    X, y = classes(n_classes, nan=nan)
    hgb = HistGradientBoostingClassifier(max_iter=30, random_state=0).fit(X, y)
    trees = TreeEnsemble(X.shape[1], n_classes)
    columns, baseline = _class_columns(hgb.classes_, n_classes)
    load_boosted_trees(trees, hgb, 30, columns, baseline)
    ours = torch.softmax(trees(torch.as_tensor(X)), dim=1).detach().numpy()
    np.testing.assert_allclose(ours, hgb.predict_proba(X), atol=1e-5)


def test_trees_walk_rows_in_parts_with_the_same_result(monkeypatch):
    X, y = classes(3)
    hgb = HistGradientBoostingClassifier(max_iter=20, random_state=0).fit(X, y)
    trees = TreeEnsemble(X.shape[1], 3)
    load_boosted_trees(trees, hgb, 20, *_class_columns(hgb.classes_, 3))
    x = torch.as_tensor(X)
    whole, whole_double = trees(x), trees(x.double())
    monkeypatch.setattr(trees_module, "WALK_ENTRIES", 7 * trees.n_trees + 3)  # 7 rows a part
    torch.testing.assert_close(trees(x), whole, rtol=0, atol=0)
    torch.testing.assert_close(trees(x.double()), whole_double, rtol=0, atol=0)


class _Clock:
    """A fake ``time.monotonic`` that moves only as boosting adds rounds (1/64 s a round:
    binary fractions, so the sizing's arithmetic is exact)."""

    def __init__(self):
        self.now = 0.0

    def monotonic(self):
        return self.now


def test_boosting_sizes_its_last_fit_to_the_deadline(monkeypatch):
    """A doubling fit started before the deadline would run as long as all fits before it."""
    clock = _Clock()
    real_fit = HistGradientBoostingClassifier.fit

    def fit(self, *args, **kwargs):
        before = getattr(self, "n_iter_", 0)
        real_fit(self, *args, **kwargs)
        clock.now += (self.n_iter_ - before) / 64
        return self

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", fit)
    monkeypatch.setattr(fitted_module, "time", clock)
    X, y = make_classification(3000, 12, n_informative=8, random_state=0)
    data = tensors(X.astype(np.float32), y, 2400)
    slow = {**GBDT, "gbdt_learning_rate": 0.01}  # the validation loss falls for every round
    result = train(
        TreeEnsemble(12, 2), slow, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[2400:]), max_epochs=100, patience=5, seed=0, deadline=150 / 64,
    )
    # fits to 10, 20, 40, 80 rounds; the next is cut from 160 rounds to the deadline's 150
    assert [r["epoch"] for r in result.history] == [1, 2, 4, 8, 15]
    assert clock.now == 150 / 64 and result.stopped_by == "time_budget"


def test_boosting_does_not_start_a_fit_that_costs_more_than_the_time_left(monkeypatch):
    """A warm-started fit bins the rows and scores the trees so far again: its cost grows with
    the rounds before it, so the average round underestimates the next fit."""
    clock = _Clock()
    real_fit = HistGradientBoostingClassifier.fit

    def fit(self, *args, **kwargs):
        before = getattr(self, "n_iter_", 0)
        real_fit(self, *args, **kwargs)
        clock.now += self.n_iter_ / 64  # the rounds it adds and every round before, again
        return self

    monkeypatch.setattr(HistGradientBoostingClassifier, "fit", fit)
    monkeypatch.setattr(fitted_module, "time", clock)
    X, y = make_classification(3000, 12, n_informative=8, random_state=0)
    data = tensors(X.astype(np.float32), y, 2400)
    slow = {**GBDT, "gbdt_learning_rate": 0.01}
    result = train(
        TreeEnsemble(12, 2), slow, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[2400:]), max_epochs=100, patience=5, seed=0, deadline=100 / 64,
    )
    # fits of 10, 20 and 40 rounds end at 10, 30 and 70 / 64 s; a fit of 50 (sized by the
    # average round, 1.75 / 64 s) would end at 120 / 64, so with 30 / 64 s left none starts
    assert [r["epoch"] for r in result.history] == [1, 2, 4]
    assert clock.now == 70 / 64 and result.stopped_by == "time_budget"


def test_copied_regression_trees_predict_as_scikit_learn():
    X, y = make_regression(800, 10, noise=5.0, random_state=0)
    X = X.astype(np.float32)
    hgb = HistGradientBoostingRegressor(max_iter=40, random_state=0).fit(X, y)
    trees = TreeEnsemble(10, 1)
    load_boosted_trees(trees, hgb, 40, [0], torch.zeros(1))
    ours = trees(torch.as_tensor(X)).detach().numpy().ravel()
    np.testing.assert_allclose(ours, hgb.predict(X), rtol=1e-4, atol=1e-3)


def test_boosting_trial_reports_epochs_keeps_the_best_round_and_reloads():
    X, y = classes(3)
    data = tensors(X, y, 900)
    reported = []
    result = train(
        TreeEnsemble(12, 3),
        GBDT,
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[900:]),
        max_epochs=30,
        patience=5,
        seed=0,
        on_epoch=lambda epoch, record: reported.append(epoch),
    )
    assert reported == sorted(set(reported)) and reported[0] == 1  # one report per new epoch
    assert result.score > 0.7 and result.stopped_by in ("early_stopping", "epochs")
    rounds = result.model.n_trees // 3
    assert math.ceil(rounds / ROUNDS_PER_EPOCH) == result.best_epoch
    loaded = TreeEnsemble(12, 3)  # as a trial file is read: unfitted, shapes from the state
    loaded.load_state_dict(result.model.state_dict())
    bag = FoldBag([TreeEnsemble(12, 3), TreeEnsemble(12, 3)])
    bag.load_state_dict(FoldBag([result.model, result.model]).state_dict())
    X_val = data.X_val
    torch.testing.assert_close(loaded(X_val), result.model(X_val))
    torch.testing.assert_close(bag(X_val), result.model(X_val))
    np.testing.assert_allclose(result.val_output, result.model(X_val).detach().numpy(), atol=1e-6)


def test_boosting_stops_at_the_deadline_and_prunes_through_on_epoch():
    X, y = classes(2)
    data = tensors(X, y, 900)
    kwargs = {
        "loss_fn": nn.CrossEntropyLoss(),
        "score_fn": accuracy(y[900:]),
        "max_epochs": 100,
        "patience": 5,
        "seed": 0,
    }
    slow = {**GBDT, "gbdt_learning_rate": 0.01}
    result = train(TreeEnsemble(12, 2), slow, data, deadline=time.monotonic(), **kwargs)
    assert result.stopped_by == "time_budget" and len(result.history) == 1

    def prune(epoch, record):
        raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        train(TreeEnsemble(12, 2), GBDT, data, on_epoch=prune, **kwargs)


def test_a_boosting_run_that_may_give_up_does_not_start_without_half_its_time(monkeypatch):
    X, y = classes(2)
    data = tensors(X, y, 900)
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y[900:]), "max_epochs": 100,
              "patience": 5, "seed": 0, "time_limit": 4.0}
    fits = []
    real_fit = HistGradientBoostingClassifier.fit
    monkeypatch.setattr(HistGradientBoostingClassifier, "fit",
                        lambda self, *a, **k: fits.append(1) or real_fit(self, *a, **k))
    soon = time.monotonic() + 0.4 * 4.0  # under LEAST_START_SHARE of the 4 s limit
    with pytest.raises(TooSlowForLimit, match="boosting's first fit is not sized"):
        train(TreeEnsemble(12, 2), GBDT, data, deadline=soon, probe=True, **kwargs)
    assert not fits  # given up before any fit
    # the first model of a search (no probe) starts whatever is left, and so does one with time
    assert train(TreeEnsemble(12, 2), GBDT, data, deadline=soon, **kwargs).history
    later = time.monotonic() + 0.6 * 4.0
    assert train(TreeEnsemble(12, 2), GBDT, data, deadline=later, probe=True, **kwargs).history


def test_a_class_missing_from_the_training_rows_gets_no_probability():
    X, y = classes(3, nan=False)
    keep = y != 1
    data = tensors(X[keep], y[keep], 600)
    for model, params in ((TreeEnsemble(12, 3), GBDT), (LinearModel(12, 3), {"linear_alpha": 1.0})):
        result = train(
            model,
            params,
            data,
            loss_fn=nn.CrossEntropyLoss(),
            score_fn=accuracy(y[keep][600:]),
            max_epochs=5,
            patience=5,
            seed=0,
        )
        probs = torch.softmax(torch.as_tensor(result.val_output), dim=1)
        assert probs[:, 1].max() < 1e-6 and result.score > 0.7


@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_model_is_the_fitted_logistic_regression(n_classes):
    X, y = classes(n_classes, nan=False)
    data = tensors(X, y, 900)
    result = train(
        LinearModel(12, n_classes),
        {"linear_alpha": 0.5},
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[900:]),
        max_epochs=5,
        patience=5,
        seed=0,
    )
    reference = LogisticRegression(C=2.0, max_iter=500).fit(X[:900], y[:900])
    ours = torch.softmax(torch.as_tensor(result.val_output), dim=1).numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(X[900:]), atol=1e-4)
    assert result.best_epoch == 1 and len(result.history) == 1


def test_linear_regression_fits_several_targets_which_boosting_refuses():
    X, Y = make_regression(500, 8, n_targets=2, noise=1.0, random_state=0)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    data = tensors(X, Y, 400)
    kwargs = {"loss_fn": nn.MSELoss(), "score_fn": lambda out: 0.0, "max_epochs": 5, "patience": 5, "seed": 0}
    result = train(LinearModel(8, 2), {"linear_alpha": 1.0}, data, **kwargs)
    np.testing.assert_allclose(
        result.val_output,
        Ridge(alpha=1.0).fit(X[:400], Y[:400]).predict(X[400:]),
        rtol=1e-3,
        atol=1e-2,
    )
    with pytest.raises(ValueError, match="one target column; this task has 2"):
        train(TreeEnsemble(8, 2), GBDT, data, **kwargs)
