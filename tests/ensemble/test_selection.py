"""greedy_ensemble, EnsembleModel and the MemoryTrialStore's memory bound, without a search."""

from __future__ import annotations

import gc
import os

import numpy as np
import pytest
import torch
from scipy.special import softmax
from torch import nn

from automl_nas.ensemble import EnsembleModel, greedy_ensemble
from automl_nas.search import MemoryTrialStore, TrialModel, model_bytes
from automl_nas.training import CLASSIFICATION_METRICS, REGRESSION_METRICS

RMSE = REGRESSION_METRICS["rmse"]
R2 = REGRESSION_METRICS["r2"]
LOG_LOSS = CLASSIFICATION_METRICS["log_loss"]
ACCURACY = CLASSIFICATION_METRICS["accuracy"]


def _regression_candidates(seed: int = 0):
    """y and three candidates whose best mix is 1/3 * a + 2/3 * b (their errors cancel)."""
    rng = np.random.default_rng(seed)
    y = rng.normal(size=500)
    u = rng.normal(size=500)
    return y, [y + 2 * u, y - u, y + 5 * u]


@pytest.mark.parametrize("rounds", [3, 9, 30])
def test_regression_recovers_the_known_best_mix(rounds):
    y, preds = _regression_candidates()
    weights = greedy_ensemble(preds, y, RMSE, rounds)
    np.testing.assert_allclose(weights, [1 / 3, 2 / 3, 0.0])
    assert RMSE(y, np.tensordot(weights, np.stack(preds), 1)) < 1e-12


def test_with_replacement_and_weights_are_counts_over_rounds():
    y, preds = _regression_candidates()
    weights = greedy_ensemble(preds, y, R2, rounds=7)  # maximised metric, odd rounds
    assert weights.sum() == pytest.approx(1.0)
    counts = weights * 7
    np.testing.assert_allclose(counts, np.round(counts))
    assert counts.max() > 1  # a candidate was picked more than once


def _multiclass_candidates(seed: int, n_classes: int = 3, n: int = 600):
    """Two specialists (each sure and right on its half of the rows, guessing on the other)
    and one uninformative candidate: the even mix of the specialists is right almost always."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    half = np.arange(n) < n // 2

    def specialist(good: np.ndarray) -> np.ndarray:
        logits = rng.normal(scale=0.3, size=(n, n_classes))
        logits[np.flatnonzero(good), y[good]] += 2.0
        return softmax(logits, axis=1)

    return y, [specialist(half), specialist(~half), np.full((n, n_classes), 1 / n_classes)]


@pytest.mark.parametrize("n_classes", [2, 3])
@pytest.mark.parametrize("metric", [LOG_LOSS, ACCURACY])
def test_classification_mixes_the_specialists(n_classes, metric):
    y, preds = _multiclass_candidates(0, n_classes)
    weights = greedy_ensemble(preds, y, metric, rounds=10)
    assert weights.sum() == pytest.approx(1.0)
    assert weights[0] > 0 and weights[1] > 0
    if metric is LOG_LOSS:  # under accuracy the uniform candidate is a harmless no-op
        assert weights[2] == 0
    mix = np.tensordot(weights, np.stack(preds), 1)
    single = [metric(y, p) for p in preds]
    best_single = max(single) if metric.maximize else min(single)
    assert (metric(y, mix) > best_single) if metric.maximize else (metric(y, mix) < best_single)


def test_deterministic_for_a_seed_and_ties_go_to_the_first_candidate():
    y, preds = _multiclass_candidates(seed=3)
    first = greedy_ensemble(preds, y, ACCURACY, rounds=20)
    np.testing.assert_array_equal(first, greedy_ensemble(preds, y, ACCURACY, rounds=20))
    # Two identical candidates tie in every round: the earlier one takes all the weight.
    np.testing.assert_array_equal(greedy_ensemble([preds[0], preds[0]], y, LOG_LOSS, 5), [1.0, 0.0])


def test_one_round_is_the_single_best_candidate():
    y, preds = _regression_candidates()
    np.testing.assert_array_equal(greedy_ensemble(preds[::-1], y, RMSE, rounds=1), [0, 1, 0])


def test_sorted_initialisation_starts_from_the_best():
    y, preds = _regression_candidates()
    # The two best alone are b (rmse 1) then a (rmse 2); from there greedy completes the mix.
    np.testing.assert_allclose(greedy_ensemble(preds, y, RMSE, 2, n_init=2), [0.5, 0.5, 0.0])
    np.testing.assert_allclose(greedy_ensemble(preds, y, RMSE, 3, n_init=3), [1 / 3] * 3)


def test_bad_arguments_are_named():
    y, preds = _regression_candidates()
    with pytest.raises(ValueError, match="rounds must be >= 1"):
        greedy_ensemble(preds, y, RMSE, 0)
    with pytest.raises(ValueError, match="at least one candidate"):
        greedy_ensemble([], y, RMSE, 3)
    with pytest.raises(ValueError, match="n_init"):
        greedy_ensemble(preds, y, RMSE, 3, n_init=4)


def _net(seed: int, width: int = 4) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(3, width), nn.ReLU(), nn.Linear(width, 2)).double().eval()


def test_ensemble_model_averages_decoded_outputs():
    X = np.random.default_rng(0).normal(size=(7, 3))
    nets = [_net(0), _net(1)]
    decode = lambda out: softmax(out, axis=1)
    model = EnsembleModel(nets, [3, 1], decode=decode, numbers=[5, 2])
    np.testing.assert_allclose(model.weights, [0.75, 0.25])
    with torch.no_grad():
        probas = [decode(net(torch.as_tensor(X)).numpy()) for net in nets]
    np.testing.assert_allclose(model.predict_output(X), 0.75 * probas[0] + 0.25 * probas[1])
    single = EnsembleModel(nets[:1], [1.0], decode=decode, numbers=[5])
    np.testing.assert_array_equal(single.predict_output(X), probas[0])
    with pytest.raises(ValueError, match="one weight"):
        EnsembleModel(nets, [1.0], decode=decode, numbers=[5, 2])


def _entry(number: int, value: float) -> TrialModel:
    return TrialModel(number, value, {}, _net(number, width=64), np.zeros(3), 0, best_epoch=1)


def test_model_store_keeps_the_best_and_spills_past_its_memory_limit():
    size = model_bytes(_net(0, width=64))
    store = MemoryTrialStore(keep=3, maximize=True, memory_limit=int(1.5 * size))
    for number, value in enumerate([0.1, 0.5, 0.3, 0.9, 0.2]):
        store.offer(_entry(number, value))
    ranked = store.ranked()
    assert [e.number for e in ranked] == [3, 1, 2]
    assert ranked[0].model is not None  # the best stays in memory
    assert ranked[1].model is None and ranked[2].model is None
    spill_dir = os.path.dirname(ranked[1].path)
    assert sorted(os.listdir(spill_dir)) == ["trial_1.pt", "trial_2.pt"]  # dropped trials' files go
    reloaded = ranked[1].load_model()
    for a, b in zip(reloaded.state_dict().values(), _net(1, width=64).state_dict().values()):
        torch.testing.assert_close(a, b)
    del store, ranked
    gc.collect()
    assert not os.path.exists(spill_dir)
