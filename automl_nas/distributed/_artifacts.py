"""Trained trials as files in a directory that every process of a search reaches."""

from __future__ import annotations

import os

import optuna
import torch
from optuna.trial import TrialState

from automl_nas.estimator._objective import TrialModel


class DiskModelStore:
    """Every completed trial's network, params and validation outputs, one file per trial.

    The artifact store of a search shared through a storage: a worker that completes a trial
    writes ``trial_<number>.pt`` (``torch.save`` of its :class:`TrialModel`) into
    ``directory``, and the coordinator reads the best ones back for the ensemble. A local
    directory, not the MLflow artifact store: it needs no server, a write is one atomic
    rename, and a directory shared by the workers' machines (NFS, a mounted volume) is what
    clusters already have. Files stay after ``fit``, so a resumed search reuses the trials
    and any completed trial's model can be loaded (:meth:`load`); delete the directory when
    the study is no longer needed. Same interface as the in-memory ``ModelStore``.

    Args:
        directory: Where the files go (created if missing).
        keep: How many of the best trials :meth:`ranked` returns.
        study: The study whose COMPLETE trials and values rank the files.
    """

    def __init__(self, directory: str, keep: int, study: optuna.Study) -> None:
        os.makedirs(directory, exist_ok=True)
        self.directory = directory
        self.keep = keep
        self.study = study
        self.maximize = study.directions[0] == optuna.study.StudyDirection.MAXIMIZE

    def path(self, number: int) -> str:
        """The file of trial ``number``."""
        return os.path.join(self.directory, f"trial_{number}.pt")

    def offer(self, entry: TrialModel) -> None:
        """Write ``entry`` (atomically: a reader never sees half a file)."""
        path = self.path(entry.number)
        tmp = f"{path}.{os.getpid()}.tmp"
        torch.save(entry, tmp)
        os.replace(tmp, path)

    def load(self, number: int) -> TrialModel:
        """Trial ``number`` as written by the process that trained it."""
        # weights_only=False: whole module objects, written by this search's own processes.
        return torch.load(self.path(number), weights_only=False)

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
            return ("partial_folds" in trial.user_attrs, sign * trial.values[0], trial.number)

        for trial in sorted(trials, key=order):
            if len(kept) == self.keep:
                break
            if os.path.exists(self.path(trial.number)):
                kept.append(self.load(trial.number))
        return kept
