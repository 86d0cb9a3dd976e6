"""One table of a search's trials, for the estimator, the command line and MLflow alike."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
import pandas as pd

from automl_nas.search._keys import TrialAttr
from automl_nas.space import SearchSpace


def trials_frame(
    study: optuna.Study,
    *,
    weights: Mapping[int, float] | None = None,
    max_params: int | None = None,
    space: SearchSpace | None = None,
) -> pd.DataFrame:
    """Every trial of ``study`` (pruned and failed too), best first by the first objective.

    Columns: ``trial`` (number), ``stage``, ``state``, ``score`` (the first objective, the
    validation metric; NaN unless COMPLETE); with several objectives ``value_1`` .. (the
    others, e.g. the parameter count) and ``pareto`` (on the Pareto front); with ``weights``
    (trial number -> ensemble weight) ``ensemble_weight`` (0 outside the ensemble); then
    ``train_seconds``, ``train_rows`` (the training rows a trial trained on: all, or a
    low-fidelity subsample), ``n_params``, ``best_epoch``; ``latency_ms`` when trials measured it;
    ``feasible`` with ``max_params``; then one column per searched parameter (a name clashing
    with the columns before gets a ``param_`` prefix; ``family`` first, in a search of several
    model families). NaN where a trial has no value, e.g. a
    trial that failed before training, and, given the ``space`` searched, where the trial's
    model does not read the value it sampled (:meth:`SearchSpace.used_params`: ``units_3``
    of a one-layer MLP); the trials keep those values, which samplers model. Ties keep
    trial order. Integer parameters stay integers (``Int64``, with ``<NA>`` for empty cells).
    """
    n_objectives = len(study.directions)
    trials = study.get_trials(deepcopy=False)
    pareto = {t.number for t in study.best_trials} if n_objectives > 1 else set()
    latency = any(TrialAttr.LATENCY_MS in t.user_attrs for t in trials)
    rows: list[dict[str, Any]] = []
    integers: dict[str, bool] = {}  # column -> whether every value shown is an integer
    for trial in trials:
        attrs = trial.user_attrs
        complete = trial.state == optuna.trial.TrialState.COMPLETE
        values = trial.values if complete else [np.nan] * n_objectives
        row: dict[str, Any] = {
            "trial": trial.number,
            "stage": attrs.get(TrialAttr.STAGE),
            "state": trial.state.name,
            "score": values[0],
        }
        row.update({f"value_{i}": values[i] for i in range(1, n_objectives)})
        if n_objectives > 1:
            row["pareto"] = trial.number in pareto
        if weights is not None:
            row["ensemble_weight"] = weights.get(trial.number, 0.0)
        row["train_seconds"] = attrs.get(TrialAttr.TRAIN_SECONDS, np.nan)
        row["train_rows"] = attrs.get(TrialAttr.TRAIN_ROWS, np.nan)
        row["n_params"] = attrs.get(TrialAttr.N_PARAMS, np.nan)
        row["best_epoch"] = attrs.get(TrialAttr.BEST_EPOCH, np.nan)
        if latency:
            row["latency_ms"] = attrs.get(TrialAttr.LATENCY_MS, np.nan)
        if max_params is not None:
            row["feasible"] = attrs.get(TrialAttr.N_PARAMS, np.inf) <= max_params
        params = dict(trial.params)
        if space is not None:
            used = space.used_params({**space.fixed, **params})
            params = {k: v if k in used else np.nan for k, v in params.items()}
        if "family" in params:  # the model family leads the parameters
            params = {"family": params.pop("family"), **params}
        params = {f"param_{k}" if k in row else k: v for k, v in params.items()}
        for name, value in params.items():
            shown = not (isinstance(value, float) and np.isnan(value))
            integer = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
            integers[name] = integers.get(name, True) and (integer or not shown)
        row.update(params)
        rows.append(row)
    columns = ["trial", "stage", "state", "score"]
    board = pd.DataFrame(rows, columns=None if rows else columns)
    # A width left empty (a layer the trial does not have) would turn 256 into 256.0.
    for name in [name for name, integer in integers.items() if integer]:
        board[name] = board[name].astype("Int64")
    ascending = study.directions[0] == optuna.study.StudyDirection.MINIMIZE
    return board.sort_values(
        ["score", "trial"], ascending=[ascending, True], na_position="last", kind="stable"
    ).reset_index(drop=True)


def trial_counts(study: optuna.Study) -> str:
    """``"8 complete, 3 pruned, 0 failed"``: the trials' states as the summaries word them.

    Trials still running (other workers') and enqueued ones the budget never started (start
    configurations, say) are added when there are any, so the counts add up to the study's.
    """
    states = Counter(t.state for t in study.get_trials(deepcopy=False))
    words = [
        (optuna.trial.TrialState.COMPLETE, "complete"),
        (optuna.trial.TrialState.PRUNED, "pruned"),
        (optuna.trial.TrialState.FAIL, "failed"),
    ]
    words += [
        (state, word)
        for state, word in (
            (optuna.trial.TrialState.RUNNING, "running"),
            (optuna.trial.TrialState.WAITING, "not started"),
        )
        if states[state]
    ]
    return ", ".join(f"{states[state]} {word}" for state, word in words)
