"""Reading files that other processes wrote, without running code from them.

A shared search's spec and trial files live in a directory that every process of the search
reaches, and their paths are announced in a database that anyone with write access to it
can change. So nothing here is unpickled freely: files are read with
``torch.load(weights_only=True)``, which builds tensors, containers and primitives, plus only
the classes and functions on an allowlist (:func:`allow_in_files`), never calling anything
else. A planted file, or a spec naming an unknown class, is refused with
:class:`UnsafeFileError` before anything in it runs.
"""

from __future__ import annotations

import functools
import os
import pickle
from typing import Any

import numpy as np
import optuna
import torch

from automl_nas.nn import MissingValues
from automl_nas.space import BoostingSpace, CellSpace, FamilySpace, LinearSpace, MLPSpace, TabularSpace
from automl_nas.training import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    Metric,
    probabilities,
    target_units,
)

# numpy arrays inside objects (e.g. a regressor's target scale), as torch documents it.
_NUMPY = [
    np._core.multiarray._reconstruct,  # the name numpy pickles arrays with
    np.ndarray,
    np.dtype,
    *{type(np.dtype(t)) for t in (np.bool_, np.int32, np.int64, np.float32, np.float64)},
]

_ALLOWED: list[Any] = [
    *_NUMPY,
    functools.partial,  # builds a partial object; the function in it must be allowed too
    Metric,
    *{metric.fn for metric in (*CLASSIFICATION_METRICS.values(), *REGRESSION_METRICS.values())},
    probabilities,
    target_units,
    torch.nn.CrossEntropyLoss,
    torch.nn.MSELoss,
    MLPSpace,
    CellSpace,
    TabularSpace,
    FamilySpace,
    BoostingSpace,
    LinearSpace,
    MissingValues,
    optuna.distributions.IntDistribution,
    optuna.distributions.FloatDistribution,
    optuna.distributions.CategoricalDistribution,
    optuna.pruners.MedianPruner,
    optuna.pruners.PercentilePruner,
    optuna.pruners.HyperbandPruner,
    optuna.pruners.SuccessiveHalvingPruner,
    optuna.pruners.NopPruner,
]


class UnsafeFileError(ValueError):
    """A shared file that cannot be read without running code, or one outside its directory."""


def allow_in_files(*objects: Any) -> None:
    """Let spec files hold instances of these classes (or references to these functions).

    Only for your own classes whose construction and ``__setstate__`` run nothing but
    attribute assignment, e.g. a custom ``SearchSpace`` or stage of a shared search; call it
    in the coordinator and in every worker before they start.
    """
    _ALLOWED.extend(obj for obj in objects if obj not in _ALLOWED)


def safe_load(path: str | os.PathLike, what: str) -> Any:
    """The object a process of this search wrote to ``path`` with ``torch.save``.

    Raises :class:`UnsafeFileError` naming the file and the refused class or function when it
    holds anything off the allowlist: nothing in it has run then.
    """
    try:
        with torch.serialization.safe_globals(_ALLOWED):
            return torch.load(path, weights_only=True)
    except pickle.UnpicklingError as exc:
        reason = str(exc).strip().splitlines()[0]
        raise UnsafeFileError(
            f"refused to read {what} {path}: it holds something that could run code when read "
            f"({reason}). Nothing from it was run. Files of a shared search are written by its "
            "own processes; if you wrote this one with a class of your own, allow it with "
            "automl_nas.search.allow_in_files in every process"
        ) from None


def unreadable_globals(path: str | os.PathLike) -> list[str]:
    """Classes and functions in the file at ``path`` that :func:`safe_load` would refuse.

    Scans the file without building anything from it.
    """
    with torch.serialization.safe_globals(_ALLOWED):
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(path))


def inside(path: str | os.PathLike, directory: str | os.PathLike, what: str) -> str:
    """``path`` resolved, if it lies inside ``directory`` (also resolved); else UnsafeFileError."""
    resolved = os.path.realpath(path)
    root = os.path.realpath(directory)
    if os.path.commonpath([resolved, root]) != root:
        raise UnsafeFileError(
            f"{what} {path} is outside the artifact directory {root}; refusing to read it. "
            "Pass the search's artifact_dir (automl-nas worker --artifact-dir) if the search "
            "keeps its files elsewhere"
        )
    return resolved
