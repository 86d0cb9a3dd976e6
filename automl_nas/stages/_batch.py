"""A stage that trains trials in batches: P configurations of one architecture side by side.

Small tabular networks leave most of a machine idle: a step of a 4 x 81 network on 128 rows is
mostly per-operation overhead. This stage asks its sampler for one configuration (the
*leader*), then for ``members - 1`` more that share the leader's architecture, optimizer and
batch size while the sampler chooses each one's own training recipe (learning rate, weight
decay, dropout, label smoothing, schedule, gradient clipping, epochs:
:data:`~automl_nas.training.MEMBER_PARAMS`), and trains them as one stacked network
(:meth:`~automl_nas.search.TrialObjective.run_batch`). Every member is an ordinary Optuna
trial: asked from and told to the study, reported to the pruner every epoch and pruned alone,
failed alone, tracked, on the leaderboard and an ensemble candidate.

The siblings are proposed the way Optuna fixes some parameters of a trial and samples the rest:
``study.enqueue_trial`` with the leader's shared parameters, then ``study.ask``. Trials already
waiting in the study (the start portfolio, DARTS' architectures) go first: each trains alone,
as its proposer meant, and once none waits, each of their architectures gets a batch of
siblings (recipes for it). Each batch is told before the sampler proposes the next leader, so
it is proposed from the results of the last (the sampler sees several asked trials at once, as
with ``n_jobs``). A popped trial whose shared parameters match no leader (another process
enqueued it) trains alone, as does a leader whose network cannot be stacked (boosting, linear
models, embeddings with weights, TabM-style ensembles).

Trials asked outside ``study.optimize`` get no heartbeat from Optuna, so the stage sends
their heartbeats itself (:class:`~automl_nas.search.Heartbeats`): on a storage with
heartbeats a batch whose process is killed is failed after the grace period and retried like
any trial. A two-objective search runs this stage's trials one at a time
(:meth:`TrialObjective.batchable`).
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import optuna
from optuna.trial import TrialState

from automl_nas.search import (
    Heartbeats,
    SearchContext,
    StopAtTrialCap,
    TrialAttr,
    TrialObjective,
    ask_trial,
    check_requirements,
    make_sampler,
    optimize,
    sampler_name,
    started_trials,
    tell_outcome,
    trial_outcome,
)
from automl_nas.stages._base import BaseStage
from automl_nas.training import MEMBER_PARAMS

#: Members of a batch on a CPU and on a GPU, at most; fewer when a member's step is large
#: (see :func:`batch_members`).
MAX_MEMBERS = {"cpu": 16, "cuda": 64}
#: Activations (rows x width, over all members) one step of a batch aims at, per device.
#: Batching pays where one network's step is mostly per-operation overhead (small batches,
#: narrow layers); a step that is already arithmetic gains little and only divides the batch's
#: time among more members: on a 2-core CPU, 16 members of 1,024 rows x 81 units (2^20.3
#: activations) trained one epoch each in a batch's time (connect_4, 37,500 rows).
STEP_ACTIVATIONS = {"cpu": 2**18, "cuda": 2**25}


def batch_members(device: str, batch_size: int, width: int) -> int:
    """Members of a batch: as many as keep a step's activations near the device's target."""
    kind = "cuda" if device == "cuda" else "cpu"
    fit = STEP_ACTIVATIONS[kind] // max(1, batch_size * width)
    return int(min(MAX_MEMBERS[kind], max(2, fit)))


def _shared(params: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k not in MEMBER_PARAMS}


def _key(params: Mapping[str, Any]) -> tuple:
    return tuple(sorted((k, repr(v)) for k, v in _shared(params).items()))


class BatchStage(BaseStage):
    """Trials proposed by one Optuna sampler and trained ``members`` at a time in one batch.

    Args:
        sampler: A short name (see ``SAMPLERS``) or an ``optuna.samplers.BaseSampler`` (TPE
            by default; several trials are asked before any is told, as with ``n_jobs``).
        members: Trials per batch (None: chosen from the device, batch size and width,
            :func:`batch_members`).
        n_trials: Trials this stage may start.
        time_share: Fraction of the remaining search time this stage may use.

    Example:
        >>> stage = BatchStage("tpe", members=8)
        >>> stage.name
        'batch'
    """

    name = "batch"
    multi_objective = False

    def __init__(
        self,
        sampler: str | optuna.samplers.BaseSampler = "tpe",
        *,
        members: int | None = None,
        n_trials: int | None = None,
        time_share: float | None = None,
    ) -> None:
        super().__init__(n_trials=n_trials, time_share=time_share)
        if members is not None and members < 1:
            raise ValueError(f"members must be >= 1 or None, got {members}")
        check_requirements(sampler)
        self.sampler = sampler
        self.sampler_name = sampler_name(sampler)
        self.members = members
        self.worker_sampler = sampler
        self.worker_batch = members or 0
        #: Architectures of start trials that trained alone and await their siblings.
        self._pending: list[dict[str, Any]] = []

    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        study.sampler = make_sampler(self.sampler, context.space, context.seed)
        objective = context.objective
        if not isinstance(objective, TrialObjective) or objective.cost_objective is not None:
            optimize(study, context, n_trials=n_trials, timeout=timeout)
            return
        end = time.monotonic() + timeout
        started = 0
        self._pending = []
        caps = [c.cap for c in context.callbacks if isinstance(c, StopAtTrialCap)]
        while time.monotonic() < end and context.remaining() > 0:
            left = None if n_trials is None else n_trials - started
            if caps:  # a shared search's cap counts every process's trials
                search_left = min(caps) - started_trials(study)
                left = search_left if left is None else min(left, search_left)
            if left is not None and left <= 0:
                return
            started += self.round(study, context, left)

    def round(self, study: optuna.Study, context: SearchContext, left: int | None) -> int:
        """One step of the stage, at most ``left`` trials; returns the trials it started.

        In this order: a trial waiting in the study (the start portfolio) trains alone, as its
        proposer meant, and its architecture is remembered; once none waits, each remembered
        architecture gets a batch of siblings (recipes for it, chosen by the sampler); then
        the sampler proposes a leader and its siblings. Each step ends with its trials told,
        so the sampler sees them before it proposes the next. Worker processes run steps one
        at a time, following the coordinator's stage between them.
        """
        objective = context.objective
        if not isinstance(objective, TrialObjective):
            raise TypeError("a batch round needs the search's TrialObjective as the context's objective")
        beats = Heartbeats(study)
        with beats:
            if study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
                trial = ask_trial(study, beats)
                params = objective.begin(trial)
                self._tell(study, context, beats, [trial], None)
                if objective.batchable(params):
                    self._pending.append(params)
                return 1
            if self._pending:
                return self._batch(study, context, beats, self._pending.pop(0), [], left)
            leader = ask_trial(study, beats)
            params = objective.begin(leader)
            if not objective.batchable(params):
                self._tell(study, context, beats, [leader], None)
                return 1
            return self._batch(study, context, beats, params, [leader], left)

    def _batch(
        self,
        study: optuna.Study,
        context: SearchContext,
        beats: Heartbeats,
        params: dict[str, Any],
        group: list[optuna.Trial],
        left: int | None,
    ) -> int:
        """Ask siblings of ``params``' architecture to join ``group``; train; tell."""
        objective = context.objective
        assert isinstance(objective, TrialObjective)
        rows = int(params.get("batch_size", 128)) * int(params.get("ensemble_k", 1))
        size = self.members or batch_members(context.data.device.type, rows, int(params.get("width", 256)))
        siblings = size - len(group) if left is None else min(size, left) - len(group)
        for _ in range(siblings):
            study.enqueue_trial(_shared(params), user_attrs={TrialAttr.STAGE: self.name})
        alone = []
        for _ in range(siblings):
            sibling = ask_trial(study, beats)
            # another process may have taken ours and left us its own
            (group if _key(objective.begin(sibling)) == _key(params) else alone).append(sibling)
        for trial in alone:
            self._tell(study, context, beats, [trial], None)
        if group:
            outcomes = objective.run_batch(group) if len(group) > 1 else None
            self._tell(study, context, beats, group, outcomes)
        return len(group) + len(alone)

    @staticmethod
    def _tell(
        study: optuna.Study,
        context: SearchContext,
        beats: Heartbeats,
        trials: list[optuna.Trial],
        outcomes: list[float | BaseException] | None,
    ) -> None:
        """Tell the study each trial's outcome (training it alone if ``outcomes`` is None)."""
        for index, trial in enumerate(trials):
            if outcomes is None:
                outcome: float | BaseException = trial_outcome(context.objective, trial)
            else:
                outcome = outcomes[index]
            frozen = tell_outcome(study, trial, outcome, beats)
            for callback in context.callbacks:
                # StopAtTrialCap stops study.optimize, which is not running here: _run
                # checks the cap itself before every round
                if not isinstance(callback, StopAtTrialCap):
                    callback(study, frozen)
