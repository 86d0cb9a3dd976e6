"""AutoNASClassifier: joint HPO + NAS for classification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from scipy.special import softmax
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn

from automl_nas.estimator._base import BaseAutoNAS
from automl_nas.training import CLASSIFICATION_METRICS, Metric


class AutoNASClassifier(ClassifierMixin, BaseAutoNAS):
    """Classifier whose ``fit`` searches network architecture and training hyperparameters jointly.

    One Optuna study; every trial samples both from ``space`` (default :class:`MLPSpace`),
    trains with cross-entropy and early stopping, and is scored on a stratified validation split
    with ``metric`` ("accuracy" by default, "balanced_accuracy" or "log_loss"), reported every
    epoch to ``pruner``. See :class:`BaseAutoNAS` for the parameters shared with the regressor.

    Parameters:
        space: The :class:`SearchSpace` (None: ``MLPSpace()``).
        sampler: Optuna sampler or name ("tpe", "random", "cmaes", "gp", "nsga2", "qmc").
        stages: Search stages run in order on the one study, names ("tpe", "random", "darts",
            ...) or :class:`BaseStage` objects with their own ``n_trials``/``time_share``; a stage
            without a share gets an equal part of the remaining time. None: ``[sampler]``.
        pruner: Optuna pruner or name ("median", "hyperband", "successive_halving", "none").
        time_budget: Seconds for the whole search (> 0).
        n_trials: Most trials to run (None: until ``time_budget``).
        max_epochs: Cap on any trial's epochs (the space's ``epochs`` is clipped to it).
        patience: Epochs without validation improvement before a trial stops early.
        validation_fraction: Share of rows held out to score, prune and select trials when
            they are not cross-validated.
        cv: How trials are validated. "auto" (default): 5-fold cross-validation on data of
            at most 25 rows per second of ``time_budget`` (1,500 at 60 s; not when
            ``refit=True``, ``cost_objective`` or ``max_params`` asks for single networks),
            one holdout split of ``validation_fraction`` otherwise.
            An int k >= 2: k folds; each trial trains k networks, reports the first fold's
            epochs to ``pruner``, is scored on all rows' out-of-fold outputs, and its model
            is the mean of the k networks (trained on every row together, so never
            refitted). None: the holdout split.
        metric: Validation metric the search optimises.
        device: "auto" (CUDA when present), "cpu", "cuda" or a ``torch.device``.
        n_jobs: Trials trained at once, in threads sharing the in-memory study and data.
        random_state: Seed for split, sampler and network initialisation (same seed, same search
            with ``n_jobs=1`` and ``n_trials`` as the binding limit).
        verbose: 0 silent, 1 one line per trial, 2 adds Optuna's own log.
        storage: Optuna storage (None: in memory): ``postgresql://...``, ``sqlite:///f.db``
            (heartbeats: a killed process's trial is failed and retried once), ``journal:PATH``
            or an Optuna storage object. Worker processes (``automl-nas worker``) can join a
            search in a shared storage; ``fit`` waits for the budget, then builds the model
            from every process's trials.
        study_name: Study name in ``storage``. An existing study is resumed: its completed
            trials (models in ``artifact_dir``) are reused, not retrained; the data, target
            and space must be those it was started with.
        cost_objective: "n_params" or "latency" makes the search two-objective: maximise the
            validation score and minimise the network's parameter count, or its measured
            latency (median ms of a forward pass over 256 validation rows on CPU). Trials are
            not pruned then (Optuna cannot prune multi-objective trials); samplers "tpe"
            (default), "nsga2", "random" and the darts stage support it. ``pareto_front_``
            lists the Pareto-optimal trials; the final model is still chosen by score.
        max_params: Largest parameter count allowed: every trial records the constraint
            (``trial.set_constraint``), samplers steer away from bigger networks, and the
            final model (ensemble members together) respects it.
        artifact_dir: Directory, reachable by every worker, where a search in a shared storage
            keeps each completed trial's model (``<artifact_dir>/<study_name>/``; default
            ``./automl_nas_artifacts``). Files stay after ``fit``.
        mlflow_tracking_uri, mlflow_experiment, register_model: MLflow tracking (off by default).
        ensemble_size: Rounds of greedy ensemble selection with replacement on the validation
            outputs (out-of-fold with ``cv``; 1: the single best trial is the final model).
        ensemble_candidates: How many of the best completed trials keep their networks and
            validation outputs for the selection.
        refit: Retrain each selected member on train + validation with its own params for its
            best epoch count, after the search; this may take up to another ``time_budget``
            seconds, and a member not done by then keeps its search-trained network (warning).
            "auto" (default): refit after a holdout search (see ``cv``) of at most 10,000
            rows, where the held-out share costs accuracy most and a refit takes seconds,
            inside ``time_budget``: the search gets 85% of it and the refit the rest; a member
            not refitted by then keeps its search-trained network, silently.

    Attributes:
        classes_: Class labels.
        study_: The Optuna study of the search.
        ensemble_: The final model (:class:`~automl_nas.ensemble.EnsembleModel`, float64 CPU
            networks) that ``predict`` and ``predict_proba`` use.
        ensemble_weights_: Trial number -> weight of each ensemble member (weights sum to 1).
        refitted_: Trial numbers of the members refitted on train + validation.
        best_params_: Hyperparameters and architecture of the best single trial.
        best_score_: Its validation score.
        best_model_: Its network as trained in the search (CPU, eval mode, never refitted).
        preprocessor_: The fitted input transformer.
        pareto_front_: With ``cost_objective``: the feasible Pareto-optimal trials (trial,
            score, cost, stage, params), cheapest first.

    Example:
        >>> from sklearn.datasets import load_iris
        >>> X, y = load_iris(return_X_y=True)
        >>> clf = AutoNASClassifier(n_trials=2, max_epochs=5, random_state=0).fit(X, y)
        >>> clf.predict(X[:2]).shape
        (2,)
    """

    _task = "classification"
    _parameter_constraints: dict = {
        **BaseAutoNAS._parameter_constraints,
        "metric": [StrOptions(set(CLASSIFICATION_METRICS)), None],
    }

    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        y = column_or_1d(y, warn=True)
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs at least 2 classes"
            )
        return codes.astype(np.int64), len(self.classes_)

    def _metric(self) -> Metric:
        return CLASSIFICATION_METRICS[self.metric or "accuracy"]

    def _loss(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def _decoder(self) -> Callable[[np.ndarray], np.ndarray]:
        return _probabilities

    def _metric_target(self, y: np.ndarray) -> np.ndarray:
        return y

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._predict_output(X)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per row."""
        check_is_fitted(self)
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


def _probabilities(output: np.ndarray) -> np.ndarray:
    """Class probabilities (float64) from network logits."""
    return softmax(output.astype(np.float64), axis=1)
