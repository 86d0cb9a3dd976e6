"""Low-fidelity trials (issue 14): on many rows the search's trials train on a stratified
subsample, promoted trials on all rows, and a holdout split's tensors are views of the rows."""

import time

import numpy as np
import optuna
import pytest
import torch
from sklearn.datasets import load_digits, make_classification

from automl_nas import AutoNASClassifier
from automl_nas.data import subsample_rows
from automl_nas.search import (
    CELLS_PER_TRIAL_SECOND,
    MIN_TRIAL_ROWS,
    ROWS_PER_TRIAL_SECOND,
    BudgetPlan,
    MemoryTrialStore,
    SearchContext,
    SearchSpec,
    TrialAttr,
    TrialObjective,
)
from automl_nas.space import MLPSpace
from automl_nas.training import CLASSIFICATION_METRICS, TensorData


def test_trials_subsample_only_a_holdout_search_sized_by_time_with_many_cells():
    plan = BudgetPlan.make(30, 60_000)  # holdout, no refit: trials of 3 s
    cells = int(CELLS_PER_TRIAL_SECOND * plan.trial_seconds)
    assert plan.trial_rows(45_000, 2_000) == cells // 2_000
    assert plan.trial_rows(45_000, 10) is None  # the subsample would be over half the rows
    assert plan.trial_rows(45_000, 10**7) == MIN_TRIAL_ROWS
    assert BudgetPlan.make(30, 60_000, cv=5).trial_rows(45_000, 2_000) is None
    assert BudgetPlan.make(30, 60_000, sized_trials=False).trial_rows(45_000, 2_000) is None
    # a longer budget gives each trial more rows
    assert BudgetPlan.make(120, 60_000).trial_rows(45_000, 2_000) == 4 * (cells // 2_000)


def test_a_narrow_table_of_many_rows_is_subsampled_by_rows_not_only_by_cells():
    plan = BudgetPlan.make(30, 250_000)  # trials of 3 s
    rows = int(ROWS_PER_TRIAL_SECOND * plan.trial_seconds)
    cells = int(CELLS_PER_TRIAL_SECOND * plan.trial_seconds)
    # 50 columns: the cells would allow 150,000 of the 200,000 rows, over half of them, so
    # every trial would train on all; a trial gets the rows it has time for
    assert cells // 50 > 200_000 // 2
    assert plan.trial_rows(200_000, 50) == rows < 200_000 // 2
    assert plan.trial_rows(200_000, 5) == rows  # fewer columns, no more rows
    assert plan.trial_rows(2 * rows - 1, 50) is None  # under half: no cut
    # wide tables stay capped by their cells
    assert plan.trial_rows(200_000, 2_000) == cells // 2_000 < rows


def test_a_subsample_keeps_the_class_shares_and_is_sorted():
    y = np.array([0] * 900 + [1] * 100)
    chosen = subsample_rows(len(y), 200, y, seed=3)
    assert len(chosen) == 200 and np.all(np.diff(chosen) > 0)
    assert np.bincount(y[chosen]).tolist() == [180, 20]
    assert subsample_rows(10, 50, None, seed=0).tolist() == list(range(10))


def _objective(low_rows: int | None) -> tuple[TrialObjective, SearchContext, np.ndarray]:
    X, y = load_digits(return_X_y=True)
    X = ((X[:600] - X.mean()) / X.std()).astype(np.float32)
    y = y[:600]
    tensors = [torch.as_tensor(a) for a in (X[:500], y[:500], X[500:], y[500:])]
    data = TensorData(*tensors)
    low = None
    if low_rows is not None:
        low = TensorData(tensors[0][:low_rows], tensors[1][:low_rows], tensors[2], tensors[3])
    context = SearchContext(
        space=MLPSpace(max_layers=1, max_units=16).replace(epochs=2),
        deadline=time.monotonic() + 60, n_jobs=1, seed=0, data=data,
        loss_fn=torch.nn.CrossEntropyLoss(), input_shape=(64,), n_outputs=10, max_epochs=2,
        trial_seconds=5.0, low_fidelity=low,
    )
    objective = TrialObjective(
        context, y_folds=[y[500:]], metric=CLASSIFICATION_METRICS["accuracy"],
        decode=lambda z: z, patience=2, seed=0, store=MemoryTrialStore(4, True),
    )
    return objective, context, y


def test_search_trials_train_on_the_subsample_and_promoted_trials_on_all_rows():
    objective, _, _ = _objective(low_rows=200)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=2)
    assert [t.user_attrs[TrialAttr.TRAIN_ROWS] for t in study.trials] == [200, 200]
    study.enqueue_trial(study.best_params, user_attrs={TrialAttr.TRIAL_SECONDS: 5.0})
    study.optimize(objective, n_trials=1)
    assert study.trials[-1].user_attrs[TrialAttr.TRAIN_ROWS] == 500


def test_a_promoted_trial_stays_on_the_subsample_when_an_epoch_on_all_rows_would_not_fit():
    objective, _, _ = _objective(low_rows=200)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    # an epoch on the subsample took at least this long: on all rows it would take 2.5 x
    per_epoch = study.trials[0].user_attrs[TrialAttr.TRAIN_SECONDS] / 2
    study.enqueue_trial(study.best_params, user_attrs={TrialAttr.TRIAL_SECONDS: per_epoch})
    study.optimize(objective, n_trials=1)
    assert study.trials[-1].user_attrs[TrialAttr.TRAIN_ROWS] == 200


