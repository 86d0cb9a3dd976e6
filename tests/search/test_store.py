"""Trial stores: the on-disk trial file is data (weights and params) that rebuilds the network."""

import numpy as np
import optuna
import pytest
import torch

from automl_nas.nn import FoldBag
from automl_nas.search import DiskTrialStore, MemoryTrialStore, TrialModel, TrialStore
from automl_nas.space import MLPSpace

SPACE = MLPSpace(max_layers=2)


def _build(params):
    return SPACE.build(params, (4,), 3)


@pytest.mark.parametrize("members", [0, 3])
def test_a_trial_file_rebuilds_the_same_network_from_params_and_weights(tmp_path, members):
    params = SPACE.default_params()
    torch.manual_seed(0)
    model = FoldBag([_build(params) for _ in range(members)]) if members else _build(params)
    model.eval()
    entry = TrialModel(5, 0.9, params, model, np.arange(6.0).reshape(2, 3), n_params=7,
                       best_epoch=2, partial=bool(members))
    study = optuna.create_study(direction="maximize")
    store = DiskTrialStore(str(tmp_path), 2, study, _build)
    assert isinstance(store, TrialStore) and isinstance(MemoryTrialStore(1, True), TrialStore)
    rng_before = torch.random.get_rng_state()
    store.offer(entry)
    loaded = store.load(5)
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # rebuilding draws nothing
    X = torch.randn(8, 4)
    with torch.no_grad():
        assert torch.equal(loaded.load_model()(X), model(X))
    assert not loaded.model.training
    assert (loaded.number, loaded.value, loaded.params, loaded.n_params) == (5, 0.9, params, 7)
    assert (loaded.best_epoch, loaded.partial) == (2, bool(members))
    np.testing.assert_array_equal(loaded.val_output, entry.val_output)
    # plain tensors and values: readable by torch's weights-only loader with no allowlist
    record = torch.load(store.path(5), weights_only=True)
    assert set(record) >= {"params", "state_dict", "val_output"}
