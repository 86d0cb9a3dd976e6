"""The gradient-boosting family: LightGBM's histogram gradient boosting, searched."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
from torch import nn

from automl_nas.nn import TreeEnsemble
from automl_nas.space._base import DataFacts, SearchSpace

#: The parameters of the family, named after scikit-learn's ``HistGradientBoosting*`` (which
#: fitted them before LightGBM did; stored studies and the portfolio keep the names): learning
#: rate, ``num_leaves``, ``min_data_in_leaf``, ``lambda_l2``, ``feature_fraction_bynode``.
BOOSTING_PARAMS = (
    "gbdt_learning_rate",
    "gbdt_max_leaf_nodes",
    "gbdt_min_samples_leaf",
    "gbdt_l2_regularization",
    "gbdt_max_features",
)
#: LightGBM's extremely randomised trees (``extra_trees``): each split tries one random
#: threshold per column instead of the best of its bins. Searched beside the parameters above;
#: stored trials and portfolio entries from before it have none and boost as without it.
EXTRA_TREES = "gbdt_extra_trees"


class BoostingSpace(SearchSpace):
    """Histogram gradient-boosted trees, fitted by LightGBM.

    Searched: ``gbdt_learning_rate``, ``gbdt_max_leaf_nodes``, ``gbdt_min_samples_leaf``,
    ``gbdt_l2_regularization``, ``gbdt_max_features`` (the share of columns each split
    considers) and ``gbdt_extra_trees`` (LightGBM's extremely randomised trees: one random
    threshold per column and split, as AutoGluon's ``LightGBMXT``; a different kind of error
    for the ensemble; ``benchmarks/README.md``, "Extremely randomised trees in the boosting
    family"). The number of rounds is not searched: boosting stops early on the trial's
    validation rows and keeps the rounds up to the lowest validation loss
    (:func:`~automl_nas.training.fit_boosted_trees`). The default configuration is the start
    portfolio's first boosting entry (``benchmarks/portfolio.py``). The fitted trees become a
    :class:`~automl_nas.nn.TreeEnsemble`.

    Example:
        >>> BoostingSpace().default_params()["gbdt_max_leaf_nodes"]
        5
    """

    #: Name of the family in a :class:`~automl_nas.space.FamilySpace`.
    family = "gbdt"
    #: LightGBM routes missing values natively (a learned direction per split), as the fitted
    #: trees do (:class:`~automl_nas.nn.TreeEnsemble`).
    fills_missing = True

    def __init__(self) -> None:
        super().__init__(
            {
                "gbdt_learning_rate": FloatDistribution(0.01, 0.3, log=True),
                "gbdt_max_leaf_nodes": IntDistribution(4, 128, log=True),
                "gbdt_min_samples_leaf": IntDistribution(2, 200, log=True),
                "gbdt_l2_regularization": FloatDistribution(1e-6, 10.0, log=True),
                "gbdt_max_features": FloatDistribution(0.3, 1.0),
                EXTRA_TREES: CategoricalDistribution((False, True)),
            }
        )

    def required_params(self) -> Sequence[str]:
        return (*BOOSTING_PARAMS, EXTRA_TREES)

    def supports(self, facts: DataFacts) -> bool:
        """One target column only: LightGBM has no multi-output regression."""
        return facts.n_outputs == 1 or facts.task == "classification"

    def _defaults(self) -> dict[str, Any]:
        # The start portfolio's first boosting entry (space/portfolio.json).
        return {
            "gbdt_learning_rate": 0.0111,
            "gbdt_max_leaf_nodes": 5,
            "gbdt_min_samples_leaf": 5,
            "gbdt_l2_regularization": 0.0316,
            "gbdt_max_features": 0.465,
            EXTRA_TREES: False,
        }

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        return TreeEnsemble(math.prod(input_shape), n_outputs)
