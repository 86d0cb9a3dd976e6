"""The input layer of tabular networks: transforms and embeddings of continuous columns."""

import copy

import numpy as np
import pytest
import torch
from scipy.stats import norm
from sklearn.preprocessing import QuantileTransformer
from torch import nn

from automl_nas.nn import EMBEDDINGS, NUMERIC_TRANSFORMS, FeatureEncoder, PiecewiseLinear
from automl_nas.nn import _numeric as numeric


@pytest.fixture
def X():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2000, 5, generator=g)
    x[:, 1] = x[:, 1].exp()  # skewed
    x[:, 2] = torch.randint(0, 3, (2000,), generator=g).float()  # three tied levels
    x[:, 4] = (x[:, 4] > 0).float()  # binary: passes through
    return x


def test_quantile_transform_matches_scikit_learn_within_its_resolution(X):
    encoder = FeatureEncoder(5, [0, 1, 2, 3], transform="quantile")
    encoder.init_from_data(X)
    ours = encoder(X).numpy()
    theirs = QuantileTransformer(output_distribution="normal", n_quantiles=1000).fit_transform(
        X[:, :4].numpy()
    )
    # Continuous columns: the same normal scores up to the 128-knot interpolation.
    assert np.abs(ours[:, [0, 1, 3]] - theirs[:, [0, 1, 3]]).mean() < 0.03
    # Tied levels land in the middle of their range of quantiles, as scikit-learn puts them.
    levels = np.unique(ours[:, 2])
    expected = norm.ppf(np.cumsum([0] + [np.mean(X[:, 2].numpy() == v) for v in range(3)]))
    middles = norm.ppf((norm.cdf(expected[:-1]) + norm.cdf(expected[1:])) / 2)
    np.testing.assert_allclose(levels, middles, atol=0.02)
    np.testing.assert_array_equal(ours[:, 4], X[:, 4].numpy())  # the binary column untouched


def test_the_quantile_transform_in_row_parts_is_the_transform_of_all_rows(X, monkeypatch):
    """Rows are transformed in parts (small temporaries); the parts change no value, and
    values beyond a continuous column's training range stay at the clipped ends."""
    from automl_nas.nn import _numeric

    encoder = FeatureEncoder(5, [0, 1, 2, 3], transform="quantile")
    encoder.init_from_data(X)
    rows = torch.cat([X, torch.full((1, 5), 1e9), torch.full((1, 5), -1e9)])
    whole = encoder(rows)
    monkeypatch.setattr(_numeric, "QUANTILE_PART_CELLS", 7)  # parts of one row
    torch.testing.assert_close(encoder(rows), whole, rtol=0, atol=0)
    top, bottom = norm.ppf(1 - _numeric.QUANTILE_CLIP), norm.ppf(_numeric.QUANTILE_CLIP)
    continuous = [0, 1, 3]  # (column 2's top and bottom levels are ties of many knots)
    np.testing.assert_allclose(whole[-2, continuous].numpy(), top, rtol=1e-4)
    np.testing.assert_allclose(whole[-1, continuous].numpy(), bottom, rtol=1e-4)


def test_the_quantile_level_is_the_middle_of_the_interpolations_from_either_end(X):
    """At and between the knots, on columns with distinct knots and with tied ones: the mean
    of the highest and the lowest level a value can take; beyond the ends, the end's level
    (0 or 1, a tied end too)."""
    from automl_nas.nn._numeric import _quantile_level, _quantiles, _tie_middles

    levels = torch.linspace(0, 1, 128)
    knots = _quantiles(X, levels).t().contiguous()
    far = torch.full((1, 5), 1e9)
    rows = torch.cat([X[:300], knots.t(), knots.t() + 1e-3, far, -far])
    ours = _quantile_level(rows, knots, levels, _tie_middles(knots, levels)).numpy()
    lv = levels.numpy()
    assert any(len(np.unique(k)) < len(k) for k in knots.numpy())  # a tied column is tested
    for column in range(5):
        k, v = knots[column].numpy(), rows[:, column].numpy()
        highest = np.interp(v, k, lv)  # from the last knot <= v
        lowest = np.interp(-v, -k[::-1], lv[::-1])  # from the first knot >= v
        inside = (v >= k[0]) & (v <= k[-1])
        np.testing.assert_allclose(ours[inside, column], (highest + lowest)[inside] / 2, atol=1e-6)
        np.testing.assert_array_equal(ours[v > k[-1], column], 1.0)
        np.testing.assert_array_equal(ours[v < k[0], column], 0.0)


