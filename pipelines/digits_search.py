"""The main job: a real joint HPO + NAS search on scikit-learn's digits, tracked in local MLflow.

Run with ``make demo`` (sets up its own virtual environment) or, inside it,
``python pipelines/digits_search.py --time-budget 60``. Review the trials afterwards with
``make ui`` (MLflow's UI on ``./mlflow.db``; ``make ui-stop`` stops it).
"""

from __future__ import annotations

import argparse
import time

from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from automl_nas import AutoNASClassifier


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--time-budget", type=float, default=60.0, help="search seconds")
    parser.add_argument("--tracking-uri", default="sqlite:///mlflow.db", help="MLflow tracking URI")
    parser.add_argument("--register", default="digits-automl-nas", help="registered model name")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=args.seed
    )
    clf = AutoNASClassifier(
        time_budget=args.time_budget,
        random_state=args.seed,
        verbose=1,
        mlflow_tracking_uri=args.tracking_uri,
        mlflow_experiment="digits-demo",
        register_model=args.register,
    )
    started = time.monotonic()
    clf.fit(X_train, y_train)
    elapsed = time.monotonic() - started

    print("\nLeaderboard (best 10 trials):")
    print(clf.leaderboard().head(10).to_string(index=False))
    print(f"\nfit took {elapsed:.1f}s for a {args.time_budget:.0f}s budget")
    print(f"test accuracy: {clf.score(X_test, y_test):.4f}")
    print(f"MLflow runs in {args.tracking_uri}: 'make ui' shows them")


if __name__ == "__main__":
    main()
