"""The tabular space: modern tabular networks and their training recipe, searched jointly."""

from __future__ import annotations

import copy
import math
from collections.abc import Mapping, Sequence
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from torch import nn

from automl_nas.nn import (
    ACTIVATIONS,
    BLOCKS,
    EMBEDDINGS,
    NORMS,
    NUMERIC_TRANSFORMS,
    FeatureEncoder,
    MissingValues,
    TabularNet,
)
from automl_nas.space._base import TRAINING_PARAMS, DataFacts, SearchSpace, training_distributions

#: Architecture parameters, in the order the leaderboard shows them.
ARCHITECTURE_PARAMS = (
    "block", "n_blocks", "width", "activation", "norm", "numeric_transform", "embedding",
    "d_embedding", "ensemble_k",
)
#: Training-recipe parameters beyond the shared ``TRAINING_PARAMS``.
RECIPE_PARAMS = ("label_smoothing", "schedule", "grad_clip")

#: Above this many continuous columns embeddings are off (each column's embedding widens the
#: first layer ``d_embedding``-fold: 300 columns x 16 make a 4,800-wide input).
MAX_EMBEDDED_COLUMNS = 300

#: A trial's default batch: about this many steps per epoch, as a power of two in the bounds.
STEPS_PER_EPOCH = 40
MIN_BATCH, MAX_BATCH = 32, 1024


