"""Model families as one more choice of the joint space: networks, boosted trees, linear models."""

from __future__ import annotations

import copy
import json
import logging
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from torch import nn

from automl_nas.space._base import DataFacts, SearchSpace, suggest
from automl_nas.space._boosting import BoostingSpace
from automl_nas.space._linear import LinearSpace
from automl_nas.space._tabular import TabularSpace

#: The families of the default tabular search, in the order a new search starts them when
#: there is no portfolio: a boosting default fits in about a second and is strong everywhere.
FAMILIES = ("gbdt", "nn", "linear")

#: The start portfolio, built offline by ``benchmarks/portfolio.py`` (greedy portfolio
#: construction on pmlb-meta tables); shipped with the package.
PORTFOLIO_FILE = Path(__file__).with_name("portfolio.json")
#: Keys of a portfolio entry that describe it rather than configure it.
_ENTRY_NOTES = ("mean_seconds", "portfolio_error")

_logger = logging.getLogger(__name__)


@cache
def portfolio() -> tuple[dict[str, Any], ...]:
    """The shipped portfolio's configurations, in the order a new search trains them."""
    entries = json.loads(PORTFOLIO_FILE.read_text())["entries"]
    return tuple({k: v for k, v in entry.items() if k not in _ENTRY_NOTES} for entry in entries)


def _within(dist: BaseDistribution, value: Any) -> bool:
    """Whether ``value`` is one ``dist`` can draw."""
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(dist, (IntDistribution, FloatDistribution)):
        return isinstance(value, (int, float)) and dist.low <= value <= dist.high
    return False


def family_space(name: str) -> SearchSpace:
    """The default space of family ``name`` (one of :data:`FAMILIES`)."""
    spaces = {"gbdt": BoostingSpace, "nn": TabularSpace, "linear": LinearSpace}
    if name not in spaces:
        raise ValueError(f"unknown family {name!r}; choose from {list(FAMILIES)}")
    return spaces[name]()


