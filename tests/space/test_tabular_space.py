"""The tabular space: sized to the data, its defaults inside it, its networks built and saved."""

from __future__ import annotations

import numpy as np
import optuna
import pytest
import torch

from automl_nas.data import continuous_columns
from automl_nas.search import safe_load
from automl_nas.space import DataFacts, TabularSpace, batch_choices
from automl_nas.space._tabular import MAX_EMBEDDED_COLUMNS

FACTS = DataFacts(n_rows=4000, n_features=12, continuous=(0, 1, 2, 3), task="classification")


def test_batch_sizes_follow_the_rows():
    assert batch_choices(2_500) == (64, (16, 32, 64, 128))
    assert batch_choices(40_000)[0] == 1024
    assert batch_choices(100)[0] == 32  # never below MIN_BATCH
    space = TabularSpace().for_data(FACTS)
    assert space.distributions["batch_size"].choices == batch_choices(4000)[1]
    assert space.default_params()["batch_size"] == batch_choices(4000)[0]


def test_for_data_keeps_what_the_user_chose():
    space = TabularSpace().replace(batch_size=[16, 32], label_smoothing=0.1, embedding=["periodic"])
    sized = space.for_data(
        DataFacts(n_rows=50_000, n_features=400, continuous=tuple(range(400)), task="regression")
    )
    assert sized.distributions["batch_size"].choices == (16, 32)
    assert sized.fixed["label_smoothing"] == 0.1
    assert sized.distributions["embedding"].choices == ("periodic",)


def test_wide_data_and_regression_drop_what_cannot_pay():
    wide = DataFacts(
        n_rows=1000, n_features=2000, continuous=tuple(range(MAX_EMBEDDED_COLUMNS + 1)),
        task="regression",
    )
    space = TabularSpace().for_data(wide)
    assert space.fixed == {"embedding": "none", "label_smoothing": 0.0}
    assert "embedding" not in space.distributions and "label_smoothing" not in space.distributions


def test_every_sampled_network_builds_trains_a_step_and_evaluates():
    space = TabularSpace().for_data(FACTS)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    X = torch.randn(64, 12)
    for _ in range(12):
        params = space.sample(study.ask())
        params["width"] = min(params["width"], 128)  # keep the test quick
        net = space.build(params, (12,), 3)
        net.init_from_data(X)
        net.train()
        out = net(X)
        out.float().mean().backward()
        net.eval()
        assert net(X).shape == (64, 3)


def test_default_is_inside_the_space_and_builds():
    space = TabularSpace().for_data(FACTS)
    params = space.default_params()
    assert set(params) == set(space.distributions)
    for name, value in params.items():
        assert space.distributions[name]._contains(space.distributions[name].to_internal_repr(value))
    assert space.build(params, (12,), 2)(torch.randn(5, 12)).shape == (5, 2)


def test_space_travels_in_a_safe_file(tmp_path):
    space = TabularSpace().for_data(FACTS).replace(ensemble_k=[1, 4])
    path = tmp_path / "space.pt"
    torch.save(space, path)
    loaded = safe_load(str(path), "a space")
    assert loaded.continuous == (0, 1, 2, 3) and loaded.distributions == space.distributions


def test_continuous_columns_are_those_with_three_values_or_more():
    X = np.c_[
        np.random.default_rng(0).normal(size=100),  # continuous
        np.tile([0.0, 1.0], 50),  # one-hot level
        np.zeros(100),  # constant
        np.tile([1.0, 2.0, 3.0, 4.0], 25),  # four levels
    ]
    assert continuous_columns(X) == (0, 3)
    assert continuous_columns(np.empty((0, 3))) == ()


def test_validate_rejects_unknown_activations():
    with pytest.raises(ValueError, match="Unknown activation"):
        TabularSpace().replace(activation=["relu", "swishy"])


def test_d_embedding_is_used_only_with_an_embedding():
    space = TabularSpace()
    params = {**space.default_params(), "embedding": "none"}
    assert space.used_params(params) == set(params) - {"d_embedding"}
    assert space.used_params({**params, "embedding": "periodic"}) == set(params)
