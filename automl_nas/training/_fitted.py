"""Trials of the families scikit-learn fits: histogram gradient boosting and linear models.

:func:`~automl_nas.training.train` dispatches on the model a space built: a
:class:`~automl_nas.nn.TreeEnsemble` is fitted here by ``HistGradientBoosting*``, a
:class:`~automl_nas.nn.LinearModel` by ``LogisticRegression``/``Ridge``; the fitted trees or
coefficients are copied into the module, which then is a model like any network. Same
contract as the network trainer: the training rows fit, the validation rows stop early and
score, ``on_epoch`` reports to the pruner, ``deadline`` and ``time_limit`` are kept, and the
result is a :class:`~automl_nas.training.TrainResult`.

Boosting rounds are counted in epochs of ``ROUNDS_PER_EPOCH`` rounds, so ``max_epochs``,
``best_epoch`` and the refit mean the same for every family.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression, Ridge
from threadpoolctl import threadpool_limits
from torch import nn

from automl_nas.nn import NODE_FIELDS, LinearModel, TreeEnsemble
from automl_nas.training._trainer import (
    EpochCallback,
    TensorData,
    TooSlowForLimit,
    TrainResult,
    forward_all,
    train,
)

#: Boosting rounds per epoch: a boosting trial reports to the pruner (and counts ``max_epochs``
#: and ``best_epoch``) in units of this many rounds.
ROUNDS_PER_EPOCH = 10
#: Rounds of the first fit; each later fit adds as many rounds as there are (warm start), so a
#: trial reports after 10, 20, 40, 80, ... rounds and scikit-learn bins the data a handful of
#: times, not once per report.
FIRST_ROUNDS = 10
#: A boosting run that may give up (``probe``: the search has a model) does not start with less
#: than this share of its time limit before its deadline: its first fit (binning included) is
#: not sized to the time left, and on 200,000 x 100 rows one took 5.5 s, begun 0.5 s before a
#: 30 s search's end.
LEAST_START_SHARE = 0.5
#: Rounds without a lower validation loss before boosting stops (scikit-learn's
#: ``n_iter_no_change``); the trees after the best round are then dropped.
EARLY_STOPPING_ROUNDS = 20
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


def _regression_target(y: np.ndarray, what: str) -> np.ndarray:
    if y.ndim == 2 and y.shape[1] != 1:
        raise ValueError(f"{what} fits one target column; this task has {y.shape[1]}")
    return y.reshape(-1)


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


def _raw_output(
    estimator: Any, X: np.ndarray, columns: list[int], n_outputs: int, baseline: torch.Tensor
) -> torch.Tensor:
    """Raw outputs of a fitted scikit-learn model in this project's layout (rows, n_outputs)."""
    if hasattr(estimator, "decision_function"):
        scores = np.asarray(estimator.decision_function(X), dtype=np.float32).reshape(len(X), -1)
    else:
        scores = np.asarray(estimator.predict(X), dtype=np.float32).reshape(len(X), -1)
    out = baseline.expand(len(X), n_outputs).clone()
    out[:, columns] += torch.from_numpy(scores)
    return out


def _floor_float32(values: np.ndarray) -> np.ndarray:
    """The largest float32 <= each float64 value: ``x <= t`` then holds for a float32 ``x``
    exactly when it holds against the float64 threshold scikit-learn compares with."""
    low = values.astype(np.float32)
    above = low.astype(np.float64) > values
    low[above] = np.nextafter(low[above], np.float32(-np.inf))
    return low


