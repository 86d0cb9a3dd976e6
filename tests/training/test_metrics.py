"""The numpy classification metrics give scikit-learn's values (balanced accuracy of the
decision it rewards, argmax of probability over class share)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics

from automl_nas.training import CLASSIFICATION_METRICS, rebalanced

REFERENCE = {
    "accuracy": lambda y, p: metrics.accuracy_score(y, p.argmax(1)),
    "balanced_accuracy": lambda y, p: metrics.balanced_accuracy_score(  # every class in y
        y, (p / np.bincount(y, minlength=p.shape[1])).argmax(1)
    ),
    "log_loss": lambda y, p: metrics.log_loss(y, p, labels=np.arange(p.shape[1])),
}


def _case(seed: int, n: int, n_classes: int, dtype: type) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    logits = rng.normal(scale=3.0, size=(n, n_classes))
    logits[np.arange(n), y] += rng.normal(1.0, 1.0, n)
    proba = softmax(logits, axis=1).astype(dtype)
    proba[0] = 0.0  # a row sure of one class (clipping) ...
    proba[0, (y[0] + 1) % n_classes] = 1.0  # ... and wrong
    return y, proba


@pytest.mark.parametrize("name", sorted(REFERENCE))
@pytest.mark.parametrize("n_classes", [2, 3, 10])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_metric_equals_scikit_learn(name, n_classes, dtype):
    for seed in range(5):
        y, proba = _case(seed, 270, n_classes, dtype)
        ours, ref = CLASSIFICATION_METRICS[name](y, proba), REFERENCE[name](y, proba)
        assert ours == pytest.approx(ref, rel=1e-6 if dtype is np.float32 else 1e-12)


def test_rebalanced_names_a_rare_class_argmax_never_names():
    y = np.array([0] * 8 + [1] * 2)
    proba = np.tile([0.7, 0.3], (10, 1))
    proba[8:] = [0.6, 0.4]  # the rare class's rows: more likely than its share, never likeliest
    assert (proba.argmax(1) == 0).all()
    assert rebalanced(proba, np.array([0.8, 0.2])).tolist() == [1] * 10
    # below its share (0.15 < 0.2) the rare class is not named
    assert rebalanced(np.array([[0.85, 0.15]]), np.array([0.8, 0.2])).tolist() == [0]
    assert CLASSIFICATION_METRICS["balanced_accuracy"](y, proba) == 0.5  # all rows called rare
    proba[:8] = [0.9, 0.1]
    assert CLASSIFICATION_METRICS["balanced_accuracy"](y, proba) == 1.0
    assert metrics.balanced_accuracy_score(y, proba.argmax(1)) == 0.5


def test_balanced_accuracy_never_decides_for_a_class_absent_from_y():
    y = np.array([0, 0, 1, 1])
    proba = np.array([[0.6, 0.3, 0.1, 0.0], [0.1, 0.0, 0.9, 0.0], [0.2, 0.7, 0.1, 0.0],
                      [0.0, 0.1, 0.0, 0.9]])  # rows 1 and 3 most likely in classes y never has
    assert rebalanced(proba, np.array([0.5, 0.5, 0.0, 0.0])).tolist() == [0, 0, 1, 1]
    assert CLASSIFICATION_METRICS["balanced_accuracy"](y, proba) == 1.0
