"""Tabular networks: plain and residual blocks, TabM-style ensembles of k members."""

import itertools

import pytest
import tabm
import torch

from automl_nas.nn import BLOCKS, NORMS, FeatureEncoder, TabularNet


def make(k: int, block: str = "mlp", norm: str = "none", embedding: str = "none") -> TabularNet:
    encoder = FeatureEncoder(6, [0, 1, 2], transform="quantile", embedding=embedding, d_embedding=4)
    return TabularNet(encoder, 3, block=block, n_blocks=2, width=16, norm=norm, dropout=0.1, k=k)


@pytest.mark.parametrize(("block", "norm", "k"), list(itertools.product(BLOCKS, NORMS, [1, 4])))
def test_shapes_in_training_and_eval(block, norm, k):
    net = make(k, block, norm, embedding="periodic")
    X = torch.randn(32, 6)
    net.init_from_data(X)
    net.train()
    out = net(X)
    assert out.shape == ((32, k, 3) if k > 1 else (32, 3))
    out.sum().backward()
    net.eval()
    assert net(X).shape == (32, 3)


def test_ensemble_shares_weights_and_predicts_the_members_mean():
    torch.manual_seed(0)
    net = make(4, embedding="piecewise")
    linears = [m for m in net.body.modules() if isinstance(m, tabm.LinearBatchEnsemble)]
    assert len(linears) == 2 and linears[0].weight.shape == (16, 6 * 1 + 3 * 3)
    assert linears[0].r.shape == (4, linears[0].in_features)  # per-member scaling
    X = torch.randn(8, 6)
    net.train()
    net.body.apply(lambda m: m.eval() if isinstance(m, torch.nn.Dropout) else None)
    members = net(X)
    net.eval()
    torch.testing.assert_close(net(X), members.mean(dim=1))
    # Members differ from the start (random first scaling) though they share the weights.
    assert not torch.allclose(members[:, 0], members[:, 1])


def test_single_network_has_fewer_parameters_than_its_ensemble():
    def count(k: int) -> int:
        net = TabularNet(FeatureEncoder(20), 2, n_blocks=3, width=256, k=k)
        return sum(p.numel() for p in net.parameters())

    # Shared weights: eight members cost a few percent more than one network, not eight times.
    assert count(1) < count(8) < 1.2 * count(1)


def test_rejects_bad_arguments():
    encoder = FeatureEncoder(3)
    with pytest.raises(ValueError, match="Unknown activation"):
        TabularNet(encoder, 2, activation="swish2")
    with pytest.raises(ValueError, match="Unknown block"):
        TabularNet(encoder, 2, block="transformer")
    with pytest.raises(ValueError, match="k, n_blocks and width"):
        TabularNet(encoder, 2, k=0)
