"""The search space: training hyperparameters and architecture as named Optuna distributions."""

from __future__ import annotations

import copy
from abc import ABC, abstractmethod
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from torch import nn

from automl_nas.nn import MissingValues, Supernet

#: Training hyperparameters every space carries, whatever the architecture family.
TRAINING_PARAMS = ("lr", "weight_decay", "batch_size", "optimizer", "dropout", "epochs")


def training_distributions() -> dict[str, BaseDistribution]:
    """Default distributions of the training hyperparameters shared by all spaces."""
    return {
        "lr": FloatDistribution(1e-4, 3e-2, log=True),
        "weight_decay": FloatDistribution(1e-6, 1e-2, log=True),
        "batch_size": CategoricalDistribution((32, 64, 128, 256)),
        "optimizer": CategoricalDistribution(("adamw", "adam", "sgd")),
        "dropout": FloatDistribution(0.0, 0.5),
        "epochs": IntDistribution(10, 100),
    }


@dataclass(frozen=True)
class DataFacts:
    """What a space may adapt to (:meth:`SearchSpace.for_data`): the preprocessed inputs.

    Attributes:
        n_rows: Rows a trial trains on (the training part of the split or fold).
        n_features: Columns of the preprocessed input.
        continuous: Indices of the columns with more than two distinct values (the others are
            one-hot levels, missing-value indicators or binary features).
        task: ``"classification"`` or ``"regression"``.
        n_outputs: Outputs of a model: classes, or target columns.
        missing: The columns the preprocessor left NaN in and what fills and flags them, for
            a space whose models do (:attr:`SearchSpace.fills_missing`); None if none.
            ``continuous`` then indexes the filled columns and their indicators, as such a
            network reads them (:class:`~automl_nas.nn.MissingFill`).
    """

    n_rows: int
    n_features: int
    continuous: tuple[int, ...]
    task: str
    n_outputs: int = 1
    missing: MissingValues | None = None


def suggest(trial: optuna.trial.BaseTrial, name: str, dist: BaseDistribution) -> Any:
    """Ask ``trial`` for ``name`` drawn from ``dist`` through the public ``suggest_*`` API."""
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, dist.choices)
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise TypeError(f"Unsupported distribution for {name!r}: {type(dist).__name__}")


def nearest(dist: BaseDistribution, value: Any) -> Any:
    """The value of ``dist`` closest to ``value``: how defaults survive a narrowed space."""
    if isinstance(dist, CategoricalDistribution):
        return value if value in dist.choices else dist.choices[0]
    clipped = min(max(value, dist.low), dist.high)
    if isinstance(dist, IntDistribution):
        return int(dist.low + round((clipped - dist.low) / dist.step) * dist.step)
    if dist.step is not None:
        return dist.low + round((clipped - dist.low) / dist.step) * dist.step
    return float(clipped)


def _geometric_grid(dist: IntDistribution, n: int) -> tuple[int, ...]:
    """Up to ``n`` integers of ``dist`` spread geometrically from its low to its high end."""
    if dist.low == dist.high or n == 1:
        return (int(dist.low),)
    ratio = dist.high / max(dist.low, 1)
    grid = [nearest(dist, dist.low * ratio ** (k / (n - 1))) for k in range(n)]
    return tuple(sorted(set(grid)))


def _as_distribution(name: str, value: Any, current: BaseDistribution | None) -> BaseDistribution:
    """Turn the shorthand accepted by :meth:`SearchSpace.replace` into a distribution."""
    if isinstance(value, BaseDistribution):
        return value
    if isinstance(value, list):
        if not value:
            raise ValueError(f"{name!r}: a list of choices must not be empty")
        return CategoricalDistribution(tuple(value))
    if isinstance(value, tuple) and len(value) == 2:
        low, high = value
        if low > high:
            raise ValueError(f"{name!r}: low {low} is above high {high}")
        log = bool(getattr(current, "log", False)) and low > 0
        if isinstance(low, int) and isinstance(high, int) and not isinstance(
            current, FloatDistribution
        ):
            return IntDistribution(low, high, log=log)
        return FloatDistribution(float(low), float(high), log=log)
    raise TypeError(
        f"{name!r}: expected an optuna distribution, a (low, high) tuple, a list of choices "
        f"or a plain value to fix it, got {value!r}"
    )


