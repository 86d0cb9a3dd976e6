"""Entry point of the MLproject: fit AutoNASClassifier/AutoNASRegressor on a CSV, tracked.

    python mlflow/run_search.py --data train.csv --target label --time-budget 120 \
        --register my-model
    mlflow run mlflow --env-manager local -P data=$PWD/train.csv -P target=label

Tracking is always on here: the search goes to MLflow's tracking URI (``MLFLOW_TRACKING_URI``,
else ``sqlite:///mlflow.db`` in the working directory), nested under the run that
``mlflow run`` opened when there is one.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time

import mlflow
import pandas as pd


def _int(text: str) -> int:
    return int(float(text))  # MLproject has no int type: its floats arrive as "10" or "10.0"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="CSV file with a header row")
    parser.add_argument("--target", required=True, help="name of the target column")
    parser.add_argument(
        "--task",
        choices=["auto", "classification", "regression"],
        default="auto",
        help="auto: automl_nas.data.infer_task (text, boolean or few distinct integers: "
        "classification)",
    )
    parser.add_argument("--time-budget", type=float, default=60.0, help="seconds of search")
    parser.add_argument("--n-trials", type=_int, default=0, help="stop after this many (0: budget)")
    parser.add_argument("--max-epochs", type=_int, default=100)
    parser.add_argument("--seed", type=_int, default=0)
    parser.add_argument("--experiment", default="", help="MLflow experiment (default: automl_nas)")
    parser.add_argument("--register", default="", help="register the model under this name")
    parser.add_argument("--tracking-uri", default="", help="default: MLflow's own")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # Imported here, not at the top, so that --help answers before torch is loaded.
    from automl_nas import AutoNASClassifier, AutoNASRegressor
    from automl_nas.data import infer_task

    frame = pd.read_csv(args.data)
    if args.target not in frame.columns:
        print(f"column {args.target!r} is not in {args.data}; it has {list(frame.columns)}")
        return 2
    y = frame.pop(args.target)
    task = infer_task(y) if args.task == "auto" else args.task
    estimator_class = AutoNASClassifier if task == "classification" else AutoNASRegressor
    estimator = estimator_class(
        time_budget=args.time_budget,
        n_trials=args.n_trials or None,
        max_epochs=args.max_epochs,
        random_state=args.seed,
        mlflow_tracking_uri=args.tracking_uri or mlflow.get_tracking_uri(),
        mlflow_experiment=args.experiment or None,
        register_model=args.register or None,
    )
    # Under `mlflow run` this resumes the project's run (MLFLOW_RUN_ID): the search nests in it.
    project_run = mlflow.start_run() if "MLFLOW_RUN_ID" in os.environ else contextlib.nullcontext()
    started_ms = int(time.time() * 1000)
    with project_run:
        estimator.fit(frame, y)  # ends with its summary line on stderr: trials, best score
    if args.register:
        return _report_registration(estimator.mlflow_tracking_uri, args.register, started_ms)
    return 0


def _report_registration(uri: str, name: str, since_ms: int) -> int:
    """Say where the search's model is in the registry (status 0), or that it is not there
    (status 1): a tracking failure only warns during ``fit``, which keeps the search's result."""
    try:
        version = mlflow.MlflowClient(tracking_uri=uri).get_model_version_by_alias(name, "champion")
    except mlflow.exceptions.MlflowException:
        version = None
    if version is None or version.creation_timestamp < since_ms:
        print(
            f"not registered: models:/{name}@champion is not this search's model; see the "
            "tracking warnings above",
            file=sys.stderr,
        )
        return 1
    print(f"registered: models:/{name}@champion (version {version.version})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
