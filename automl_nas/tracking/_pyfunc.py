"""The MLflow pyfunc wrapper of a fitted estimator (imports mlflow: load it lazily)."""

from __future__ import annotations

import pickle
from typing import Any

import mlflow
import numpy as np
import pandas as pd

#: Estimator methods a caller may pick with ``params={"method": ...}``.
METHODS = ("predict", "predict_proba")


class AutoNASPythonModel(mlflow.pyfunc.PythonModel):
    """Serves a pickled AutoNAS estimator: ``predict`` by default, ``predict_proba`` on request.

    The estimator is the ``estimator`` artifact (a pickle), so the same file also backs the
    model's ``sklearn`` flavor.

    Example:
        >>> model = mlflow.pyfunc.load_model("models:/my-model@champion")  # doctest: +SKIP
        >>> model.predict(X_test, params={"method": "predict_proba"})  # doctest: +SKIP
    """

    def load_context(self, context: mlflow.pyfunc.PythonModelContext) -> None:
        with open(context.artifacts["estimator"], "rb") as f:
            self.estimator = pickle.load(f)

    def predict(
        self,
        context: mlflow.pyfunc.PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> np.ndarray:
        method = (params or {}).get("method", "predict")
        if method not in METHODS or not hasattr(self.estimator, method):
            available = [m for m in METHODS if hasattr(self.estimator, m)]
            raise ValueError(f"method={method!r} is not available; choose from {available}")
        X = model_input
        # MLflow hands over a DataFrame with string column names; an estimator fitted on a bare
        # array must get an array back, or scikit-learn warns about unexpected feature names.
        if isinstance(X, pd.DataFrame) and not hasattr(self.estimator, "feature_names_in_"):
            X = X.to_numpy()
        elif not isinstance(X, (pd.DataFrame, np.ndarray)):
            X = np.asarray(X)
        return getattr(self.estimator, method)(X)
