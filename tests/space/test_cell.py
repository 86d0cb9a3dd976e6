"""CellSpace and its networks: every op keeps the shape, every sampled cell builds and runs."""

from __future__ import annotations

import optuna
import pytest
import torch

from automl_nas.nn import CELL_OPS, Cell, CellNetwork, SuperMLP, SuperNetwork, cell_edges
from automl_nas.space import CellSpace


def test_edges_of_a_four_node_cell_are_nas_bench_201s():
    assert cell_edges(4) == [(0, 1), (0, 2), (1, 2), (0, 3), (1, 3), (2, 3)]
    assert len(cell_edges(5)) == 10


@pytest.mark.parametrize("op", CELL_OPS)
def test_every_op_keeps_channels_and_size(op):
    cell = Cell([op] * 6, channels=3)
    x = torch.randn(2, 3, 7, 7)
    out = cell(x)
    assert out.shape == x.shape
    assert (out == 0).all() == (op == "zero")


def test_space_samples_and_builds_for_any_image_shape():
    space = CellSpace()
    assert space.default_params()["channels"] == 16 and space.default_params()["n_cells"] == 2
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for shape in [(1, 8, 8), (3, 5, 7), (1, 28, 28)]:
        trial = study.ask()
        params = space.sample(trial)
        params["n_cells"] = 3
        net = space.build(params, shape, 4)
        assert isinstance(net, CellNetwork)
        assert net(torch.randn(2, shape[0] * shape[1] * shape[2])).shape == (2, 4)


def test_space_checks():
    with pytest.raises(ValueError, match="Unknown or no cell operations"):
        CellSpace(ops=("conv_3x3", "conv_7x7"))
    with pytest.raises(ValueError, match="Unknown cell operation"):
        CellSpace().replace(op_0="dil_conv_3x3")
    with pytest.raises(ValueError, match="CellSpace needs images"):
        CellSpace().build(CellSpace().default_params(), (64,), 10)
    narrowed = CellSpace(ops=("conv_3x3", "skip"))
    assert {narrowed.default_params()[f"op_{e}"] for e in range(6)} <= {"conv_3x3", "skip"}


def test_supernets_mix_all_candidates_and_split_parameters():
    net = SuperNetwork((1, 8, 8), 10, [CELL_OPS] * 6, channels=4, n_cells=2)
    out = net(torch.randn(3, 64))
    assert out.shape == (3, 10)
    out.sum().backward()
    assert all(alpha.grad is not None for alpha in net.arch_parameters())
    assert len(net.arch_parameters()) == 6
    n_weights = sum(p.numel() for p in net.weight_parameters())
    assert n_weights + 6 * len(CELL_OPS) == sum(p.numel() for p in net.parameters())

    mlp = SuperMLP(
        5,
        2,
        n_layers=(1, 2),
        units=[(4, 8), (4, 8)],
        activations=("relu", "tanh"),
        norms=("none", "batch", "layer"),
        skips=(False, True),
    )
    mlp(torch.randn(6, 5)).sum().backward()
    assert set(mlp.decisions) == {"n_layers", "units_0", "units_1", "activation", "norm", "skip"}
    assert all(alpha.grad is not None for alpha in mlp.arch_parameters())
