"""Score vs size/latency searches (Pareto front) and the ``max_params`` constraint."""

from __future__ import annotations

import numpy as np
import pytest
from optuna.trial import TrialState
from sklearn.datasets import load_digits

from automl_nas import AutoNASClassifier, MLPSpace


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:500], y[:500], X[500:800], y[500:800]


def fast(**kwargs) -> AutoNASClassifier:
    return AutoNASClassifier(n_trials=12, time_budget=120, max_epochs=3, random_state=0, **kwargs)


def dominated(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Whether (score, cost) ``a`` is dominated by ``b`` (score maximised, cost minimised)."""
    return b[0] >= a[0] and b[1] <= a[1] and b != a


@pytest.mark.parametrize(
    ("cost", "sampler", "column"),
    [("n_params", "tpe", "n_params"), ("latency", "nsga2", "latency_ms")],
)
def test_two_objectives_give_a_pareto_front(digits, cost, sampler, column):
    X, y, X_test, y_test = digits
    # Accuracy (maximised) against cost (minimised): the default, log loss, is minimised too.
    clf = fast(cost_objective=cost, sampler=sampler, metric="accuracy").fit(X, y)
    study = clf.study_
    assert [d.name for d in study.directions] == ["MAXIMIZE", "MINIMIZE"]
    complete = study.get_trials(states=(TrialState.COMPLETE,))
    assert len(study.trials) == 12 and len(complete) >= 10  # nothing pruned: no reports
    assert all(not t.intermediate_values for t in study.trials)
    if cost == "latency":
        assert all(t.values[1] == t.user_attrs["latency_ms"] > 0 for t in complete)
    else:
        assert all(t.values[1] == t.user_attrs["n_params"] for t in complete)

    front = clf.pareto_front_
    assert list(front.columns[:3]) == ["trial", "score", column]
    assert front[column].is_monotonic_increasing
    points = {t.number: (t.values[0], t.values[1]) for t in complete}
    on_front = set(front["trial"])
    for number, point in points.items():  # the front is exactly the non-dominated trials
        beaten = any(dominated(point, other) for other in points.values())
        assert (number in on_front) == (not beaten)
    assert clf.score(X_test, y_test) > 0.5
    assert clf.leaderboard()["score"].notna().sum() == len(complete)


def test_max_params_constraint_holds_for_the_final_model(digits):
    X, y, X_test, y_test = digits
    limit = 15_000
    # MLPSpace: its default network (2 x 256) is above the limit, smaller ones are in reach.
    clf = fast(max_params=limit, n_jobs=1, space=MLPSpace()).fit(X, y)
    complete = clf.study_.get_trials(states=(TrialState.COMPLETE,))
    for trial in complete:  # every trial records its constraint before training
        assert trial.constraints["max_params"] == trial.user_attrs["n_params"] - limit
    assert any(t.constraints["max_params"] > 0 for t in complete)  # the default net is bigger
    members = clf.ensemble_.members
    assert sum(p.numel() for m in members for p in m.parameters()) <= limit
    assert sum(p.numel() for p in clf.best_model_.parameters()) <= limit
    board = clf.leaderboard()
    assert set(board.loc[board["ensemble_weight"] > 0, "feasible"]) == {True}
    assert clf.score(X_test, y_test) > 0.5


def test_no_feasible_network_is_a_clear_error(digits):
    X, y, _, _ = digits
    clf = AutoNASClassifier(n_trials=2, max_epochs=2, max_params=50, random_state=0)
    with pytest.raises(RuntimeError, match="max_params=50"):
        clf.fit(X, y)


@pytest.mark.parametrize("sampler", ["evolution", "rl", "cmaes"])
def test_single_objective_samplers_are_refused_early(digits, sampler):
    X, y, _, _ = digits
    with pytest.raises(ValueError, match="two-objective"):
        fast(cost_objective="n_params", sampler=sampler).fit(X, y)


def test_tpe_moves_towards_feasible_networks(digits):
    """Constraint-aware TPE: later trials are feasible more often than random ones."""
    X, y, _, _ = digits
    space = MLPSpace(max_layers=3, max_units=256).replace(epochs=3)
    limit = 8_000

    def feasible_share(sampler: str) -> float:
        clf = AutoNASClassifier(
            space=space, sampler=sampler, n_trials=24, max_epochs=1, max_params=limit,
            random_state=1, ensemble_size=1, pruner="none",
        ).fit(X, y)
        late = [t for t in clf.study_.trials if t.number >= 12 and t.state == TrialState.COMPLETE]
        return float(np.mean([t.constraints["max_params"] <= 0 for t in late]))

    assert feasible_share("tpe") > feasible_share("random")


def test_cost_objective_is_validated():
    with pytest.raises(ValueError, match="cost_objective"):
        AutoNASClassifier(cost_objective="size").fit(np.zeros((4, 2)), [0, 1, 0, 1])
