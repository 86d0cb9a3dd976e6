"""The examples in the package's docstrings run and print what they show.

``make test`` runs ``tests/`` only, so without this file a docstring example could go stale
unseen (``pytest --doctest-modules automl_nas`` runs the same examples by hand). One test per
module that has examples not marked ``+SKIP``, so a failure names the module and xdist
spreads them.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import automl_nas


def _modules_with_examples() -> list[str]:
    finder = doctest.DocTestFinder()
    names = []
    for info in pkgutil.walk_packages(automl_nas.__path__, "automl_nas."):
        if info.name == "automl_nas.__main__":  # running it would parse pytest's argv
            continue
        module = importlib.import_module(info.name)
        examples = [e for test in finder.find(module) for e in test.examples]
        if any(not e.options.get(doctest.SKIP) for e in examples):  # skipped: a live server
            names.append(info.name)
    return names


MODULES = _modules_with_examples()


def test_examples_found():
    """The finder sees the estimators' examples (a broken finder would pass every module)."""
    assert {"automl_nas.estimator._classifier", "automl_nas.estimator._regressor"} <= set(MODULES)


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name, capsys):
    module = importlib.import_module(name)
    result = doctest.testmod(module, report=False)
    report = capsys.readouterr().out
    assert result.attempted > 0
    assert result.failed == 0, report
