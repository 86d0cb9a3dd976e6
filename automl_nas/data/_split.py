"""The held-out splits every trial is validated (and pruned, and ensembled) on."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

#: Below this many samples there is no separate validation split: trials validate on train.
MIN_SAMPLES_FOR_SPLIT = 10


def train_validation_split(
    n_samples: int, fraction: float, y: np.ndarray | None, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the training and validation rows.

    Stratified on ``y`` when given and every class has at least two members; a plain shuffled
    split otherwise. Tiny inputs (fewer than ``MIN_SAMPLES_FOR_SPLIT`` rows) validate on the
    training rows, since a one-row validation set would make every trial's score noise.
    """
    index = np.arange(n_samples)
    if n_samples < MIN_SAMPLES_FOR_SPLIT:
        return index, index
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        n_val = int(np.ceil(fraction * n_samples))
        if counts.min() >= 2 and n_val >= len(counts) and n_samples - n_val >= len(counts):
            stratify = y
    train, val = train_test_split(
        index, test_size=fraction, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(train), np.sort(val)


def cross_validation_folds(
    n_samples: int, n_folds: int, y: np.ndarray | None, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(training, validation) row indices of ``n_folds`` shuffled folds.

    Every row is a validation row in exactly one fold. Stratified on ``y`` when given and every
    class has at least ``n_folds`` members; plain shuffled folds otherwise.
    """
    if not 2 <= n_folds <= n_samples:
        raise ValueError(f"cv={n_folds} folds need 2 <= cv <= n_samples={n_samples}")
    index = np.arange(n_samples)
    if y is not None and np.unique(y, return_counts=True)[1].min() >= n_folds:
        folds = StratifiedKFold(n_folds, shuffle=True, random_state=seed).split(index, y)
    else:
        folds = KFold(n_folds, shuffle=True, random_state=seed).split(index)
    return [(train, val) for train, val in folds]


def subsample_rows(n_samples: int, n_rows: int, y: np.ndarray | None, seed: int) -> np.ndarray:
    """Sorted indices of ``n_rows`` of ``n_samples`` rows, drawn without replacement.

    Stratified on ``y`` (classes in proportion) when given and every class has at least two
    members, as :func:`train_validation_split` does; a plain random draw otherwise. All rows
    when ``n_rows >= n_samples``.
    """
    index = np.arange(n_samples)
    if n_rows >= n_samples:
        return index
    stratify = None
    if y is not None:
        _, counts = np.unique(y, return_counts=True)
        if counts.min() >= 2 and n_rows >= len(counts) and n_samples - n_rows >= len(counts):
            stratify = y
    chosen, _ = train_test_split(
        index, train_size=n_rows, random_state=seed, shuffle=True, stratify=stratify
    )
    return np.sort(chosen)


#: Cells of the temporary that :func:`permute_rows_inplace` moves at a time (32 MiB of float32).
PERMUTE_BLOCK_CELLS = 1 << 23


def permute_rows_inplace(X: np.ndarray, order: np.ndarray) -> np.ndarray:
    """Put ``X``'s rows in ``order`` (a permutation of its rows) in place; return ``X``.

    ``X[order]`` is a second copy of the data: on 50,000 x 2,000 float32 rows, 381 MiB more at
    the start of every search (issue 14's memory bound is twice the float32 rows). Here the
    columns move in blocks of at most ``PERMUTE_BLOCK_CELLS`` cells: each block's reordered
    copy is taken whole before it is written back, so the block is the only temporary. ``X``
    must be C-contiguous (its rows then reshape to a matrix without a copy).
    """
    if not X.flags.c_contiguous:
        raise ValueError("permute_rows_inplace needs a C-contiguous array")
    if len(order) != len(X):
        raise ValueError(f"order has {len(order)} rows, X has {len(X)}")
    flat = X.reshape(len(X), -1)
    step = max(1, PERMUTE_BLOCK_CELLS // max(len(X), 1))
    for start in range(0, flat.shape[1], step):
        flat[:, start : start + step] = flat[order, start : start + step]
    return X