class SearchSpace(ABC):
    """Named Optuna distributions that one trial samples together, and the network they build.

    A space is a value: :meth:`replace` returns a narrowed, extended or partly fixed copy, and
    :attr:`distributions` is the full static list of what is searched, which samplers that need
    the whole space up front (evolution, REINFORCE) read directly.

    Every parameter is sampled in every trial, also those an architecture does not use (e.g.
    ``units_3`` of a 2-layer MLP): a static space lets multivariate TPE, CMA-ES, evolution and RL
    model the joint distribution without conditional branches; :meth:`used_params` says which
    of a trial's values its network reads.

    A family implements :meth:`_defaults` and :meth:`build`; one that also implements
    :meth:`relaxed` (its supernet) can be searched by ``DartsStage`` too.
    """

    #: The model family a space searches, as a :class:`~automl_nas.space.FamilySpace` names it.
    family = "nn"
    #: Whether the models this space builds take NaN in the columns ``DataFacts.missing``
    #: names, filling and flagging them themselves or routing them natively: ``fit`` then
    #: leaves missing values in the matrix instead of adding an indicator column per column
    #: with missing values (``MedianImputeScaler(keep_missing=True)``).
    fills_missing = False

    def __init__(
        self,
        distributions: Mapping[str, BaseDistribution],
        fixed: Mapping[str, Any] | None = None,
    ) -> None:
        self._distributions = dict(distributions)
        self._fixed = dict(fixed or {})

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        """Every searched parameter and its distribution (a copy)."""
        return dict(self._distributions)

    @property
    def fixed(self) -> dict[str, Any]:
        """Parameters held at one value (a copy)."""
        return dict(self._fixed)

    def replace(self, **changes: Any) -> SearchSpace:
        """A copy with some parameters narrowed, extended, fixed or added.

        Each value is an Optuna distribution, a ``(low, high)`` tuple (keeps a log scale), a list
        of categorical choices, or any other value to fix the parameter.

        Example:
            >>> from automl_nas import MLPSpace
            >>> space = MLPSpace().replace(lr=(1e-3, 1e-2), optimizer="adamw")
            >>> space.fixed["optimizer"]
            'adamw'
        """
        new = copy.copy(self)
        new._distributions = dict(self._distributions)
        new._fixed = dict(self._fixed)
        for name, value in changes.items():
            current = new._distributions.get(name)
            if isinstance(value, (BaseDistribution, list)) or (
                isinstance(value, tuple) and len(value) == 2
            ):
                new._distributions[name] = _as_distribution(name, value, current)
                new._fixed.pop(name, None)
            else:
                new._distributions.pop(name, None)
                new._fixed[name] = value
        new.validate()
        return new

    def sample(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """Draw every parameter of the space from ``trial``; fixed ones are added as they are."""
        params = {name: suggest(trial, name, dist) for name, dist in self._distributions.items()}
        params.update(self._fixed)
        return params

    def default_params(self) -> dict[str, Any]:
        """A sound first configuration inside the space, enqueued as a search's first trial."""
        defaults = self._defaults()
        return {
            name: nearest(dist, defaults[name])
            for name, dist in self._distributions.items()
            if name in defaults
        }

    def start_params(self) -> list[dict[str, Any]]:
        """The configurations a new search trains first, in order: :meth:`default_params`.

        A space of several families starts from one configuration of each.
        """
        return [self.default_params()]

    def used_params(self, params: Mapping[str, Any]) -> set[str]:
        """The names in ``params`` (one trial's configuration) that its model reads.

        Every trial samples every parameter (see the class docstring), so a trial also holds
        values its network ignores; the leaderboard shows only the used ones
        (:func:`automl_nas.search.trials_frame`). ``params`` holds the space's fixed values
        too. The default: all of them. A space with parameters that depend on others
        overrides it.
        """
        return set(params)

    def supports(self, facts: DataFacts) -> bool:
        """Whether this family can fit the task described by ``facts`` (default: yes)."""
        return True

    def subsamples(self, params: Mapping[str, Any]) -> bool:
        """Whether a search trial of ``params`` trains on the search's low-fidelity subsample
        when the rows are many (:meth:`~automl_nas.search.BudgetPlan.trial_rows`; default:
        yes). A family whose fit on all rows costs little beside scoring says no."""
        return True

    def for_data(self, facts: DataFacts) -> SearchSpace:
        """This space adapted to the data it will search (``fit`` calls it after preprocessing).

        The default returns the space unchanged; a family overrides it to size choices to the
        data (batch sizes to the rows, which columns to embed) and to drop parameters the task
        cannot use. Parameters the user fixed or narrowed stay as they are.
        """
        return self

    def validate(self) -> None:
        """Raise ``ValueError`` if a parameter the builder needs is neither searched nor fixed."""
        missing = [
            n for n in self.required_params() if n not in self._distributions and n not in self._fixed
        ]
        if missing:
            raise ValueError(f"{type(self).__name__} lacks required parameters {missing}")

    def _check_choices(self, name: str, known: Collection[Any]) -> None:
        """Raise ``ValueError`` if parameter ``name`` may take a value not in ``known``."""
        dist = self._distributions.get(name)
        values = dist.choices if isinstance(dist, CategoricalDistribution) else (self._fixed[name],)
        unknown = [v for v in values if v not in known]
        if unknown:
            raise ValueError(f"Unknown {name}(s) {unknown}; choose from {sorted(known)}")

    def required_params(self) -> Sequence[str]:
        """Names that :meth:`build` and the trainer read."""
        return TRAINING_PARAMS

    def relaxed(self, input_shape: tuple[int, ...], n_outputs: int) -> Supernet:
        """The continuous relaxation of the architecture: the supernet that DARTS trains.

        The supernet mixes every candidate of each architecture choice by the softmax of its
        logits; its ``decisions`` are named after this space's parameters, so the strongest
        candidate of each is a valid configuration of the space. Training hyperparameters are
        not relaxed. This is where an architecture family becomes searchable by gradient:
        override it (with :meth:`_candidates` and :meth:`_fixed_or_default`); the default says
        the space has none. The logits are drawn from the global torch RNG: seed it, inside
        ``torch.random.fork_rng``.

        Raises:
            TypeError: The space has no relaxed form.
        """
        raise TypeError(
            f"{type(self).__name__} has no relaxed form (SearchSpace.relaxed), so DartsStage "
            "cannot search it; use a sampler stage (e.g. 'tpe' or 'evolution'), or a space "
            "that has one (MLPSpace, CellSpace)"
        )

    def _candidates(self, name: str, *, widths: int | None = None) -> tuple[Any, ...]:
        """The values a relaxed form mixes for parameter ``name``.

        Its fixed value alone, its categorical choices, or every integer of an int range; with
        ``widths`` (layer widths, whose ranges are too wide to mix value by value), at most that
        many integers spread geometrically over the range.
        """
        if name in self._fixed:
            return (self._fixed[name],)
        dist = self._distributions[name]
        if isinstance(dist, CategoricalDistribution):
            return tuple(dist.choices)
        if isinstance(dist, IntDistribution) and widths is None:
            return tuple(range(dist.low, dist.high + 1, dist.step))
        if isinstance(dist, IntDistribution):
            return _geometric_grid(dist, widths)
        raise TypeError(
            f"DARTS cannot relax {name!r} with {type(dist).__name__}; fix it or make it categorical"
        )

    def _fixed_or_default(self, name: str) -> Any:
        """A parameter the relaxed form does not mix: its fixed value, else its default."""
        return self._fixed[name] if name in self._fixed else self.default_params()[name]

    @abstractmethod
    def _defaults(self) -> dict[str, Any]:
        """Default value per parameter, clipped into the space by :meth:`default_params`."""

    @abstractmethod
    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        """The untrained network for ``params``, taking inputs of ``input_shape`` (no batch)."""

    def __repr__(self) -> str:
        fixed = f", fixed={self._fixed!r}" if self._fixed else ""
        return f"{type(self).__name__}(searched={sorted(self._distributions)}{fixed})"
