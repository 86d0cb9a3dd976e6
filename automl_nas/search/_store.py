"""Where a search keeps its best trained trials: in memory, or as files every process reaches.

Both stores implement :class:`TrialStore`: the objective ``offer``s every trained trial and
the estimator reads the ``ranked`` best back for its ensemble.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import weakref
from collections.abc import Callable, Mapping
from typing import Any, Protocol, runtime_checkable

import optuna
import torch
from optuna.trial import TrialState

from automl_nas.search._keys import TrialAttr
from automl_nas.search._model import TrialModel, model_bytes
from automl_nas.search._safe import safe_load

#: Bytes of kept networks a :class:`MemoryTrialStore` holds in memory before it spills to disk.
MODEL_MEMORY_LIMIT = 512 * 2**20


@runtime_checkable
class TrialStore(Protocol):
    """Keeps the best trained trials of a search.

    ``keep`` is how many :meth:`ranked` returns at most.
    """

    keep: int

    def offer(self, entry: TrialModel) -> None:
        """Record a trained trial (a store may drop it if it does not rank among the best)."""

    def ranked(self) -> list[TrialModel]:
        """The best kept trials, best first (ties: earlier first; partial trials last)."""


class MemoryTrialStore:
    """The ``keep`` best trained trials of a search, safe to fill from several threads.

    Held-out outputs always stay in memory (ensemble selection reads them all). Networks stay
    in memory up to ``memory_limit`` bytes in total; beyond that the worst-ranked kept networks
    are written (``torch.save``) to a temporary directory (under ``TMPDIR``) that is deleted
    with the store. In memory at once: at most ``memory_limit`` plus the network being offered.

    Args:
        keep: How many of the best trials to keep.
        maximize: Whether a higher validation score is better.
        memory_limit: Bytes of networks kept in memory (None: ``MODEL_MEMORY_LIMIT``, 512 MiB).
    """

    def __init__(self, keep: int, maximize: bool, *, memory_limit: int | None = None) -> None:
        self.keep = keep
        self.maximize = maximize
        self.memory_limit = MODEL_MEMORY_LIMIT if memory_limit is None else memory_limit
        self._models: dict[int, TrialModel] = {}
        self._lock = threading.Lock()
        self._dir: str | None = None

    def offer(self, entry: TrialModel) -> None:
        """Keep ``entry`` if it ranks among the best ``keep`` trials so far."""
        with self._lock:
            self._models[entry.number] = entry
            ranked = self.ranked()
            for dropped in ranked[self.keep :]:
                del self._models[dropped.number]
                if dropped.path is not None:
                    os.remove(dropped.path)
            self._spill(ranked[: self.keep])

    def _spill(self, ranked: list[TrialModel]) -> None:
        """Write the worst in-memory networks to disk until the rest fit in ``memory_limit``."""
        in_memory = [entry for entry in ranked if entry.model is not None]
        used = sum(model_bytes(entry.model) for entry in in_memory)
        for entry in reversed(in_memory):
            if used <= self.memory_limit:
                return
            if self._dir is None:
                self._dir = tempfile.mkdtemp(prefix="automl_nas_models_")
                weakref.finalize(self, shutil.rmtree, self._dir, ignore_errors=True)
            used -= model_bytes(entry.model)
            entry.path = os.path.join(self._dir, f"trial_{entry.number}.pt")
            torch.save(entry.model, entry.path)
            entry.model = None

    def ranked(self) -> list[TrialModel]:
        """Kept trials, best first (ties: earlier trial first; partial trials last)."""
        sign = -1.0 if self.maximize else 1.0
        return sorted(self._models.values(), key=lambda m: (m.partial, sign * m.value, m.number))


class DiskTrialStore:
    """Every completed trial's network, params and validation outputs, one file per trial.

    The artifact store of a search shared through a storage: a worker that completes a trial
    writes ``trial_<number>.pt`` (:meth:`TrialModel.to_file`: tensors and plain values) into
    ``directory``, and the coordinator reads the best ones back for the ensemble, rebuilding
    each network from its params with ``build``: a file in a shared directory is data, so
    reading one runs no code from it (:func:`~automl_nas.search.safe_load`). A local
    directory, not the MLflow artifact store: it needs no server, a write is one atomic
    rename, and a directory shared by the workers' machines (NFS, a mounted volume) is what
    clusters already have. Files stay after ``fit``, so a resumed search reuses the trials
    and any completed trial's model can be loaded (:meth:`load`); delete the directory when
    the study is no longer needed. Same interface as the in-memory :class:`MemoryTrialStore`.

    Args:
        directory: Where the files go (created if missing).
        keep: How many of the best trials :meth:`ranked` returns.
        study: The study whose COMPLETE trials and values rank the files.
        build: ``build(params)``: the untrained network of a trial's params.
    """

    def __init__(
        self,
        directory: str,
        keep: int,
        study: optuna.Study,
        build: Callable[[Mapping[str, Any]], torch.nn.Module],
    ) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.keep = keep
        self.study = study
        self.build = build
        self.maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE

    def path(self, number: int) -> str:
        """The file of trial ``number``."""
        return os.path.join(self.directory, f"trial_{number}.pt")

    def offer(self, entry: TrialModel) -> None:
        """Write ``entry`` (atomically: a reader never sees half a file)."""
        path = self.path(entry.number)
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(entry.to_file(), tmp)
        os.replace(tmp, path)

    def load(self, number: int) -> TrialModel:
        """Trial ``number`` as written by the process that trained it."""
        record = safe_load(self.path(number), f"the model file of trial {number}")
        return TrialModel.from_file(record, self.build)

    def ranked(self) -> list[TrialModel]:
        """The ``keep`` best COMPLETE trials that have a file, best first (ties: earlier first).

        Ranked by the first objective (the validation score), trials the deadline cut to some
        of their folds last; infeasible trials (a constraint above 0, e.g. over
        ``max_params``) are left out.
        """
        sign = -1.0 if self.maximize else 1.0
        trials = [
            t for t in self.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
            if all(c <= 0 for c in t.constraints.values())
        ]
        kept: list[TrialModel] = []

        def order(trial: optuna.trial.FrozenTrial) -> tuple:
            return (TrialAttr.PARTIAL_FOLDS in trial.user_attrs, sign * trial.values[0], trial.number)

        for trial in sorted(trials, key=order):
            if len(kept) == self.keep:
                break
            if os.path.exists(self.path(trial.number)):
                kept.append(self.load(trial.number))
        return kept
