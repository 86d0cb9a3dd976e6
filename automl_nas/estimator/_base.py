"""BaseAutoNAS: the scikit-learn estimator whose ``fit`` is one joint HPO + NAS Optuna study."""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import sys
import time
import warnings
from abc import abstractmethod
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from numbers import Integral, Real
from typing import Any

import numpy as np
import optuna
import pandas as pd
import sklearn
import torch
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from automl_nas.data import (
    DataWarning,
    ImageScaler,
    continuous_columns,
    cross_validation_folds,
    flatten_images,
    make_preprocessor,
    missing_values,
    permute_rows_inplace,
    preprocessing_warning,
    train_validation_split,
)
from automl_nas.distributed import make_storage
from automl_nas.ensemble import EnsembleModel, greedy_ensemble
from automl_nas.masking import MaskedReprParam, mask_uri
from automl_nas.search import (
    PRUNERS,
    SAMPLERS,
    BudgetPlan,
    Coordinator,
    ProgressPrinter,
    SearchSpec,
    TrialAttr,
    TrialModel,
    TrialObjective,
    TrialRecord,
    end_progress_line,
    make_pruner,
    open_search,
    optuna_verbosity,
    run_search,
    trial_counts,
    trial_refit_seconds,
    trials_frame,
    waves_repeat,
)
from automl_nas.space import (
    FAMILIES,
    CellSpace,
    DataFacts,
    FamilySpace,
    MLPSpace,
    SearchSpace,
    TabularSpace,
    family_space,
)
from automl_nas.stages import PROMOTE_SHARE, BaseStage, PromoteStage, SamplerStage, make_stage
from automl_nas.tracking import BaseTracker
from automl_nas.training import (
    FreedMemoryKeeper,
    Metric,
    TensorData,
    available_cores,
    cpu_threads,
    keeper_growth,
    plan_parallelism,
    resolve_device,
)


