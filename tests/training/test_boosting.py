"""Boosted trees fitted by LightGBM on rows binned once, copied into a torch TreeEnsemble."""

import math
import threading
import time

import lightgbm
import numpy as np
import optuna
import pytest
import torch
from sklearn.datasets import make_classification, make_regression
from torch import nn

import automl_nas.nn._trees as trees_module
import automl_nas.training._boosting as boosting_module
from automl_nas.nn import FoldBag, TreeEnsemble
from automl_nas.space import BoostingSpace
from automl_nas.training import ROUNDS_PER_EPOCH, TensorData, TooSlowForLimit, train
from automl_nas.training._boosting import DATASET_PARAMS, load_lightgbm_trees
from tests.training._tables import accuracy, classes, tensors

GBDT = BoostingSpace().default_params()


def booster(X, y, objective, rounds, **extra):
    params = {**DATASET_PARAMS, **objective, "num_leaves": 15, "min_data_in_leaf": 5, **extra}
    return lightgbm.train(params, lightgbm.Dataset(X, label=y, params=params), rounds)


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("nan", [True, False])
def test_copied_trees_predict_as_lightgbm(n_classes, nan):
    X, y = classes(n_classes, nan=nan)
    objective = ({"objective": "binary"} if n_classes == 2
                 else {"objective": "multiclass", "num_class": n_classes})
    fitted = booster(X[:900], y[:900], objective, 30)
    columns = [1] if n_classes == 2 else list(range(n_classes))
    trees = TreeEnsemble(X.shape[1], n_classes)
    load_lightgbm_trees(trees, fitted, 30, columns)
    X_new = X[900:].copy()
    X_new[::5, 7] = np.nan  # NaN where training had none: LightGBM reads it as 0.0
    X_new[::7, 3] = 0.0
    ours = trees(torch.as_tensor(X_new)).detach().numpy()
    theirs = fitted.predict(X_new, raw_score=True).reshape(len(X_new), -1)
    np.testing.assert_allclose(ours[:, columns], theirs, rtol=1e-5, atol=1e-5)
    if n_classes == 2:
        assert (ours[:, 0] == 0).all()
    # fewer rounds: the first ones only
    load_lightgbm_trees(trees, fitted, 7, columns)
    theirs = fitted.predict(X_new, raw_score=True, num_iteration=7).reshape(len(X_new), -1)
    np.testing.assert_allclose(trees(torch.as_tensor(X_new)).detach().numpy()[:, columns],
                               theirs, rtol=1e-5, atol=1e-5)


def test_copied_regression_trees_predict_as_lightgbm_also_with_stumps():
    X, y = make_regression(800, 10, noise=5.0, random_state=0)
    X = X.astype(np.float32)
    fitted = booster(X, y, {"objective": "regression"}, 40)
    trees = TreeEnsemble(10, 1)
    load_lightgbm_trees(trees, fitted, 40, [0])
    ours = trees(torch.as_tensor(X)).detach().numpy().ravel()
    np.testing.assert_allclose(ours, fitted.predict(X), rtol=1e-4, atol=1e-3)
    # a constant target: every tree is one leaf
    flat = booster(X, np.full(len(X), 2.5), {"objective": "regression"}, 3)
    load_lightgbm_trees(trees, flat, 3, [0])
    np.testing.assert_allclose(trees(torch.as_tensor(X[:5])).detach().numpy().ravel(), 2.5)


def test_trees_walk_rows_in_parts_with_the_same_result(monkeypatch):
    X, y = classes(3)
    trees = TreeEnsemble(X.shape[1], 3)
    fitted = booster(X, y, {"objective": "multiclass", "num_class": 3}, 20)
    load_lightgbm_trees(trees, fitted, 20, [0, 1, 2])
    x = torch.as_tensor(X)
    whole, whole_double = trees(x), trees(x.double())
    monkeypatch.setattr(trees_module, "WALK_ENTRIES", 7 * trees.n_trees + 3)  # 7 rows a part
    torch.testing.assert_close(trees(x), whole, rtol=0, atol=0)
    torch.testing.assert_close(trees(x.double()), whole_double, rtol=0, atol=0)


