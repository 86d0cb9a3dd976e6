"""What logging the final model through ``mlflow.models.Model.log`` needs around the call.

The model is a pyfunc model with a ``sklearn`` flavor beside it (:class:`PyfuncWithSklearnFlavor`),
explicit pinned requirements (inferring them costs seconds), an input schema only where MLflow can
describe the input (:func:`describes`), and MLflow's global tracking URI pointed at the search's
store for the call, which takes no URI of its own (:func:`global_tracking_uri`). Like the writer
process that imports it, this module imports only the standard library and, inside its functions,
mlflow and scikit-learn.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any


@contextlib.contextmanager
def global_tracking_uri(mlflow: Any, uri: str) -> Iterator[None]:
    """Point MLflow's global tracking URI at ``uri`` for a call that only reads the global one.

    ``mlflow.*.log_model`` has no URI argument. The previous global URI and the
    ``MLFLOW_TRACKING_URI`` variable are both restored (MLflow's own ``_use_tracking_uri``
    unsets the variable when no global URI was set).
    """
    if mlflow.get_tracking_uri() == uri:
        yield
        return
    from mlflow.tracking._tracking_service import utils as tracking_utils

    saved_env = os.environ.get("MLFLOW_TRACKING_URI")
    # MLflow private: get_tracking_uri() falls back to the variable; the global alone has no getter.
    saved_global = getattr(tracking_utils, "_tracking_uri", None)
    mlflow.set_tracking_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(saved_global)
        if saved_env is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = saved_env


def describes(schema: Any, example: Any) -> bool:
    """Whether MLflow's inferred input ``schema`` types every column and accepts ``example``."""
    from mlflow.models import validate_schema
    from mlflow.types.schema import AnyType

    if schema is None or any(isinstance(c.type, AnyType) for c in getattr(schema, "inputs", [])):
        return False
    try:
        validate_schema(example, schema)
    except Exception:  # noqa: BLE001 - MLflow raises MlflowException or pandas errors
        return False
    return True


def pip_requirements() -> list[str]:
    """Pinned requirements of the logged model, given explicitly (inferring them takes 7-16 s)."""
    from importlib import metadata

    reqs = []
    for dist in (
        "mlflow", "torch", "scikit-learn", "optuna", "numpy", "pandas", "cloudpickle", "tabm",
        "rtdl_num_embeddings",
    ):
        try:
            version = metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
        reqs.append(f"{dist}=={version.split('+')[0]}")  # "2.13.0+cpu" is not on PyPI
    return reqs


def seed_package_map() -> None:
    """Give MLflow's module -> package map the logged model's pinned packages only.

    MLflow reads the map to check that the model's requirements match the installed versions;
    built from every installed distribution's metadata, it cost 2.5-5.6 s of CPU per process on
    a 2-core VM. Our requirements pin exactly the installed versions (:func:`pip_requirements`),
    and MLflow reads the map for nothing else on this path (requirements are never inferred), so
    the writer process seeds it with those packages; MLflow then looks their versions up
    directly. Only there: in the search process, a user's own model may infer its requirements,
    which reads the whole map.
    """
    from mlflow.utils import requirements_utils

    # MLflow private: no parameter or variable skips the map's scan of every installed package.
    if getattr(requirements_utils, "_MODULES_TO_PACKAGES", ()) is None:
        module_of = {"scikit-learn": "sklearn"}  # the others import under their own name
        packages = [req.split("==")[0] for req in pip_requirements()]
        requirements_utils._MODULES_TO_PACKAGES = {module_of.get(p, p): [p] for p in packages}


class PyfuncWithSklearnFlavor:
    """An MLflow flavor module for ``Model.log``: the pyfunc model plus a ``sklearn`` flavor.

    Both flavors read the same pickled estimator, so ``mlflow.sklearn.load_model`` returns the
    fitted estimator itself (with ``predict_proba``, ``score``, ...).
    """

    __name__ = "automl_nas.tracking.pyfunc_with_sklearn"

    @staticmethod
    def save_model(path: str, mlflow_model: Any, add_sklearn_flavor: bool = True, **kwargs: Any):
        import mlflow
        import sklearn

        mlflow.pyfunc.save_model(path=path, mlflow_model=mlflow_model, **kwargs)
        if add_sklearn_flavor:
            pickled = next(Path(path, "artifacts").rglob("estimator.pkl")).relative_to(path)
            mlflow_model.add_flavor(
                "sklearn",
                pickled_model=pickled.as_posix(),
                sklearn_version=sklearn.__version__,
                serialization_format="pickle",
                code=mlflow_model.flavors["python_function"].get("code"),
            )
            mlflow_model.save(os.path.join(path, "MLmodel"))
