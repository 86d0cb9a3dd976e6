"""The linear family: regularised logistic regression or ridge regression, searched."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import FloatDistribution
from torch import nn

from automl_nas.nn import LinearModel, MissingValues
from automl_nas.space._base import DataFacts, SearchSpace


class LinearSpace(SearchSpace):
    """A linear model on the preprocessed columns: ``LogisticRegression`` for classes,
    ``Ridge`` for targets, with one searched regularisation strength ``linear_alpha``
    (``C = 1 / linear_alpha`` for the logistic model).

    Cheap, and strong where the signal is close to linear or the data is small and wide; a
    different kind of error for the ensemble to average with trees and networks. The fitted
    coefficients become a :class:`~automl_nas.nn.LinearModel`.

    Example:
        >>> LinearSpace().default_params()
        {'linear_alpha': 1.0}
    """

    #: Name of the family in a :class:`~automl_nas.space.FamilySpace`.
    family = "linear"
    #: The model fills missing values with their column's median itself
    #: (:class:`~automl_nas.nn.MissingFill`), without indicator columns, and is fitted over
    #: parts of the rows, without a filled copy of them (``training/_linear_parts.py``); with
    #: MCAR indicators it scored lower (``benchmarks/README.md``, "Missing values kept as
    #: NaN"); the other families see the missingness.
    fills_missing = True

    def __init__(self) -> None:
        super().__init__({"linear_alpha": FloatDistribution(1e-4, 1e3, log=True)})
        #: The columns left missing and what fills them, set by :meth:`for_data`.
        self.missing: MissingValues | None = None

    def for_data(self, facts: DataFacts) -> LinearSpace:
        new = copy.copy(self)
        new.missing = facts.missing
        return new

    def required_params(self) -> Sequence[str]:
        return ("linear_alpha",)

    def subsamples(self, params: Mapping[str, Any]) -> bool:
        """No: on all 40,000 x 2,000 rows a fit and its scoring took 0.2-0.4 s, as on a
        3,750-row subsample, and a linear model of many columns needs the rows (with linear
        trials on the subsample too, a default 30 s fit's test balanced accuracy there fell
        from 0.86 to 0.78-0.83 at two of three seeds; benchmarks/README.md, "One default
        fit")."""
        return False

    def _defaults(self) -> dict[str, Any]:
        return {"linear_alpha": 1.0}

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        missing = getattr(self, "missing", None)  # absent from spaces pickled before it
        fill = None if missing is None else missing.module(flags=False)
        return LinearModel(math.prod(input_shape), n_outputs, missing=fill)