class BaseAutoNAS(BaseEstimator):
    """Shared machinery of :class:`AutoNASClassifier` and :class:`AutoNASRegressor`.

    ``fit`` runs ONE Optuna study in which every trial samples training hyperparameters and the
    network architecture from ``space`` together, trains the network with early stopping on a
    held-out validation split (or one network per fold with ``cv``), reports the validation
    score after every epoch (so ``pruner`` stops weak trials) and is scored on the held-out
    rows. The search stops at ``time_budget`` seconds
    or ``n_trials`` trials, whichever comes first; a trial still running at the deadline stops
    mid-epoch and keeps its best weights, so ``fit`` returns on time.

    The final model is an ensemble (Caruana et al., 2004): the ``ensemble_candidates`` best
    completed trials keep their networks and validation outputs, and ``ensemble_size`` rounds of
    greedy selection with replacement pick the weighted average of their decoded outputs
    (probabilities, or predictions in the target's units) that scores best on the validation
    split with ``metric``. ``ensemble_size=1`` is the single best trial. Selection runs after
    the search: ``ensemble_size x ensemble_candidates`` metric evaluations on the validation
    split. The members are the
    networks as trained in the search (training part of the split, weights of their best
    validation epoch) unless refitted on all rows after the search: ``refit=True`` (up to
    another ``time_budget`` seconds), or ``"auto"`` (the default) on data of at most
    ``REFIT_AUTO_MAX_ROWS`` rows, within the budget: the search ends at 85% of it and the
    refit has the rest (a member whose refit is not done by then keeps its searched network).

    Memory: the candidates' validation outputs stay in memory (candidates x validation rows x
    outputs x 8 bytes); their networks too, up to 512 MiB in total, beyond which the worst
    ranked are written to a temporary directory (under ``TMPDIR``), deleted at the end of
    ``fit``. After ``fit`` only the selected members remain.

    Pickles hold no password: a pickled estimator (the CLI's model file, the MLflow model) has
    its URL parameters masked (``postgresql://user:***@host/db``; set ``storage`` again before
    refitting an unpickled one) and ``study_`` as an in-memory copy of its trials, while the
    estimator itself keeps both unchanged. Nor does its display: ``storage`` and
    ``mlflow_tracking_uri`` with a credential are held as a
    :class:`~automl_nas.masking.MaskedRepr`, a string equal to the URL whose ``repr`` masks it,
    so ``repr`` (nested in a Pipeline or a grid search too) and the HTML display show them
    masked, while ``get_params``, ``clone`` and ``set_params`` carry the real URL.
    """

    # scikit-learn shows parameters with repr(): these two may hold a password.
    storage = MaskedReprParam()
    mlflow_tracking_uri = MaskedReprParam()

    _parameter_constraints: dict = {
        "space": [SearchSpace, None],
        "families": [list, str, None],
        "sampler": [StrOptions(set(SAMPLERS)), optuna.samplers.BaseSampler],
        "stages": [list, None],
        "pruner": [StrOptions(set(PRUNERS)), optuna.pruners.BasePruner, None],
        "time_budget": [Interval(Real, 0, None, closed="neither")],
        "n_trials": [Interval(Integral, 1, None, closed="left"), None],
        "max_epochs": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Integral, 1, None, closed="left")],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "cv": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"}), None],
        "device": [str, torch.device],
        "n_jobs": [Interval(Integral, 1, None, closed="left"), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "storage": [str, optuna.storages.BaseStorage, None],
        "study_name": [str, None],
        "artifact_dir": [str, os.PathLike, None],
        "image_shape": [tuple, None],
        "mlflow_tracking_uri": [str, None],
        "mlflow_experiment": [str, None],
        "register_model": [str, None],
        "ensemble_size": [Interval(Integral, 1, None, closed="left")],
        "ensemble_candidates": [Interval(Integral, 1, None, closed="left")],
        "refit": ["boolean", StrOptions({"auto"})],
        "cost_objective": [StrOptions({"n_params", "latency"}), None],
        "max_params": [Interval(Integral, 1, None, closed="left"), None],
    }

    def __init__(
        self,
        *,
        space: SearchSpace | None = None,
        families: list[str] | None = None,
        sampler: str | optuna.samplers.BaseSampler = "tpe",
        stages: list[str | BaseStage] | None = None,
        pruner: str | optuna.pruners.BasePruner | None = "median",
        time_budget: float = 60.0,
        n_trials: int | None = None,
        max_epochs: int = 100,
        patience: int = 10,
        validation_fraction: float = 0.2,
        cv: int | str | None = "auto",
        metric: str | None = None,
        device: str | torch.device = "auto",
        n_jobs: int | None = None,
        random_state: int | np.random.RandomState | None = None,
        verbose: int = 1,
        storage: str | optuna.storages.BaseStorage | None = None,
        study_name: str | None = None,
        artifact_dir: str | os.PathLike | None = None,
        image_shape: tuple[int, ...] | None = None,
        mlflow_tracking_uri: str | None = None,
        mlflow_experiment: str | None = None,
        register_model: str | None = None,
        ensemble_size: int = 20,
        ensemble_candidates: int = 10,
        refit: bool | str = "auto",
        cost_objective: str | None = None,
        max_params: int | None = None,
    ) -> None:
        self.space = space
        self.families = families
        self.sampler = sampler
        self.stages = stages
        self.pruner = pruner
        self.time_budget = time_budget
        self.n_trials = n_trials
        self.max_epochs = max_epochs
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.cv = cv
        self.metric = metric
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose
        self.storage = storage
        self.study_name = study_name
        self.artifact_dir = artifact_dir
        self.image_shape = image_shape
        self.mlflow_tracking_uri = mlflow_tracking_uri
        self.mlflow_experiment = mlflow_experiment
        self.register_model = register_model
        self.ensemble_size = ensemble_size
        self.ensemble_candidates = ensemble_candidates
        self.refit = refit
        self.cost_objective = cost_objective
        self.max_params = max_params

    # -- task-specific hooks ---------------------------------------------------------------
    #: "classification" or "regression"; classification splits are stratified.
    _task = ""

    @abstractmethod
    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        """Validate ``y``, set target attributes, return (training target, n_outputs)."""

    @abstractmethod
    def _metric(self) -> Metric:
        """The validation metric named by ``metric`` (or the task's default)."""

    @abstractmethod
    def _loss(self) -> nn.Module:
        """The training loss on raw network outputs."""

    @abstractmethod
    def _decoder(self) -> Callable[[np.ndarray], np.ndarray]:
        """Raw network outputs -> probabilities (classification) or original-unit predictions.

        A picklable function: the search spec carries it to worker processes.
        """

    def _decode(self, output: np.ndarray) -> np.ndarray:
        return self._decoder()(output)

    @abstractmethod
    def _metric_target(self, y: np.ndarray) -> np.ndarray:
        """The training target as the metric expects it (class codes / original units)."""

    # -- input -----------------------------------------------------------------------------
    def _validate_X(self, X: Any, *, reset: bool) -> np.ndarray | pd.DataFrame:
        """Check ``X`` and its features; DataFrames keep their dtypes for the preprocessor."""
        if not isinstance(X, pd.DataFrame):
            X = validate_data(self, X, reset=reset, ensure_all_finite="allow-nan")
            _check_float32_range(X, list(range(X.shape[1])))
            return X
        validate_data(self, X, reset=reset, skip_check_array=True)
        if X.shape[0] == 0 or X.shape[1] == 0:
            raise ValueError(
                f"Found array with {X.shape[0]} sample(s) and {X.shape[1]} feature(s) (shape="
                f"{X.shape}) while a minimum of 1 is required by {type(self).__name__}."
            )
        numeric = X.select_dtypes("number")
        values = numeric.to_numpy(dtype=float)  # one float copy for both checks
        if numeric.shape[1] and np.isinf(values).any():
            raise ValueError("Input X contains infinity; replace it (NaN is fine: it is imputed)")
        _check_float32_range(values, list(numeric.columns))
        return X

    def _features(self, X: Any) -> np.ndarray:
        """Validated, preprocessed float32 features for prediction."""
        check_is_fitted(self)
        X, _ = flatten_images(X, self.image_shape_)
        X = self._validate_X(X, reset=False)
        return np.asarray(self.preprocessor_.transform(X), dtype=np.float32)

    def _predict_output(self, X: Any) -> np.ndarray:
        """Decoded outputs of the final model for ``X``."""
        features = self._features(X)  # checks the estimator is fitted first
        output = self.ensemble_.predict_output(features)
        bad = np.flatnonzero(~np.isfinite(output.reshape(len(output), -1)).all(axis=1))
        if len(bad):
            raise FloatingPointError(
                f"The model's output is not finite for {len(bad)} row(s) of X (first: row "
                f"{bad[0]}): their features are far outside what the model was trained on. "
                "Check those rows for mistaken magnitudes, or clip them."
            )
        return output

    def leaderboard(self) -> pd.DataFrame:
        """Every trial of the search (pruned and failed too), best validation score first.

        Columns: ``trial`` (number), ``stage``, ``state``, ``score`` (validation ``metric``;
        NaN unless COMPLETE), with ``cost_objective`` also ``value_1`` (the cost) and
        ``pareto``, then ``ensemble_weight`` (0 outside the ensemble), ``train_seconds``,
        ``n_params``, ``best_epoch`` (``latency_ms`` with a latency objective, ``feasible``
        with ``max_params``), then one column per searched parameter (architecture and
        training; a name clashing with the columns before gets a ``param_`` prefix). NaN where
        a trial has no value, e.g. a trial that failed before training, or where its network
        does not use the value it sampled (``units_3`` of a one-layer MLP). The same table as
        ``automl-nas leaderboard MODEL.pkl`` and the MLflow run's ``leaderboard.csv``
        (:func:`automl_nas.search.trials_frame`).
        """
        check_is_fitted(self)
        return trials_frame(
            self.study_,
            weights=self.ensemble_weights_,
            max_params=self.max_params,
            space=self.space_,
        )

    # -- the search ------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> BaseAutoNAS:
        """Search architectures and hyperparameters on ``(X, y)`` and keep the best network.

        Args:
            X: Array-like or DataFrame (n_samples, n_features); DataFrames may have categorical
                and string columns; NaN is filled and flagged by networks, filled by
                linear models, routed natively by boosted trees.
            y: Targets.

        Returns:
            self
        """
        started = time.monotonic()
        self._validate_params()
        X, y_fit, n_outputs = self._validate_fit_data(X, y)
        stages = self._stages()
        space = self._default_space(stages) if self.space is None else self._user_space()
        space.validate()
        single = bool(self.cost_objective) or self.max_params is not None
        plan = BudgetPlan.make(
            self.time_budget, X.shape[0], cv=self.cv, refit=self.refit, single_network=single,
            sized_trials=self.n_trials is None, started=started,
        )
        seed = int(check_random_state(self.random_state).randint(np.iinfo(np.int32).max))
        device = resolve_device(self.device)
        X_all = self._preprocess(X, keep_missing=space.fills_missing)
        space = self.space_ = space.for_data(self._data_facts(X_all, plan, n_outputs))
        tracker = self._make_tracker()
        with optuna_verbosity(self.verbose):
            coordinator = self._open_search()
        # A seeded search of n_trials repeats: one trial at a time on every core, or, with an
        # explicit n_jobs, in waves of n_jobs trials where waves repeat.
        repeatable = self.random_state is not None and self.n_trials is not None
        waves = (
            repeatable and (self.n_jobs or 1) > 1 and not coordinator.shared
            and waves_repeat(coordinator.study.pruner)
        )
        n_jobs, threads = plan_parallelism(self.n_jobs, device, serial=repeatable)
        # what trials free goes back to the system as they run
        keeper = FreedMemoryKeeper(growth=keeper_growth(X_all.nbytes))
        with optuna_verbosity(self.verbose), cpu_threads(device, threads), keeper:
            spec = self._spec(coordinator, space, stages, X_all, y_fit, n_outputs, plan, seed)
            del X_all  # the spec holds the rows now (in its own order)
            parallel = {"trials_at_once": n_jobs, "threads_per_trial": threads, "waves": waves}
            tracker.start_search(self._search_info(coordinator, spec, stages, parallel))
            try:
                objective = run_search(
                    coordinator, spec, plan, stages, device=device, n_jobs=n_jobs,
                    seed=None if self.random_state is None else seed, n_trials=self.n_trials,
                    callbacks=[tracker, *self._progress(spec, plan)], waves=waves,
                )
                if self.verbose:
                    end_progress_line()
                tracker.trials_done(coordinator.study)
                self._finish(coordinator.study, objective, plan.refit_deadline(), n_jobs)
                tracker.log_model(self, X[:5] if isinstance(X, pd.DataFrame) else np.asarray(X)[:5])
            except BaseException:
                tracker.end_search("FAILED")
                raise
        tracker.end_search("FINISHED")
        if self.verbose:
            print(self._fit_summary(time.monotonic() - started), file=sys.stderr, flush=True)
        return self

    def _fit_summary(self, seconds: float) -> str:
        """The line ``fit`` ends with at ``verbose >= 1``: trials, best score and where it was
        measured, ensemble size. The command line's ``fit`` shows the same line."""
        members = len(self.ensemble_weights_)
        return (
            f"[automl_nas] {type(self).__name__} fitted in {seconds:.1f} s: "
            f"{len(self.study_.trials)} trials ({trial_counts(self.study_)}); best {self._metric().name}="
            f"{self.best_score_:.4f} (trial {self.best_trial_number_}, {self._scored_on()}); "
            f"ensemble of {members} trial{'s' * (members != 1)}"
        )

    def _scored_on(self) -> str:
        """Where the best trial's score comes from: its folds' held-out rows, or the holdout split.

        A cross-validated trial records its fold scores; its score is on the out-of-fold outputs.
        """
        best = next(
            t for t in self.study_.get_trials(deepcopy=False) if t.number == self.best_trial_number_
        )
        folds = best.user_attrs.get(TrialAttr.FOLD_SCORES)
        if not folds:
            return "on the validation split"
        return f"out-of-fold over {best.user_attrs.get(TrialAttr.PARTIAL_FOLDS, len(folds))} folds"

    def _validate_fit_data(self, X: Any, y: Any) -> tuple[Any, np.ndarray, int]:
        """Checked ``X`` (images flattened), the encoded target and the number of outputs."""
        if y is None:
            raise ValueError(
                f"This {type(self).__name__} estimator requires y to be passed, but the target y is None."
            )
        X, self.image_shape_ = flatten_images(X, self.image_shape)
        X = self._validate_X(X, reset=True)
        if X.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples, got 1 sample")
        y_fit, n_outputs = self._encode_target(y)
        if len(y_fit) != X.shape[0]:
            raise ValueError(f"X has {X.shape[0]} samples but y has {len(y_fit)}")
        return X, y_fit, n_outputs

    def _open_search(self) -> Coordinator:
        """The study (new, or the stored one resumed) and how it is shared."""
        # Optuna cannot prune multi-objective trials: epochs are not reported then.
        pruner = make_pruner(None if self.cost_objective else self.pruner, self.max_epochs)
        return open_search(
            make_storage(self.storage),
            study_name=self.study_name,
            directions=[self._metric().direction] + (["minimize"] if self.cost_objective else []),
            pruner=pruner,
            artifact_dir=self.artifact_dir,
        )

    def _spec(
        self,
        coordinator: Coordinator,
        space: SearchSpace,
        stages: list[BaseStage],
        X: np.ndarray,
        y: np.ndarray,
        n_outputs: int,
        plan: BudgetPlan,
        seed: int,
    ) -> SearchSpec:
        """The search as data. A resumed search keeps its own seed, hence its own split.

        A holdout's rows are put in order, training rows first, so that the split's tensors
        are views; on many rows its trials train on ``plan.trial_rows`` of them (tabular data).
        """
        fingerprint = _fingerprint(X, y, space, self._task)
        resumed = coordinator.resumed_seed(fingerprint)
        seed = seed if resumed is None else resumed
        stratify = y if self._task == "classification" else None
        trial_rows = None
        if plan.n_folds is None:
            train, val = train_validation_split(len(X), self.validation_fraction, stratify, seed)
            splits = [(train, val)]
            if len(train) + len(val) == len(X):
                # training rows first, then validation rows: the split's tensors are views of
                # X, not a second copy of the data (issue 14's memory bound); X is fit's own
                # (_preprocess), so it is reordered in place
                order = np.concatenate([train, val])
                X, y = permute_rows_inplace(X, order), y[order]
                splits = [(np.arange(len(train)), np.arange(len(train), len(X)))]
            if not self.image_shape_:
                trial_rows = plan.trial_rows(len(train), X.shape[1])
        else:
            splits = cross_validation_folds(len(X), plan.n_folds, stratify, seed)
        return SearchSpec(
            space=space,
            X=X,
            y=y,
            y_metric=self._metric_target(y),
            splits=splits,
            loss_fn=self._loss(),
            metric=self._metric(),
            decode=self._decoder(),
            input_shape=self.image_shape_ or (X.shape[1],),
            n_outputs=n_outputs,
            max_epochs=self.max_epochs,
            patience=self.patience,
            seed=seed,
            keep=1 if self.ensemble_size == 1 else self.ensemble_candidates,
            pruner=coordinator.study.pruner,
            worker_samplers=[stage.worker_sampler for stage in stages],
            worker_batches=[stage.worker_batch for stage in stages],
            fingerprint=fingerprint,
            cost_objective=self.cost_objective,
            max_params=self.max_params,
            trial_seconds=plan.trial_seconds,
            trial_rows=trial_rows,
        )

    def _progress(self, spec: SearchSpec, plan: BudgetPlan) -> list[ProgressPrinter]:
        """The progress callback, with ``verbose``."""
        # the latest end: a refit expected to be short lets the search run on to it
        deadline = plan.latest_search_deadline
        return [ProgressPrinter(spec.metric.name, deadline)] if self.verbose else []

    def _default_space(self, stages: list[BaseStage]) -> SearchSpace:
        """The space searched when ``space`` is None: DARTS-style cells for images; for rows,
        the ``families`` in a :class:`FamilySpace`, which starts from the portfolio's entries
        of those families (one family too: networks alone start from its network entries, not
        from one default and random draws), or the MLP space when a stage (DARTS) needs a
        relaxed form. Under a size or latency goal, which is about one network, the tabular
        network space alone."""
        names = self._family_names()
        networks_only = names == ["nn"]
        if self.image_shape_ or any(s.needs_relaxed_space for s in stages):
            if self.families is not None and not networks_only:
                why = "image data" if self.image_shape_ else "a DARTS stage"
                raise ValueError(
                    f"families={self.families} cannot be searched with {why}: networks only"
                )
            return CellSpace() if self.image_shape_ else MLPSpace()
        one_network_goal = bool(self.cost_objective) or self.max_params is not None
        if one_network_goal and (self.families is None or networks_only):
            return TabularSpace()
        return FamilySpace([family_space(n) for n in names])

    def _user_space(self) -> SearchSpace:
        """``space``, which ``families`` cannot be combined with."""
        if self.families is not None:
            raise ValueError(
                "pass either space or families, not both: families chooses among the default "
                "spaces (for a custom mix, pass space=FamilySpace([...]))"
            )
        return self.space

    def _family_names(self) -> list[str]:
        """``families`` checked, in the default start order (all of :data:`FAMILIES` if None)."""
        if self.families is None:
            return list(FAMILIES)
        chosen = [self.families] if isinstance(self.families, str) else list(self.families)
        unknown = [name for name in chosen if name not in FAMILIES]
        if unknown or not chosen:
            raise ValueError(f"families={self.families!r}: choose one or more of {list(FAMILIES)}")
        return [name for name in FAMILIES if name in chosen]

    def _preprocess(self, X: Any, keep_missing: bool = False) -> np.ndarray:
        """Fit ``preprocessor_`` and return the float32 matrix the networks train on.

        One ``fit_transform`` pass (a ``fit`` then ``transform`` made a ColumnTransformer
        transform everything twice); warns when it took more than a quarter of the budget.
        The matrix is fit's own, never the caller's ``X``: the search reorders its rows in
        place (:meth:`_spec`). ``keep_missing``: the space's models take missing values
        themselves, so the matrix keeps them as NaN instead of adding indicator columns
        (:func:`~automl_nas.data.make_preprocessor`).
        """
        started = time.monotonic()
        preprocessor = (  # on every core the search may use: nothing else runs yet
            ImageScaler() if self.image_shape_
            else make_preprocessor(X, keep_missing=keep_missing, n_jobs=available_cores())
        )
        X_all = np.ascontiguousarray(preprocessor.fit_transform(X), dtype=np.float32)
        if isinstance(X, np.ndarray) and np.may_share_memory(X_all, X):
            X_all = X_all.copy()
        self.preprocessor_ = preprocessor
        message = preprocessing_warning(time.monotonic() - started, self.time_budget)
        if message is not None:
            warnings.warn(message, DataWarning, stacklevel=3)
        return X_all

    def _data_facts(self, X: np.ndarray, plan: BudgetPlan, n_outputs: int) -> DataFacts:
        """What the space adapts to: the rows a trial trains on, the continuous columns, the
        task and its outputs."""
        holdout = 1 - (1 / plan.n_folds if plan.n_folds else self.validation_fraction)
        missing = None if self.image_shape_ else missing_values(self.preprocessor_)
        return DataFacts(
            n_rows=max(1, int(len(X) * holdout)),
            n_features=X.shape[1],
            continuous=() if self.image_shape_ else continuous_columns(X, missing),
            task=self._task,
            n_outputs=n_outputs,
            missing=missing,
        )

    def _stages(self) -> list[BaseStage]:
        """The search strategy: ``stages`` in order, or one stage running ``sampler``.

        With ``stages`` None and the budget in seconds only (no ``n_trials``, one objective),
        the sampler gets ``1 - PROMOTE_SHARE`` of the search and a :class:`PromoteStage` trains
        the best configurations again, best first, with the rest.
        """
        if self.stages is None:
            stages: list[BaseStage] = [SamplerStage(self.sampler)]
            if self.n_trials is None and not self.cost_objective:
                stages = [SamplerStage(self.sampler, time_share=1 - PROMOTE_SHARE), PromoteStage()]
        elif not self.stages:
            raise ValueError("stages must name at least one stage, e.g. ['tpe']")
        else:
            stages = [make_stage(stage) for stage in self.stages]
        single = [s.name for s in stages if not s.multi_objective]
        if self.cost_objective and single:
            raise ValueError(
                f"cost_objective={self.cost_objective!r} makes a two-objective search, which "
                f"{single} cannot run; use 'tpe', 'nsga2' or 'random' (or darts)"
            )
        return stages

    def _finish(
        self,
        study: optuna.Study,
        objective: TrialObjective,
        refit_deadline: float | None,
        at_once: int = 1,
    ) -> None:
        """Select the ensemble from the kept trials (refitted if asked) and the best trial.

        ``at_once``: members refitted side by side, as many as the search trained trials at
        once (each on the threads its trials had).

        Trials the deadline cut to some of their folds (``partial``) are ranked last and only
        used, alone, when no trial finished all its folds.

        With ``max_params`` only feasible trials are candidates, and an ensemble whose members
        together exceed it gives way to the best single feasible network. Raises with the
        trials' errors if none completed (or none was feasible).
        """
        ranked = objective.store.ranked()
        if not ranked:
            raise RuntimeError(_no_model_message(study, self.max_params))
        best = ranked[0]
        self.study_ = study
        full = [entry for entry in ranked if not entry.partial]  # outputs for every held-out row
        if full:
            weights = greedy_ensemble(
                [entry.val_output for entry in full], objective.y_val, objective.metric,
                self.ensemble_size,
            )
            chosen = [(entry, w) for entry, w in zip(full, weights) if w > 0]
        else:  # the deadline cut every trial short of its last fold: the best of them
            chosen = [(best, 1.0)]
        if self.max_params is not None and sum(e.n_params for e, _ in chosen) > self.max_params:
            chosen = [(best, 1.0)]
        if self.cost_objective:
            self.pareto_front_ = self._pareto_front(study)
        members = [entry.load_model() for entry, _ in chosen]
        self.refitted_ = []
        if refit_deadline is not None:
            entries = [entry for entry, _ in chosen]
            members = self._refit_members(entries, members, objective, refit_deadline, at_once)
        # float64 for prediction: float32 matmuls differ in the last bits between batch sizes,
        # and a row's prediction must not depend on which other rows it is predicted with.
        self.ensemble_ = EnsembleModel(
            [member.double() for member in members],
            [w for _, w in chosen],
            decode=self._decode,
            numbers=[entry.number for entry, _ in chosen],
        )
        self.ensemble_weights_ = {entry.number: float(w) for entry, w in chosen}
        self.best_model_ = best.load_model().double()
        self.best_params_ = dict(best.params)
        self.best_score_ = best.value
        self.best_trial_number_ = best.number

    def _pareto_front(self, study: optuna.Study) -> pd.DataFrame:
        """The feasible trials no other trial beats on both score and cost, cheapest first."""
        cost = "latency_ms" if self.cost_objective == "latency" else "n_params"
        rows = [
            {
                "trial": t.number,
                "score": t.values[0],
                cost: t.values[1],
                **({} if cost == "n_params" else {"n_params": t.user_attrs.get(TrialAttr.N_PARAMS)}),
                "stage": t.user_attrs.get(TrialAttr.STAGE),
                **t.params,
            }
            for t in study.best_trials  # Optuna 5 leaves out infeasible trials
        ]
        board = pd.DataFrame(rows, columns=None if rows else ["trial", "score", cost])
        return board.sort_values([cost, "trial"], kind="stable").reset_index(drop=True)

    def _refit_members(
        self,
        entries: list[TrialModel],
        members: list[nn.Module],
        objective: TrialObjective,
        deadline: float,
        at_once: int = 1,
    ) -> list[nn.Module]:
        """Members retrained on train + validation; one that misses ``deadline`` keeps its own.

        ``at_once`` members are retrained side by side (threads, as the search's trials: after
        a search of one single-threaded trial per core, one refit at a time would leave all
        cores but one idle). Each refit depends on its trial's seed alone, so the result does
        not depend on ``at_once``. A refit whose expected time (its trial's training seconds,
        scaled to the refit's epochs and rows: :func:`~automl_nas.search.trial_refit_seconds`)
        does not fit before ``deadline`` when it would start is not started. A late or skipped
        refit warns with ``refit=True`` (the user asked for it); with ``"auto"`` it is the
        expected end of the budget's refit share.
        """
        data = objective.context.data
        full = TensorData(
            torch.cat([data.X_train, data.X_val]), torch.cat([data.y_train, data.y_val]),
            data.X_val, data.y_val,
        )
        trials = self.study_.get_trials(deepcopy=False)

        def refit(entry: TrialModel) -> tuple[nn.Module | None, str, bool]:
            """The refitted network, or None with why and whether it was only late."""
            record = TrialRecord.from_trial(trials[entry.number])
            expected = trial_refit_seconds(record, len(full.X_train), len(data.X_train))
            left = deadline - time.monotonic()
            if expected > left:
                why = f"would take about {expected:.1f} s, {max(left, 0.0):.1f} s were left"
                return None, why, True
            try:
                return objective.refit(entry, full, deadline), "passed the refit deadline", True
            except Exception as exc:  # a refit that diverges must not lose the searched model
                return None, f"failed ({type(exc).__name__}: {exc})", False

        with ThreadPoolExecutor(max_workers=max(1, min(at_once, len(entries)))) as pool:
            outcomes = list(pool.map(refit, entries))
        refitted = []
        for entry, member, (model, reason, late) in zip(entries, members, outcomes):
            # late: the refit share ran out, expected with refit="auto", so no warning
            if model is None and late and self.refit == "auto":
                refitted.append(member)
                continue
            if model is None:
                warnings.warn(
                    f"Refit of trial {entry.number} {reason}; the ensemble keeps its network "
                    "trained in the search. Raise time_budget, or set refit=False.",
                    RuntimeWarning,
                    stacklevel=3,
                )
                refitted.append(member)
            else:
                self.refitted_.append(entry.number)
                refitted.append(model)
        return refitted

    def _make_tracker(self) -> BaseTracker:
        """The MLflow tracker when tracking is asked for, else one that records nothing."""
        if not (
            self.mlflow_tracking_uri
            or self.mlflow_experiment
            or self.register_model
            or os.environ.get("MLFLOW_TRACKING_URI")
        ):
            return BaseTracker()
        from automl_nas.tracking import MlflowTracker

        return MlflowTracker(
            tracking_uri=self.mlflow_tracking_uri,
            experiment_name=self.mlflow_experiment,
            registered_model_name=self.register_model,
            alias="champion",
        )

    def _search_info(
        self, coordinator: Coordinator, spec: SearchSpec, stages: list[BaseStage], parallel: dict
    ) -> dict:
        """What the tracker records of this search before its first trial (``parallel``: trials
        at once, torch threads per trial, and whether they run in waves that repeat)."""
        return {
            "estimator": type(self).__name__,
            "params": self.get_params(deep=False),
            "dataset": {
                "n_samples": int(spec.X.shape[0]),
                "n_features": int(self.n_features_in_),
                "task": self._task,
                "fingerprint": spec.fingerprint,
            },
            "metric": spec.metric.name,
            "families": list(getattr(spec.space, "families", (spec.space.family,))),
            "space": {name: repr(dist) for name, dist in spec.space.distributions.items()},
            "stages": [repr(stage) for stage in stages],
            "time_budget": float(self.time_budget),
            "parallel": parallel,
            "versions": {
                "automl_nas": importlib.metadata.version("automl-nas"),
                "optuna": optuna.__version__,
                "torch": torch.__version__,
                "sklearn": sklearn.__version__,
            },
            # A resumed search's earlier trials belong to the earlier run.
            "first_trial": len(coordinator.study.trials),
            "shared": coordinator.shared,
        }

    def __getstate__(self) -> dict[str, Any]:
        # A pickle leaves this process (model files, MLflow artifacts): URL parameters are
        # masked, and a study in a database, whose storage object keeps its URL, becomes an
        # in-memory copy of its trials. The live estimator keeps both as they are.
        state = dict(super().__getstate__())  # a copy: object's own state IS self.__dict__
        for name in self._get_param_names():
            value = state.get(name)
            if isinstance(value, str):
                state[name] = mask_uri(value)
            elif isinstance(value, optuna.storages.RDBStorage):
                state[name] = mask_uri(value.url)
        if isinstance(state.get("study_"), optuna.Study):
            state["study_"] = _in_memory_copy(state["study_"])
        return state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        tags.input_tags.categorical = True
        return tags


