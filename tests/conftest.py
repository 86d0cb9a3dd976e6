"""Shared test settings: small, fast searches."""

import pytest

#: Estimator settings that make one fit take well under a second on tiny data.
FAST = dict(n_trials=2, max_epochs=20, time_budget=60, random_state=0)


@pytest.fixture
def fast():
    return dict(FAST)
