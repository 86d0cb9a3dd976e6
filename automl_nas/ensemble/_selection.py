"""Greedy ensemble selection with replacement (Caruana et al., 2004) on held-out predictions."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from automl_nas.training import Metric


def greedy_ensemble(
    predictions: Sequence[np.ndarray] | np.ndarray,
    y: np.ndarray,
    metric: Metric,
    rounds: int,
    *,
    n_init: int = 0,
) -> np.ndarray:
    """Weights of a greedy forward-selected ensemble, optimising ``metric`` on held-out rows.

    Each of ``rounds`` rounds adds (with replacement) the candidate whose inclusion gives the
    best ``metric`` of the averaged predictions; a candidate's weight is the number of times it
    was added divided by ``rounds``, so weights sum to 1 and a strong model may carry most of
    them. Selecting with replacement is what stops the greedy search from overfitting the
    held-out rows once the good models are in (Caruana et al., 2004, section 2.1). All rounds
    count, as in auto-sklearn; Caruana et al. instead return the best-scoring prefix, which fits
    the held-out rows more closely.

    Ties go to the earliest candidate. Pass candidates best first: then one round returns the
    single best model, and the result is deterministic with no random generator to seed.

    Args:
        predictions: One array per candidate, all of the same shape: class probabilities
            (n, n_classes) or predictions (n,) / (n, n_outputs) in the units of ``y``.
        y: Held-out targets, as ``metric`` expects them.
        metric: The score to optimise; its ``maximize`` gives the direction.
        rounds: Selection rounds (>= 1): the ensemble size counted with repeats.
        n_init: Sorted initialisation: start from the ``n_init`` individually best candidates,
            once each (counted among the rounds). Caruana et al. use it against early
            overfitting on small held-out sets; 0 (as in auto-sklearn) starts empty.

    Returns:
        float64 weights, one per candidate, summing to 1.

    Example:
        >>> from automl_nas.training import REGRESSION_METRICS
        >>> y = np.array([0.0, 1.0, 2.0, 3.0])
        >>> preds = [y + 1.0, y - 1.0, y + 3.0]
        >>> greedy_ensemble(preds, y, REGRESSION_METRICS["rmse"], rounds=2)
        array([0.5, 0.5, 0. ])
    """
    if rounds < 1:
        raise ValueError(f"rounds must be >= 1, got {rounds}")
    if len(predictions) == 0:
        raise ValueError("greedy_ensemble needs at least one candidate's predictions")
    preds = np.stack([np.asarray(p, dtype=np.float64) for p in predictions])
    if not 0 <= n_init <= rounds:
        raise ValueError(f"n_init must be between 0 and rounds={rounds}, got {n_init}")
    sign = 1.0 if metric.maximize else -1.0

    def gains(total: np.ndarray, size: int) -> np.ndarray:
        """Signed score of the ensemble after adding each candidate (NaN counts as worst)."""
        scores = np.array([sign * metric(y, (total + p) / (size + 1)) for p in preds])
        return np.where(np.isnan(scores), -np.inf, scores)

    counts = np.zeros(len(preds), dtype=np.int64)
    total = np.zeros_like(preds[0])
    if n_init:
        alone = gains(total, 0)
        for j in np.argsort(-alone, kind="stable")[: min(n_init, len(preds))]:
            counts[j] += 1
            total += preds[j]
    for size in range(int(counts.sum()), rounds):
        j = int(np.argmax(gains(total, size)))  # argmax returns the first of equal scores
        counts[j] += 1
        total += preds[j]
    return counts / counts.sum()
