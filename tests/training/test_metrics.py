"""The numpy classification metrics give scikit-learn's values."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn import metrics

from automl_nas.training import CLASSIFICATION_METRICS

REFERENCE = {
    "accuracy": lambda y, p: metrics.accuracy_score(y, p.argmax(1)),
    "balanced_accuracy": lambda y, p: metrics.balanced_accuracy_score(y, p.argmax(1)),
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


def test_balanced_accuracy_ignores_predicted_classes_absent_from_y():
    y = np.array([0, 0, 1, 1])
    proba = np.eye(4)[[0, 2, 1, 3]]  # predicts classes 2 and 3, which y never has
    ours = CLASSIFICATION_METRICS["balanced_accuracy"](y, proba)
    with pytest.warns(UserWarning, match="not in y_true"):
        ref = REFERENCE["balanced_accuracy"](y, proba)
    assert ours == ref == 0.5