def test_a_quantile_encoder_loaded_from_a_state_dict_transforms_as_the_saved_one(X):
    """The tie middles are not saved but follow the knots a network's state dict loads
    (a saved trial's model, a batched member's copied statistics)."""
    saved = nn.Sequential(FeatureEncoder(5, [0, 1, 2, 3], transform="quantile"))
    saved[0].init_from_data(X)
    loaded = nn.Sequential(FeatureEncoder(5, [0, 1, 2, 3], transform="quantile"))
    loaded.load_state_dict(saved.state_dict())
    torch.testing.assert_close(loaded(X), saved(X), rtol=0, atol=0)


#: BRANCH_FREE_VALUES set so that every search is torch.searchsorted's / the branch-free one
SEARCHES = {"searchsorted": 10**12, "branch-free": 0}


@pytest.mark.parametrize("search", SEARCHES)
def test_the_knot_search_gives_searchsorted_indices(search, monkeypatch):
    """Either search: ties among the knots (a value many rows share), values equal to a knot,
    between knots and beyond both ends."""
    monkeypatch.setattr(numeric, "BRANCH_FREE_VALUES", SEARCHES[search])
    g = torch.Generator().manual_seed(0)
    knots = torch.randn(6, 128, generator=g).sort(dim=1).values
    knots[:, 40:60] = knots[:, 40:41]  # a tie of 20 knots
    knots[0] = torch.linspace(-1, 1, 128)
    xt = torch.cat([
        torch.randn(6, 300, generator=g) * 2,  # mostly between knots, some beyond the ends
        knots[:, torch.randint(0, 128, (50,), generator=g)],  # on knots, ties included
        torch.full((6, 2), -1e6), torch.full((6, 2), 1e6),
    ], dim=1)
    assert torch.equal(numeric._first_at_least(knots, xt), torch.searchsorted(knots, xt))


