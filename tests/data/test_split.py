"""Putting a split's rows in order without a second copy of the data."""

import numpy as np
import pytest

from automl_nas.data import _split, permute_rows_inplace


@pytest.mark.parametrize("shape", [(50, 7), (50, 3, 4), (1, 5)])
def test_rows_reordered_in_place_as_fancy_indexing_would(monkeypatch, shape):
    # blocks of 2 columns (100 cells over 50 rows): several blocks and a ragged last one
    monkeypatch.setattr(_split, "PERMUTE_BLOCK_CELLS", 100)
    rng = np.random.default_rng(0)
    X = rng.normal(size=shape).astype(np.float32)
    order = rng.permutation(len(X))
    expected = X[order]
    out = permute_rows_inplace(X, order)
    assert out is X
    np.testing.assert_array_equal(X, expected)


def test_only_a_permutation_of_a_contiguous_array_is_accepted():
    X = np.arange(12.0).reshape(4, 3)
    with pytest.raises(ValueError, match="C-contiguous"):
        permute_rows_inplace(X.T, np.arange(3))
    with pytest.raises(ValueError, match="order has 3 rows, X has 4"):
        permute_rows_inplace(X, np.arange(3))
