"""The refit's share sized from the best trials: RefitReserve moves the search's deadline."""

import time

import optuna
import pytest
from sklearn.datasets import load_breast_cancer

from automl_nas import AutoNASClassifier
from automl_nas.search import (
    REFIT_MARGIN,
    REFIT_MEMBERS,
    REFIT_MIN_SHARE,
    REFIT_SHARE,
    BudgetPlan,
    RefitReserve,
    SearchContext,
    TrialAttr,
    TrialRecord,
    trial_refit_seconds,
)
from automl_nas.space import MLPSpace

BUDGET = 100.0


def _trial(number, value, seconds, *, epochs=10, best=10, rows=None, infeasible=False):
    """A completed trial that trained ``epochs`` epochs in ``seconds`` (best at ``best``)."""
    trial = optuna.trial.create_trial(
        value=value,
        user_attrs={
            TrialAttr.TRAIN_SECONDS: seconds, TrialAttr.BEST_EPOCH: best,
            TrialAttr.TRAIN_ROWS: rows,
            TrialAttr.HISTORY: [{"epoch": e, "val_score": value} for e in range(1, epochs + 1)],
        },
        constraints={"max_params": 1.0} if infeasible else None,
    )
    trial.number = number
    return trial


def _reserve(at_once=1, maximize=False):
    plan = BudgetPlan.make(BUDGET, 5_000, started=1000.0)  # a holdout search with refit="auto"
    context = SearchContext(space=MLPSpace(), deadline=plan.latest_search_deadline)
    reserve = RefitReserve(plan, context, n_rows=1_000, n_train=800, maximize=maximize,
                           at_once=at_once)
    return plan, context, reserve


def test_a_refit_is_expected_to_take_its_seconds_per_epoch_on_the_rows_it_refits():
    # 4 s for 20 epochs, the best at 5, on a 400-row subsample; the refit trains 1,000 rows
    record = TrialRecord.from_trial(_trial(0, 0.5, 4.0, epochs=20, best=5, rows=400))
    assert trial_refit_seconds(record, 1_000, 800) == pytest.approx(4.0 * 5 / 20 * 2.5)
    full = TrialRecord.from_trial(_trial(1, 0.5, 4.0, epochs=20, best=20))  # all 800 rows
    assert trial_refit_seconds(full, 1_000, 800) == pytest.approx(5.0)


def test_the_search_runs_until_the_refits_of_its_best_trials_are_left():
    plan, context, reserve = _reserve()
    least = REFIT_MIN_SHARE * BUDGET
    assert context.deadline == pytest.approx(plan.end - least)
    study = optuna.create_study()
    reserve(study, _trial(0, 0.9, 1.6))  # refit: 1.6 s x 1,000 / 800 rows = 2 s
    assert context.deadline == pytest.approx(plan.end - least - REFIT_MARGIN * 2.0)
    # better trials, each a 1 s refit: the five best count, the worst of them drops out
    for number in range(1, REFIT_MEMBERS + 1):
        reserve(study, _trial(number, 0.5 - number / 100, 0.8))
    assert context.deadline == pytest.approx(plan.end - least - REFIT_MARGIN * REFIT_MEMBERS)
    # a costly trial that is not among the best, and an infeasible or pruned one, change nothing
    reserve(study, _trial(9, 0.95, 80.0))
    reserve(study, _trial(10, 0.1, 80.0, infeasible=True))
    pruned = optuna.trial.create_trial(state=optuna.trial.TrialState.PRUNED)
    reserve(study, pruned)
    assert context.deadline == pytest.approx(plan.end - least - REFIT_MARGIN * REFIT_MEMBERS)


def test_the_reserve_is_at_most_the_refit_share_and_refits_side_by_side_divide_it():
    plan, context, reserve = _reserve()
    study = optuna.create_study()
    for number in range(REFIT_MEMBERS):  # refits of 10 s each, 50 s together
        reserve(study, _trial(number, 0.1 + number / 100, 8.0))
    assert context.deadline == pytest.approx(plan.end - REFIT_SHARE * BUDGET)
    plan, context, reserve = _reserve(at_once=2, maximize=True)
    reserve(optuna.create_study(), _trial(0, 0.1, 1.6))
    reserve(optuna.create_study(), _trial(1, 0.2, 1.6))
    expected = REFIT_MIN_SHARE * BUDGET + REFIT_MARGIN * (2.0 + 2.0) / 2
    assert context.deadline == pytest.approx(plan.end - expected)


def test_a_plan_without_a_refit_in_the_budget_keeps_nothing_back():
    plan = BudgetPlan.make(BUDGET, 500, started=0.0)  # cross-validated: no refit
    assert plan.refit_reserve(50.0) == 0.0 and plan.latest_search_deadline == plan.end
    refit_after = BudgetPlan.make(BUDGET, 5_000, cv=None, refit=True, started=0.0)
    assert refit_after.refit_reserve(50.0) == 0.0


def test_a_search_whose_refits_are_short_runs_past_the_refit_share():
    """Linear models on a holdout (refit="auto") refit in milliseconds, so the search goes on
    past 1 - REFIT_SHARE of the budget (it stopped there before), and fit still returns within
    the budget (+ 5 %, and a second for a loaded machine)."""
    X, y = load_breast_cancer(return_X_y=True)
    budget = 4.0
    started = time.monotonic()
    clf = AutoNASClassifier(
        families=["linear"], stages=["tpe"], time_budget=budget, cv=None, random_state=0,
        verbose=0,
    ).fit(X, y)
    elapsed = time.monotonic() - started
    trials = clf.study_.trials
    search_end = max(t.datetime_complete for t in trials) - min(t.datetime_start for t in trials)
    assert search_end.total_seconds() > (1 - REFIT_SHARE) * budget
    assert clf.refitted_  # the reserve left the refit its time
    assert elapsed < 1.05 * budget + 1.0


def test_no_time_is_kept_for_a_refit_longer_than_the_largest_reserve():
    # the refit would skip it anyway (it cannot start with enough time left): 1,000 s expected
    plan, context, reserve = _reserve()
    study = optuna.create_study()
    reserve(study, _trial(0, 0.1, 800.0))
    assert context.deadline == pytest.approx(plan.end - REFIT_MIN_SHARE * BUDGET)
    reserve(study, _trial(1, 0.2, 1.6))  # a 2 s refit among the best: kept for
    assert context.deadline == pytest.approx(
        plan.end - REFIT_MIN_SHARE * BUDGET - REFIT_MARGIN * 2.0
    )
