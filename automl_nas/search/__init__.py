"""The search engine: what a trial is, where trained trials go, and how processes share a search.

The estimators are a scikit-learn front on this package: they turn data into a
:class:`SearchSpec`, open a study through a coordinator (:func:`open_search`) and call
:func:`run_search`. Worker processes build the same objective from the published spec.
"""

from automl_nas.search._budget import (
    CELLS_PER_TRIAL_SECOND,
    CV_AUTO_FOLDS,
    CV_AUTO_ROWS_PER_SECOND,
    MIN_TRIAL_ROWS,
    REFIT_AUTO_MAX_ROWS,
    REFIT_MARGIN,
    REFIT_MEMBERS,
    REFIT_MIN_SHARE,
    REFIT_SHARE,
    ROWS_PER_TRIAL_SECOND,
    TRIAL_HARD_STOP,
    TRIAL_SHARE,
    WORKER_GRACE,
    BudgetPlan,
    refit_seconds,
    wall_deadline,
)
from automl_nas.search._asked import Heartbeats, ask_trial, tell_outcome, trial_outcome
from automl_nas.search._context import SearchContext
from automl_nas.search._coordinator import (
    DEFAULT_ARTIFACT_DIR,
    Coordinator,
    LocalCoordinator,
    SharedCoordinator,
    StopAtTrialCap,
    artifact_root,
    open_search,
    started_trials,
)
from automl_nas.search._factories import (
    PRUNERS,
    SAMPLERS,
    SINGLE_OBJECTIVE_SAMPLERS,
    check_requirements,
    make_pruner,
    make_sampler,
    sampler_name,
)
from automl_nas.search._keys import StudyAttr, TrialAttr, TrialRecord
from automl_nas.search._leaderboard import trial_counts, trials_frame
from automl_nas.search._model import TrialModel, model_bytes, predict_output
from automl_nas.search._objective import TrialObjective, measure_latency
from automl_nas.search._optimize import (
    is_failed_elsewhere,
    optimize,
    optimize_in_waves,
    waves_repeat,
)
from automl_nas.search._progress import ProgressPrinter, end_progress_line, optuna_verbosity
from automl_nas.search._reserve import RefitReserve, trial_refit_seconds
from automl_nas.search._run import DEFAULT_STAGE, run_search
from automl_nas.search._safe import UnsafeFileError, allow_in_files, inside, safe_load
from automl_nas.search._spec import SearchSpec
from automl_nas.search._store import (
    MODEL_MEMORY_LIMIT,
    DiskTrialStore,
    MemoryTrialStore,
    TrialStore,
)

__all__ = [
    "CELLS_PER_TRIAL_SECOND",
    "CV_AUTO_FOLDS",
    "CV_AUTO_ROWS_PER_SECOND",
    "DEFAULT_ARTIFACT_DIR",
    "DEFAULT_STAGE",
    "MODEL_MEMORY_LIMIT",
    "PRUNERS",
    "REFIT_AUTO_MAX_ROWS",
    "MIN_TRIAL_ROWS",
    "REFIT_MARGIN",
    "REFIT_MEMBERS",
    "REFIT_MIN_SHARE",
    "REFIT_SHARE",
    "ROWS_PER_TRIAL_SECOND",
    "SAMPLERS",
    "SINGLE_OBJECTIVE_SAMPLERS",
    "TRIAL_HARD_STOP",
    "TRIAL_SHARE",
    "WORKER_GRACE",
    "BudgetPlan",
    "Coordinator",
    "DiskTrialStore",
    "Heartbeats",
    "LocalCoordinator",
    "MemoryTrialStore",
    "ProgressPrinter",
    "RefitReserve",
    "SearchContext",
    "SearchSpec",
    "SharedCoordinator",
    "StopAtTrialCap",
    "StudyAttr",
    "TrialAttr",
    "TrialModel",
    "TrialObjective",
    "TrialRecord",
    "TrialStore",
    "UnsafeFileError",
    "allow_in_files",
    "artifact_root",
    "ask_trial",
    "check_requirements",
    "end_progress_line",
    "inside",
    "is_failed_elsewhere",
    "make_pruner",
    "make_sampler",
    "measure_latency",
    "model_bytes",
    "open_search",
    "optimize",
    "optimize_in_waves",
    "optuna_verbosity",
    "predict_output",
    "refit_seconds",
    "run_search",
    "safe_load",
    "sampler_name",
    "started_trials",
    "tell_outcome",
    "trial_counts",
    "trial_outcome",
    "trial_refit_seconds",
    "trials_frame",
    "wall_deadline",
    "waves_repeat",
]
