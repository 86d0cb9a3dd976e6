"""A search stage: one way of proposing trials to the shared Optuna study."""

from __future__ import annotations

from abc import ABC, abstractmethod

import optuna

from automl_nas.search import SearchContext


class BaseStage(ABC):
    """Runs a share of a search on the study; subclasses implement :meth:`_run` only.

    Args:
        n_trials: Trials this stage may start (None: no limit but time).
        time_share: Fraction of the search's remaining time this stage may use (None: all).
    """

    #: Short name recorded on every trial this stage proposes (``user_attrs["stage"]``).
    name = "stage"
    #: Whether the stage can run a two-objective search (a cost objective beside the score).
    multi_objective = True
    #: The sampler (a name or object) with which worker processes propose trials while this
    #: stage runs on the coordinator: a stage that is not a sampler leaves them TPE.
    worker_sampler: str | optuna.samplers.BaseSampler = "tpe"
    #: How worker processes train trials while this stage runs: None one at a time, else in
    #: batches of that many members (0: :func:`~automl_nas.stages.batch_members`' rule).
    worker_batch: int | None = None
    #: Whether the stage needs the space's relaxed form (a supernet), which not every space
    #: has: the estimators then default to a space that does.
    needs_relaxed_space = False

    def __init__(self, *, n_trials: int | None = None, time_share: float | None = None) -> None:
        if n_trials is not None and n_trials < 1:
            raise ValueError(f"n_trials must be >= 1 or None, got {n_trials}")
        if time_share is not None and not 0 < time_share <= 1:
            raise ValueError(f"time_share must be in (0, 1], got {time_share}")
        self.n_trials = n_trials
        self.time_share = time_share

    def run(
        self,
        study: optuna.Study,
        context: SearchContext,
        *,
        n_trials: int | None,
        default_share: float = 1.0,
    ) -> None:
        """Run within ``time_share`` (else ``default_share``) of the remaining time.

        At most ``n_trials`` trials (the search's remaining count) and this stage's own limit.
        """
        share = self.time_share if self.time_share is not None else default_share
        timeout = context.remaining() * share
        limits = [n for n in (n_trials, self.n_trials) if n is not None]
        n_trials = min(limits) if limits else None
        if timeout <= 0 or n_trials == 0:
            return
        context.stage = self.name
        self._run(study, context, n_trials=n_trials, timeout=timeout)

    @abstractmethod
    def _run(
        self, study: optuna.Study, context: SearchContext, *, n_trials: int | None, timeout: float
    ) -> None:
        """Propose and run trials on ``study`` until ``n_trials`` or ``timeout`` seconds."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_trials={self.n_trials}, time_share={self.time_share})"
