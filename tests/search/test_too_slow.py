"""A network too slow for its trial's time is pruned within its first epoch, once the search
has a model, instead of spending up to twice its share on one epoch."""

import time

import optuna
import pytest
from optuna.trial import TrialState
from sklearn.datasets import make_classification

from automl_nas import AutoNASClassifier, TabularSpace
from automl_nas.search import TrialAttr
from tests.search._digits import digits_objective


def test_a_network_too_slow_for_its_time_is_pruned_once_the_search_has_a_model():
    X, y = make_classification(n_samples=6000, n_features=20, random_state=0)
    # 8 members x 2 residual blocks of 256 units: an epoch of 3,600 rows in 64-row steps takes
    # seconds on a CPU, against a trial's share of a 6 s search of about 0.5 s. Each step stays
    # short enough (0.02-0.1 s, loaded or not) for the probe to time some within a trial's hard
    # stop: with 16 members x 4 blocks of 512 a loaded 2-core CI machine spent the first trial's
    # time on the probe's warm-up steps, so no trial was probed.
    space = TabularSpace().replace(
        block="resnet", n_blocks=2, width=256, ensemble_k=8, batch_size=64, embedding="none"
    )
    clf = AutoNASClassifier(space=space, time_budget=6, random_state=0, verbose=0).fit(X, y)
    trials = clf.study_.trials
    # The first trial is never probed, so a search of only slow networks still has a model.
    assert trials[0].state == TrialState.COMPLETE
    slow = [t for t in trials if t.user_attrs.get(TrialAttr.STOPPED_BY) == "too_slow"]
    assert slow and all(t.state == TrialState.PRUNED for t in slow)
    first = trials[0].user_attrs[TrialAttr.TRAIN_SECONDS]
    assert all(t.user_attrs[TrialAttr.TRAIN_SECONDS] < first for t in slow)
    assert clf.predict(X[:5]).shape == (5,)


def test_a_trial_is_not_started_when_its_familys_trials_took_longer_than_the_time_left():
    """Boosting's first fit is not sized to the time left: once the search has a model, a trial
    whose family never trained in less than the time left is pruned before it trains."""
    objective = digits_objective(epochs=3)
    context = objective.context
    study = optuna.create_study(direction="maximize")
    first = study.ask()
    study.tell(first, objective(first))
    took = study.trials[0].user_attrs[TrialAttr.TRAIN_SECONDS]

    context.deadline = time.monotonic() + took / 4  # less than any trial of the family took
    second = study.ask()
    with pytest.raises(optuna.TrialPruned, match="its family's trials here took"):
        objective(second)
    study.tell(second, state=TrialState.PRUNED)
    attrs = study.trials[1].user_attrs
    assert attrs[TrialAttr.STOPPED_BY] == "too_slow" and attrs[TrialAttr.TRAIN_SECONDS] < took / 4

    context.deadline = time.monotonic() + 60  # with time, the family trains again
    third = study.ask()
    assert isinstance(objective(third), float)
