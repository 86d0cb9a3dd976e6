"""Promotion: the best configurations trained again, longer, as ordinary trials."""

import numpy as np
import optuna
import pytest
from optuna.trial import TrialState
from sklearn.datasets import load_breast_cancer

from automl_nas import AutoNASClassifier, MLPSpace, TabularSpace
from automl_nas.search import TrialAttr
from automl_nas.stages import PromoteStage, best_configurations


def test_best_configurations_are_distinct_feasible_and_best_first():
    study = optuna.create_study(direction="maximize")
    dist = optuna.distributions.IntDistribution(0, 10)
    for x, value, infeasible in [(1, 0.5, False), (2, 0.9, True), (3, 0.8, False), (3, 0.8, False)]:
        trial = optuna.trial.create_trial(
            params={"x": x}, distributions={"x": dist}, value=value,
            constraints={"max_params": 1.0 if infeasible else -1.0},
        )
        study.add_trial(trial)
    assert best_configurations(study, 2) == [{"x": 3}, {"x": 1}]
    assert best_configurations(study, 5) == [{"x": 3}, {"x": 1}]


def test_fit_promotes_the_best_configuration_with_more_time():
    X, y = load_breast_cancer(return_X_y=True)
    space = MLPSpace(max_layers=1, max_units=32)
    clf = AutoNASClassifier(space=space, time_budget=8, random_state=0, verbose=0).fit(X, y)
    trials = clf.study_.get_trials(states=(TrialState.COMPLETE,))
    promoted = [t for t in trials if t.user_attrs[TrialAttr.STAGE] == "promote"]
    assert promoted
    searched = [t for t in trials if t.user_attrs[TrialAttr.STAGE] != "promote"]
    sign = -1 if clf.study_.direction == optuna.study.StudyDirection.MINIMIZE else 1  # log loss
    best = max(searched, key=lambda t: sign * t.value)
    assert promoted[0].params == best.params
    # More time than a search trial had (a tenth of the search), and never pruned.
    assert promoted[0].user_attrs[TrialAttr.TRIAL_SECONDS] > 0.1 * 8 * 0.85
    assert not promoted[0].intermediate_values or promoted[0].state == TrialState.COMPLETE


def test_no_promotion_with_a_trial_count_or_two_objectives():
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(
        space=TabularSpace(), n_trials=3, max_epochs=2, random_state=0, verbose=0
    ).fit(X[:200], y[:200])
    assert {t.user_attrs[TrialAttr.STAGE] for t in clf.study_.trials} == {"default", "tpe"}
    with pytest.raises(ValueError, match="n_promote"):
        PromoteStage(n_promote=0)
    assert np.isfinite(clf.best_score_)


def test_time_a_promotion_leaves_goes_to_the_next_best_configurations():
    """Linear trials end at once: each round hands the stage's time to the next best, until
    every distinct configuration is promoted (then the stage ends, before its time)."""
    X, y = load_breast_cancer(return_X_y=True)
    clf = AutoNASClassifier(families=["linear"], time_budget=6, random_state=0, verbose=0)
    clf.fit(X, y)
    trials = clf.study_.get_trials(states=(TrialState.COMPLETE,))
    promoted = [t for t in trials if t.user_attrs[TrialAttr.STAGE] == "promote"]
    searched = [t for t in trials if t.user_attrs[TrialAttr.STAGE] != "promote"]
    ranked = best_configurations(clf.study_, len(trials))
    assert len(promoted) > 1
    assert [t.params for t in promoted] == ranked[: len(promoted)]  # best first, each once
    # Every round after the first gets the time its predecessors left, not a fixed part.
    seconds = [t.user_attrs[TrialAttr.TRIAL_SECONDS] for t in promoted]
    assert seconds == sorted(seconds, reverse=True)
    assert len({str(t.params) for t in searched}) >= len(promoted)
