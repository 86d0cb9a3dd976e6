"""train_stacked: each member trains as it would alone; members end alone (pruned, diverged)."""

from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch
from torch import nn

from automl_nas.space import TabularSpace
from automl_nas.space._base import DataFacts
from automl_nas.training import TensorData, train, train_stacked

D = 8
_g = torch.Generator().manual_seed(0)
_X = torch.randn(400, D, generator=_g)
_y = (_X[:, 0] + 0.5 * _X[:, 1] ** 2 > 0.3).long()
DATA = TensorData(_X[:300], _y[:300], _X[300:], _y[300:])
SPACE = TabularSpace().for_data(DataFacts(300, D, tuple(range(D)), "classification", 2))
BASE = {**SPACE.start_params()[0], "dropout": 0.0, "epochs": 6, "batch_size": 64}
RECIPES = [
    {"schedule": "cosine", "grad_clip": 1.0, "label_smoothing": 0.1, "lr": 1e-3, "weight_decay": 1e-4},
    {"schedule": "flat_cosine", "grad_clip": 0.0, "label_smoothing": 0.0, "lr": 3e-3, "weight_decay": 1e-3},
    {"schedule": "constant", "grad_clip": 1.0, "label_smoothing": 0.05, "lr": 5e-3, "weight_decay": 0.0,
     "epochs": 4},
]


def accuracy(out: torch.Tensor) -> float:
    return float((out.argmax(1) == DATA.y_val).float().mean())


def build(config: dict, seed: int) -> nn.Module:
    torch.manual_seed(seed)
    return SPACE.build(config, (D,), 2)


def stacked(configs, **kwargs):
    nets = [build(c, 100 + i) for i, c in enumerate(configs)]
    kwargs = {"max_epochs": 50, "patience": 50, **kwargs}
    return train_stacked(
        nets, configs, DATA, loss_fn=nn.CrossEntropyLoss(), score_fns=[accuracy] * len(configs),
        seed=7, **kwargs,
    )


def alone(config: dict, index: int, **kwargs):
    return train(
        build(config, 100 + index), config, DATA, loss_fn=nn.CrossEntropyLoss(), score_fn=accuracy,
        max_epochs=50, patience=50, seed=7, **kwargs,
    )


@pytest.mark.parametrize("optimizer", ["adam", "adamw", "sgd"])
@pytest.mark.parametrize("norm", ["none", "batch"])
def test_each_member_trains_as_it_would_alone_with_the_same_seed(optimizer, norm):
    configs = [{**BASE, **r, "optimizer": optimizer, "norm": norm} for r in RECIPES]
    results = stacked(configs)
    # Batch statistics computed by other kernels round differently, and Adam's normalised
    # steps carry that rounding on: measured up to 1.3e-3 relative after 4 epochs.
    rtol = 1e-4 if norm == "none" else 1e-2
    for i, config in enumerate(configs):
        solo = alone(config, i)
        got = results[i]
        assert len(got.history) == len(solo.history) == config["epochs"]
        np.testing.assert_allclose(
            [h["val_loss"] for h in got.history], [h["val_loss"] for h in solo.history], rtol=rtol, atol=1e-5
        )
        assert got.best_epoch == solo.best_epoch
        np.testing.assert_allclose(got.val_output, solo.val_output, rtol=10 * rtol, atol=10 * rtol)
        # the member's own network holds its best weights, on CPU, ready to predict
        with torch.no_grad():
            np.testing.assert_allclose(got.model(DATA.X_val).numpy(), got.val_output, rtol=1e-4, atol=1e-5)


def test_a_diverging_member_fails_alone_and_the_others_are_untouched():
    configs = [{**BASE, **RECIPES[0]}, {**BASE, **RECIPES[0], "optimizer": "sgd", "lr": 1e30}]
    good, bad = stacked(configs)
    assert isinstance(bad, FloatingPointError) and "diverged" in str(bad)
    solo = alone(configs[0], 0)
    np.testing.assert_allclose(good.val_output, solo.val_output, rtol=1e-3, atol=1e-4)


def test_a_member_whose_callback_raises_leaves_and_the_rest_go_on():
    class Pruned(Exception):
        pass

    seen: list[int] = []

    def prune_at_two(epoch, record):
        seen.append(epoch)
        if epoch == 2:
            raise Pruned("pruned at epoch 2")

    configs = [{**BASE, **RECIPES[0]}, {**BASE, **RECIPES[1]}]
    kept, pruned = stacked(configs, on_epochs=[None, prune_at_two])
    assert isinstance(pruned, Pruned) and seen == [1, 2]
    assert len(kept.history) == BASE["epochs"]
    np.testing.assert_allclose(kept.val_output, alone(configs[0], 0).val_output, rtol=1e-3, atol=1e-4)


def test_the_deadline_stops_every_member_with_its_best_weights():
    configs = [{**BASE, **r, "epochs": 10_000} for r in RECIPES[:2]]
    started = time.monotonic()
    # no cap but the deadline: 50 epochs of 300 rows can end within a second on a fast machine
    results = stacked(configs, deadline=started + 1.0, max_epochs=10_000, patience=10_000)
    assert time.monotonic() - started < 10
    for result in results:
        assert result.stopped_by == "time_budget"
        best = min(result.history, key=lambda h: h["val_loss"])
        assert result.best_epoch == best["epoch"]
        with torch.no_grad():
            out = result.model(DATA.X_val)
        assert math.isclose(float(nn.functional.cross_entropy(out, DATA.y_val)), best["val_loss"], rel_tol=1e-4)


def test_a_time_limit_fits_each_members_epochs_to_it():
    configs = [{**BASE, **RECIPES[0], "epochs": 10_000}] * 2
    started = time.monotonic()
    results = stacked(configs, time_limits=[1.0, 1.0], max_epochs=10_000, patience=10_000)
    assert time.monotonic() - started < 10
    assert all(r.stopped_by == "epochs" and 1 <= len(r.history) < 10_000 for r in results)


@pytest.mark.parametrize(
    "architecture",
    [{"ensemble_k": 4}, {"embedding": "piecewise", "d_embedding": 8}, {"embedding": "periodic", "d_embedding": 8}],
)
def test_vmapped_members_train_as_they_would_alone(architecture):
    configs = [{**BASE, **r, **architecture, "optimizer": "adamw"} for r in RECIPES[:2]]
    results = stacked(configs)
    for i, config in enumerate(configs):
        solo = alone(config, i)
        np.testing.assert_allclose(
            [h["val_loss"] for h in results[i].history], [h["val_loss"] for h in solo.history],
            rtol=1e-4, atol=1e-5,
        )
        np.testing.assert_allclose(results[i].val_output, solo.val_output, rtol=1e-3, atol=1e-3)