def test_small_searches_are_searchsorted_and_large_ones_branch_free(monkeypatch):
    calls = []
    real = torch.searchsorted
    monkeypatch.setattr(torch, "searchsorted", lambda *a, **k: calls.append(1) or real(*a, **k))
    knots = torch.randn(4, 128).sort(dim=1).values
    numeric._first_at_least(knots, torch.randn(4, numeric.BRANCH_FREE_VALUES // 4 - 1))
    assert calls == [1]
    numeric._first_at_least(knots, torch.randn(4, numeric.BRANCH_FREE_VALUES // 4))
    assert calls == [1]


@pytest.mark.parametrize("search", SEARCHES)
def test_the_quantile_transform_runs_vmapped_over_members_with_their_own_knots(
    X, search, monkeypatch
):
    """Batched trials call the encoder under ``torch.func.vmap`` with each member's buffers
    stacked: no operation may take a shape from the values (a tie in one member's knots and
    not in another's), and each member's output is the one it gives alone; with either
    search."""
    from torch.func import functional_call, stack_module_state, vmap

    monkeypatch.setattr(numeric, "BRANCH_FREE_VALUES", SEARCHES[search])

    members = [FeatureEncoder(5, [0, 1, 2, 3], transform="quantile") for _ in range(2)]
    members[0].init_from_data(X)
    members[1].init_from_data(X * 2 + 1)
    params, buffers = stack_module_state(members)

    def one(p, b, x):
        return functional_call(members[0], (p, b), (x,))

    together = vmap(one, in_dims=(0, 0, None))(params, buffers, X)
    for i, member in enumerate(members):
        torch.testing.assert_close(together[i], member(X), rtol=0, atol=1e-6)


def test_robust_clip_centres_scales_and_bounds(X):
    encoder = FeatureEncoder(5, [0, 1, 3], transform="robust_clip")
    encoder.init_from_data(X * 100 + 7)
    out = encoder(X * 100 + 7)
    assert out[:, :3].abs().max() < 3.0  # soft clipping bounds every value by its scale
    assert abs(float(out[:, 0].median())) < 0.05


def test_constant_column_stays_finite():
    x = torch.ones(50, 2)
    x[:, 1] = torch.arange(50.0)
    for transform in NUMERIC_TRANSFORMS:
        for embedding in EMBEDDINGS:
            encoder = FeatureEncoder(2, None, transform=transform, embedding=embedding, d_embedding=4)
            encoder.init_from_data(x)
            assert torch.isfinite(encoder(x)).all(), (transform, embedding)


def test_piecewise_linear_encoding_fills_bins_in_order_and_extrapolates():
    layer = PiecewiseLinear(1, 4, n_bins=4)
    layer.init_from_data(torch.linspace(0, 1, 101).unsqueeze(1))
    np.testing.assert_allclose(layer.edges[0].numpy(), [0, 0.25, 0.5, 0.75, 1.0], atol=1e-6)
    with torch.no_grad():  # expose the encoding itself: identity per bin, no bias
        layer.weight.copy_(torch.eye(4).unsqueeze(0))
        layer.bias.zero_()
    out = layer(torch.tensor([[0.6], [2.0], [-1.0]]))[:, 0].detach()
    np.testing.assert_allclose(out[0].numpy(), [1, 1, 0.4, 0], atol=1e-5)
    np.testing.assert_allclose(out[1].numpy(), [1, 1, 1, 5], atol=1e-5)  # last bin open right
    np.testing.assert_allclose(out[2].numpy(), [0, 0, 0, 0], atol=1e-5)  # first open left (-4, ReLU)


def test_output_width_and_chunks():
    encoder = FeatureEncoder(6, [0, 2, 5], embedding="periodic", d_embedding=8)
    assert encoder.chunks == [8, 8, 8, 1, 1, 1] and encoder.out_features == 27
    assert encoder(torch.randn(3, 6)).shape == (3, 27)
    with pytest.raises(ValueError, match="continuous column indices"):
        FeatureEncoder(3, [5])
    with pytest.raises(ValueError, match="Unknown embedding"):
        FeatureEncoder(3, None, embedding="fourier")


def test_statistics_travel_in_the_state_dict(X):
    encoder = FeatureEncoder(5, [0, 1, 2, 3], transform="quantile", embedding="piecewise")
    encoder.init_from_data(X)
    fresh = FeatureEncoder(5, [0, 1, 2, 3], transform="quantile", embedding="piecewise")
    fresh.load_state_dict(encoder.state_dict())
    torch.testing.assert_close(fresh(X), encoder(X))


@pytest.mark.parametrize("embedding", ["none", "piecewise"])
@pytest.mark.parametrize("transform", NUMERIC_TRANSFORMS)
def test_float64_prediction_matches_float32_training_on_discrete_columns(transform, embedding):
    """The fitted estimator predicts in float64 on the preprocessor's float64 output, while the
    statistics came from the float32 training matrix: a discrete level must map the same."""
    rng = np.random.default_rng(0)
    levels = (rng.integers(0, 4, size=(500, 3)) - 1.37) / 1.11  # standardised discrete codes
    x64 = torch.as_tensor(levels, dtype=torch.float64)
    x32 = x64.float()
    encoder = FeatureEncoder(3, None, transform=transform, embedding=embedding, d_embedding=4)
    encoder.init_from_data(x32)
    trained = encoder(x32).detach()
    predicted = copy.deepcopy(encoder).double()(x64).detach()
    torch.testing.assert_close(predicted.float(), trained, atol=1e-5, rtol=1e-5)


def test_quantiles_match_torch_whichever_sort_runs():
    # CPU rows go through numpy's sort, others (here: a tensor needing gradients) torch's;
    # both are torch.quantile's linear interpolation, ties and all
    from automl_nas.nn._numeric import _quantiles

    x = torch.randn(301, 7)
    x[::3, 2] = 0.5  # a tie among many rows
    levels = torch.linspace(0, 1, 11)
    expected = torch.quantile(x, levels, dim=0)
    torch.testing.assert_close(_quantiles(x, levels), expected)
    torch.testing.assert_close(_quantiles(x.clone().requires_grad_(), levels).detach(), expected)


@pytest.mark.parametrize("transform", NUMERIC_TRANSFORMS)
@pytest.mark.parametrize("embedding", EMBEDDINGS)
def test_continuous_columns_first_are_read_as_slices_with_the_same_output(X, transform, embedding):
    """Continuous columns before the others (the usual order) are read as views; the output is
    that of the gathering path, and the standard transform without embedding is the input."""
    torch.manual_seed(0)
    sliced = FeatureEncoder(5, [0, 1, 2, 3], transform=transform, embedding=embedding)
    gathered = copy.deepcopy(sliced)
    gathered.in_order = False
    assert sliced.in_order
    sliced.init_from_data(X)
    gathered.init_from_data(X)
    torch.testing.assert_close(sliced(X), gathered(X), rtol=0, atol=0)
    if transform == "standard" and embedding == "none":
        assert sliced(X) is X
    assert not FeatureEncoder(5, [0, 2, 4]).in_order
