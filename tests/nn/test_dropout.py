"""Dropout that draws from the training thread's generator: a trial's masks follow its seed."""

from __future__ import annotations

import pickle
import threading

import pytest
import torch
from torch import nn

from automl_nas.nn import Dropout, dropout_generator, stack_networks
from automl_nas.nn._stacked import StackedDropout


def masks(layer: nn.Module, seed: int, n: int = 3) -> list[torch.Tensor]:
    """``n`` outputs of ``layer`` in training mode on ones, under a generator seeded ``seed``."""
    layer.train()
    with dropout_generator(torch.Generator().manual_seed(seed)):
        return [layer(torch.ones(64, 32)) for _ in range(n)]


def test_masks_follow_the_generator_not_the_global_one():
    layer = Dropout(0.3)
    first = masks(layer, seed=1)
    torch.manual_seed(123)  # the global generator moves; the masks do not
    torch.rand(1000)
    again = masks(layer, seed=1)
    assert all(torch.equal(a, b) for a, b in zip(first, again))
    assert not torch.equal(first[0], masks(layer, seed=2)[0])
    out = first[0]
    assert out.unique().tolist() == pytest.approx([0.0, 1 / 0.7])
    assert 0.2 < (out == 0).float().mean().item() < 0.4


def test_without_a_generator_it_is_nn_dropout():
    layer, reference = Dropout(0.4), nn.Dropout(0.4)
    layer.train(), reference.train()
    x = torch.randn(16, 8)
    torch.manual_seed(5)
    ours = layer(x)
    torch.manual_seed(5)
    assert torch.equal(ours, reference(x))
    layer.eval()
    with dropout_generator(torch.Generator().manual_seed(0)):
        assert torch.equal(layer(x), x)  # eval: the identity
        assert torch.equal(Dropout(0.0).train()(x), x)
        assert torch.equal(Dropout(1.0).train()(x), torch.zeros_like(x))


def test_each_thread_has_its_own_generator():
    """Two threads draw at once, each under its own generator: each gets the masks it gets
    alone, whatever the other draws in between."""
    layer = Dropout(0.5)
    alone = {seed: masks(layer, seed, n=50) for seed in (1, 2)}
    together: dict[int, list[torch.Tensor]] = {}
    start = threading.Barrier(2)

    def draw(seed: int) -> None:
        start.wait()
        together[seed] = masks(layer, seed, n=50)

    threads = [threading.Thread(target=draw, args=(seed,)) for seed in (1, 2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for seed in (1, 2):
        assert all(torch.equal(a, b) for a, b in zip(alone[seed], together[seed]))


def test_pickles_and_stacks_like_nn_dropout():
    layer = pickle.loads(pickle.dumps(Dropout(0.25)))
    assert type(layer) is Dropout and layer.p == 0.25 and layer.state_dict() == {}
    nets = [nn.Sequential(nn.Linear(4, 8), Dropout(p), nn.Linear(8, 2)) for p in (0.1, 0.3)]
    stacked = stack_networks(nets)
    assert isinstance(stacked.net[1], StackedDropout)
    assert stacked.net[1].rate.tolist() == pytest.approx([0.1, 0.3])
