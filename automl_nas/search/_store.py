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


#: Mode of the files a shared search writes (``search.pt``: the whole preprocessed training
#: set; ``trial_<n>.pt``: trained networks and held-out outputs): read-write for the owner,
#: readable by the group, nothing for others. Not 0o600: the workers of a shared search
#: usually run as the same user, or as users of one group, on a shared directory, and the
#: coordinator must read the workers' files. The umask can only make them stricter.
FILE_MODE = 0o640
#: Mode of the artifact directory a shared search creates (group may enter and list it).
DIR_MODE = 0o750


def _unwritable(path: str, what: str, error: OSError) -> OSError:
    """An error naming the path, the cause and the fix (``error`` as the cause)."""
    cause = error.strerror or str(error)
    if isinstance(error, (FileExistsError, NotADirectoryError)) and error.filename:
        cause = f"{error.filename} is a file, not a directory"
    unwritable = type(error)(
        f"cannot write {what} at {path}: {cause}. The search's artifact_dir (automl-nas "
        "--artifact-dir) must be a directory that every process of the search can write "
        "(check its owner and mode, or pass another artifact_dir)"
    )
    unwritable.errno = error.errno
    return unwritable


def make_artifact_dir(directory: str) -> None:
    """Create ``directory`` (and its parents) with :data:`DIR_MODE`, or say why it cannot be."""
    missing = []
    part = os.path.abspath(directory)
    while not os.path.isdir(part) and os.path.dirname(part) != part:
        missing.append(part)
        part = os.path.dirname(part)
    try:
        for part in reversed(missing):  # each created part DIR_MODE (makedirs: the last only)
            if os.path.lexists(part):  # a file (or dangling link) where a directory must be
                raise NotADirectoryError(20, "Not a directory", part)
            os.makedirs(part, mode=DIR_MODE, exist_ok=True)
            os.chmod(part, DIR_MODE)
    except OSError as error:
        raise _unwritable(directory, "the search's artifact directory", error) from error


def write_file(obj: Any, path: str, what: str, check: Callable[[str], None] | None = None) -> None:
    """``torch.save`` ``obj`` to ``path`` atomically, mode :data:`FILE_MODE`, never world-readable.

    The file is created with its final mode (no moment where another user could open it),
    written under a temporary name and renamed: a reader never sees half a file. An
    unwritable directory raises an ``OSError`` naming the path and cause, not torch's text.
    ``check(tmp)``, if given, may refuse the written file (by raising) before it is published.
    """
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    except OSError as error:
        raise _unwritable(path, what, error) from error
    try:
        with os.fdopen(fd, "wb") as file:
            os.fchmod(file.fileno(), os.fstat(file.fileno()).st_mode & FILE_MODE)  # a stale tmp
            torch.save(obj, file)
        if check is not None:
            check(tmp)
        os.replace(tmp, path)
    except OSError as error:
        raise _unwritable(path, what, error) from error
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


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
        make_artifact_dir(directory)
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
        write_file(
            entry.to_file(), self.path(entry.number), f"the model file of trial {entry.number}"
        )

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