def _in_memory_copy(study: optuna.Study) -> optuna.Study:
    """``study`` itself if it lives in memory, else an in-memory study with the same trials,
    name, directions, metric names, user attributes, sampler and pruner."""
    # Optuna private: a Study does not expose its storage.
    if isinstance(getattr(study, "_storage", None), optuna.storages.InMemoryStorage):
        return study
    storage = optuna.storages.InMemoryStorage()
    with optuna_verbosity(0):  # the storage logs "A new study created in memory" at INFO
        storage.create_new_study(study.directions, study.study_name)
    copy = optuna.Study(study.study_name, storage, sampler=study.sampler, pruner=study.pruner)
    if study.metric_names:
        copy.set_metric_names(study.metric_names)
    for key, value in study.user_attrs.items():
        copy.set_user_attr(key, value)
    copy.add_trials(study.get_trials(deepcopy=False))
    return copy


#: Largest magnitude a float32 holds: the networks compute in float32.
FLOAT32_MAX = float(np.finfo(np.float32).max)


def _check_float32_range(values: np.ndarray, columns: list) -> None:
    """Raise if a value of ``values`` (rows x ``columns``) overflows float32, naming its column.

    Per-column extremes (NaN skipped), no temporary the size of ``values``: 0.09 s on
    50,000 x 2,000 float64 where ``np.abs(values) > max`` took 2.6 s and 0.9 GB.
    """
    if values.size == 0:
        return
    with np.errstate(invalid="ignore"):
        beyond = (np.fmax.reduce(values, axis=0) > FLOAT32_MAX) | (
            np.fmin.reduce(values, axis=0) < -FLOAT32_MAX
        )
    cols = np.flatnonzero(beyond)
    if len(cols):
        names = [columns[c] for c in cols]
        row = int(np.flatnonzero(np.abs(values[:, cols[0]]) > FLOAT32_MAX)[0])
        raise ValueError(
            f"X column(s) {names} hold values beyond float32's range (+-3.4e38), e.g. "
            f"{values[row, cols[0]]:g} at row {row} of column {columns[cols[0]]!r}; the "
            "networks compute in float32: rescale or clip these columns"
        )