def load_boosted_trees(
    model: TreeEnsemble, estimator: Any, rounds: int, columns: list[int], baseline: torch.Tensor
) -> None:
    """Copy the first ``rounds`` rounds of a fitted ``HistGradientBoosting*`` into ``model``.

    Reads the fitted predictors' node arrays (``_predictors``, ``_baseline_prediction``): the
    estimator has no public accessor for its trees. ``tests/training/test_fitted_families.py``
    checks the copy predicts as scikit-learn does, so a change there fails a test, not a user.
    """
    predictors = [tree for round_ in estimator._predictors[:rounds] for tree in round_]
    per_round = len(estimator._predictors[0]) if estimator._predictors else len(columns)
    base = baseline.clone()
    base[columns] += torch.as_tensor(
        np.asarray(estimator._baseline_prediction, dtype=np.float64).reshape(-1),
        dtype=torch.float32,
    )
    if not predictors:
        empty = {name: torch.zeros(0, 1) for name in NODE_FIELDS}
        model.set_trees(empty, torch.zeros(0, dtype=torch.long), base, depth=0)
        return
    if any(tree.nodes["is_categorical"].any() for tree in predictors):
        raise ValueError("categorical splits are not supported: the inputs are one-hot encoded")
    n_nodes = max(len(tree.nodes) for tree in predictors)
    fields = {
        "feature": np.zeros((len(predictors), n_nodes), np.int64),
        "threshold": np.zeros((len(predictors), n_nodes), np.float32),
        "left": np.zeros((len(predictors), n_nodes), np.int64),
        "right": np.zeros((len(predictors), n_nodes), np.int64),
        "missing_left": np.zeros((len(predictors), n_nodes), bool),
        "is_leaf": np.ones((len(predictors), n_nodes), bool),
        "value": np.zeros((len(predictors), n_nodes), np.float32),
    }
    for i, tree in enumerate(predictors):
        nodes, n = tree.nodes, len(tree.nodes)
        fields["feature"][i, :n] = nodes["feature_idx"]
        fields["threshold"][i, :n] = _floor_float32(nodes["num_threshold"])
        fields["left"][i, :n] = nodes["left"]
        fields["right"][i, :n] = nodes["right"]
        fields["missing_left"][i, :n] = nodes["missing_go_to_left"].astype(bool)
        fields["is_leaf"][i, :n] = nodes["is_leaf"].astype(bool)
        fields["value"][i, :n] = nodes["value"]
    depth = max(int(tree.nodes["depth"].max()) for tree in predictors)
    tree_output = torch.as_tensor([columns[i % per_round] for i in range(len(predictors))])
    model.set_trees({k: torch.from_numpy(v) for k, v in fields.items()}, tree_output, base, depth)


