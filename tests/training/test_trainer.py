"""The trainer's optimizer (fused where torch can), its per-epoch record, and its randomness."""

from __future__ import annotations

import copy
import math
import threading

import pytest
import torch
from torch import nn

from automl_nas.nn import MLP
from automl_nas.training import TensorData, forward_all, train
from automl_nas.training._trainer import EVAL_CELLS, EVAL_CHUNK, make_optimizer

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


def test_a_run_repeats_from_its_seed_whatever_trains_beside_it():
    """Batch order and dropout masks come from the run's seed, not torch's global generator:
    two dropout networks trained at once in two threads end with the weights each gets when
    trained alone (initial weights equal, global generator disturbed in between)."""
    generator = torch.Generator().manual_seed(0)
    X = torch.randn(400, 6, generator=generator)
    y = (X[:, 0] + X[:, 1] > 0).long()
    data = TensorData(X[:300], y[:300], X[300:], y[300:])
    torch.manual_seed(0)
    start = MLP(6, [32, 32], 2, dropout=0.5)
    params = {**PARAMS, "optimizer": "adamw", "epochs": 4}

    def run(seed: int) -> nn.Module:
        return train(
            copy.deepcopy(start), params, data, loss_fn=nn.CrossEntropyLoss(),
            score_fn=lambda out: 0.0, max_epochs=4, patience=10, seed=seed,
        ).model

    alone = {seed: run(seed) for seed in (1, 2)}
    beside: dict[int, nn.Module] = {}
    threads = [threading.Thread(target=lambda s=s: beside.__setitem__(s, run(s))) for s in (1, 2)]
    for thread in threads:
        thread.start()
    torch.rand(10_000)  # the global generator moves while they train
    for thread in threads:
        thread.join()
    for seed in (1, 2):
        for a, b in zip(alone[seed].parameters(), beside[seed].parameters()):
            assert torch.equal(a, b)
    first = [p for p in alone[1].parameters()][0]
    assert not torch.equal(first, [p for p in alone[2].parameters()][0])  # seeds differ


@pytest.mark.parametrize(("columns", "k"), [(20, 1), (20, 4), (3_000, 1), (3_000, 4)])
def test_scoring_passes_hold_at_most_eval_cells_input_cells_per_member(columns, k):
    """A wide table is scored in fewer rows per pass (its input layer copies whole passes);
    a narrow one keeps EVAL_CHUNK rows, and members divide either."""
    model = nn.Linear(columns, 2)
    model.k = k
    passes: list[int] = []
    model.register_forward_pre_hook(lambda module, args: passes.append(len(args[0])))
    X = torch.randn(10_000, columns)
    out = forward_all(model, X)
    rows = max(passes)
    assert passes[0] == rows and sum(passes) == len(X)
    if columns == 3_000:
        assert rows * k * columns <= EVAL_CELLS < EVAL_CHUNK * columns
    else:
        assert rows == EVAL_CHUNK // k
    torch.testing.assert_close(out, model(X), rtol=1e-5, atol=1e-5)
