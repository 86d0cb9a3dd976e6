"""Pure functions that turn a search's facts into MLflow run records (no MLflow import).

Kept apart from the tracker so the mapping (trial state -> run status, history -> metrics with
steps, MLflow's size limits) is testable without a tracking store. Every text a run receives
(param and tag values, the run note) passes through :func:`clip`, which masks credentials, so a
storage or tracking URL with a password (an estimator param, a trial's error) is logged masked.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_nas.masking import mask_uri
from automl_nas.tracking._store import TAG_PREFIX

#: MLflow run status of each finished Optuna trial state.
RUN_STATUS: dict[TrialState, str] = {
    TrialState.COMPLETE: "FINISHED",
    TrialState.PRUNED: "KILLED",
    TrialState.FAIL: "FAILED",
}

# MLflow 3 limits (mlflow/utils/validation.py) on one value and one key.
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_KEY = 250


@dataclass
class RunRecord:
    """Everything one MLflow run receives: written with one create, batched logs, one end."""

    run_name: str
    start_ms: int
    end_ms: int
    status: str
    params: dict[str, str] = field(default_factory=dict)
    metrics: list[tuple[str, float, int, int]] = field(default_factory=list)  # key, value, ms, step
    tags: dict[str, str] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The record as plain data (what the writer process reads as JSON)."""
        return asdict(self)


def to_ms(moment: datetime | None, default_ms: int) -> int:
    """Milliseconds since the epoch of ``moment`` (naive datetimes are local time, as Optuna's)."""
    if moment is None:
        return default_ms
    return int(moment.timestamp() * 1000)


def now_ms() -> int:
    """The current time in milliseconds since the epoch."""
    return int(datetime.now(timezone.utc).timestamp() * 1000)


def clip(text: Any, limit: int) -> str:
    """``str(text)`` with credentials masked (:func:`mask_uri`), cut to ``limit`` characters,
    marking the cut.

    Masked before the cut: a cut between a password and its ``@`` would leave it unmasked.

    Example:
        >>> clip("postgresql://bob:s3cr3t@db/hpo", 100)
        'postgresql://bob:***@db/hpo'
    """
    text = mask_uri(str(text))
    return text if len(text) <= limit else text[: limit - 15] + "...[truncated]"


def metric_key(name: Any) -> str:
    """A metric or param name MLflow accepts (alphanumerics, ``_ - . / :`` and spaces)."""
    return re.sub(r"[^\w\-./: ]", "_", str(name))[:MAX_KEY] or "_"


def as_float(value: Any) -> float | None:
    """``value`` as a float, or None when it is not a real number (None, str, bool)."""
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def trial_record(trial: optuna.trial.FrozenTrial, objective_names: Sequence[str]) -> RunRecord:
    """The child run of one finished trial.

    Args:
        trial: A finished trial (COMPLETE, PRUNED or FAIL) as Optuna passes it to callbacks.
        objective_names: One name per objective (``study.metric_names`` or ``value``/``value_i``).

    Returns:
        Its run: params are the sampled values; metrics are the per-epoch history (``step`` is the
        epoch), the objective value(s), duration, training time and parameter count; tags are the
        trial state, number, stage and, for a failed trial, its error.

    Example:
        >>> import optuna
        >>> lr = optuna.distributions.FloatDistribution(1e-3, 1.0)
        >>> t = optuna.trial.create_trial(
        ...     params={"lr": 0.01}, distributions={"lr": lr}, value=0.9,
        ...     user_attrs={"stage": "tpe", "history": [{"epoch": 0, "val_score": 0.9}]})
        >>> rec = trial_record(t, ["value"])
        >>> rec.status, rec.params["lr"], rec.metrics[0][0]
        ('FINISHED', '0.01', 'val_score')
    """
    end_ms = to_ms(trial.datetime_complete, now_ms())
    start_ms = min(to_ms(trial.datetime_start, end_ms), end_ms)
    attrs = trial.user_attrs
    status = RUN_STATUS.get(trial.state, "FINISHED")
    metrics: list[tuple[str, float, int, int]] = []

    history = attrs.get("history") or []
    for i, row in enumerate(history if isinstance(history, list) else []):
        if not isinstance(row, Mapping):
            continue
        step = int(row.get("epoch", i))
        for key, value in row.items():
            number = as_float(value)
            if key != "epoch" and number is not None:
                metrics.append((metric_key(key), number, end_ms, step))
    if not history:
        # No per-epoch history: the reported intermediate values are what pruning saw.
        for step, value in sorted(trial.intermediate_values.items()):
            number = as_float(value)
            if number is not None:
                metrics.append(("intermediate_value", number, end_ms, int(step)))

    for name, value in zip(objective_names, trial.values or (), strict=False):
        number = as_float(value)
        if number is not None:
            metrics.append((metric_key(name), number, end_ms, 0))
    metrics.append(("duration_s", (end_ms - start_ms) / 1000.0, end_ms, 0))
    for key in ("train_seconds", "train_rows", "n_params", "best_epoch", "epochs"):
        number = as_float(attrs.get(key))
        if number is not None:
            metrics.append((key, number, end_ms, 0))
    for fold, value in enumerate(attrs.get("fold_scores") or []):  # cross-validated trials
        number = as_float(value)
        if number is not None:
            metrics.append(("fold_score", number, end_ms, fold))

    tags = {
        TAG_PREFIX + "state": trial.state.name,
        TAG_PREFIX + "trial_number": str(trial.number),
        TAG_PREFIX + "stage": clip(attrs.get("stage", "unknown"), MAX_TAG_VALUE),
    }
    for key in ("error", "traceback", "stopped_by", "partial_folds", "worker"):
        if attrs.get(key) is not None:
            tags[TAG_PREFIX + key] = clip(attrs[key], MAX_TAG_VALUE)
    if "family" in trial.params:  # a search of several model families
        tags[TAG_PREFIX + "family"] = clip(trial.params["family"], MAX_TAG_VALUE)
    params = {metric_key(k): clip(v, MAX_PARAM_VALUE) for k, v in trial.params.items()}
    return RunRecord(
        run_name=f"trial-{trial.number:04d}",
        start_ms=start_ms,
        end_ms=end_ms,
        status=status,
        params=params,
        metrics=metrics,
        tags=tags,
    )


