"""Progress lines during a search and quiet Optuna logging around it."""

from __future__ import annotations

import contextlib
import sys
import threading
import time
from collections.abc import Iterator

import optuna
from optuna.trial import TrialState


@contextlib.contextmanager
def optuna_verbosity(verbose: int) -> Iterator[None]:
    """Optuna's own per-trial log only at ``verbose >= 2``; restored afterwards."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose >= 2 else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


class ProgressPrinter:
    """One line per finished trial: state, score, best so far, counts and time left."""

    def __init__(self, metric: str, deadline: float, stream=None) -> None:
        self.metric = metric
        self.deadline = deadline
        self.stream = stream or sys.stderr
        self.counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
        self._lock = threading.Lock()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        with self._lock:
            self.counts[trial.state] = self.counts.get(trial.state, 0) + 1
            value = "" if trial.value is None else f" {self.metric}={trial.value:.4f}"
            try:
                best = f" best={study.best_value:.4f} (trial {study.best_trial.number})"
            except ValueError:
                best = ""
            left = max(0.0, self.deadline - time.monotonic())
            stage = trial.user_attrs.get("stage", "")
            print(
                f"[automl_nas] trial {trial.number:>4} {trial.state.name:<8} {stage:<10}{value}{best}"
                f" | done {self.counts[TrialState.COMPLETE]} pruned {self.counts[TrialState.PRUNED]}"
                f" failed {self.counts[TrialState.FAIL]} | {left:5.1f}s left",
                file=self.stream,
                flush=True,
            )