class _Clock:
    """A fake ``time.monotonic`` that moves 1/64 s per boosting round (exact arithmetic)."""

    def __init__(self, monkeypatch):
        self.now = 0.0
        real_update = lightgbm.Booster.update

        def update(booster, *args, **kwargs):
            self.now += 1 / 64
            return real_update(booster, *args, **kwargs)

        monkeypatch.setattr(lightgbm.Booster, "update", update)
        monkeypatch.setattr(boosting_module, "time", self)

    def monotonic(self):
        return self.now


def slow_data():
    X, y = make_classification(3000, 12, n_informative=8, random_state=0)
    return tensors(X.astype(np.float32), y, 2400), y[2400:]


def test_boosting_stops_at_the_deadline_between_rounds(monkeypatch):
    clock = _Clock(monkeypatch)
    monkeypatch.setattr(boosting_module, "COPY_SECONDS_PER_LEAF", 0.0)
    data, y_val = slow_data()
    slow = {**GBDT, "gbdt_learning_rate": 0.01}  # the validation loss falls for every round
    result = train(
        TreeEnsemble(12, 2), slow, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y_val), max_epochs=100, patience=5, seed=0, deadline=155 / 64,
    )
    assert [r["epoch"] for r in result.history] == list(range(1, 17))  # 16: the last 5 rounds
    assert clock.now == 155 / 64 and result.stopped_by == "time_budget"
    assert result.model.n_trees == 155
    # a time limit ends it the same way, from the run's start
    clock.now = 0.0
    result = train(
        TreeEnsemble(12, 2), slow, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y_val), max_epochs=100, patience=5, seed=0, time_limit=40 / 64,
    )
    assert clock.now == 40 / 64 and result.model.n_trees == 40


def test_boosting_stops_the_seconds_its_copy_takes_before_the_deadline(monkeypatch):
    """Copying the trees into the TreeEnsemble runs after the last round: it must end by the
    deadline, not begin there."""
    clock = _Clock(monkeypatch)
    leaves = GBDT["gbdt_max_leaf_nodes"]  # per round of a binary task: one tree
    monkeypatch.setattr(boosting_module, "COPY_SECONDS_PER_LEAF", 1 / 64 / leaves)
    data, y_val = slow_data()
    slow = {**GBDT, "gbdt_learning_rate": 0.01}
    result = train(
        TreeEnsemble(12, 2), slow, data, loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y_val), max_epochs=100, patience=5, seed=0, deadline=155 / 64,
    )
    # after 78 rounds (78 / 64 s) their copy would take 78 / 64 s more: past 155 / 64
    assert result.model.n_trees == 78 and clock.now == 78 / 64
    assert result.stopped_by == "time_budget"


def test_a_first_model_boosts_an_epoch_past_the_deadline_a_probe_gives_up(monkeypatch):
    clock = _Clock(monkeypatch)
    data, y_val = slow_data()
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y_val), "max_epochs": 100,
              "patience": 5, "seed": 0, "deadline": 0.0}
    first = train(TreeEnsemble(12, 2), GBDT, data, **kwargs)
    assert first.model.n_trees == ROUNDS_PER_EPOCH and first.stopped_by == "time_budget"
    # a probe (a later trial, a refit) reaching the end before its first round: too slow
    with pytest.raises(TooSlowForLimit, match="before the first round"):
        train(TreeEnsemble(12, 2), GBDT, data, probe=True, **kwargs)
    clock.now = 0.0
    probe = train(TreeEnsemble(12, 2), GBDT, data, probe=True, **{**kwargs, "deadline": 3 / 64})
    assert probe.model.n_trees == 3 and len(probe.history) == 1


