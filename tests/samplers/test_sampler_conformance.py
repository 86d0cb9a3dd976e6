"""What every automl_nas sampler must do inside plain Optuna, tested on both samplers.

Search quality on a toy with a known optimum, determinism, resuming from an SQLite storage,
pruned and failed trials in the history, threads, and a clear error for multi-objective studies.
"""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState

from automl_nas.samplers import RegularizedEvolutionSampler, ReinforceSampler

N_CATEGORICAL = 6
CHOICES = ("a", "b", "c", "d")
SPACE = {
    **{f"op{i}": CategoricalDistribution(CHOICES) for i in range(N_CATEGORICAL)},
    "units": IntDistribution(0, 50),
    "lr": FloatDistribution(1e-4, 1.0, log=True),
    "x": FloatDistribution(-5.0, 5.0),
}
OPTIMUM = N_CATEGORICAL + 3.0

SAMPLERS = {
    "evolution": lambda space, seed: RegularizedEvolutionSampler(
        space, population_size=10, sample_size=3, seed=seed
    ),
    "evolution-crossover": lambda space, seed: RegularizedEvolutionSampler(
        space, population_size=10, sample_size=3, crossover_prob=0.5, seed=seed
    ),
    "reinforce": lambda space, seed: ReinforceSampler(space, seed=seed),
}


def suggest_all(trial: optuna.trial.BaseTrial) -> dict:
    ops = {f"op{i}": trial.suggest_categorical(f"op{i}", CHOICES) for i in range(N_CATEGORICAL)}
    return {
        **ops,
        "units": trial.suggest_int("units", 0, 50),
        "lr": trial.suggest_float("lr", 1e-4, 1.0, log=True),
        "x": trial.suggest_float("x", -5.0, 5.0),
    }


def toy(trial: optuna.trial.BaseTrial) -> float:
    """One point per op equal to "c", plus up to one point per numeric for closeness."""
    p = suggest_all(trial)
    score = sum(p[f"op{i}"] == "c" for i in range(N_CATEGORICAL))
    score += 1 - abs(p["units"] - 37) / 50
    score += 1 - abs(math.log10(p["lr"]) + 2) / 4
    return score + 1 - abs(p["x"] - 1.3) / 10


def best_values(make_sampler, n_trials: int = 150, seeds=range(5)) -> list[float]:
    bests = []
    for seed in seeds:
        study = optuna.create_study(direction="maximize", sampler=make_sampler(seed))
        study.optimize(toy, n_trials=n_trials)
        bests.append(study.best_value)
    return bests


@pytest.fixture(scope="module")
def random_best() -> float:
    return float(np.mean(best_values(lambda seed: optuna.samplers.RandomSampler(seed=seed))))


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("space", [SPACE, None], ids=["given-space", "inferred-space"])
def test_beats_random_search_on_toy(name, space, random_best):
    bests = best_values(lambda seed: SAMPLERS[name](space, seed))
    assert all(best <= OPTIMUM for best in bests)
    assert np.mean(bests) > random_best + 0.5, (np.mean(bests), random_best)


@pytest.mark.parametrize("name", SAMPLERS)
def test_same_seed_same_trials(name):
    def params(seed):
        study = optuna.create_study(direction="maximize", sampler=SAMPLERS[name](None, seed))
        study.optimize(toy, n_trials=30)
        return [t.params for t in study.trials]

    first = params(7)
    assert first == params(7)
    assert first != params(8)


def test_evolution_resumes_from_sqlite_as_if_never_stopped(tmp_path):
    """The sampler keeps no state: a fresh instance on the stored study proposes the same."""
    storage = f"sqlite:///{tmp_path / 'evo.db'}"
    study = optuna.create_study(
        storage=storage, direction="maximize", sampler=SAMPLERS["evolution"](SPACE, 3)
    )
    study.optimize(toy, n_trials=15)
    resumed = optuna.load_study(
        study_name=study.study_name, storage=storage, sampler=SAMPLERS["evolution"](SPACE, 3)
    )
    resumed.optimize(toy, n_trials=10)

    reference = optuna.create_study(direction="maximize", sampler=SAMPLERS["evolution"](SPACE, 3))
    reference.optimize(toy, n_trials=25)
    assert [t.params for t in resumed.trials] == [t.params for t in reference.trials]


def test_reinforce_rebuilds_its_policy_from_sqlite(tmp_path):
    storage = f"sqlite:///{tmp_path / 'rl.db'}"
    running = SAMPLERS["reinforce"](SPACE, 3)
    study = optuna.create_study(storage=storage, direction="maximize", sampler=running)
    study.optimize(toy, n_trials=20)
    study.ask().suggest_categorical("op0", CHOICES)  # sampling trial 20 learns from trial 19

    fresh = SAMPLERS["reinforce"](SPACE, 4)
    resumed = optuna.load_study(study_name=study.study_name, storage=storage, sampler=fresh)
    resumed.ask().suggest_categorical("op0", CHOICES)
    assert fresh._n_rewards == running._n_rewards == 20
    for name in SPACE:  # the same updates in the same order: the same policy
        assert torch.allclose(fresh._decisions[name].logits, running._decisions[name].logits)


@pytest.mark.parametrize("name", SAMPLERS)
@pytest.mark.parametrize("space", [SPACE, None], ids=["given-space", "inferred-space"])
def test_works_with_pruner_and_failed_trials(name, space):
    def objective(trial):
        value = toy(trial)
        if trial.number % 7 == 3:
            raise RuntimeError("a training run crashed")
        for step in range(5):
            trial.report(value * (step + 1) / 5, step)
            if trial.should_prune():
                raise optuna.TrialPruned()
        return value

    pruner = optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=1)
    study = optuna.create_study(
        direction="maximize", sampler=SAMPLERS[name](space, 0), pruner=pruner
    )
    study.optimize(objective, n_trials=60, catch=(RuntimeError,))
    states = {state: len(study.get_trials(states=(state,))) for state in TrialState}
    assert states[TrialState.FAIL] > 0 and states[TrialState.PRUNED] > 0
    assert states[TrialState.COMPLETE] > 10
    for trial in study.trials:
        assert all(
            SPACE[k]._contains(SPACE[k].to_internal_repr(v)) for k, v in trial.params.items()
        )


@pytest.mark.parametrize("name", SAMPLERS)
def test_params_outside_space_are_sampled_at_random(name):
    def objective(trial):
        extra = trial.suggest_float("extra", 0.0, 1.0)
        return toy(trial) + extra

    small = {"op0": SPACE["op0"]}
    study = optuna.create_study(direction="maximize", sampler=SAMPLERS[name](small, 0))
    study.optimize(objective, n_trials=25)
    assert len({t.params["extra"] for t in study.trials}) == 25


@pytest.mark.parametrize("name", SAMPLERS)
def test_threads_share_one_sampler(name):
    study = optuna.create_study(direction="maximize", sampler=SAMPLERS[name](SPACE, 0))
    study.optimize(toy, n_trials=24, n_jobs=2)
    assert len(study.get_trials(states=(TrialState.COMPLETE,))) == 24


@pytest.mark.parametrize("name", SAMPLERS)
def test_multi_objective_is_refused_with_a_clear_error(name):
    study = optuna.create_study(
        directions=["maximize", "minimize"], sampler=SAMPLERS[name](SPACE, 0)
    )
    with pytest.raises(ValueError, match="single-objective"):
        study.optimize(lambda t: (toy(t), 0.0), n_trials=1)
