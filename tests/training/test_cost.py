"""The least time a network's epoch can take, judged before its first step."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from automl_nas.training import TensorData, TooSlowForLimit, train
from automl_nas.training import _cost as cost
from automl_nas.training._cost import (
    RATE_MARGIN,
    TRAIN_PASSES,
    dense_rate,
    forward_flops_per_row,
    least_epoch_seconds,
)

PARAMS = {"lr": 1e-3, "weight_decay": 0.0, "batch_size": 256, "epochs": 1, "optimizer": "adam"}


def table(rows: int, columns: int) -> TensorData:
    g = torch.Generator().manual_seed(0)
    X = torch.randn(rows + rows // 4, columns, generator=g)
    y = (X[:, 0] > 0).long()
    return TensorData(X[:rows], y[:rows], X[rows:], y[rows:])


def wide(columns: int, width: int) -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Linear(columns, width), nn.BatchNorm1d(width), nn.ReLU(),
        nn.Linear(width, width), nn.ReLU(), nn.Linear(width, 2),
    )


def test_operations_per_row_are_the_matrix_products_and_leave_the_model_as_it_was():
    model = wide(10, 32)
    norm = model[1]
    before = norm.running_mean.clone()
    flops = forward_flops_per_row(model, torch.randn(50, 10))
    assert flops == 2 * (10 * 32 + 32 * 32 + 32 * 2)
    assert model.training and torch.equal(norm.running_mean, before)
    assert forward_flops_per_row(model.eval(), torch.randn(3, 10)) == flops
    assert not model.training
    assert forward_flops_per_row(model, torch.empty(0, 10)) == 0.0


def test_the_least_epoch_is_the_training_and_scoring_work_at_the_margined_rate():
    model, X = wide(10, 32), torch.randn(1_000, 10)
    per_row = forward_flops_per_row(model, X)
    expected = per_row * (TRAIN_PASSES * 1_000 + 300) / (RATE_MARGIN * dense_rate(X.device))
    assert least_epoch_seconds(model, X, 300) == pytest.approx(expected)
    assert dense_rate(X.device) > 1e8  # any CPU of this decade multiplies faster


def test_a_real_epoch_takes_longer_than_its_least():
    data = table(4_000, 64)
    model = wide(64, 512)
    least = least_epoch_seconds(model, data.X_train, len(data.X_val))
    started = time.perf_counter()
    train(model, PARAMS, data, loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0,
          max_epochs=1, patience=1, seed=0)
    assert 0 < least < time.perf_counter() - started


def test_a_probed_network_far_too_slow_gives_up_before_its_first_step():
    data = table(4_000, 64)
    model = wide(64, 1_024)
    weights = [p.detach().clone() for p in model.parameters()]
    least = least_epoch_seconds(model, data.X_train, len(data.X_val))
    kwargs = dict(loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0, max_epochs=1,
                  patience=1, seed=0)
    # a limit whose half is far below the least epoch (even if a second measurement of the
    # rate comes out much faster): decided before any step, nothing trained
    with pytest.raises(TooSlowForLimit, match="at least .* at this machine's") as caught:
        train(model, PARAMS, data, time_limit=least / 10, probe=True, **kwargs)
    assert 0 < caught.value.epoch_seconds <= least
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights))
    # the first network of a search (no probe) trains whatever its cost
    assert len(train(model, PARAMS, data, time_limit=least / 10, **kwargs).history) == 1


def test_the_rate_is_remeasured_on_request_and_the_best_kept(monkeypatch):
    measured = iter([10.0, 5.0, 20.0])
    monkeypatch.setattr(cost, "_rates", {})
    monkeypatch.setattr(cost, "_measure_rate", lambda device: next(measured))
    cpu = torch.device("cpu")
    assert dense_rate(cpu) == 10.0 and dense_rate(cpu) == 10.0  # measured once
    assert dense_rate(cpu, remeasure=True) == 10.0  # a slower measurement is not kept
    assert dense_rate(cpu, remeasure=True) == 20.0


def test_a_rate_measured_at_a_bad_moment_does_not_prune_a_network_that_fits(monkeypatch):
    data = table(4_000, 64)
    model = wide(64, 256)
    kwargs = dict(loss_fn=nn.CrossEntropyLoss(), score_fn=lambda out: 0.0, max_epochs=2,
                  patience=2, seed=0)
    # as if the first measurement had run at a hundred-thousandth of the machine's speed
    key = (torch.device("cpu"), torch.get_num_threads())
    monkeypatch.setattr(cost, "_rates", {key: dense_rate(key[0]) / 100_000})
    assert least_epoch_seconds(model, data.X_train, len(data.X_val)) > 100.0
    result = train(model, {**PARAMS, "epochs": 2}, data, time_limit=20.0, probe=True, **kwargs)
    assert len(result.history) == 2  # the second measurement decided: it trained
