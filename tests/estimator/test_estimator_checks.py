"""scikit-learn's own estimator checks on both estimators."""

from sklearn.utils.estimator_checks import parametrize_with_checks

from automl_nas import AutoNASClassifier, AutoNASRegressor, MLPSpace

# A narrowed space so two trials of a few epochs reliably learn sklearn's easy check datasets.
_SPACE = MLPSpace(max_layers=2, max_units=64).replace(
    lr=(5e-3, 2e-2), epochs=(10, 15), optimizer="adamw"
)
_FAST = dict(space=_SPACE, n_trials=2, max_epochs=15, time_budget=120, random_state=0)


@parametrize_with_checks([AutoNASClassifier(**_FAST), AutoNASRegressor(**_FAST)])
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)
