"""Data that are probably not what the user meant: a warning at fit, errors that name the column."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from automl_nas import AutoNASRegressor
from automl_nas.data import DataWarning, make_preprocessor

N = 60


def _frame(age: list[object] | None = None) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "age": age if age is not None else [str(v) for v in rng.integers(18, 90, N)],
            "income": rng.normal(size=N),
            "city": rng.choice(["Lyon", "Oslo", "Pune"], size=N),
        }
    )


def _fit_warnings(X: pd.DataFrame) -> list[str]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        make_preprocessor(X).fit(X)
    return [str(w.message) for w in caught if issubclass(w.category, DataWarning)]


def test_a_numeric_looking_text_column_warns_with_its_name_and_values():
    X = _frame()
    X.loc[[4, 9, 11], "age"] = ["oops", "?", "oops"]
    (message,) = _fit_warnings(X)
    assert message.startswith("column 'age' looks numeric (57 of 60 values are numbers)")
    assert "3 value(s) are not: 'oops', '?'" in message  # most frequent first
    assert "used as a categorical column" in message and "errors='coerce'" in message


def test_many_offending_values_are_summarised():
    X = _frame()
    X.loc[:4, "age"] = ["a", "b", "c", "d", "e"]
    (message,) = _fit_warnings(X.astype({"age": "string"}))  # pandas' string dtype as well
    assert "5 value(s) are not: " in message and "(and 2 more)" in message


@pytest.mark.parametrize(
    "age",
    [
        [str(v) for v in range(N)],  # numbers only, kept as text on purpose: no stray value
        ["young", "old"] * (N // 2),  # words
        [str(v) for v in range(N // 2)] + ["unknown"] * (N // 2),  # half words: a real category
        [None] * N,  # empty
    ],
    ids=["numbers-as-text", "words", "half-words", "empty"],
)
def test_no_warning_for_text_columns_that_do_not_look_numeric(age):
    assert _fit_warnings(_frame(age).astype({"age": object})) == []


def test_missing_values_are_not_counted_as_offending():
    X = _frame()
    X.loc[[1, 2, 3], "age"] = None
    assert _fit_warnings(X) == []


def test_text_in_a_column_that_was_numeric_names_the_column_at_transform():
    X = _frame()
    preprocessor = make_preprocessor(X).fit(X)
    bad = X.astype({"income": object})
    bad.loc[[7, 20], "income"] = ["oops", "12,5"]
    bad.loc[3, "income"] = None  # empty is fine: imputed
    with pytest.raises(ValueError, match=r"column 'income' was numeric in training") as info:
        preprocessor.transform(bad)
    assert "2 value(s) that are not numbers: 'oops', '12,5' (0-based rows [7, 20])" in str(
        info.value
    )
    assert "Cannot use median strategy" not in str(info.value)


def test_numbers_sent_as_text_still_transform_as_before():
    X = _frame()
    preprocessor = make_preprocessor(X).fit(X)
    as_text = X.astype({"income": str})
    np.testing.assert_allclose(preprocessor.transform(as_text), preprocessor.transform(X))


def test_the_estimator_warns_at_fit_and_names_the_column_at_predict():
    X = _frame()
    X.loc[5, "age"] = "n/a "
    y = X["income"] * 2
    model = AutoNASRegressor(n_trials=1, max_epochs=2, random_state=0)
    with pytest.warns(DataWarning, match="column 'age' looks numeric.*'n/a '"):
        model.fit(X, y)
    bad = X.astype({"income": object})
    bad.loc[2, "income"] = "oops"
    with pytest.raises(ValueError, match=r"column 'income' .* 'oops' \(0-based rows \[2\]\)"):
        model.predict(bad)