def search_params(info: Mapping[str, Any]) -> dict[str, str]:
    """The parent run's params: estimator params, dataset shape, space, how trials ran in
    parallel, stages and budget."""
    params: dict[str, str] = {}
    for key, value in (info.get("params") or {}).items():
        params[metric_key(key)] = clip(value, MAX_PARAM_VALUE)
    for key, value in (info.get("dataset") or {}).items():
        params[metric_key(f"dataset.{key}")] = clip(value, MAX_PARAM_VALUE)
    for key, value in (info.get("space") or {}).items():
        params[metric_key(f"space.{key}")] = clip(value, MAX_PARAM_VALUE)
    for key, value in (info.get("parallel") or {}).items():
        params[metric_key(f"parallel.{key}")] = clip(value, MAX_PARAM_VALUE)
    if "stages" in info:
        params["stages"] = clip(", ".join(map(str, info["stages"])), MAX_PARAM_VALUE)
    if "metric" in info:
        params["metric"] = clip(info["metric"], MAX_PARAM_VALUE)
    if "families" in info:
        params["families"] = clip(", ".join(map(str, info["families"])), MAX_PARAM_VALUE)
    if "time_budget" in info:
        params["time_budget"] = clip(info["time_budget"], MAX_PARAM_VALUE)
    if "first_trial" in info:
        params["first_trial"] = clip(info["first_trial"], MAX_PARAM_VALUE)
    return params


def search_tags(info: Mapping[str, Any]) -> dict[str, str]:
    """The parent run's tags: estimator, task, dataset fingerprint and library versions."""
    dataset = info.get("dataset") or {}
    tags = {TAG_PREFIX + "role": "search"}
    if "estimator" in info:
        tags[TAG_PREFIX + "estimator"] = clip(info["estimator"], MAX_TAG_VALUE)
    for key in ("fingerprint", "task"):
        if key in dataset:
            tags[TAG_PREFIX + key] = clip(dataset[key], MAX_TAG_VALUE)
    for lib, version in (info.get("versions") or {}).items():
        tags[TAG_PREFIX + f"version.{lib}"] = clip(version, MAX_TAG_VALUE)
    return tags


def search_summary(
    finished: Sequence[tuple[int, TrialState, Sequence[float] | None]],
    study: optuna.Study | None,
) -> tuple[list[tuple[str, float, int, int]], dict[str, str]]:
    """The parent run's summary metrics and tags.

    Args:
        finished: ``(number, state, values)`` of every trial the search recorded.
        study: The search's study (its directions and best trial); None when no trial finished.

    Returns:
        The metrics: ``best_value`` after each trial (``step`` = trial number; one objective
        only) and the trial counts ``n_trials``, ``n_complete``, ``n_pruned``, ``n_failed``; the
        tags: for one objective, the best trial's number and a run note with its params.

    Example:
        >>> metrics, tags = search_summary([(0, TrialState.PRUNED, None)], None)
        >>> [(key, value) for key, value, _, _ in metrics], tags
        ([('n_trials', 1.0), ('n_complete', 0.0), ('n_pruned', 1.0), ('n_failed', 0.0)], {})
    """
    counts = {s: 0 for s in ("COMPLETE", "PRUNED", "FAIL")}
    best_curve: list[tuple[str, float, int, int]] = []
    best: float | None = None
    ts = now_ms()
    single = study is not None and len(study.directions) == 1
    maximize = single and study.direction == optuna.study.StudyDirection.MAXIMIZE
    for number, state, values in sorted(finished, key=lambda r: r[0]):
        counts[state.name] = counts.get(state.name, 0) + 1
        value = (
            as_float(values[0]) if (single and values and state == TrialState.COMPLETE) else None
        )
        if value is not None and (best is None or (value > best if maximize else value < best)):
            best = value
        if best is not None:
            best_curve.append(("best_value", best, ts, number))
    metrics = best_curve + [
        ("n_trials", float(len(finished)), ts, 0),
        ("n_complete", float(counts["COMPLETE"]), ts, 0),
        ("n_pruned", float(counts["PRUNED"]), ts, 0),
        ("n_failed", float(counts["FAIL"]), ts, 0),
    ]
    tags: dict[str, str] = {}
    if single and best is not None:
        best_trial = study.best_trial
        tags[TAG_PREFIX + "best_trial"] = str(best_trial.number)
        lines = [f"Best trial {best_trial.number}: value {best_trial.value:.6g}", ""]
        lines += [f"- `{k}` = {v}" for k, v in best_trial.params.items()]
        tags["mlflow.note.content"] = clip("\n".join(lines), MAX_TAG_VALUE)
    return metrics, tags


def objective_names(study: optuna.Study) -> list[str]:
    """Metric names of the study's objectives: its ``metric_names``, else ``value``/``value_i``."""
    names = study.metric_names
    if names:
        return [metric_key(n) for n in names]
    n = len(study.directions)
    return ["value"] if n == 1 else [f"value_{i}" for i in range(n)]


def is_finite(value: float | None) -> bool:
    """Whether ``value`` is a real, finite number."""
    return value is not None and math.isfinite(value)