def batch_choices(n_rows: int) -> tuple[int, tuple[int, ...]]:
    """The default batch size for ``n_rows`` training rows and the choices searched around it.

    About ``STEPS_PER_EPOCH`` steps per epoch (64 rows on 2,500 rows, 1,024 on 40,000), then
    a quarter, half and twice that: small tables keep many updates per epoch, large ones stop
    paying per-step overhead for batches of 64 (issue 14: a 64-row batch on 50,000 rows is
    780 steps an epoch). Not larger: a TabM-style ensemble multiplies the rows of a step by its
    members, and one step of 2,048 rows x 32 members took 2.5 s on a 2-core CPU.
    """
    target = max(n_rows / STEPS_PER_EPOCH, 1)
    default = int(min(max(2 ** round(math.log2(target)), MIN_BATCH), MAX_BATCH))
    choices = sorted({max(default // 4, 16), max(default // 2, 16), default, default * 2})
    return default, tuple(choices)


def _distributions() -> dict[str, BaseDistribution]:
    training = training_distributions()
    training["lr"] = FloatDistribution(1e-4, 1e-2, log=True)
    training["weight_decay"] = FloatDistribution(1e-6, 1e-2, log=True)
    training["epochs"] = IntDistribution(10, 200)
    return {
        "block": CategoricalDistribution(BLOCKS),
        "n_blocks": IntDistribution(1, 4),
        "width": IntDistribution(64, 1024, log=True),
        "activation": CategoricalDistribution(("relu", "gelu", "silu")),
        "norm": CategoricalDistribution(NORMS),
        "numeric_transform": CategoricalDistribution(NUMERIC_TRANSFORMS),
        "embedding": CategoricalDistribution(EMBEDDINGS),
        "d_embedding": CategoricalDistribution((8, 16, 32)),
        "ensemble_k": CategoricalDistribution((1, 4, 8, 16)),
        **training,
        "label_smoothing": FloatDistribution(0.0, 0.2),
        "schedule": CategoricalDistribution(("cosine", "flat_cosine", "constant")),
        "grad_clip": CategoricalDistribution((0.0, 1.0)),
    }


class TabularSpace(SearchSpace):
    """Joint space of modern tabular networks and their training recipe.

    Architecture (built by :class:`~automl_nas.nn.TabularNet`): ``block`` (plain MLP or
    residual), ``n_blocks``, ``width``, ``activation``, ``norm``; how continuous columns enter,
    ``numeric_transform`` (standardised, quantile-to-normal, or robust scaling with soft
    clipping) and ``embedding`` (none, periodic PLR, piecewise-linear) of width
    ``d_embedding``; and ``ensemble_k``, the members of a TabM-style parameter-efficient
    ensemble (1: a single network). Training: ``lr``, ``weight_decay``, ``batch_size``,
    ``optimizer``, ``dropout``, ``epochs``, ``label_smoothing`` (classification),
    ``schedule`` (cosine, flat then cosine, constant) and ``grad_clip``.

    Every parameter is sampled in every trial (``d_embedding`` also without an embedding),
    as :class:`SearchSpace` explains. :meth:`for_data` sizes the space to the data before a
    search: batch sizes to the rows, embeddings off on very wide data, label smoothing off for
    regression, and tells the network which columns are continuous; choices the user fixed or
    changed with :meth:`replace` are kept.

    Example:
        >>> space = TabularSpace().replace(ensemble_k=1, embedding=["none", "periodic"])
        >>> space.fixed["ensemble_k"]
        1
    """

    #: The network fills and flags missing values itself (:class:`~automl_nas.nn.MissingFill`).
    fills_missing = True

    def __init__(self) -> None:
        super().__init__(_distributions())
        #: Columns the network transforms and embeds (None: all), set by :meth:`for_data`.
        self.continuous: tuple[int, ...] | None = None
        #: The columns left missing and what fills and flags them, set by :meth:`for_data`.
        self.missing: MissingValues | None = None
        self.default_batch = 128

    def required_params(self) -> Sequence[str]:
        return (*TRAINING_PARAMS, *ARCHITECTURE_PARAMS, *RECIPE_PARAMS)

    def for_data(self, facts: DataFacts) -> TabularSpace:
        new = copy.copy(self)
        new._distributions = dict(self._distributions)
        new._fixed = dict(self._fixed)
        new.continuous = tuple(facts.continuous)
        new.missing = facts.missing
        untouched = _distributions()
        default_batch, choices = batch_choices(facts.n_rows)
        new.default_batch = default_batch
        if new._distributions.get("batch_size") == untouched["batch_size"]:
            new._distributions["batch_size"] = CategoricalDistribution(choices)
        if len(facts.continuous) > MAX_EMBEDDED_COLUMNS and (
            new._distributions.get("embedding") == untouched["embedding"]
        ):
            del new._distributions["embedding"]
            new._fixed["embedding"] = "none"
        if facts.task == "regression" and (
            new._distributions.get("label_smoothing") == untouched["label_smoothing"]
        ):
            del new._distributions["label_smoothing"]
            new._fixed["label_smoothing"] = 0.0
        new.validate()
        return new

    def validate(self) -> None:
        super().validate()
        self._check_choices("activation", ACTIVATIONS)

    def used_params(self, params: Mapping[str, Any]) -> set[str]:
        """All but ``d_embedding`` when ``embedding`` is ``"none"``."""
        used = set(params)
        if params.get("embedding") == "none":
            used.discard("d_embedding")
        return used

    def _defaults(self) -> dict[str, Any]:
        # The start portfolio's first network entry (space/portfolio.json), with the batch
        # size sized to the data.
        return {
            "block": "resnet",
            "n_blocks": 4,
            "width": 81,
            "activation": "gelu",
            "norm": "none",
            "numeric_transform": "quantile",
            "embedding": "none",
            "d_embedding": 32,
            "ensemble_k": 1,
            "lr": 0.00193,
            "weight_decay": 8.78e-06,
            "batch_size": self.default_batch,
            "optimizer": "adam",
            "dropout": 0.26,
            "epochs": 99,
            "label_smoothing": 0.0515,
            "schedule": "flat_cosine",
            "grad_clip": 1.0,
        }

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        missing = getattr(self, "missing", None)  # absent from spaces pickled before it
        n_features = math.prod(input_shape) + (missing.n_flags if missing else 0)
        encoder = FeatureEncoder(
            n_features,
            self.continuous,
            transform=params["numeric_transform"],
            embedding=params["embedding"],
            d_embedding=int(params["d_embedding"]),
        )
        return TabularNet(
            encoder,
            n_outputs,
            block=params["block"],
            n_blocks=int(params["n_blocks"]),
            width=int(params["width"]),
            activation=params["activation"],
            norm=params["norm"],
            dropout=float(params["dropout"]),
            k=int(params["ensemble_k"]),
            missing=missing.module() if missing else None,
        )