class FamilySpace(SearchSpace):
    """Several model families in one space: ``family`` is searched, and each trial samples
    only the parameters of the family it drew (conditional parameters, which Optuna's TPE
    models per family).

    Each family is a space of its own (``family`` attribute: its name) whose parameter names
    do not clash with the others' (``gbdt_*``, ``linear_*``, the networks' plain names). A
    trial's model is whatever its family builds; every family's model is a torch module
    (trees and linear models fitted by scikit-learn are copied into one), so trials of all
    families are stored, ranked and ensembled alike.

    A new search starts from one configuration of each family (:meth:`start_params`), in the
    order given. :meth:`replace` routes each parameter to the family that has it, and
    ``family`` narrows or fixes the families.

    Args:
        families: The family spaces (default: boosted trees, tabular networks, linear
            models; see :data:`FAMILIES`).
        portfolio: Start from the shipped portfolio (:data:`PORTFOLIO_FILE`): its
            configurations of these families that this space can draw, then the default of
            any family it has none of. False: the families' defaults only.

    Example:
        >>> space = FamilySpace().replace(family=["gbdt", "linear"], linear_alpha=0.1)
        >>> space.families, space.fixed["linear_alpha"]
        (('gbdt', 'linear'), 0.1)
    """

    def __init__(
        self, families: Sequence[SearchSpace] | None = None, *, portfolio: bool = True
    ) -> None:
        self.portfolio = portfolio
        spaces = [family_space(name) for name in FAMILIES] if families is None else list(families)
        if not spaces:
            raise ValueError("a FamilySpace needs at least one family")
        self._families: dict[str, SearchSpace] = {}
        owner: dict[str, str] = {}
        for space in spaces:
            if space.family in self._families:
                raise ValueError(f"family {space.family!r} is given twice")
            for name in (*space.distributions, *space.fixed, *space.required_params()):
                if name == "family" or owner.get(name, space.family) != space.family:
                    raise ValueError(
                        f"parameter {name!r} of family {space.family!r} is also "
                        f"{'the family choice' if name == 'family' else f'in family {owner[name]!r}'}"
                    )
                owner[name] = space.family
            self._families[space.family] = space
        super().__init__({"family": CategoricalDistribution(tuple(self._families))})
        self.validate()

    @property
    def families(self) -> tuple[str, ...]:
        """The families a trial may draw, in start order."""
        if "family" in self._fixed:
            return (self._fixed["family"],)
        return tuple(self._distributions["family"].choices)

    def family_space(self, name: str) -> SearchSpace:
        """The space of family ``name``."""
        return self._families[name]

    @property
    def distributions(self) -> dict[str, BaseDistribution]:
        """``family`` and the distributions of every family it may draw."""
        merged = dict(self._distributions)
        for name in self.families:
            merged.update(self._families[name].distributions)
        return merged

    @property
    def fixed(self) -> dict[str, Any]:
        merged = dict(self._fixed)
        for name in self.families:
            merged.update(self._families[name].fixed)
        return merged

    def _owner(self, param: str) -> str:
        for name, space in self._families.items():
            if (
                param in space.distributions
                or param in space.fixed
                or param in space.required_params()
            ):
                return name
        raise ValueError(
            f"no family has a parameter {param!r}; the families are {list(self._families)} "
            "(boosting parameters start with 'gbdt_', linear ones with 'linear_')"
        )

    def replace(self, **changes: Any) -> FamilySpace:
        """A copy with families narrowed or fixed (``family=[...]`` / ``family="gbdt"``) and
        each other parameter changed in the family that has it (see
        :meth:`SearchSpace.replace`)."""
        new = copy.copy(self)
        new._families = dict(self._families)
        new._distributions, new._fixed = dict(self._distributions), dict(self._fixed)
        per_family: dict[str, dict[str, Any]] = {}
        for param, value in changes.items():
            if param == "family":
                chosen = list(value) if isinstance(value, (list, tuple)) else [value]
                unknown = [name for name in chosen if name not in self._families]
                if unknown or not chosen:
                    raise ValueError(
                        f"unknown family {unknown}; choose from {list(self._families)}"
                    )
                new._families = {name: self._families[name] for name in chosen}
                new._distributions["family"] = CategoricalDistribution(tuple(chosen))
                new._fixed.pop("family", None)
                if len(chosen) == 1 and not isinstance(value, (list, tuple)):
                    del new._distributions["family"]
                    new._fixed["family"] = chosen[0]
            else:
                per_family.setdefault(self._owner(param), {})[param] = value
        for name, family_changes in per_family.items():
            if name in new._families:
                new._families[name] = new._families[name].replace(**family_changes)
        new.validate()
        return new

    def sample(self, trial: optuna.trial.BaseTrial) -> dict[str, Any]:
        """The family, then the parameters of that family only."""
        if "family" in self._fixed:
            family = self._fixed["family"]
        else:
            family = suggest(trial, "family", self._distributions["family"])
        return {"family": family, **self._families[family].sample(trial)}

    def start_params(self) -> list[dict[str, Any]]:
        """The configurations a new search trains first (searched parameters only, as
        :meth:`SearchSpace.default_params`).

        With ``portfolio``: the portfolio's entries of this space's families, in its order,
        each completed with its family's defaults (the data-sized batch size, say), and with
        the values of parameters fixed in the space; an entry with a value outside a searched
        range, or a parameter the space lacks, is skipped with a debug message. Then the
        default of each family that no entry started.
        """
        starts: list[dict[str, Any]] = []
        started: set[str] = set()
        for number, entry in enumerate(portfolio() if self.portfolio else ()):
            family = entry["family"]
            if family not in self.families:
                continue
            params = {k: v for k, v in entry.items() if k != "family"}
            refused = self._refused(family, params)
            if refused:
                _logger.debug("portfolio entry %d (%s) skipped: %s", number, family, refused)
                continue
            starts.append(self._start(family, params))
            started.add(family)
        starts += [self._start(name, {}) for name in self.families if name not in started]
        return starts

    def _start(self, family: str, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` of ``family`` over its defaults; parameters fixed in the space keep
        their fixed value (the trial adds it)."""
        space = self._families[family]
        head = {"family": family} if "family" in self._distributions else {}
        searched = {k: v for k, v in params.items() if k in space.distributions}
        return {**head, **space.default_params(), **searched}

    def _refused(self, family: str, params: Mapping[str, Any]) -> str:
        """Why ``family``'s space cannot draw ``params`` ("" if it can): a searched parameter
        out of its range, or one the space does not have."""
        space = self._families[family]
        searched, fixed = space.distributions, space.fixed
        for name, value in params.items():
            if name in fixed:
                continue
            if name not in searched or not _within(searched[name], value):
                return f"{name}={value!r} is outside the space"
        return ""

    def default_params(self) -> dict[str, Any]:
        """The first family's default configuration."""
        return self.start_params()[0]

    def supports(self, facts: DataFacts) -> bool:
        return any(self._families[name].supports(facts) for name in self.families)

    @property
    def fills_missing(self) -> bool:  # type: ignore[override]
        """Whether every family's models take the missing values themselves."""
        return all(space.fills_missing for space in self._families.values())

    def for_data(self, facts: DataFacts) -> FamilySpace:
        """Each family adapted to the data; families that cannot fit the task are left out
        (boosting for several regression targets)."""
        kept = [name for name in self.families if self._families[name].supports(facts)]
        if not kept:
            raise ValueError(f"none of the families {list(self.families)} can fit this task")
        new = self.replace(family=kept) if kept != list(self.families) else copy.copy(self)
        new._families = {name: space.for_data(facts) for name, space in new._families.items()}
        new.validate()
        return new

    def validate(self) -> None:
        for name in self.families:
            self._families[name].validate()

    def used_params(self, params: Mapping[str, Any]) -> set[str]:
        """``family`` and what the chosen family's space says its model reads; all of
        ``params`` when they name no family of this space."""
        space = self._families.get(params.get("family"))
        if space is None:
            return set(params)
        return {"family"} | space.used_params({k: v for k, v in params.items() if k != "family"})

    def subsamples(self, params: Mapping[str, Any]) -> bool:
        """What the chosen family's space says (yes when ``params`` name no family here)."""
        space = self._families.get(params.get("family"))
        return True if space is None else space.subsamples(params)

    def required_params(self) -> Sequence[str]:
        return ("family",)

    def _defaults(self) -> dict[str, Any]:
        return self.default_params()

    def build(
        self, params: Mapping[str, Any], input_shape: tuple[int, ...], n_outputs: int
    ) -> nn.Module:
        """The model of the family ``params["family"]`` names."""
        return self._families[params["family"]].build(params, input_shape, n_outputs)

    def __repr__(self) -> str:
        inner = ", ".join(repr(self._families[name]) for name in self.families)
        return f"FamilySpace([{inner}]{'' if self.portfolio else ', portfolio=False'})"
