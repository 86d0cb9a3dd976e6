"""The estimators' numpydoc docstrings: every section scikit-learn's have, every parameter and
fitted attribute documented with its real default, and no measured figures (they go stale).

numpydoc is not a dependency, so the sections are read by the small parser below.
"""

from __future__ import annotations

import inspect
import re

import pytest
from sklearn.datasets import load_diabetes, load_iris

from automl_nas import AutoNASClassifier, AutoNASRegressor

ESTIMATORS = [AutoNASClassifier, AutoNASRegressor]
SECTIONS = ["Parameters", "Attributes", "See Also", "Examples"]


def _sections(cls: type) -> dict[str, list[str]]:
    """Section title -> its lines, for each numpydoc section (a title underlined with dashes)."""
    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    sections: dict[str, list[str]] = {"": []}
    title = ""
    for i, line in enumerate(lines):
        if i + 1 < len(lines) and re.fullmatch(r"-{3,}", lines[i + 1]) and line.strip():
            title = line.strip()
            sections[title] = []
        elif not re.fullmatch(r"-{3,}", line):
            sections[title].append(line)
    return sections


def _entries(lines: list[str]) -> dict[str, str]:
    """``name : type`` entries of a Parameters or Attributes section: name -> type."""
    entries = {}
    for line in lines:
        match = re.match(r"^(\w+) : (.+)$", line)
        if match:
            entries[match.group(1)] = match.group(2)
    return entries


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_sections_in_scikit_learn_order(cls):
    titles = [title for title in _sections(cls) if title]
    assert titles == SECTIONS
    summary = _sections(cls)[""]
    assert summary[0].endswith(".") and len(summary[0]) <= 100


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_every_parameter_documented_in_order_with_its_default(cls):
    documented = _entries(_sections(cls)["Parameters"])
    parameters = inspect.signature(cls).parameters
    assert list(documented) == list(parameters)
    for name, parameter in parameters.items():
        default = parameter.default
        shown = f'"{default}"' if isinstance(default, str) else repr(default)
        assert documented[name].endswith(f"default={shown}"), (name, documented[name])


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_parameter_descriptions_are_the_estimators_own(cls):
    """Each estimator documents its own parameters: no "as for the classifier"."""
    text = "\n".join(_sections(cls)["Parameters"])
    other = next(c for c in ESTIMATORS if c is not cls).__name__
    assert other not in text
    assert "BaseAutoNAS" not in (cls.__doc__ or "")


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_see_also_and_a_doctest_example(cls):
    sections = _sections(cls)
    see_also = [line for line in sections["See Also"] if line.strip()]
    assert see_also and all(" : " in line for line in see_also if not line.startswith(" "))
    examples = "\n".join(sections["Examples"])
    assert f">>> from automl_nas import {cls.__name__}" in examples
    assert ".fit(X, y)" in examples


@pytest.mark.parametrize("cls", ESTIMATORS, ids=lambda c: c.__name__)
def test_no_measured_figures(cls):
    """Timings, speed-ups, accuracies and machines belong in benchmarks/README.md."""
    doc = cls.__doc__ or ""
    figures = re.findall(
        r"\b\d[\d,.]*\s*(?:s|ms|sec|seconds|minutes|%|x faster|x slower)\b"
        r"|\b(?:VM|cores?|accuracy of \d|on a \d)\b",
        doc,
    )
    assert figures == []


@pytest.mark.parametrize(
    ("cls", "load"), [(AutoNASClassifier, load_iris), (AutoNASRegressor, load_diabetes)],
    ids=["AutoNASClassifier", "AutoNASRegressor"],
)
def test_every_fitted_attribute_documented(cls, load):
    X, y = load(return_X_y=True)
    fitted = cls(n_trials=1, max_epochs=2, random_state=0).fit(X[::5], y[::5])
    public = {name for name in vars(fitted) if name.endswith("_") and not name.startswith("_")}
    documented = set(_entries(_sections(cls)["Attributes"]))
    assert public - documented == set()
    assert "pareto_front_" in documented  # set only with cost_objective
