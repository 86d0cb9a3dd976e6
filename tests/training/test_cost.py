"""The least time a network's epoch can take, judged before its first step."""

from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from automl_nas.training import TensorData, TooSlowForLimit, train
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
    # a limit whose half is below the least epoch: decided before any step, nothing trained
    with pytest.raises(TooSlowForLimit, match="at least .* at this machine's") as caught:
        train(model, PARAMS, data, time_limit=least, probe=True, **kwargs)
    assert caught.value.epoch_seconds == pytest.approx(least)
    assert all(torch.equal(p, w) for p, w in zip(model.parameters(), weights))
    # the first network of a search (no probe) trains whatever its cost
    assert len(train(model, PARAMS, data, time_limit=least, **kwargs).history) == 1
