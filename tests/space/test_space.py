"""The search space as a value: static distributions, narrowing, fixing, defaults, building."""

import optuna
import pytest
import torch
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from automl_nas import MLPSpace
from automl_nas.space import LinearSpace


def test_full_static_space_names_both_kinds():
    dists = MLPSpace(max_layers=3).distributions
    assert {"lr", "weight_decay", "batch_size", "optimizer", "dropout", "epochs"} <= set(dists)
    assert {"n_layers", "units_0", "units_1", "units_2", "activation", "norm", "skip"} <= set(dists)
    assert dists["lr"].log and dists["units_0"].log


def test_replace_narrows_fixes_and_extends_without_touching_the_original():
    base = MLPSpace()
    space = base.replace(lr=(1e-3, 1e-2), optimizer="adamw", activation=["relu", "mish"],
                         momentum=FloatDistribution(0.8, 0.99))
    assert space.distributions["lr"] == FloatDistribution(1e-3, 1e-2, log=True)
    assert "optimizer" not in space.distributions and space.fixed == {"optimizer": "adamw"}
    assert space.distributions["activation"] == CategoricalDistribution(("relu", "mish"))
    assert "momentum" in space.distributions
    assert base.distributions["lr"] == FloatDistribution(1e-4, 3e-2, log=True)
    assert space.replace(units_0=(8, 32)).distributions["units_0"] == IntDistribution(8, 32, log=True)


def test_defaults_stay_inside_a_narrowed_space():
    space = MLPSpace().replace(lr=(1e-2, 2e-2), batch_size=[16, 32], units_0=(8, 32))
    params = space.default_params()
    for name, value in params.items():
        assert space.distributions[name]._contains(space.distributions[name].to_internal_repr(value))


def test_sample_draws_every_parameter_and_builds_a_network():
    space = MLPSpace(max_layers=3).replace(skip=True)
    study = optuna.create_study()
    trial = study.ask()
    params = space.sample(trial)
    assert set(params) == set(space.distributions) | {"skip"}
    model = space.build(params, (7,), 3)
    assert model(torch.zeros(5, 7)).shape == (5, 3)


@pytest.mark.parametrize("norm", ["none", "batch", "layer"])
def test_residual_blocks_of_changing_width(norm):
    space = MLPSpace(max_layers=3)
    params = {**space.default_params(), "n_layers": 3, "units_0": 32, "units_1": 32, "units_2": 8,
              "skip": True, "norm": norm}
    model = space.build(params, (4,), 2)
    assert model(torch.randn(6, 4)).shape == (6, 2)
    assert sum(b.shortcut is not None for b in model.body) == 3


def test_used_params_leave_out_the_widths_beyond_the_depth():
    space = MLPSpace(max_layers=4)
    params = {**space.default_params(), "n_layers": 1}
    assert space.used_params(params) == set(params) - {"units_1", "units_2", "units_3"}
    assert space.used_params({**params, "n_layers": 4}) == set(params)


def test_used_params_of_a_space_that_knows_no_better_are_all_of_them():
    params = LinearSpace().default_params()
    assert LinearSpace().used_params(params) == set(params)
