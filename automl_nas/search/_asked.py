"""Trials asked and told outside ``study.optimize``: their heartbeats, and how they are told.

Stages that choose when a trial's parameters are drawn and when it is told (batches of
siblings, waves of trials that repeat from a seed) ask and tell trials themselves. Optuna's
loop would beat for them on a storage with heartbeats and tell each outcome in its state;
these helpers do both.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from types import TracebackType

import optuna
from optuna.trial import TrialState


class Heartbeats:
    """Heartbeats for the trials a caller has asked and not yet told, from one thread.

    ``study.optimize`` runs Optuna's heartbeat thread around each trial it runs; a trial asked
    with ``study.ask`` has none, and Optuna takes only a trial whose heartbeats stopped for
    stale, so a trial whose process was killed would stay RUNNING for ever (never failed,
    never retried). Each trial is beaten from its ask until it is told; one thread beats for
    all of them every ``heartbeat_interval`` seconds. Without heartbeats on the storage
    (in memory, a journal file, an RDB storage without an interval) nothing runs.
    """

    def __init__(self, study: optuna.Study) -> None:
        # Optuna has no public accessor for a study's storage; its RDB storages (and the cache
        # around them) record heartbeats through these two methods.
        self._storage = study._storage
        interval = getattr(self._storage, "get_heartbeat_interval", lambda: None)()
        self.interval: float | None = interval
        self._ids: set[int] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> Heartbeats:
        if self.interval is not None:
            self._thread = threading.Thread(
                target=self._beat, name="automl_nas-heartbeat", daemon=True
            )
            self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def add(self, trial: optuna.Trial) -> None:
        """Beat for ``trial`` from now on (the first heartbeat at once)."""
        if self.interval is None:
            return
        with self._lock:
            self._ids.add(trial._trial_id)
        self._storage.record_heartbeat(trial._trial_id)

    def discard(self, trial: optuna.Trial) -> None:
        """Stop beating for ``trial`` (it was told)."""
        with self._lock:
            self._ids.discard(trial._trial_id)

    def _beat(self) -> None:
        assert self.interval is not None
        while not self._stop.wait(self.interval):
            with self._lock:
                ids = sorted(self._ids)
            for trial_id in ids:
                try:
                    self._storage.record_heartbeat(trial_id)
                except Exception as exc:  # noqa: BLE001 - a missed beat is retried next interval
                    optuna.logging.get_logger("optuna").warning(
                        f"heartbeat of trial id {trial_id} not recorded: {exc!r}"
                    )


def ask_trial(study: optuna.Study, beats: Heartbeats) -> optuna.Trial:
    """``study.ask()``, the trial's heartbeats started, without Optuna's warning that
    heartbeats need ``optimize`` (:class:`Heartbeats` sends them)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        trial = study.ask()
    beats.add(trial)
    return trial


def trial_outcome(
    objective: Callable[[optuna.Trial], float | tuple[float, ...]], trial: optuna.Trial
) -> float | tuple[float, ...] | Exception:
    """``trial``'s value(s) from ``objective``, or the exception that ended it (which
    :func:`tell_outcome` tells as PRUNED or FAIL): one trial failing ends that trial only."""
    try:
        return objective(trial)
    except Exception as exc:  # noqa: BLE001 - the objective recorded it; the search goes on
        return exc


def tell_outcome(
    study: optuna.Study,
    trial: optuna.Trial,
    outcome: float | tuple[float, ...] | BaseException,
    beats: Heartbeats,
) -> optuna.trial.FrozenTrial:
    """Tell ``trial``'s outcome as ``study.optimize`` would: its value(s), PRUNED for
    ``optuna.TrialPruned`` (with its last reported value), FAIL (warned) for another error."""
    if isinstance(outcome, optuna.TrialPruned):
        frozen = study.tell(trial, state=TrialState.PRUNED)
    elif isinstance(outcome, BaseException):
        optuna.logging.get_logger("optuna").warning(f"Trial {trial.number} failed: {outcome!r}")
        frozen = study.tell(trial, state=TrialState.FAIL)
    else:
        frozen = study.tell(trial, outcome)
    beats.discard(trial)
    return frozen