def _no_model_message(study: optuna.Study, max_params: int | None = None) -> str:
    """Why a search produced no model, with the failed trials' errors."""
    states = Counter(t.state.name for t in study.trials)
    errors = Counter(
        t.user_attrs.get(TrialAttr.ERROR, "unknown error")
        for t in study.trials
        if t.state == optuna.trial.TrialState.FAIL
    )
    if max_params is not None and states.get("COMPLETE"):
        sizes = [t.user_attrs.get(TrialAttr.N_PARAMS, 0) for t in study.trials if t.state.name == "COMPLETE"]
        return (
            f"No completed trial has at most max_params={max_params} parameters (smallest: "
            f"{min(sizes)}); no model meets the constraint. Raise max_params or narrow the space "
            "to smaller networks (e.g. MLPSpace(max_units=...))."
        )
    lines = [f"No trial completed ({dict(states)}); no model was trained."]
    lines += [f"  {count} trial(s) failed with: {error}" for error, count in errors.most_common(5)]
    if not errors:
        lines.append("  Increase time_budget or n_trials.")
    return "\n".join(lines)


def _fingerprint(X: np.ndarray, y: np.ndarray, space: SearchSpace, task: str) -> str:
    """A digest of the preprocessed data, target, space and task: what a resumed search must match."""
    # the arrays' own bytes (a memoryview), not a bytes copy of the whole matrix
    digest = hashlib.sha1(memoryview(np.ascontiguousarray(X)).cast("B"))
    digest.update(memoryview(np.ascontiguousarray(y)).cast("B"))
    digest.update(repr((task, sorted(space.distributions.items()), sorted(space.fixed.items()))).encode())
    return digest.hexdigest()