def test_boosting_trial_reports_epochs_keeps_the_best_round_and_reloads():
    X, y = classes(3)
    data = tensors(X, y, 900)
    reported = []
    result = train(
        TreeEnsemble(12, 3),
        {**GBDT, "gbdt_learning_rate": 0.3},
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[900:]),
        max_epochs=30,
        patience=5,
        seed=0,
        on_epoch=lambda epoch, record: reported.append((epoch, record["val_loss"])),
    )
    epochs = [epoch for epoch, _ in reported]
    assert epochs == sorted(set(epochs)) and epochs[0] == 1  # one report per new epoch
    assert result.score > 0.7 and result.stopped_by == "early_stopping"
    rounds = result.model.n_trees // 3
    assert math.ceil(rounds / ROUNDS_PER_EPOCH) == result.best_epoch
    assert epochs[-1] * ROUNDS_PER_EPOCH >= rounds + boosting_module.EARLY_STOPPING_ROUNDS - 9
    loss = nn.CrossEntropyLoss()(torch.as_tensor(result.val_output), data.y_val).item()
    assert loss <= min(val_loss for _, val_loss in reported) + 1e-6  # the best round is kept
    loaded = TreeEnsemble(12, 3)  # as a trial file is read: unfitted, shapes from the state
    loaded.load_state_dict(result.model.state_dict())
    bag = FoldBag([TreeEnsemble(12, 3), TreeEnsemble(12, 3)])
    bag.load_state_dict(FoldBag([result.model, result.model]).state_dict())
    X_val = data.X_val
    torch.testing.assert_close(loaded(X_val), result.model(X_val))
    torch.testing.assert_close(bag(X_val), result.model(X_val))
    ours = result.model(X_val).detach().numpy()  # LightGBM scored the validation rows
    np.testing.assert_allclose(result.val_output, ours, rtol=1e-5, atol=1e-5)


def test_extra_trees_reach_lightgbm_and_trials_stored_without_the_choice_boost_without_them():
    X, y = classes(2)
    data = tensors(X, y, 900)
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y[900:]), "max_epochs": 5,
              "patience": 5, "seed": 0}
    results = {
        extra: train(TreeEnsemble(12, 2), {**GBDT, "gbdt_extra_trees": extra}, data, **kwargs)
        for extra in (False, True)
    }
    stored = {k: v for k, v in GBDT.items() if k != "gbdt_extra_trees"}  # a trial from before
    old = train(TreeEnsemble(12, 2), stored, data, **kwargs)
    np.testing.assert_array_equal(old.val_output, results[False].val_output)
    assert not np.allclose(results[True].val_output, results[False].val_output)
    for result in results.values():  # the copied trees predict as LightGBM scored
        ours = result.model(data.X_val).detach().numpy()
        np.testing.assert_allclose(result.val_output, ours, rtol=1e-5, atol=1e-5)
        assert result.score > 0.7


def test_boosting_prunes_through_on_epoch():
    X, y = classes(2)
    data = tensors(X, y, 900)

    def prune(epoch, record):
        raise optuna.TrialPruned()

    with pytest.raises(optuna.TrialPruned):
        train(TreeEnsemble(12, 2), GBDT, data, on_epoch=prune, loss_fn=nn.CrossEntropyLoss(),
              score_fn=accuracy(y[900:]), max_epochs=100, patience=5, seed=0)


def test_a_boosting_run_that_may_give_up_does_not_start_without_half_its_time(monkeypatch):
    X, y = classes(2)
    data = tensors(X, y, 900)
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y[900:]), "max_epochs": 100,
              "patience": 5, "seed": 0, "time_limit": 4.0}
    rounds = []
    real_update = lightgbm.Booster.update
    monkeypatch.setattr(lightgbm.Booster, "update",
                        lambda self, *a, **k: rounds.append(1) or real_update(self, *a, **k))
    soon = time.monotonic() + 0.4 * 4.0  # under LEAST_START_SHARE of the 4 s limit
    with pytest.raises(TooSlowForLimit, match="binning is not sized"):
        train(TreeEnsemble(12, 2), GBDT, data, deadline=soon, probe=True, **kwargs)
    assert not rounds  # given up before any round
    # the first model of a search (no probe) starts whatever is left, and so does one with time
    assert train(TreeEnsemble(12, 2), GBDT, data, deadline=soon, **kwargs).history
    later = time.monotonic() + 0.6 * 4.0
    assert train(TreeEnsemble(12, 2), GBDT, data, deadline=later, probe=True, **kwargs).history


