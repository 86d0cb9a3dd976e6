"""Relaxed forms: each space describes the choices its supernet mixes, or says it has none."""

from __future__ import annotations

import pytest
import torch
from optuna.distributions import FloatDistribution, IntDistribution

from automl_nas.nn import CELL_OPS, SuperMLP, SuperNetwork
from automl_nas.space import CellSpace, MLPSpace, SearchSpace, training_distributions


def test_mlp_space_relaxes_every_architecture_choice_and_only_those():
    space = MLPSpace(max_layers=3, min_units=16, max_units=64).replace(
        n_layers=IntDistribution(1, 3, step=2), units_1=[8, 24], units_2=40, skip=True
    )
    net = space.relaxed((2, 3), 4)
    assert isinstance(net, SuperMLP)
    assert net.decisions == {
        "n_layers": (1, 3),  # every depth of the range, by its step
        "units_0": (16, 21, 28, 37, 49, 64),  # a width: six spread geometrically
        "units_1": (8, 24),  # categorical widths as they are
        "units_2": (40,),  # fixed: one candidate
        "activation": ("relu", "gelu", "silu", "tanh"),
        "norm": ("none", "batch", "layer"),
        "skip": (True,),
    }
    assert net(torch.zeros(5, 6)).shape == (5, 4)


def test_mlp_space_relaxes_only_the_widths_of_the_deepest_candidate():
    space = MLPSpace(max_layers=4, min_units=32, max_units=32).replace(n_layers=(1, 2))
    net = space.relaxed((5,), 2)
    assert [name for name in net.decisions if name.startswith("units_")] == ["units_0", "units_1"]
    assert net.decisions["units_0"] == (32,)


def test_cell_space_relaxes_the_edges_and_holds_channels_and_cells():
    space = CellSpace(ops=("conv_3x3", "skip", "zero"), n_nodes=3).replace(op_1="skip", n_cells=1)
    net = space.relaxed((1, 8, 8), 10)
    assert isinstance(net, SuperNetwork)
    ops = ("conv_3x3", "skip", "zero")
    assert net.decisions == {"op_0": ops, "op_1": ("skip",), "op_2": ops}
    assert net(torch.zeros(2, 64)).shape == (2, 10)
    # channels are searched, so the supernet takes the default (16); n_cells is fixed at 1.
    assert len(net.backbone.cells) == 1 and net.backbone.stem[0].out_channels == 16


def test_relaxed_decisions_are_parameters_of_the_space():
    for space, shape in [(MLPSpace(), (5,)), (CellSpace(), (1, 8, 8))]:
        net = space.relaxed(shape, 3)
        assert set(net.decisions) <= set(space.distributions) | set(space.fixed)
        for name, choices in net.decisions.items():
            dist = space.distributions[name]
            assert all(dist._contains(dist.to_internal_repr(c)) for c in choices), name
    assert set(CellSpace().relaxed((1, 8, 8), 3).decisions) == {f"op_{e}" for e in range(6)}
    assert set(CELL_OPS) == set(CellSpace().relaxed((1, 8, 8), 3).decisions["op_0"])


def test_a_space_without_a_relaxed_form_says_so_and_names_the_fix():
    class LinearSpace(SearchSpace):
        def _defaults(self):
            return {}

        def build(self, params, input_shape, n_outputs):
            return torch.nn.Linear(input_shape[0], n_outputs)

    with pytest.raises(TypeError, match=r"LinearSpace has no relaxed form .*'tpe'"):
        LinearSpace(training_distributions()).relaxed((5,), 2)


def test_a_float_architecture_choice_cannot_be_relaxed():
    space = MLPSpace().replace(n_layers=FloatDistribution(1.0, 3.0))
    with pytest.raises(TypeError, match="cannot relax 'n_layers' with FloatDistribution"):
        space.relaxed((5,), 2)
