"""Linear trials, fitted by scikit-learn, and what the fitted families share.

:func:`~automl_nas.training.train` dispatches on the model a space built: a
:class:`~automl_nas.nn.LinearModel` is fitted here by ``LogisticRegression``/``Ridge`` (on rows
that keep NaN, to the same objective over parts of the rows: ``_linear_parts.py``) and its
coefficients copied into the module, which then is a model like any network (boosted trees:
``_boosting.py``). Same contract as the network trainer: the training rows fit, the validation
rows score, ``on_epoch`` reports to the pruner, and the result is a
:class:`~automl_nas.training.TrainResult`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits
from torch import nn

from automl_nas.nn import LinearModel
from automl_nas.training._linear_parts import LinearFit, fit_over_parts, in_one_part
from automl_nas.training._trainer import (
    EpochCallback,
    TensorData,
    TrainResult,
    forward_all,
    train,
)

#: Raw output (logit) of a class the training rows of a fold lack: probability ~1e-13.
ABSENT_LOGIT = -30.0
#: Iterations of the linear solvers (lbfgs): plenty for standardised features.
LINEAR_MAX_ITER = 500


def is_classification(data: TensorData) -> bool:
    """Class indices (integers) as targets: classification; floats: regression."""
    return not torch.is_floating_point(data.y_train)


def _numpy(data: TensorData) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    arrays = [
        t.detach().cpu().numpy() for t in (data.X_train, data.y_train, data.X_val, data.y_val)
    ]
    return tuple(arrays)  # type: ignore[return-value]


def _class_columns(classes: np.ndarray, n_outputs: int) -> tuple[list[int], torch.Tensor]:
    """The output column of each of scikit-learn's score columns, and the baseline logits.

    A binary model has one score (for ``classes[1]``; ``classes[0]`` stays at 0), a
    multiclass one a score per class. A class missing from the training rows (a small fold)
    gets :data:`ABSENT_LOGIT`.
    """
    columns = [int(c) for c in (classes[1:] if len(classes) == 2 else classes)]
    baseline = torch.full((n_outputs,), ABSENT_LOGIT)
    baseline[torch.as_tensor(classes, dtype=torch.long)] = 0.0
    return columns, baseline


def _history_record(
    epoch: int,
    output: torch.Tensor,
    data: TensorData,
    loss_fn: nn.Module,
    score_fn: Callable[[torch.Tensor], float],
    train_loss: float,
) -> dict[str, float]:
    val_loss = loss_fn(output, data.y_val.cpu()).item()
    if not math.isfinite(val_loss):
        raise FloatingPointError(f"validation loss is {val_loss} at epoch {epoch}")
    return {
        "epoch": epoch,
        "train_loss": train_loss,
        "val_loss": val_loss,
        "val_score": score_fn(output),
    }


def _fit_by_scikit_learn(
    X: np.ndarray, y: np.ndarray, classification: bool, alpha: float, seed: int
) -> LinearFit:
    """``LogisticRegression(C=1 / alpha)`` or ``Ridge(alpha)`` on the rows ``X``."""
    with threadpool_limits(limits=torch.get_num_threads()), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if classification:
            estimator: Any = LogisticRegression(
                C=1.0 / alpha, max_iter=LINEAR_MAX_ITER, random_state=seed
            )
            classes = estimator.fit(X, y).classes_
        else:
            estimator = Ridge(alpha=alpha, random_state=seed).fit(X, y)
            classes = None
    coef = np.asarray(estimator.coef_, dtype=np.float32)
    intercept = np.asarray(estimator.intercept_, dtype=np.float32).reshape(-1)
    return LinearFit(coef.reshape(len(intercept), -1), intercept, classes)


@train.register
def fit_linear_model(
    model: LinearModel,
    params: Mapping[str, Any],
    data: TensorData,
    *,
    loss_fn: nn.Module,
    score_fn: Callable[[torch.Tensor], float],
    max_epochs: int,
    patience: int,
    seed: int,
    deadline: float = math.inf,
    time_limit: float | None = None,
    on_epoch: EpochCallback | None = None,
    probe: bool = False,
) -> TrainResult:
    """Fit ``LogisticRegression`` (classification) or ``Ridge`` (regression) with
    regularisation strength ``params["linear_alpha"]`` (``C = 1 / alpha`` for the logistic
    model) and copy the coefficients into ``model``: one epoch, reported to ``on_epoch``.

    A model that fills missing values (rows that keep NaN) reads its training rows filled: as
    one filled copy where they fit one part of :func:`fit_over_parts` (4 MiB; on 2,000 x 50
    rows scikit-learn's solver on the copy took 3 ms less a trial), else fitted to the same
    objective over parts of the rows, without a filled copy of them. The solver runs to
    convergence (at most :data:`LINEAR_MAX_ITER` iterations); scikit-learn's cannot be stopped
    midway, the one over parts stops at ``deadline``; on standardised features either takes
    well under a network's epoch (``patience`` and ``probe`` are for networks)."""
    alpha = float(params["linear_alpha"])
    missing = model._modules.get("missing")
    if missing is not None and not in_one_part(data.X_train):
        fit = fit_over_parts(
            data.X_train, data.y_train, missing, alpha, max_iter=LINEAR_MAX_ITER,
            deadline=deadline,
        )
    else:
        X, y, _, _ = _numpy(data)
        if missing is not None:  # filled whole: no larger than one part's buffer
            X = missing.fill_array(X)
        fit = _fit_by_scikit_learn(X, y, is_classification(data), alpha, seed)
    weight = torch.zeros(model.out_features, model.in_features)
    if fit.classes is not None:
        columns, bias = _class_columns(fit.classes, model.out_features)
    else:
        columns, bias = list(range(model.out_features)), torch.zeros(model.out_features)
    weight[columns] = torch.from_numpy(fit.coef)
    bias[columns] += torch.from_numpy(fit.intercept)
    with torch.no_grad():
        model.weight.copy_(weight)
        model.bias.copy_(bias)
    model.eval()
    output = forward_all(model, data.X_val.cpu())
    record = _history_record(1, output, data, loss_fn, score_fn, float("nan"))
    if on_epoch is not None:
        on_epoch(1, record)
    return TrainResult(
        model=model,
        score=record["val_score"],
        val_output=output.numpy(),
        best_epoch=1,
        history=[record],
        stopped_by="epochs",
    )