def record_binnings(monkeypatch):
    """Every LightGBM binning from here on, as (rows, whether it found its own bins: no
    ``reference`` to take them from)."""
    built = []
    real_construct = lightgbm.Dataset.construct

    def construct(self):
        if self._handle is None:
            built.append((len(self.data), self.reference is None))
        return real_construct(self)

    monkeypatch.setattr(lightgbm.Dataset, "construct", construct)
    return built


def test_the_rows_are_binned_once_and_trials_at_once_match_trials_one_by_one(monkeypatch):
    X, y = classes(3, n=3000)
    data = tensors(X, y, 2400)
    binnings = record_binnings(monkeypatch)

    def own_bins():
        return [rows for rows, own in binnings if own]

    configs = [{**GBDT, "gbdt_learning_rate": lr, "gbdt_min_samples_leaf": leaf}
               for lr, leaf in ((0.1, 5), (0.2, 40), (0.05, 2), (0.3, 100))]
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y[2400:]),
              "max_epochs": 8, "patience": 5, "seed": 0}
    one_by_one = [train(TreeEnsemble(12, 3), p, data, **kwargs).val_output for p in configs]
    assert own_bins() == [2400]  # one binning for four trials, each with its own min_data_in_leaf
    at_once = [None] * len(configs)

    def run(i):
        at_once[i] = train(TreeEnsemble(12, 3), configs[i], data, **kwargs).val_output

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(configs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for ours, theirs in zip(at_once, one_by_one, strict=True):
        np.testing.assert_array_equal(ours, theirs)
    assert len({float(np.abs(out).sum()) for out in one_by_one}) == len(configs)
    # other rows (a low-fidelity subsample, a refit's rows): binned on their own
    kwargs["score_fn"] = accuracy(y[1500:2000])
    train(TreeEnsemble(12, 3), GBDT, tensors(X[:2000], y[:2000], 1500), **kwargs)
    assert own_bins() == [2400, 1500]


def test_training_rows_validated_on_the_same_rows_take_the_first_bins(monkeypatch):
    """A low-fidelity subsample, then all training rows, then a refit's training + validation
    rows: the validation rows are binned once, with the first rows' bins, for all three."""
    X, y = classes(2, n=3000)
    full = tensors(X, y, 2400)
    subsample = TensorData(full.X_train[:1200], full.y_train[:1200], full.X_val, full.y_val)
    refit = TensorData(torch.as_tensor(X), torch.as_tensor(y), full.X_val, full.y_val)
    built = record_binnings(monkeypatch)
    kwargs = {"loss_fn": nn.CrossEntropyLoss(), "score_fn": accuracy(y[2400:]),
              "max_epochs": 4, "patience": 5, "seed": 0}
    for data in (subsample, full, refit):
        train(TreeEnsemble(12, 2), GBDT, data, **kwargs)
    # the subsample's own bins; the validation rows and every later set binned with them
    assert built == [(1200, True), (600, False), (2400, False), (3000, False)]
    sets = [boosting_module.binned_rows(data) for data in (subsample, full, refit)]
    assert sets[0][1] is sets[1][1] is sets[2][1]
    # LightGBM's loss on the shared binned validation rows is the loss of its prediction on
    # the raw rows: the bins agree (a validation set binned otherwise would differ)
    params = {**DATASET_PARAMS, "objective": "binary", "num_leaves": 15, "verbosity": -1}
    for train_set, val_set in sets[1:]:
        booster = lightgbm.Booster(params, train_set)
        booster.add_valid(val_set, "validation")
        for _ in range(15):
            booster.update()
        p = np.clip(booster.predict(full.X_val.numpy()), 1e-15, 1 - 1e-15)
        y_val = full.y_val.numpy()
        logloss = -np.mean(y_val * np.log(p) + (1 - y_val) * np.log(1 - p))
        assert booster.eval_valid()[0][2] == pytest.approx(logloss, rel=1e-6)
