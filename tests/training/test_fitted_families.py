"""Linear models fitted by scikit-learn (or over parts of rows with NaN, to the same optimum), and
a fitted family's missing class, as torch modules."""

import numpy as np
import pytest
import torch
from sklearn.datasets import make_regression
from sklearn.linear_model import LogisticRegression, Ridge
from torch import nn

from automl_nas.nn import LinearModel, MissingFill, MissingValues, TreeEnsemble
from automl_nas.space import BoostingSpace
from automl_nas.training import _linear_parts, train
from tests.training._tables import accuracy, classes, tensors

GBDT = BoostingSpace().default_params()


#: The rows a linear model is fitted to: complete; with NaN, filled whole (they fit one part);
#: with NaN, over parts (parts of 256 rows of 12 columns here).
ROWS = ["no NaN", "NaN, filled whole", "NaN, over parts"]


def _rows_with(rows, monkeypatch):
    """Whether ``rows`` have NaN; parts small enough for the test's rows to span several."""
    if rows == "NaN, over parts":
        monkeypatch.setattr(_linear_parts, "PART_CELLS", 12 * 256)
    return rows != "no NaN"


def _filling(width, nan_columns=(2, 5)):
    """A fill for NaN in ``nan_columns`` (values 0.3, -0.7, ...), and its twin in numpy."""
    fill = [0.3 - c / 10 for c in nan_columns]
    values = MissingValues(tuple(nan_columns), tuple(fill), (0.0,) * len(fill), (1.0,) * len(fill))

    def filled(X):
        X = X.copy()
        for column, value in zip(nan_columns, fill):
            X[np.isnan(X[:, column]), column] = np.float32(value)
        return X

    return MissingFill(values, flags=False), filled


def test_a_class_missing_from_the_training_rows_gets_no_probability(monkeypatch):
    _rows_with("NaN, over parts", monkeypatch)
    X, y = classes(3)  # NaN in column 2
    missing, filled = _filling(12, nan_columns=(2,))
    keep = y != 1
    data, data_filled = tensors(X[keep], y[keep], 600), tensors(filled(X)[keep], y[keep], 600)
    linear = {"linear_alpha": 1.0}
    for model, params, rows in (
        (TreeEnsemble(12, 3), GBDT, data),
        (LinearModel(12, 3), linear, data_filled),
        (LinearModel(12, 3, missing=missing), linear, data),  # over parts
    ):
        result = train(
            model,
            params,
            rows,
            loss_fn=nn.CrossEntropyLoss(),
            score_fn=accuracy(y[keep][600:]),
            max_epochs=5,
            patience=5,
            seed=0,
        )
        probs = torch.softmax(torch.as_tensor(result.val_output), dim=1)
        assert probs[:, 1].max() < 1e-6 and result.score > 0.7


@pytest.mark.parametrize("rows", ROWS)
@pytest.mark.parametrize("n_classes", [2, 3])
def test_linear_model_is_the_fitted_logistic_regression(n_classes, rows, monkeypatch):
    nan = _rows_with(rows, monkeypatch)
    X, y = classes(n_classes, nan=nan)
    missing, filled = _filling(12)
    if nan:
        X[1::7, 5] = np.nan
    data = tensors(X, y, 900)
    result = train(
        LinearModel(12, n_classes, missing=missing if nan else None),
        {"linear_alpha": 0.5},
        data,
        loss_fn=nn.CrossEntropyLoss(),
        score_fn=accuracy(y[900:]),
        max_epochs=5,
        patience=5,
        seed=0,
    )
    X = filled(X)
    reference = LogisticRegression(C=2.0, max_iter=500).fit(X[:900], y[:900])
    ours = torch.softmax(torch.as_tensor(result.val_output), dim=1).numpy()
    np.testing.assert_allclose(ours, reference.predict_proba(X[900:]), atol=1e-4)
    assert result.best_epoch == 1 and len(result.history) == 1


@pytest.mark.parametrize("rows", ROWS)
def test_linear_regression_fits_several_targets_which_boosting_refuses(rows, monkeypatch):
    nan = _rows_with(rows, monkeypatch)
    X, Y = make_regression(500, 8, n_targets=2, noise=1.0, random_state=0)
    X, Y = X.astype(np.float32), Y.astype(np.float32)
    missing, filled = _filling(8)
    if nan:
        X[::6, 2], X[1::4, 5] = np.nan, np.nan
    data = tensors(X, Y, 400)
    kwargs = {"loss_fn": nn.MSELoss(), "score_fn": lambda out: 0.0, "max_epochs": 5, "patience": 5, "seed": 0}
    model = LinearModel(8, 2, missing=missing if nan else None)
    result = train(model, {"linear_alpha": 1.0}, data, **kwargs)
    X = filled(X)
    np.testing.assert_allclose(
        result.val_output,
        Ridge(alpha=1.0).fit(X[:400], Y[:400]).predict(X[400:]),
        rtol=1e-3,
        atol=1e-2,
    )
    with pytest.raises(ValueError, match="one target column; this task has 2"):
        train(TreeEnsemble(8, 2), GBDT, data, **kwargs)
