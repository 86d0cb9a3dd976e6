"""Unit tests of the REINFORCE controller: discretisation, learning rule, catching up."""

from __future__ import annotations

import math

import numpy as np
import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from optuna.trial import TrialState, create_trial

from automl_nas.samplers import ReinforceSampler
from automl_nas.samplers._history import contains
from automl_nas.samplers._reinforce import _action_of, _bin_edges, _Decision, _exact_values

OPS = CategoricalDistribution(("none", "skip", "conv1", "conv3", "pool"))


def test_exact_values_for_choices_and_small_grids():
    assert _exact_values(OPS, 10) == OPS.choices
    assert _exact_values(IntDistribution(1, 5), 10) == (1, 2, 3, 4, 5)
    assert _exact_values(IntDistribution(0, 100, step=25), 10) == (0, 25, 50, 75, 100)
    assert _exact_values(FloatDistribution(0.0, 0.9, step=0.1), 10) is not None
    assert _exact_values(IntDistribution(0, 100), 10) is None
    assert _exact_values(FloatDistribution(0.0, 1.0), 10) is None


def test_bin_edges_are_log_spaced_for_log_distributions():
    edges = _bin_edges(FloatDistribution(1e-4, 1.0, log=True), 4)
    assert np.allclose(np.exp(edges), [1e-4, 1e-3, 1e-2, 1e-1, 1.0])
    assert np.allclose(_bin_edges(FloatDistribution(0.0, 1.0), 2), [0.0, 0.5, 1.0])


def test_action_of_maps_values_back_to_their_bin():
    dist = FloatDistribution(1e-4, 1.0, log=True)
    edges = _bin_edges(dist, 4)
    assert [_action_of(dist, None, edges, v) for v in (1e-4, 5e-4, 0.05, 1.0)] == [0, 0, 2, 3]
    assert _action_of(OPS, OPS.choices, None, "conv3") == 3
    assert _action_of(OPS, OPS.choices, None, "unknown") is None
    grid = IntDistribution(1, 5)
    assert _action_of(grid, _exact_values(grid, 10), None, 4) == 3


@pytest.mark.parametrize(
    "dist",
    [
        OPS,
        IntDistribution(16, 512, log=True),
        IntDistribution(1, 5),
        IntDistribution(0, 1000, step=10),
        FloatDistribution(1e-5, 1e-1, log=True),
        FloatDistribution(-1.0, 1.0),
    ],
)
def test_decision_samples_valid_values_and_recovers_their_action(dist):
    decision = _Decision(dist, n_bins=7)
    generator = torch.Generator().manual_seed(0)
    actions = set()
    for _ in range(300):
        value = decision.sample(generator)
        assert contains(dist, value)
        actions.add(decision.action_of(value))
    assert actions == set(range(len(decision.logits)))  # a uniform policy reaches every action


def _space_study(direction: str, rewards: dict[str, float]) -> optuna.Study:
    """A study with one trial per (op, value) pair given."""
    study = optuna.create_study(direction=direction)
    for op, value in rewards.items():
        study.add_trial(create_trial(params={"op": op}, distributions={"op": OPS}, value=value))
    return study


def _probs(sampler: ReinforceSampler) -> torch.Tensor:
    return torch.softmax(sampler._decisions["op"].logits.detach(), dim=0)


@pytest.mark.parametrize("direction, good", [("maximize", 1.0), ("minimize", -1.0)])
def test_policy_moves_towards_better_choice(direction, good):
    study = optuna.create_study(direction=direction)
    for i in range(40):
        op = "conv3" if i % 2 else OPS.choices[i % 5]
        value = good if op == "conv3" else -good
        study.add_trial(create_trial(params={"op": op}, distributions={"op": OPS}, value=value))
    sampler = ReinforceSampler({"op": OPS}, lr=0.1, seed=0)
    sampler.sample_relative(study, study.trials[-1], {"op": OPS})
    probs = _probs(sampler)
    assert int(probs.argmax()) == OPS.choices.index("conv3") and probs.max() > 0.4


def test_learning_is_invariant_to_reward_scale():
    values = [0.3, 0.9, 0.1, 0.5, 0.7, 0.2, 0.8]
    ops = [OPS.choices[i % 5] for i in range(len(values))]
    logits = []
    for scale in (1.0, 1000.0):
        study = optuna.create_study(direction="maximize")
        for op, value in zip(ops, values):
            study.add_trial(
                create_trial(params={"op": op}, distributions={"op": OPS}, value=scale * value)
            )
        sampler = ReinforceSampler({"op": OPS}, seed=0)
        sampler.sample_relative(study, study.trials[-1], {"op": OPS})
        logits.append(sampler._decisions["op"].logits.detach())
    assert not torch.allclose(logits[0], torch.zeros_like(logits[0]))
    assert torch.allclose(logits[0], logits[1])


def test_catches_up_once_per_trial_and_on_new_trials():
    study = _space_study("maximize", {"conv3": 1.0, "none": 0.0})
    sampler = ReinforceSampler({"op": OPS}, seed=0)
    sampler.sample_relative(study, study.trials[-1], {"op": OPS})
    first = _probs(sampler).clone()
    sampler.sample_relative(study, study.trials[-1], {"op": OPS})
    assert torch.equal(first, _probs(sampler))  # nothing new: no step
    study.add_trial(create_trial(params={"op": "conv3"}, distributions={"op": OPS}, value=1.0))
    sampler.sample_relative(study, study.trials[-1], {"op": OPS})
    assert not torch.equal(first, _probs(sampler))
    assert sampler._n_rewards == 3


@pytest.mark.parametrize("consider_pruned, learned", [(True, 2), (False, 0)])
def test_pruned_trials_teach_with_last_intermediate_value(consider_pruned, learned):
    study = optuna.create_study(direction="maximize")
    for op, curve in (("conv3", {0: 0.5, 3: 0.9}), ("none", {0: 0.1})):
        study.add_trial(
            create_trial(
                params={"op": op},
                distributions={"op": OPS},
                state=TrialState.PRUNED,
                intermediate_values=curve,
            )
        )
    sampler = ReinforceSampler({"op": OPS}, consider_pruned_trials=consider_pruned, seed=0)
    sampler.sample_relative(study, study.trials[-1], {"op": OPS})
    assert sampler._n_rewards == learned
    assert math.isclose(sampler._reward_mean, 0.5 if learned else 0.0)


@pytest.mark.parametrize(
    "kwargs", [{"n_bins": 1}, {"lr": 0.0}, {"baseline_decay": 1.0}, {"baseline_decay": -0.1}]
)
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        ReinforceSampler(**kwargs)
