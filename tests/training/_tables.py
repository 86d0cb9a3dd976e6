"""Small tables as the fitted families' tests train on them."""

import numpy as np
import torch
from sklearn.datasets import make_classification

from automl_nas.training import TensorData


def classes(n_classes, n=1200, nan=True, seed=0):
    """Rows of 12 float32 columns and ``n_classes`` classes; column 2 NaN in every 9th row."""
    X, y = make_classification(n, 12, n_informative=6, n_classes=n_classes, random_state=seed)
    X = X.astype(np.float32)
    if nan:
        X[::9, 2] = np.nan  # missing values follow each split's learned direction
    return X, y


def tensors(X, y, n_train):
    """The first ``n_train`` rows to train on, the rest to validate on."""
    y_t = torch.as_tensor(y)
    y_t = y_t.long() if not np.issubdtype(y.dtype, np.floating) else y_t.float().reshape(len(y), -1)
    X_t = torch.as_tensor(X)
    return TensorData(X_t[:n_train], y_t[:n_train], X_t[n_train:], y_t[n_train:])


def accuracy(y):
    """A score function: the accuracy of the outputs' argmax against ``y``."""
    return lambda output: float((output.argmax(1).numpy() == y).mean())