@train.register
def fit_boosted_trees(
    model: TreeEnsemble,
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
    """Fit ``HistGradientBoosting*`` with ``params`` (``gbdt_*``) and copy its trees into ``model``.

    Boosting runs in warm-started fits of doubling size (:data:`FIRST_ROUNDS`, then as many
    again) up to ``max_epochs`` x :data:`ROUNDS_PER_EPOCH` rounds; after each fit the
    validation score goes to ``on_epoch`` (the pruner) and ``deadline`` and ``time_limit``
    are checked, the next fit sized to what the earlier of the two leaves (and not begun when
    the fit before it took longer than the deadline leaves: each fit bins the rows again).
    scikit-learn stops early on the validation rows' loss (:data:`EARLY_STOPPING_ROUNDS`), and
    the trees after the round of lowest validation loss are dropped. ``patience`` is for
    networks: boosting uses that rule. With ``probe`` and a ``time_limit``, a run with less than
    :data:`LEAST_START_SHARE` of its limit before ``deadline`` raises :class:`TooSlowForLimit`
    before any fit.
    Threads: as many OpenMP threads as torch has here (the search's thread plan).
    """
    started = time.monotonic()
    if probe and time_limit is not None and deadline - started < LEAST_START_SHARE * time_limit:
        left = max(deadline - started, 0.0)
        raise TooSlowForLimit(
            LEAST_START_SHARE * time_limit, time_limit,
            f"{left:.2f} s left before the deadline, under {LEAST_START_SHARE:.0%} of a "
            f"{time_limit:.2f} s limit (boosting's first fit is not sized to the time left)",
        )
    classification = is_classification(data)
    X, y, X_val, y_val = _numpy(data)
    n_outputs = model.n_outputs
    options = {
        "learning_rate": float(params["gbdt_learning_rate"]),
        "max_leaf_nodes": int(params["gbdt_max_leaf_nodes"]),
        "min_samples_leaf": int(params["gbdt_min_samples_leaf"]),
        "l2_regularization": float(params["gbdt_l2_regularization"]),
        "max_features": float(params["gbdt_max_features"]),
        "early_stopping": True,
        "scoring": "loss",
        "n_iter_no_change": EARLY_STOPPING_ROUNDS,
        "warm_start": True,
        "random_state": seed,
    }
    if classification:
        estimator: Any = HistGradientBoostingClassifier(**options)
        columns, baseline = _class_columns(np.unique(y), n_outputs)
    else:
        estimator = HistGradientBoostingRegressor(**options)
        y, y_val = (
            _regression_target(y, "gradient boosting"),
            _regression_target(y_val, "gradient boosting"),
        )
        columns, baseline = [0], torch.zeros(n_outputs)
    max_rounds = max(1, max_epochs) * ROUNDS_PER_EPOCH
    history: list[dict[str, float]] = []
    stopped_by, target = "epochs", 0
    # Each fit after the first is sized to end by the time limit and the deadline, whichever
    # is first: a doubling fit started just before the deadline would otherwise run as long
    # as all the fits before it (a refit at the end of the budget, or the search's last trial).
    end = deadline if time_limit is None else min(deadline, started + time_limit)
    last_fit, last_added = 0.0, 0  # seconds and rounds added of the fit before
    with threadpool_limits(limits=torch.get_num_threads(), user_api="openmp"):
        while True:
            fit_started = time.monotonic()
            before = getattr(estimator, "n_iter_", 0)
            target = min(max_rounds, max(FIRST_ROUNDS, 2 * before))
            if before and math.isfinite(end):
                per_round = (fit_started - started) / before
                left = max(end - fit_started, 0.0)
                fitting = before + int(left / max(per_round, 1e-9))
                # Before the deadline (hard, unlike the time limit), more careful: each
                # warm-started fit bins the rows and scores the trees so far again, so it
                # costs at least its predecessor's seconds, and its seconds per round added
                # (on 2,000 columns the binning alone took seconds, and a fit sized by the
                # average round ended 2 s past the search's deadline).
                hard_left = max(deadline - fit_started, 0.0)
                if hard_left < last_fit:
                    fitting = before
                elif math.isfinite(hard_left):
                    fitting = min(fitting, before + int(hard_left / last_fit * last_added))
                # whole epochs only: each fit reports a new epoch to the pruner
                target = min(target, fitting // ROUNDS_PER_EPOCH * ROUNDS_PER_EPOCH)
            if target <= before:
                stopped_by = "time_budget"
                break
            estimator.set_params(max_iter=target)
            estimator.fit(X, y, X_val=X_val, y_val=y_val)
            rounds = estimator.n_iter_
            last_fit, last_added = max(time.monotonic() - fit_started, 1e-9), target - before
            output = _raw_output(estimator, X_val, columns, n_outputs, baseline)
            epoch = math.ceil(rounds / ROUNDS_PER_EPOCH)
            record = _history_record(
                epoch, output, data, loss_fn, score_fn, -float(estimator.train_score_[-1])
            )
            history.append(record)
            if on_epoch is not None:
                on_epoch(epoch, record)
            if rounds < target:
                stopped_by = "early_stopping"
                break
            if rounds >= max_rounds:
                break
            if time.monotonic() >= deadline:
                stopped_by = "time_budget"
                break
    best_rounds = int(np.argmax(estimator.validation_score_))  # index 0: before any tree
    load_boosted_trees(model, estimator, best_rounds, columns, baseline)
    model.eval()
    output = forward_all(model, data.X_val.cpu())
    return TrainResult(
        model=model,
        score=score_fn(output),
        val_output=output.numpy(),
        best_epoch=max(1, math.ceil(best_rounds / ROUNDS_PER_EPOCH)),
        history=history,
        stopped_by=stopped_by,
    )


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
    The solver runs to convergence (at most :data:`LINEAR_MAX_ITER` iterations); it cannot be
    stopped midway, and on standardised features it takes well under a network's epoch
    (``patience`` and ``probe`` are for networks)."""
    X, y, _, _ = _numpy(data)
    alpha = float(params["linear_alpha"])
    weight = torch.zeros(model.out_features, model.in_features)
    with threadpool_limits(limits=torch.get_num_threads()), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if is_classification(data):
            estimator: Any = LogisticRegression(
                C=1.0 / alpha, max_iter=LINEAR_MAX_ITER, random_state=seed
            )
            estimator.fit(X, y)
            columns, bias = _class_columns(estimator.classes_, model.out_features)
        else:
            estimator = Ridge(alpha=alpha, random_state=seed)
            estimator.fit(X, y)
            columns, bias = list(range(model.out_features)), torch.zeros(model.out_features)
    coef = np.asarray(estimator.coef_, dtype=np.float32).reshape(len(columns), -1)
    weight[columns] = torch.from_numpy(coef)
    bias[columns] += torch.as_tensor(np.asarray(estimator.intercept_, dtype=np.float32).reshape(-1))
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
