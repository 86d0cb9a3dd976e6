"""BudgetPlan: how one time budget splits into search, refit, stages and workers."""

import time

import pytest

from automl_nas.search import (
    CV_AUTO_FOLDS,
    CV_AUTO_ROWS_PER_SECOND,
    REFIT_AUTO_MAX_ROWS,
    REFIT_SHARE,
    TRIAL_HARD_STOP,
    WORKER_GRACE,
    BudgetPlan,
    refit_seconds,
    wall_deadline,
)


def test_small_data_is_cross_validated_and_not_refitted():
    plan = BudgetPlan.make(60, CV_AUTO_ROWS_PER_SECOND * 60, started=100.0)
    assert plan.n_folds == CV_AUTO_FOLDS
    assert not plan.refit and plan.refit_deadline() is None
    assert plan.end == plan.search_deadline == 160.0


def test_larger_data_takes_the_holdout_and_refits_in_the_budgets_last_share():
    plan = BudgetPlan.make(60, CV_AUTO_ROWS_PER_SECOND * 60 + 1, started=100.0)
    assert plan.n_folds is None
    assert plan.refit and plan.refit_in_budget
    assert plan.search_deadline == pytest.approx(160.0 - REFIT_SHARE * 60)
    assert plan.refit_deadline() == plan.end == 160.0


def test_auto_refit_stops_above_its_row_limit_and_refit_true_takes_another_budget():
    assert not BudgetPlan.make(1, REFIT_AUTO_MAX_ROWS + 1).refit
    assert BudgetPlan.make(1, REFIT_AUTO_MAX_ROWS).refit
    plan = BudgetPlan.make(30, REFIT_AUTO_MAX_ROWS + 1, refit=True, started=0.0)
    assert plan.refit and not plan.refit_in_budget
    assert plan.search_deadline == plan.end == 30.0
    before = time.monotonic()
    assert before + 30 <= plan.refit_deadline() <= time.monotonic() + 30


@pytest.mark.parametrize("reason", [{"refit": True}, {"single_network": True}])
def test_single_networks_are_never_cross_validated_automatically(reason):
    assert BudgetPlan.make(60, 100, **reason).n_folds is None


def test_tiny_data_is_not_cross_validated():
    assert BudgetPlan.make(60, 5).n_folds is None


def test_explicit_cv_is_checked_before_any_search():
    assert BudgetPlan.make(1, 10_000, cv=3).n_folds == 3
    assert BudgetPlan.make(60, 100, cv=None).n_folds is None
    with pytest.raises(ValueError, match="cv=5 folds need at least 5 samples, got 4"):
        BudgetPlan.make(60, 4, cv=5)
    with pytest.raises(ValueError, match="refit=True retrains networks after a holdout"):
        BudgetPlan.make(60, 100, cv=3, refit=True)


def test_stages_split_what_the_stages_before_them_left():
    assert BudgetPlan.stage_limits(0, 3, 10) == (pytest.approx(1 / 3), 4)
    assert BudgetPlan.stage_limits(1, 3, 6) == (0.5, 3)
    assert BudgetPlan.stage_limits(2, 3, None) == (1.0, None)


def test_workers_share_the_wall_clock_deadline_and_their_last_trials_are_awaited():
    deadline = time.monotonic() + 50
    assert wall_deadline(deadline) == pytest.approx(time.time() + 50, abs=0.5)
    plan = BudgetPlan.make(100, 100)  # a trial that starts now may train its hard stop
    expected = TRIAL_HARD_STOP * plan.trial_seconds + WORKER_GRACE
    assert plan.worker_wait() == pytest.approx(expected, abs=0.1)
    late = BudgetPlan.make(100, 100, started=time.monotonic() - 200)  # past its deadline
    assert late.worker_wait() == pytest.approx(WORKER_GRACE)


def test_a_search_bound_by_a_trial_count_does_not_size_its_trials():
    plan = BudgetPlan.make(100, 100, sized_trials=False)
    assert plan.trial_seconds is None
    until_deadline = plan.search_deadline - time.monotonic()
    assert plan.worker_wait() == pytest.approx(until_deadline + WORKER_GRACE, abs=0.1)


def test_a_refit_is_expected_to_take_its_trials_seconds_per_epoch_on_its_rows():
    # 8 s for 40 epochs, the best at 10: a refit trains 10 epochs on 1.25 x the rows
    assert refit_seconds(8.0, 40, 10, 1.25) == pytest.approx(2.5)
    assert refit_seconds(8.0, 10, 40, 1.0) == pytest.approx(8.0)  # never more than it trained
    assert refit_seconds(None, 10, 5, 1.25) == 0.0 and refit_seconds(3.0, 0, 1, 1.0) == 0.0
