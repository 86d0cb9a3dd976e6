"""AutoNASClassifier: joint HPO + NAS for classification."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from sklearn.base import ClassifierMixin
from sklearn.utils._param_validation import StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d
from torch import nn

from automl_nas.estimator._base import BaseAutoNAS
from automl_nas.training import CLASSIFICATION_METRICS, Metric, probabilities, rebalanced


class AutoNASClassifier(ClassifierMixin, BaseAutoNAS):
    """Classifier whose ``fit`` searches network architectures and hyperparameters together.

    ``fit`` runs one Optuna study in which every trial samples the training hyperparameters and
    the network architecture from ``space`` together, trains the network with cross-entropy and
    early stopping, reports its validation ``metric`` after every epoch (so ``pruner`` stops
    weak trials) and is scored on a stratified held-out split, or out of fold (``cv``). The
    search stops at ``time_budget`` seconds or ``n_trials`` trials, whichever comes first; a
    trial still running at the deadline stops mid-epoch and keeps its best weights, so ``fit``
    returns on time.

    The final model is an ensemble (Caruana et al., 2004): the ``ensemble_candidates`` best
    completed trials keep their networks and validation outputs, and ``ensemble_size`` rounds
    of greedy selection with replacement pick the weighted average of their class
    probabilities that scores best with ``metric``. The members are the networks as trained in
    the search unless refitted on all rows afterwards (``refit``).

    Parameters
    ----------
    space : SearchSpace, default=None
        The hyperparameters and architecture searched, as named Optuna distributions.
        None: for rows of features, the model ``families`` in one
        :class:`~automl_nas.space.FamilySpace` (:class:`~automl_nas.space.TabularSpace`
        alone under ``cost_objective`` or ``max_params``); :class:`~automl_nas.space.MLPSpace`
        when a stage needs a relaxed form (DARTS); :class:`~automl_nas.space.CellSpace` (DARTS-style cells) for
        images. ``fit`` sizes the space to the data
        (:meth:`~automl_nas.space.SearchSpace.for_data`).

    families : list of str, default=None
        The model families of the default space, all searched in one study and ensembled
        together: "gbdt" (LightGBM's histogram gradient boosting), "nn" (modern tabular
        networks: numeric embeddings, TabM-style ensembles, residual blocks, training
        recipe) and "linear" (logistic / ridge regression). None: all three, or networks only
        with ``cost_objective`` or ``max_params`` (goals about one network). ``["nn"]`` is a
        pure architecture search. A search first trains the start portfolio's
        configurations of these families (chosen offline on other tables; see
        :class:`~automl_nas.space.FamilySpace`), then the default of any family it has none
        of. Not with ``space``.

    sampler : str or optuna.samplers.BaseSampler, default="tpe"
        The sampler of the one stage run when ``stages`` is None: a name ("tpe", "random",
        "cmaes", "gp", "nsga2", "qmc", "evolution", "rl") or an Optuna sampler, copied for
        each ``fit``.

    stages : list of str or BaseStage, default=None
        Search stages run in order on the one study: names ("tpe", "random", "darts", ...) or
        :class:`~automl_nas.stages.BaseStage` objects with their own ``n_trials`` or
        ``time_share``; a stage without a share gets an equal part of the remaining time.
        None: one stage running ``sampler``; when the budget is time alone (no ``n_trials``),
        that stage runs ``1 - PROMOTE_SHARE`` of it and a promotion stage trains the best
        configurations again with the rest. ``SamplerStage(..., family_floors={"nn": 0.5})``
        gives each model family a least share of the trial-seconds.

    pruner : str, optuna.pruners.BasePruner or None, default="median"
        Stops weak trials early, epochs being the resource: "median", "hyperband",
        "successive_halving", "none" (or None), or an Optuna pruner. A search with
        ``cost_objective`` prunes no trial (Optuna cannot prune multi-objective trials).

    time_budget : float, default=60.0
        Seconds for the search; with ``refit="auto"``, for the search and the refit.

    n_trials : int, default=None
        Most trials to run. None: until ``time_budget`` is spent, each trial's epochs cut to
        fit its share of the search (``TRIAL_SHARE``). Given: trials train the epochs they
        sampled (the deadline still stops them), so that a seeded search repeats exactly.

    max_epochs : int, default=100
        Most epochs any trial trains (the space's ``epochs`` is clipped to it).

    patience : int, default=10
        Epochs without validation improvement before a trial stops early.

    validation_fraction : float, default=0.2
        Share of rows held out, stratified by class, to score, prune and select trials when
        they are not cross-validated.

    cv : int, "auto" or None, default="auto"
        How trials are validated. "auto": ``CV_AUTO_FOLDS``-fold cross-validation on data of
        at most ``CV_AUTO_ROWS_PER_SECOND`` rows per second of ``time_budget`` (both in
        :mod:`automl_nas.search`), unless ``refit=True``, ``cost_objective`` or
        ``max_params`` asks for single networks; one holdout split of
        ``validation_fraction`` otherwise. An int k >= 2: k stratified folds; each trial
        trains k networks, reports the first fold's epochs to ``pruner``, is scored on all
        rows' out-of-fold outputs, and its model is the mean of the k networks (together
        trained on every row, so never refitted). None: the holdout split.

    metric : {"accuracy", "balanced_accuracy", "log_loss"}, default=None
        Validation metric the search optimises and ensemble selection uses (log loss is
        minimised, the others maximised). None: "log_loss", a proper scoring rule: it
        ranks trials by the probabilities they give, so on a few hundred validation rows
        it tells apart trials whose accuracy ties, and it does not favour predicting the
        majority class of an imbalanced table (``benchmarks/README.md`` compares it with
        "accuracy"). ``score`` stays accuracy. With "balanced_accuracy", trials, the
        ensemble and ``predict`` decide by the class whose probability is highest relative to
        its share of the rows (``class_prior_``), the decision that metric rewards (on
        imbalanced tables argmax rarely names a rare class); otherwise ``predict`` is the most
        probable class.

    device : str or torch.device, default="auto"
        Where trials train: "auto" (CUDA when present), "cpu", "cuda" or a
        ``torch.device``. The fitted model predicts on CPU.

    n_jobs : int, default=None
        Trials trained at once, in threads sharing the in-memory study and data, and
        sharing the CPU: each trial gets ``threads // n_jobs`` torch threads, where
        ``threads`` is what torch may use (``OMP_NUM_THREADS``, else the machine's). None
        uses the machine: on CPU as many single-threaded trials as ``threads``, or, with
        ``random_state`` and ``n_trials`` both set (a search that repeats), one trial at a
        time on all of them; on CUDA one trial at a time. A repeatable search with
        ``n_jobs`` > 1 runs its trials in waves that repeat from the seed: each wave's
        parameters are drawn in trial order before it trains, and it is told in trial order
        when its last trial ends; not with a ``storage`` other processes may join or a
        pruner that compares with running trials ("hyperband", "successive_halving"), where
        parallel trials do not repeat.

    random_state : int, RandomState instance or None, default=None
        Seed for the split, the samplers and the networks' initialisation. The same seed
        gives the same search when ``n_trials`` is the binding limit (see ``n_jobs``).

    verbose : int, default=1
        0: silent; 1: progress on stderr (a bar redrawn in place on a terminal, else one line
        per trial) and one summary line when ``fit`` ends; 2: Optuna's own log as well.

    storage : str, optuna.storages.BaseStorage or None, default=None
        Optuna storage of the study; None: in memory. ``"postgresql://..."``,
        ``"sqlite:///search.db"`` (with heartbeats: a killed process's trial is failed and
        retried once), ``"journal:PATH"`` or an Optuna storage object. Worker processes
        (``automl-nas worker``) can join a search in a shared storage; ``fit`` waits for the
        budget, then builds the model from every process's trials. A password in the URL is
        masked in ``repr`` and pickles; ``get_params`` returns a string equal to the URL.

    study_name : str, default=None
        Study name in ``storage``; None: a new study. An existing study is resumed: its
        completed trials (models in ``artifact_dir``) are reused, not retrained; the data,
        target and space must be those it was started with.

    artifact_dir : str or path-like, default=None
        Directory, reachable by every worker, where a search in a shared storage keeps each
        completed trial's model, in ``<artifact_dir>/<study_name>/``. None:
        ``automl_nas_artifacts`` in the working directory. Files stay after ``fit``.

    image_shape : tuple of int, default=None
        The (C, H, W) or (H, W) shape of one image when ``X`` holds images as flat rows;
        arrays of shape (n, C, H, W) or (n, H, W) need none. Images are scaled with one
        mean and standard deviation, and the default ``space`` is then a cell space.

    mlflow_tracking_uri : str, default=None
        MLflow tracking URI. Tracking is on when this, ``mlflow_experiment``,
        ``register_model`` or the environment variable ``MLFLOW_TRACKING_URI`` is set: a
        parent run per ``fit``, a nested run per trial, and the final model. None: MLflow's
        own URI. Credentials in it are masked in ``repr``, pickles and what MLflow records.

    mlflow_experiment : str, default=None
        Experiment of the parent run. None: the active run's experiment, else
        ``MLFLOW_EXPERIMENT_NAME``, else the tracker's default.

    register_model : str, default=None
        Register the final model in the MLflow model registry under this name, with the
        alias "champion".

    ensemble_size : int, default=20
        Rounds of greedy ensemble selection with replacement on the validation outputs
        (out-of-fold with ``cv``). 1: the single best trial is the final model.

    ensemble_candidates : int, default=10
        How many of the best completed trials keep their networks and validation outputs
        for the selection.

    refit : bool or "auto", default="auto"
        Whether to retrain each selected member on train + validation rows with its own
        parameters for its best epoch count, after a holdout search. True: up to another
        ``time_budget`` seconds; a member not done by then keeps its search-trained network,
        with a warning. "auto": after a holdout search on at most ``REFIT_AUTO_MAX_ROWS``
        rows, inside ``time_budget``: the search stops early enough for the expected
        refits of its best trials, keeping back 2-15 % of the budget (``REFIT_MIN_SHARE``,
        ``REFIT_SHARE``); a member not refitted in time keeps its network silently. False:
        never. Members are refitted side by side, as many at once as the search trained
        trials (``n_jobs``).

    cost_objective : {"n_params", "latency"}, default=None
        Makes the search two-objective: maximise the validation score and minimise the
        network's parameter count, or its latency (median milliseconds of a forward pass
        over a batch of validation rows on CPU). Samplers "tpe", "nsga2", "random" and the
        darts stage support it. ``pareto_front_`` lists the Pareto-optimal trials; the final
        model is still chosen by score.

    max_params : int, default=None
        Largest parameter count allowed: every trial records the constraint, samplers steer
        away from bigger networks, and the final model (ensemble members together) respects
        it. None: no limit.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels.

    class_prior_ : ndarray of shape (n_classes,)
        Share of each class among the rows ``fit`` was given.

    n_features_in_ : int
        Number of features seen during ``fit`` (pixels, for images).

    feature_names_in_ : ndarray of shape (n_features_in_,)
        Names of the features seen during ``fit``. Defined only when ``X`` has feature names
        that are all strings.

    image_shape_ : tuple of int or None
        The (C, H, W) shape of one image, or None for rows of features.

    preprocessor_ : transformer
        The fitted input transformer: imputes, scales and encodes columns (one pixel scale
        for images). With the default families it leaves the missing values of columns that
        had some as NaN, which each model fills and flags (networks), fills (linear models)
        or routes (boosted trees) itself; with a space whose models do not, it imputes them
        and adds an indicator column each.

    study_ : optuna.Study
        The study of the search: every trial, with its parameters and what it recorded.

    space_ : SearchSpace
        The space searched, as sized to the data
        (:meth:`~automl_nas.space.SearchSpace.for_data`).

    ensemble_ : EnsembleModel
        The final model (:class:`~automl_nas.ensemble.EnsembleModel` of float64 CPU
        networks) that ``predict`` and ``predict_proba`` use.

    ensemble_weights_ : dict of int to float
        Trial number -> weight of each ensemble member; the weights sum to 1.

    refitted_ : list of int
        Trial numbers of the members refitted on train + validation rows.

    best_params_ : dict
        Hyperparameters and architecture of the best single trial.

    best_score_ : float
        Its validation score (out-of-fold when cross-validated).

    best_trial_number_ : int
        Its trial number in ``study_``.

    best_model_ : torch.nn.Module
        Its model as trained in the search (CPU, eval mode, never refitted): a network, or
        the fitted trees or linear model as a module.

    pareto_front_ : pandas.DataFrame
        With ``cost_objective`` only: the feasible Pareto-optimal trials (trial, score,
        cost, stage, parameters), cheapest first.

    See Also
    --------
    AutoNASRegressor : The same search for regression targets.
    automl_nas.space.TabularSpace : The default search space for rows of features.
    automl_nas.space.CellSpace : The DARTS-style cell space searched for images.
    automl_nas.stages.DartsStage : A stage that trains a supernet and proposes its cells.
    automl_nas.search.trials_frame : The table :meth:`leaderboard` returns.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from automl_nas import AutoNASClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = AutoNASClassifier(n_trials=2, max_epochs=5, random_state=0)
    >>> clf.fit(X, y)  # doctest: +SKIP
    AutoNASClassifier(max_epochs=5, n_trials=2, random_state=0)
    >>> clf.predict(X[:2])  # doctest: +SKIP
    array([0, 0])
    >>> clf.leaderboard().columns[:4].tolist()  # doctest: +SKIP
    ['trial', 'stage', 'state', 'score']
    """

    _task = "classification"
    _parameter_constraints: ClassVar[dict] = {
        **BaseAutoNAS._parameter_constraints,
        "metric": [StrOptions(set(CLASSIFICATION_METRICS)), None],
    }

    def _encode_target(self, y: Any) -> tuple[np.ndarray, int]:
        y = column_or_1d(y, warn=True)
        if y.dtype == object:  # None / pd.NA / NaN among labels: sorting them fails obscurely
            rows = np.flatnonzero(pd.isna(y))
            if rows.size:
                shown = ", ".join(map(str, rows[:10])) + (", ..." if rows.size > 10 else "")
                raise ValueError(
                    f"y has {rows.size} missing label(s) (None, NaN or pd.NA) at row(s) {shown} "
                    "(positions, from 0): every row needs a class. Drop those rows "
                    "(keep = pd.notna(y); X[keep], y[keep]) or give them a class of their own"
                )
        check_classification_targets(y)
        self.classes_, codes = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"y has only one class ({self.classes_[0]!r}); a classifier needs at least 2 classes"
            )
        self.class_prior_ = np.bincount(codes) / len(codes)
        return codes.astype(np.int64), len(self.classes_)

    def _metric(self) -> Metric:
        return CLASSIFICATION_METRICS[self.metric or "log_loss"]

    def _loss(self) -> nn.Module:
        return nn.CrossEntropyLoss()

    def _decoder(self) -> Callable[[np.ndarray], np.ndarray]:
        return probabilities

    def _metric_target(self, y: np.ndarray) -> np.ndarray:
        return y

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities, columns in the order of ``classes_``."""
        return self._predict_output(X)

    def predict(self, X: Any) -> np.ndarray:
        """Most probable class per row; with ``metric="balanced_accuracy"``, the class whose
        probability is highest relative to its share ``class_prior_``."""
        check_is_fitted(self)
        proba = self.predict_proba(X)
        if self._metric().name == "balanced_accuracy":
            return self.classes_[rebalanced(proba, self.class_prior_)]
        return self.classes_[proba.argmax(axis=1)]
