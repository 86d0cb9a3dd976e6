"""Unit tests of regularized evolution's pure functions and of its population rules."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from automl_nas.samplers import RegularizedEvolutionSampler
from automl_nas.samplers._evolution import _crossover, _mutate, _tournament
from automl_nas.samplers._history import contains

SPACE = {
    "op": CategoricalDistribution(("conv", "pool", "skip", "none")),
    "fixed": CategoricalDistribution(("only",)),
    "units": IntDistribution(8, 512, log=True),
    "layers": IntDistribution(1, 4),
    "lr": FloatDistribution(1e-5, 1e-1, log=True),
    "dropout": FloatDistribution(0.0, 0.5),
    "momentum": FloatDistribution(0.0, 0.9, step=0.1),
}
PARAMS = {
    "op": "conv",
    "fixed": "only",
    "units": 8,
    "layers": 4,
    "lr": 1e-1,
    "dropout": 0.25,
    "momentum": 0.0,
}


@pytest.mark.parametrize("maximize", [True, False])
def test_tournament_picks_best_of_sample(maximize):
    values = [3.0, 9.0, 1.0, 7.0, 5.0]
    assert _tournament(values, 5, np.random.default_rng(0), maximize) == (1 if maximize else 2)
    for seed in range(20):
        rng = np.random.default_rng(seed)
        winner = _tournament(values, 2, rng, maximize)
        sample = np.random.default_rng(seed).choice(5, size=2, replace=False)
        best = (
            max(sample, key=values.__getitem__) if maximize else min(sample, key=values.__getitem__)
        )
        assert winner == best


def test_tournament_caps_sample_at_population():
    assert _tournament([2.0, 1.0], 10, np.random.default_rng(0), maximize=True) == 0


def test_mutate_changes_exactly_one_gene_inside_space():
    rng = np.random.default_rng(0)
    changed = set()
    for _ in range(500):
        child = _mutate(PARAMS, SPACE, rng)
        diff = [name for name in PARAMS if child[name] != PARAMS[name]]
        assert len(diff) == 1
        changed.update(diff)
        assert all(contains(SPACE[name], value) for name, value in child.items())
        assert isinstance(child["units"], int) and isinstance(child["layers"], int)
    assert changed == set(SPACE) - {"fixed"}  # a single-choice gene can never change


def test_mutate_is_local_on_numeric_genes():
    rng = np.random.default_rng(1)
    space = {"lr": SPACE["lr"]}
    steps = [abs(np.log10(_mutate({"lr": 1e-3}, space, rng)["lr"]) + 3) for _ in range(300)]
    assert np.median(steps) < 1.0  # 0.2 of a 4-decade range: mostly within a decade


def test_mutate_without_mutable_gene_returns_copy():
    params = {"fixed": "only"}
    child = _mutate(params, {"fixed": SPACE["fixed"]}, np.random.default_rng(0))
    assert child == params and child is not params


def test_crossover_mixes_two_parents():
    first = {f"g{i}": 0 for i in range(20)}
    second = {f"g{i}": 1 for i in range(20)}
    child = _crossover(first, second, np.random.default_rng(0))
    assert list(child) == list(first)
    assert 0 < sum(child.values()) < 20
    assert _crossover(first, first, np.random.default_rng(0)) == first


def _history_study(n_trials: int) -> tuple[optuna.Study, dict]:
    """Trial ``i`` sets genes a, b, c to ``i`` and scores ``-i``: the older, the better."""
    study = optuna.create_study(direction="maximize")
    dist = CategoricalDistribution(tuple(range(n_trials)))
    space = {"a": dist, "b": dist, "c": dist}
    for i in range(n_trials):
        study.add_trial(
            optuna.trial.create_trial(params=dict.fromkeys(space, i), distributions=space, value=-i)
        )
    return study, space


def _parent_of(child: dict) -> int:
    """The parent's id: one gene was mutated, so two of the three still carry it."""
    values = list(child.values())
    return max(set(values), key=values.count)


def test_parent_is_best_of_youngest_not_best_ever():
    study, space = _history_study(60)
    sampler = RegularizedEvolutionSampler(space, population_size=10, sample_size=10, seed=0)
    for number in range(5):
        child = sampler.sample_relative(study, study.trials[number], space)
        assert _parent_of(child) == 50  # the best of trials 50..59; trial 0 has aged out


def test_small_tournament_picks_varied_parents():
    study, space = _history_study(60)
    sampler = RegularizedEvolutionSampler(space, population_size=10, sample_size=2, seed=0)
    parents = {_parent_of(sampler.sample_relative(study, t, space)) for t in study.trials}
    assert len(parents) > 3 and parents <= set(range(50, 59))  # 59 never wins a tournament


def test_warm_up_is_random_until_population_is_full():
    study, space = _history_study(5)
    sampler = RegularizedEvolutionSampler(population_size=10, sample_size=3, seed=0)
    assert sampler.infer_relative_search_space(study, study.trials[-1]) == space
    assert sampler.sample_relative(study, study.trials[-1], space) == {}


def test_pruned_trials_join_population_only_when_asked():
    study = optuna.create_study(direction="maximize")
    dist = {"x": FloatDistribution(0.0, 1.0)}
    for i in range(4):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": 0.5},
                distributions=dist,
                state=optuna.trial.TrialState.PRUNED,
                intermediate_values={0: float(i)},
            )
        )
    frozen = study.trials[-1]
    with_pruned = RegularizedEvolutionSampler(dist, population_size=4, sample_size=2, seed=0)
    without = RegularizedEvolutionSampler(
        dist, population_size=4, sample_size=2, consider_pruned_trials=False, seed=0
    )
    assert with_pruned.sample_relative(study, frozen, dist) != {}
    assert without.sample_relative(study, frozen, dist) == {}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"population_size": 1},
        {"population_size": 5, "sample_size": 6},
        {"sample_size": 0},
        {"crossover_prob": 1.5},
    ],
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        RegularizedEvolutionSampler(**kwargs)


def test_conditional_space_evolves_each_branch():
    """A family choice with per-family parameters (the union given as the space, as the
    search's ``FamilySpace`` does): no trial sets every parameter, yet after the warm-up
    children are their parents with one gene changed, within the parent's branch unless the
    branch itself mutated (random draws never match an earlier trial in all but one float);
    before, such a space stayed random for ever."""
    space = {
        "family": CategoricalDistribution(("a", "b")),
        "a_x": FloatDistribution(0.0, 1.0),
        "a_n": IntDistribution(1, 8),
        "b_y": FloatDistribution(0.0, 1.0),
    }
    sampler = RegularizedEvolutionSampler(space, population_size=8, sample_size=3, seed=0)
    study = optuna.create_study(direction="maximize", sampler=sampler)

    def objective(trial: optuna.Trial) -> float:
        if trial.suggest_categorical("family", ("a", "b")) == "a":
            return trial.suggest_float("a_x", 0.0, 1.0) * trial.suggest_int("a_n", 1, 8) / 8
        return trial.suggest_float("b_y", 0.0, 1.0)

    study.optimize(objective, n_trials=40)
    trials = study.trials
    same_branch = sum(
        any(
            len({n for n in child.params if parent.get(n) != child.params[n]}) == 1
            for parent in (t.params for t in trials[: child.number])
        )
        for child in trials[8:]
    )
    assert same_branch >= 20  # most children keep their parent's branch and change one gene
    assert study.best_value > 0.9
