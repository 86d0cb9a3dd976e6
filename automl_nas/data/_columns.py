"""Which preprocessed columns are continuous: those a network transforms and embeds."""

from __future__ import annotations

import math

import numpy as np

from automl_nas.nn import MissingValues

#: Rows examined: a column with three or more values among them is continuous.
SAMPLE_ROWS = 4_096


def continuous_columns(X: np.ndarray, missing: MissingValues | None = None) -> tuple[int, ...]:
    """Indices of the columns of ``X`` with more than two distinct finite values.

    One-hot levels, missing-value indicators and binary features have two values, so a
    quantile transform or an embedding of them adds nothing but width. Decided on up to
    ``SAMPLE_ROWS`` evenly strided rows (deterministic); a column whose third value is rarer
    than that sample sees is treated as binary, which only means it is not embedded.

    ``missing``: ``X`` keeps NaN that a model fills and flags (:class:`~automl_nas.nn.
    MissingFill`); the indices are then of the filled columns and indicators the model reads.
    The sample's NaN are filled here with the model's fill values (numpy, no expanded copy:
    filling and flagging 4,096 x 2,000 rows by torch took 0.5-1.1 s of a 30 s fit before its
    first trial, and 167 MiB). Indicator columns are never continuous (two values at most),
    so those indices are all among the first ``X.shape[1]``.
    """
    if X.ndim != 2 or not len(X):
        return ()
    sample = X[:: max(1, math.ceil(len(X) / SAMPLE_ROWS))]
    if missing is not None and missing.columns:
        fill = missing.module(flags=False).column_fill(X.shape[1]).numpy()
        sample = np.where(np.isnan(sample), fill.astype(X.dtype, copy=False), sample)
    sample = np.sort(sample, axis=0)
    changes = np.count_nonzero(sample[1:] > sample[:-1], axis=0)
    return tuple(int(i) for i in np.flatnonzero(changes >= 2))
