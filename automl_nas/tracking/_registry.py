"""Model registry helpers: point an alias (``champion``) at a chosen model version."""

from __future__ import annotations

from typing import Any

from automl_nas.tracking._mlflow import import_mlflow


def promote(
    name: str, version: int | str, alias: str = "champion", tracking_uri: str | None = None
) -> Any:
    """Point ``alias`` of registered model ``name`` at ``version`` and return that version.

    ``models:/<name>@<alias>`` then loads it (MLflow stages are deprecated; aliases replace them).

    Args:
        name: Registered model name (the estimator's ``register_model``).
        version: The version to promote, e.g. ``3`` (see ``MlflowClient().search_model_versions``).
        alias: The alias to move.
        tracking_uri: Tracking (and registry) URI; None uses MLflow's own.

    Returns:
        The ``mlflow.entities.model_registry.ModelVersion`` now carrying ``alias``.

    Raises:
        ValueError: ``name`` or ``version`` does not exist; the message lists what does.

    Example:
        >>> from automl_nas.tracking import promote
        >>> promote("digits-mlp", 3)  # doctest: +SKIP
        >>> mlflow.pyfunc.load_model("models:/digits-mlp@champion")  # doctest: +SKIP
    """
    import_mlflow()
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = str(version)
    try:
        client.get_model_version(name, version)
    except MlflowException as exc:
        try:
            found = sorted(
                (str(v.version) for v in client.search_model_versions(f"name = '{name}'")), key=int
            )
        except MlflowException:
            found = []
        hint = (
            f"its versions are {', '.join(found)}"
            if found
            else f"no registered model {name!r} exists"
        )
        raise ValueError(f"cannot promote {name!r} version {version}: {hint}") from exc
    client.set_registered_model_alias(name, alias, version)
    return client.get_model_version(name, version)
