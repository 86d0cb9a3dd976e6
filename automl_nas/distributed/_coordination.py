"""What the coordinator tells its workers, through the study's user attributes.

The study in the shared storage is the only channel: the coordinator writes where the search
spec lives, the wall-clock deadline, the cap on started trials and the running stage; workers
read them before every trial. No scheduler, no extra service.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import optuna
from optuna.trial import TrialState

SPEC = "automl_nas:spec"
DEADLINE = "automl_nas:deadline"
MAX_TRIALS = "automl_nas:max_trials"
STAGE = "automl_nas:stage"
HEARTBEAT = "automl_nas:heartbeat"


def announce(study: optuna.Study, **attrs: Any) -> None:
    """Set coordinator attributes.

    ``spec`` (path), ``deadline`` (Unix time), ``max_trials``, ``stage`` (index), and
    ``heartbeat`` ([interval, grace period] in seconds: a process judges others' trials stale by
    its own grace period, so every process of a search must use the coordinator's).
    """
    keys = {
        "spec": SPEC, "deadline": DEADLINE, "max_trials": MAX_TRIALS, "stage": STAGE,
        "heartbeat": HEARTBEAT,
    }
    for name, value in attrs.items():
        study.set_user_attr(keys[name], value)


def wall_deadline(monotonic_deadline: float) -> float:
    """A ``time.monotonic()`` deadline as Unix time, the clock processes share."""
    return time.time() + (monotonic_deadline - time.monotonic())


def started_trials(study: optuna.Study) -> int:
    """Trials that have started (enqueued, still WAITING ones have not)."""
    return sum(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False))


def wait_for_running(study: optuna.Study, timeout: float) -> int:
    """Wait up to ``timeout`` s for other processes' RUNNING trials; return how many still run.

    Workers stop training at the shared deadline and then only save and report, so a few
    seconds cover a live worker; a killed one never finishes, and the wait ends at ``timeout``
    (its trial is failed by the storage's heartbeat check, where there is one).
    """
    end = time.monotonic() + timeout
    while True:
        with warnings.catch_warnings():  # experimental since 2.9, still the public way
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            optuna.storages.fail_stale_trials(study)  # a no-op without heartbeats
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        if not running or time.monotonic() >= end:
            return len(running)
        time.sleep(0.2)


class StopAtTrialCap:
    """Optuna callback: stop this process's ``optimize`` once the search started ``cap`` trials.

    Counted search-wide, over every process's trials. Each process checks before it starts a
    trial, so processes that start at the same moment may overshoot by up to one trial each.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        if started_trials(study) >= self.cap:
            study.stop()
