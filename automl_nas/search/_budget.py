"""The budget plan: how one ``time_budget`` splits into search, refit, stages and workers.

Every rule that turns seconds and rows into deadlines lives here, so a change to how the
budget is spent is one change, tested on its own (``tests/search/test_budget.py``).
Deadlines are ``time.monotonic()`` values; :func:`wall_deadline` converts one to the Unix
time that processes on other machines share.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from automl_nas.data import MIN_SAMPLES_FOR_SPLIT

#: ``refit="auto"`` refits the ensemble members on train + validation up to this many rows,
#: inside ``time_budget``: the search keeps back at most ``REFIT_SHARE`` of it for the refit,
#: less where the refits of its best trials are expected to take less
#: (:meth:`BudgetPlan.refit_reserve`).
REFIT_AUTO_MAX_ROWS = 10_000
REFIT_SHARE = 0.15
#: The least share kept back for the refit: the ensemble's selection and what no expected
#: refit seconds cover. The search keeps ``REFIT_MARGIN`` x the expected refit seconds of its
#: ``REFIT_MEMBERS`` best trials on top of it. A fixed ``REFIT_SHARE`` ended the search 15 % of
#: the budget early on most tables of 750-10,000 rows, where five members refitted in half a
#: second (benchmarks/README.md, "The refit's share sized from the best trials").
REFIT_MIN_SHARE = 0.02
REFIT_MARGIN = 1.5
REFIT_MEMBERS = 5

#: ``cv="auto"`` validates trials by ``CV_AUTO_FOLDS``-fold cross-validation on data of at most
#: this many rows per second of ``time_budget`` (1,500 rows at the default 60 s): there a 20%
#: holdout scores trials too coarsely to select among them, and k networks per trial still
#: leave the budget room for a search (benchmarks/README.md, "Core estimator").
CV_AUTO_ROWS_PER_SECOND = 25
CV_AUTO_FOLDS = 5

#: A trial's share of the search time: its epochs are cut to fit (the trainer's ``time_limit``),
#: so even the first trials leave room for a search of ten or more (issue 14: a 100-epoch
#: default took 4-11 s of a 30 s budget on 4-6k rows). A trial is stopped outright at
#: ``TRIAL_HARD_STOP`` times its share, for a first epoch too slow to estimate from.
TRIAL_SHARE = 0.1
TRIAL_HARD_STOP = 2.0

#: Low-fidelity trials (issue 14): on a holdout search whose training rows hold more than this
#: many cells (rows x preprocessed columns) per second of a trial's time, the search's trials
#: train on a stratified subsample of that many cells, and only trials a stage gives seconds of
#: their own (promotion) train on all rows. One epoch of a network or ten boosting rounds over
#: 50,000 x 2,000 cells took 10-14 s of a 3 s trial on one thread (benchmarks/README.md, "One
#: default fit"): about 5-10 million cells a second, so this cap keeps a first epoch or fit
#: within about half the trial's time.
CELLS_PER_TRIAL_SECOND = 2_500_000
#: And at most this many rows per second of a trial's time, whatever the columns: a network's
#: step costs its hidden layers per row, so a cell cap alone gives narrow tables long trials.
#: One epoch of the default network with its validation pass ran 60,000 rows a second at 8
#: columns, 47,000 at 50 and 25,000 at 200 (one thread). By cells alone a trial of about 3 s
#: on 200,000 x 50 would take 150,000 rows, over half of the 160,000 training rows, so every
#: trial trained on all of them and the first took 11.5-14.5 % of a 30 s budget
#: (benchmarks/README.md, "How the peak grows with the rows").
ROWS_PER_TRIAL_SECOND = 25_000
#: Low-fidelity trials train on at least this many rows.
MIN_TRIAL_ROWS = 2_000

#: Seconds a shared search's coordinator gives a worker, beyond its last trial's training time,
#: to save and report that trial.
WORKER_GRACE = 10.0


@dataclass(frozen=True)
class BudgetPlan:
    """Deadlines and validation mode of one search, from its budget, data size and options.

    Build it with :meth:`make`. ``n_folds`` is the number of cross-validation folds (None:
    one holdout split). ``refit`` says whether the ensemble members are retrained on all rows
    after a holdout search; ``refit_in_budget`` whether that refit is part of ``time_budget``
    (``refit="auto"``: the search ends ``REFIT_SHARE`` early) or comes after it
    (``refit=True``: up to another ``time_budget``).
    """

    time_budget: float
    started: float
    n_folds: int | None
    refit: bool
    refit_in_budget: bool
    sized_trials: bool = True

    @classmethod
    def make(
        cls,
        time_budget: float,
        n_rows: int,
        *,
        cv: int | str | None = "auto",
        refit: bool | str = "auto",
        single_network: bool = False,
        sized_trials: bool = True,
        started: float | None = None,
    ) -> BudgetPlan:
        """The plan for ``n_rows`` rows; raises on options that cannot go together.

        ``cv="auto"`` cross-validates small data (at most ``CV_AUTO_ROWS_PER_SECOND`` rows per
        second of ``time_budget``) unless ``refit=True`` asks for networks refitted after a
        holdout search, or ``single_network`` (a size or latency goal is about one network,
        which a bag of k would multiply). An explicit ``cv`` is checked here, before any study
        or trial exists. ``sized_trials``: each trial's epochs are cut to fit
        :attr:`trial_seconds` (a search bound by time); False for a search bound by a trial
        count, whose trials then train their sampled epochs, so that a seeded one repeats
        exactly. ``started``: the ``time.monotonic()`` the budget counts from (now).
        """
        budget = float(time_budget)
        if cv == "auto":
            small = MIN_SAMPLES_FOR_SPLIT <= n_rows <= CV_AUTO_ROWS_PER_SECOND * budget
            n_folds = CV_AUTO_FOLDS if small and refit is not True and not single_network else None
        else:
            if cv is not None and refit is True:
                raise ValueError(
                    f"refit=True retrains networks after a holdout search, but cv={cv} "
                    "cross-validates, whose fold networks together already trained on every "
                    "row; set cv=None for refit=True, or refit='auto'"
                )
            if cv is not None and cv > n_rows:
                raise ValueError(f"cv={cv} folds need at least {cv} samples, got {n_rows}")
            n_folds = cv
        refits = n_folds is None and (
            refit is True or (refit == "auto" and n_rows <= REFIT_AUTO_MAX_ROWS)
        )
        return cls(
            time_budget=budget,
            started=time.monotonic() if started is None else started,
            n_folds=n_folds,
            refit=refits,
            refit_in_budget=refits and refit == "auto",
            sized_trials=sized_trials,
        )

    @property
    def end(self) -> float:
        """When ``time_budget`` is spent."""
        return self.started + self.time_budget

    @property
    def search_deadline(self) -> float:
        """The search's earliest end: the end, or earlier by the refit's largest share.

        Trials are sized from it (:attr:`trial_seconds`) and a shared search's workers stop at
        it; this process's search may go on to :attr:`latest_search_deadline`, as far as
        :meth:`refit_reserve` allows.
        """
        return self.end - REFIT_SHARE * self.time_budget if self.refit_in_budget else self.end

    @property
    def latest_search_deadline(self) -> float:
        """The search's latest end: the end, or earlier by the refit's least share (the
        reserve before any trial has finished)."""
        return self.end - self.refit_reserve(0.0)

    def refit_reserve(self, expected: float) -> float:
        """Seconds the search leaves before the end for a refit expected to take ``expected``.

        ``REFIT_MIN_SHARE`` of the budget plus ``REFIT_MARGIN`` x ``expected``, at most
        ``REFIT_SHARE`` of it (a refit that would not fit is skipped when it would start, and
        its member keeps the network trained in the search); 0.0 without a refit in the budget.
        """
        if not self.refit_in_budget:
            return 0.0
        least = REFIT_MIN_SHARE * self.time_budget
        return min(REFIT_SHARE * self.time_budget, least + REFIT_MARGIN * max(0.0, expected))

    @property
    def trial_seconds(self) -> float | None:
        """Seconds one trial may train (all its folds together): ``TRIAL_SHARE`` of the search
        (None: trials are not sized, only the deadline stops them)."""
        if not self.sized_trials:
            return None
        return TRIAL_SHARE * (self.search_deadline - self.started)

    def trial_rows(self, n_train: int, n_columns: int) -> int | None:
        """Training rows of a low-fidelity trial, or None when trials train on all ``n_train``.

        Only a holdout search sized by time subsamples: at most ``CELLS_PER_TRIAL_SECOND`` x
        :attr:`trial_seconds` cells and ``ROWS_PER_TRIAL_SECOND`` x :attr:`trial_seconds`
        rows, at least ``MIN_TRIAL_ROWS`` rows, and only when that is under half the training
        rows (a smaller cut saves too little to cost fidelity).
        """
        seconds = self.trial_seconds
        if seconds is None or self.n_folds is not None:
            return None
        by_cells = int(CELLS_PER_TRIAL_SECOND * seconds) // max(1, n_columns)
        rows = max(MIN_TRIAL_ROWS, min(by_cells, int(ROWS_PER_TRIAL_SECOND * seconds)))
        return rows if 2 * rows <= n_train else None

    def worker_wait(self) -> float:
        """Seconds the coordinator waits, from now, for workers' last trials once it stops
        the search.

        A worker's trial that started just before the stop trains until the search deadline or
        ``TRIAL_HARD_STOP`` x :attr:`trial_seconds`, whichever comes first (workers read the
        deadline when a trial starts); then it saves and reports within ``WORKER_GRACE``. A
        search stopped by its trial cap before the deadline must wait for that trial: it is
        one of the ``n_trials`` asked for.
        """
        training = max(0.0, self.search_deadline - time.monotonic())
        if self.trial_seconds is not None:
            training = min(training, TRIAL_HARD_STOP * self.trial_seconds)
        return training + WORKER_GRACE

    def refit_deadline(self) -> float | None:
        """When the refit must end, asked when it starts (None: no refit)."""
        if not self.refit:
            return None
        return self.end if self.refit_in_budget else time.monotonic() + self.time_budget

    @staticmethod
    def stage_limits(
        index: int, n_stages: int, trials_left: int | None
    ) -> tuple[float, int | None]:
        """Stage ``index``'s default share of the remaining time, and of the trials left.

        Each stage gets an equal part of what the stages before it left (trials rounded up),
        unless a stage object sets its own ``time_share``/``n_trials``.
        """
        stages_left = n_stages - index
        trials = None if trials_left is None else math.ceil(trials_left / stages_left)
        return 1.0 / stages_left, trials


def refit_seconds(
    train_seconds: float | None, epochs_run: int, refit_epochs: int, rows_ratio: float
) -> float:
    """Seconds a refit of a trial is expected to take: the trial's training seconds per epoch
    run, times the refit's epochs, times its rows over the trial's training rows.

    A refit that would not end before its deadline is not started (it would be cut short
    and thrown away, past the end of ``time_budget`` by up to one boosting fit). 0.0 when
    the trial recorded no training time (nothing to go by: the refit is tried).
    """
    if not train_seconds or epochs_run <= 0:
        return 0.0
    return train_seconds * min(1.0, refit_epochs / epochs_run) * rows_ratio


def wall_deadline(deadline: float) -> float:
    """A ``time.monotonic()`` deadline as Unix time, the clock processes share."""
    return time.time() + (deadline - time.monotonic())
