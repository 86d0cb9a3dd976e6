"""The loops that run a context's objective: Optuna's, or waves of trials that repeat.

``study.optimize`` with ``n_jobs`` threads asks each trial in the thread that trains it, so
which trial draws which parameters (and which finished trials the sampler and the pruner
see) depends on how the threads interleave: a seeded search of a fixed number of trials does
not repeat. :func:`optimize_in_waves` keeps the threads and removes the interleaving: it asks
``n_jobs`` trials and draws all their parameters in this thread, in trial order; trains them
side by side; and tells them in trial order once the whole wave has finished. Each trial's
training depends on its seed alone (its initial weights, batch order and dropout masks), so
every draw, pruning decision and result repeats. A wave ends with its slowest trial: the
price of repeating, paid only where it is asked for (``SearchContext.waves``).
"""

from __future__ import annotations

import math
import time
import warnings
from concurrent.futures import ThreadPoolExecutor

import optuna
from optuna.trial import TrialState

from automl_nas.search._asked import Heartbeats, ask_trial, tell_outcome, trial_outcome
from automl_nas.search._context import SearchContext
from automl_nas.search._objective import TrialObjective


def optimize(
    study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
) -> None:
    """``study.optimize`` with the context's objective, threads and callbacks.

    Failing trials are caught (recorded as FAIL with their error) so one bad configuration
    never ends a search; the estimator raises if no trial at all completes. A trial that
    another process of a shared search marked FAIL while it ran (its heartbeats came late)
    cannot be reported; it is skipped with a warning and the search goes on (the storage has
    already queued its retry). With ``context.waves`` and several jobs, the trials run in
    waves that repeat from the seed (:func:`optimize_in_waves`).
    """
    if context.waves and context.n_jobs > 1:
        optimize_in_waves(study, context, n_trials=n_trials, timeout=timeout)
        return
    end = time.monotonic() + timeout
    finished: list[int] = []
    callbacks = [*context.callbacks, lambda study, trial: finished.append(trial.number)]
    while True:
        left = None if n_trials is None else n_trials - len(finished)
        remaining = end - time.monotonic()
        if remaining <= 0 or (left is not None and left <= 0) or math.isnan(timeout):
            return
        try:
            study.optimize(
                context.objective,
                n_trials=left,
                timeout=remaining,
                n_jobs=context.n_jobs,
                catch=(Exception,),
                callbacks=callbacks,
            )
            return
        except ValueError as exc:
            if not is_failed_elsewhere(exc):
                raise
            warnings.warn(f"{exc} Another process failed it as stale; going on.", RuntimeWarning,
                          stacklevel=2)


def optimize_in_waves(
    study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
) -> None:
    """Trials in waves of ``context.n_jobs``: asked and drawn in order, trained side by side,
    told in order.

    For a study of this process alone (workers would interleave their own trials) whose
    pruner reads finished trials only (:func:`waves_repeat`): then the sampler and the pruner
    see the same trials at every draw and every decision, run after run. Callbacks see each
    trial when it is told. A new wave starts while trials and time are left; a trial of an
    unfinished wave is told FAIL if the loop is left by an error (an interrupt), so none stays
    RUNNING.
    """
    objective = context.objective
    if not isinstance(objective, TrialObjective):
        raise TypeError("trials in waves need the search's TrialObjective as context.objective")
    if math.isnan(timeout):
        return
    end = time.monotonic() + timeout
    told = 0
    with Heartbeats(study) as beats, ThreadPoolExecutor(
        context.n_jobs, thread_name_prefix="automl_nas-trial"
    ) as pool:
        while time.monotonic() < end and context.remaining() > 0:
            left = None if n_trials is None else n_trials - told
            if left is not None and left <= 0:
                return
            size = context.n_jobs if left is None else min(context.n_jobs, left)
            wave = [ask_trial(study, beats) for _ in range(size)]
            untold = list(wave)
            try:
                for trial in wave:  # every draw in this thread, in trial order
                    objective.begin(trial)
                futures = [pool.submit(trial_outcome, objective, trial) for trial in wave]
                outcomes = [future.result() for future in futures]
                for trial, outcome in zip(wave, outcomes):
                    frozen = tell_outcome(study, trial, outcome, beats)
                    untold.remove(trial)
                    told += 1
                    for callback in context.callbacks:
                        callback(study, frozen)
            finally:
                for trial in untold:
                    study.tell(trial, state=TrialState.FAIL)
                    beats.discard(trial)


def waves_repeat(pruner: optuna.pruners.BasePruner) -> bool:
    """Whether trials in waves repeat under ``pruner``: it must decide from finished trials
    only. Optuna's median and percentile pruners compare with COMPLETE trials; successive
    halving and Hyperband also compare with the rungs of trials still running, which in a wave
    depend on how the threads interleave."""
    return isinstance(pruner, (optuna.pruners.NopPruner, optuna.pruners.PercentilePruner))


def is_failed_elsewhere(exc: BaseException) -> bool:
    """Whether ``exc`` is Optuna refusing to report a trial that is already finished."""
    return isinstance(exc, ValueError) and str(exc).startswith("Cannot tell a FAIL trial")