def test_without_a_subsample_every_trial_trains_on_all_rows():
    objective, _, _ = _objective(low_rows=None)
    study = optuna.create_study(direction="maximize")
    study.optimize(objective, n_trials=1)
    assert study.trials[0].user_attrs[TrialAttr.TRAIN_ROWS] == 500


def _spec(splits: list, trial_rows: int | None) -> SearchSpec:
    X = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
    y = np.arange(40) % 2
    return SearchSpec(
        space=MLPSpace(), X=X, y=y, y_metric=y, splits=splits,
        loss_fn=torch.nn.CrossEntropyLoss(), metric=CLASSIFICATION_METRICS["accuracy"],
        decode=lambda z: z, input_shape=(3,), n_outputs=2, max_epochs=1, patience=1, seed=0,
        keep=1, pruner=optuna.pruners.NopPruner(), worker_samplers=[], fingerprint="",
        trial_rows=trial_rows,
    )


def test_a_split_of_contiguous_rows_is_a_view_and_the_subsample_a_copy_of_its_rows():
    spec = _spec([(np.arange(30), np.arange(30, 40))], trial_rows=10)
    context = spec.context(time.monotonic() + 60, torch.device("cpu"))
    base = torch.from_numpy(spec.X)
    assert context.data.X_train.data_ptr() == base.data_ptr()
    assert context.data.X_val.data_ptr() == base[30].data_ptr()
    low = context.low_fidelity
    assert low is not None and len(low.X_train) == 10 and low.X_val is context.data.X_val
    rows = low.X_train[:, 0].long() // 3  # each row's first value tells which row it is
    assert torch.equal(low.y_train, torch.as_tensor(spec.y[rows.numpy()]))
    assert bool((rows < 30).all()) and low.y_train.bincount().tolist() == [5, 5]
    # scattered rows (cross-validation folds) are copies; no subsample with several folds
    folds = [(np.arange(0, 40, 2), np.arange(1, 40, 2)), (np.arange(1, 40, 2), np.arange(0, 40, 2))]
    context = _spec(folds, trial_rows=10).context(time.monotonic() + 60, torch.device("cpu"))
    assert torch.equal(context.folds[1].X_train, torch.from_numpy(spec.X[1::2]))
    assert context.low_fidelity is None


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_wide_table_searches_on_a_subsample():
    # 5,000 x 500: 4,000 training rows; a 4 s budget without refit gives trials 0.4 s and
    # 1,000,000 cells, 2,000 rows of 500 columns: the search's boosting trials train on those
    X, y = make_classification(n_samples=5_000, n_features=500, n_informative=20, random_state=0)
    clf = AutoNASClassifier(
        families=["gbdt", "linear"], time_budget=4, random_state=0, verbose=0, refit=False
    ).fit(X, y)
    board = clf.leaderboard()
    search = board[board["stage"] != "promote"]
    boosting = search[search["family"] == "gbdt"]
    assert len(boosting) and (boosting["train_rows"] == MIN_TRIAL_ROWS).all()
    # a linear model's fit on all rows is cheap, and it needs them: it never subsamples
    linear = board[board["family"] == "linear"]
    assert len(linear) and (linear["train_rows"] == 4_000).all()
    assert set(board["train_rows"]) <= {MIN_TRIAL_ROWS, 4_000}
    assert clf.predict(X[:5]).shape == (5,)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_a_refit_is_expected_to_take_its_trial_seconds_scaled_from_the_rows_it_trained_on(
    monkeypatch,
):
    """A member trained on a subsample of 2,125 rows and refitted on all 6,000 is expected to
    take 2.8 times its trial's seconds per epoch, not 6,000 / 4,800 (the holdout's training
    rows): on 50,000 x 2,000 rows that underestimate started refits the deadline then cut."""
    from automl_nas.estimator import _base as estimator_base

    ratios = []
    real = estimator_base.trial_refit_seconds

    def recorded(record, n_rows, n_train):
        # the rule (tests/search/test_reserve.py): n_rows over the rows the trial trained on
        ratios.append(n_rows / (record.train_rows or n_train))
        return real(record, n_rows, n_train)

    monkeypatch.setattr(estimator_base, "trial_refit_seconds", recorded)
    # a 5 s budget with its refit share: trials of 0.425 s, 1,062,500 cells, 2,125 rows; one
    # sampler stage, no promotion (a promoted trial trains on all rows, and when it alone is
    # the ensemble the two rules agree)
    X, y = make_classification(n_samples=6_000, n_features=500, n_informative=20, random_state=0)
    clf = AutoNASClassifier(
        families=["gbdt"], stages=["tpe"], time_budget=5, random_state=0, verbose=0
    ).fit(X, y)
    board = clf.leaderboard().set_index("trial")
    members = sorted(6_000 / board.loc[n, "train_rows"] for n in clf.ensemble_weights_)
    assert sorted(ratios) == pytest.approx(members)
    assert max(members) > 2  # a member of the subsample (the search's trials all are)
