"""The trainer's optimizer (fused where torch can) and its per-epoch record."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from automl_nas.training import TensorData, train
from automl_nas.training._trainer import make_optimizer

PARAMS = {"lr": 1e-2, "weight_decay": 1e-4, "batch_size": 16, "epochs": 3}


@pytest.mark.parametrize("name", ["adamw", "adam", "sgd"])
def test_optimizer_is_fused_on_cpu(name):
    optimizer = make_optimizer(nn.Linear(3, 2), {**PARAMS, "optimizer": name})
    assert optimizer.defaults["fused"] is True


def test_optimizer_falls_back_where_there_is_no_fused_kernel(monkeypatch):
    class NoFusedKernel(torch.optim.AdamW):
        def __init__(self, params, fused=None, **options):
            if fused:
                raise RuntimeError("`fused=True` requires all the params to be floating point")
            super().__init__(params, **options)

    monkeypatch.setattr(torch.optim, "AdamW", NoFusedKernel)
    optimizer = make_optimizer(nn.Linear(3, 2), {**PARAMS, "optimizer": "adamw"})
    assert type(optimizer) is NoFusedKernel and not optimizer.defaults["fused"]
    assert len(optimizer.param_groups[0]["params"]) == 2  # weight and bias, not an empty list


def test_history_holds_the_mean_training_loss_per_epoch():
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(50, 4, generator=generator)
    y = (X[:, 0] > 0).long()
    data = TensorData(X[:40], y[:40], X[40:], y[40:])
    torch.manual_seed(0)
    result = train(
        nn.Linear(4, 2),
        {**PARAMS, "optimizer": "adamw"},
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=lambda out: (out.argmax(1) == data.y_val).float().mean().item(),
        max_epochs=3,
        patience=5,
        seed=0,
    )
    losses = [row["train_loss"] for row in result.history]
    assert len(losses) == 3 and all(type(v) is float and math.isfinite(v) for v in losses)
    assert losses[-1] < losses[0]
