"""Stacked networks: P networks of one shape computed as one, each member as it is alone."""

from __future__ import annotations

import pytest
import torch

from automl_nas.nn import MLP, NotStackableError, stack_networks
from automl_nas.nn._stacked import VmappedModule
from automl_nas.space import TabularSpace
from automl_nas.space._base import DataFacts

D = 6
X = torch.randn(200, D, generator=torch.Generator().manual_seed(0))


def tabular(overrides: dict, seed: int):
    space = TabularSpace().for_data(DataFacts(200, D, tuple(range(D)), "classification", 3))
    torch.manual_seed(seed)
    net = space.build({**space.start_params()[0], **overrides}, (D,), 3)
    net.init_from_data(X)
    return net


@pytest.mark.parametrize("block", ["mlp", "resnet"])
@pytest.mark.parametrize("norm", ["none", "layer", "batch"])
@pytest.mark.parametrize("transform", ["standard", "quantile", "robust_clip"])
def test_each_member_computes_what_its_network_computes(block, norm, transform):
    nets = [
        tabular({"block": block, "norm": norm, "numeric_transform": transform, "dropout": 0.1 * i}, i)
        for i in range(3)
    ]
    stacked = stack_networks(nets).eval()
    expected = torch.stack([net.eval()(X) for net in nets])
    torch.testing.assert_close(stacked(X), expected, rtol=1e-5, atol=1e-5)


def test_batch_norm_statistics_follow_each_members_own_rows_and_go_back_to_its_network():
    config = {"norm": "batch", "dropout": 0.0}  # training mode: no random masks to compare
    nets = [tabular(config, i) for i in range(2)]
    alone = [tabular(config, i) for i in range(2)]
    stacked = stack_networks(nets).train()
    stacked(X[:50])
    for net in alone:
        net.train()(X[:50])
    for i, net in enumerate(nets):
        net.load_state_dict({**net.state_dict(), **stacked.member_state(i)})
        torch.testing.assert_close(net.eval()(X), alone[i].eval()(X))


def test_members_leave_the_batch_and_the_others_keep_their_weights():
    nets = [tabular({}, i) for i in range(4)]
    stacked = stack_networks(nets).eval()
    before = stacked(X)
    stacked.keep([3, 1])
    assert stacked.size == 2
    torch.testing.assert_close(stacked(X), before[[3, 1]])
    state = stacked.member_state(0)
    assert state.keys() == {k for k in nets[3].state_dict() if not k.startswith("encoder.")}


def test_a_plain_mlp_of_the_mlp_space_stacks_too():
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        nets.append(MLP(D, [16, 8], 2, norm="layer", skip=True))
    torch.testing.assert_close(
        stack_networks(nets).eval()(X), torch.stack([n.eval()(X) for n in nets]), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"embedding": "piecewise", "d_embedding": 8},
        {"embedding": "periodic", "d_embedding": 8},
        {"ensemble_k": 4},
        {"ensemble_k": 4, "embedding": "piecewise", "norm": "layer"},
    ],
)
def test_embeddings_and_ensembles_run_vmapped_and_give_each_members_output(overrides):
    nets = [tabular({**overrides, "dropout": 0.1 * i}, i) for i in range(3)]
    stacked = stack_networks(nets)
    assert any(isinstance(m, VmappedModule) for m in stacked.modules())
    expected = torch.stack([net.eval()(X) for net in nets])
    torch.testing.assert_close(stacked.eval()(X), expected, rtol=1e-5, atol=1e-5)
    stacked.train()
    out = stacked(X[:32])
    assert out.shape[:2] == (3, 32)
    for i, net in enumerate(nets):  # each member's state goes back into its own network
        net.load_state_dict({**net.state_dict(), **stacked.member_state(i)})
    stacked.keep([2])
    torch.testing.assert_close(stacked.eval()(X)[0], expected[2], rtol=1e-5, atol=1e-5)


def test_batch_norm_inside_an_ensemble_is_refused():
    with pytest.raises(NotStackableError, match="batch norm"):
        stack_networks([tabular({"ensemble_k": 4, "norm": "batch"}, 0)])


def test_members_of_different_shapes_are_refused():
    with pytest.raises(NotStackableError, match="differ"):
        stack_networks([tabular({"width": 32}, 0), tabular({"width": 64}, 1)])


def test_stacked_dropout_drops_each_members_own_share_and_keeps_the_expectation():
    from automl_nas.nn._stacked import StackedDropout

    rates = [0.0, 0.1, 0.25, 0.5]
    layer = StackedDropout([torch.nn.Dropout(p) for p in rates]).train()
    torch.manual_seed(0)
    x = torch.ones(len(rates), 500, 200)
    out = layer(x)
    for member, rate in enumerate(rates):
        dropped = (out[member] == 0).float().mean().item()
        assert dropped == pytest.approx(rate, abs=0.01)
        assert out[member].mean().item() == pytest.approx(1.0, abs=0.02)
    shared = layer(torch.ones(500, 200))  # a shared 2-D input: each member its own mask
    assert shared.shape == (len(rates), 500, 200)
    assert not torch.equal(shared[2] == 0, shared[3] == 0)
    assert torch.equal(layer.eval()(x), x)
