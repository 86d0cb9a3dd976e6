"""Missing values kept as NaN in the matrix, filled and flagged by the models that read them."""

from __future__ import annotations

import gc
import pickle

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from automl_nas.data import (
    MedianImputeScaler,
    continuous_columns,
    make_preprocessor,
    missing_values,
)
from automl_nas.nn import FeatureEncoder, LinearModel, MissingFill, TabularNet, stack_networks
from automl_nas.space import DataFacts, LinearSpace
from automl_nas.training import TensorData, train
from automl_nas.training import _linear_parts
from automl_nas.training._linear_parts import _parts


def _frame(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({
        "a": rng.normal(size=n),
        "b": rng.normal(size=n),  # never missing
        "level": rng.choice(["x", "y", None], size=n),
        "when": pd.date_range("2020-01-01", periods=n, freq="h"),
        "c": rng.integers(0, 5, size=n).astype(float),
    })
    frame.loc[rng.random(n) < 0.2, "a"] = np.nan
    frame.loc[rng.random(n) < 0.1, "c"] = np.nan
    frame.loc[rng.random(n) < 0.1, "when"] = pd.NaT
    return frame


def _flagged_and_kept(X):
    flagged = make_preprocessor(X).fit(X)
    kept = make_preprocessor(X, keep_missing=True).fit(X)
    return flagged, kept


@parametrize_with_checks([MedianImputeScaler(keep_missing=True)])
def test_scikit_learn_conventions(estimator, check):
    check(estimator)


@pytest.mark.parametrize("as_array", [False, True])
def test_filled_and_flagged_kept_values_are_what_the_flagging_preprocessor_writes(as_array):
    X = _frame()
    if as_array:
        X = X[["a", "b", "c"]].to_numpy()
    flagged, kept = _flagged_and_kept(X)
    F, K = flagged.transform(X), kept.transform(X)
    values = missing_values(kept)
    assert K.shape[1] == F.shape[1] - values.n_flags  # no indicator columns
    # NaN exactly where the columns that had missing values in fit miss one
    assert set(np.flatnonzero(np.isnan(K).any(axis=0))) == set(values.columns)
    expanded = values.expand(K)
    # the same columns, bit for bit, the indicators gathered at the end
    names = list(flagged.get_feature_names_out()) if not as_array else None
    if names is not None:
        kept_names = list(kept.get_feature_names_out())
        flags = [n for n in names if "missingindicator_" in n]
        order = [names.index(n) for n in kept_names] + [names.index(n) for n in flags]
    else:
        order = list(range(F.shape[1]))
    np.testing.assert_array_equal(expanded, F[:, order])
    # the module fills as numpy does, in float32 and float64
    module = values.module()
    np.testing.assert_array_equal(module(torch.from_numpy(K)).numpy(), expanded)
    np.testing.assert_array_equal(
        module.double()(torch.from_numpy(K).double()).numpy(), expanded.astype(np.float64)
    )
    restored = MissingFill(values)
    restored.load_state_dict(module.state_dict())
    np.testing.assert_array_equal(restored.fill_array(K), expanded)  # numpy, in parts
    assert missing_values(flagged) is None  # nothing left missing


def test_columns_without_missing_values_in_fit_are_imputed_at_predict_time():
    X = _frame()
    _, kept = _flagged_and_kept(X)
    late = X.assign(b=np.where(np.arange(len(X)) % 3 == 0, np.nan, X["b"]))
    out = kept.transform(late)
    b = list(kept.get_feature_names_out()).index("numeric__b")
    assert np.isfinite(out[:, b]).all()  # b had no NaN in fit: its median, as before


def test_continuous_columns_are_those_the_network_reads_after_filling():
    X = _frame()
    flagged, kept = _flagged_and_kept(X)
    values = missing_values(kept)
    expanded = values.expand(kept.transform(X))
    assert continuous_columns(kept.transform(X), values) == continuous_columns(expanded)
    assert len(continuous_columns(expanded)) == len(continuous_columns(flagged.transform(X)))


def test_a_fill_between_two_levels_makes_a_third_value():
    # Column 0: two levels, ten rows each, so the median fill lies between them and the filled
    # column the network reads has three values. Column 1: the fill is its commoner level.
    nan = np.nan
    X = np.array([[-1.0, -1.0]] * 10 + [[1.0, -1.0]] * 4 + [[1.0, 1.0]] * 6 + [[nan, nan]] * 4)
    kept = make_preprocessor(X, keep_missing=True)
    Z = kept.fit_transform(X)
    values = missing_values(kept)
    assert np.unique(values.expand(Z)[:, 0]).size == 3
    assert continuous_columns(Z, values) == continuous_columns(values.expand(Z)) == (0,)


def test_scalers_pickled_before_keep_missing_still_flag():
    X = _frame()[["a", "b"]].to_numpy()
    scaler = MedianImputeScaler().fit(X)
    del scaler.__dict__["keep_missing"]  # as pickled before the parameter existed
    restored = pickle.loads(pickle.dumps(scaler))
    assert restored.keep_missing is False
    assert restored.transform(X).shape == (len(X), 3)


@pytest.mark.parametrize("which", ["all columns", "the continuous ones"])
def test_networks_and_linear_models_read_nan_rows_as_their_filled_and_flagged_twins(which):
    # Encoders of every column (the indicators too: the sample is flagged for their
    # statistics) and of the continuous ones as a space builds them (filled, not flagged).
    X = _frame()
    flagged, kept = _flagged_and_kept(X)
    values = missing_values(kept)
    K = torch.from_numpy(kept.transform(X))
    expanded = torch.from_numpy(values.expand(K.numpy()))
    width = expanded.shape[1]
    continuous = None if which == "all columns" else continuous_columns(K.numpy(), values)
    assert continuous is None or max(continuous) < K.shape[1]

    def encoder() -> FeatureEncoder:
        return FeatureEncoder(width, continuous, transform="quantile", embedding="piecewise")

    torch.manual_seed(0)
    plain = TabularNet(encoder(), 2, k=4)
    torch.manual_seed(0)
    filling = TabularNet(encoder(), 2, k=4, missing=values.module())
    plain.init_from_data(expanded)
    filling.init_from_data(K)  # statistics from the filled rows
    plain.eval(), filling.eval()
    np.testing.assert_array_equal(filling(K).detach().numpy(), plain(expanded).detach().numpy())
    linear = LinearModel(width, 2, missing=MissingFill(values))
    out = linear(K)
    assert torch.isfinite(out).all()
    expected = torch.nn.functional.linear(expanded, linear.weight, linear.bias)
    torch.testing.assert_close(out, expected)


def test_networks_pickled_before_the_fill_read_their_rows_as_before():
    net = TabularNet(FeatureEncoder(3), 2)
    del net._modules["missing"]  # as pickled before it
    net = pickle.loads(pickle.dumps(net))
    assert net(torch.zeros(4, 3)).shape == (4, 2)


def test_stacked_networks_share_the_fill_and_each_member_computes_as_alone():
    X = _frame()
    _, kept = _flagged_and_kept(X)
    values = missing_values(kept)
    K = torch.from_numpy(kept.transform(X))
    width = K.shape[1] + values.n_flags
    nets = []
    for seed in range(3):
        torch.manual_seed(seed)
        net = TabularNet(FeatureEncoder(width, transform="quantile"), 2, missing=values.module())
        net.init_from_data(K)
        nets.append(net.eval())
    stacked = stack_networks(nets).eval()
    out = stacked(K)
    for i, net in enumerate(nets):
        torch.testing.assert_close(out[i], net(K))
        assert not any(name.startswith("missing.") for name in stacked.member_state(i))


def test_linear_trials_share_the_rows_filled_a_part_at_a_time_without_indicators(monkeypatch):
    monkeypatch.setattr(_linear_parts, "PART_CELLS", 64 * 7)  # 200 rows of 7 columns: 4 parts
    X = _frame()
    _, kept = _flagged_and_kept(X)
    values = missing_values(kept)
    K = torch.from_numpy(kept.transform(X))
    y = torch.from_numpy((np.nan_to_num(X["a"].to_numpy()) > 0).astype(np.int64))
    facts = DataFacts(len(K), K.shape[1], (), "classification", 2, missing=values)
    space = LinearSpace().for_data(facts)
    data = TensorData(K[:200], y[:200], K[200:], y[200:])
    fits, found = [], []
    for alpha in (0.1, 10.0):
        model = space.build({"linear_alpha": alpha}, (K.shape[1],), 2)
        assert model.in_features == K.shape[1]  # filled, not flagged
        fits.append(train(
            model, {"linear_alpha": alpha}, data, loss_fn=torch.nn.CrossEntropyLoss(),
            score_fn=lambda out: 0.0, max_epochs=1, patience=1, seed=0,
        ))
        assert torch.isfinite(fits[-1].model(K)).all()
        found.append(_parts[id(data.X_train)])
    assert found[0] is found[1]  # the missing entries found once, for both trials
    assert len(found[0]._parts) == 4
    key = id(data.X_train)
    rows = np.concatenate([part.numpy().copy() for _, part in _parts[key]])
    np.testing.assert_array_equal(rows, values.expand(K[:200].numpy(), flags=False))
    del data, fits, found
    gc.collect()
    assert key not in _parts  # dropped with its rows
