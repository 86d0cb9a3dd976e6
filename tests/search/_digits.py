"""A trial objective on 400 digits (300 training, 100 validation rows) for the search's tests."""

import time

import numpy as np
import torch
from sklearn.datasets import load_digits

from automl_nas.search import MemoryTrialStore, SearchContext, TrialObjective
from automl_nas.space import MLPSpace
from automl_nas.training import CLASSIFICATION_METRICS, TensorData


def digits_objective(epochs: int) -> TrialObjective:
    """One-layer MLPs of at most 16 units, ``epochs`` each, a minute's deadline, one job."""
    X, y = load_digits(return_X_y=True)
    X = ((X[:400] - X.mean()) / X.std()).astype(np.float32)
    data = TensorData(*(torch.as_tensor(a) for a in (X[:300], y[:300], X[300:400], y[300:400])))
    context = SearchContext(
        space=MLPSpace(max_layers=1, max_units=16).replace(epochs=epochs),
        deadline=time.monotonic() + 60, n_jobs=1, seed=0, data=data,
        loss_fn=torch.nn.CrossEntropyLoss(), input_shape=(64,), n_outputs=10, max_epochs=epochs,
    )
    return TrialObjective(
        context, y_folds=[y[300:400]], metric=CLASSIFICATION_METRICS["accuracy"],
        decode=lambda z: z, patience=epochs, seed=0, store=MemoryTrialStore(4, True),
    )
