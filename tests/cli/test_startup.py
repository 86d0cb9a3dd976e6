"""``automl-nas`` answers ``--help`` and usage errors without importing the library's weight.

Importing torch, Optuna, scikit-learn and pandas takes seconds; reading a command line must not
wait for them. What the parser needs from the library is written out in ``cli.PARSER_FACTS``;
these tests check it against the library, and check in a fresh interpreter which modules a
``--help`` or a usage error imports (no timings: they depend on the machine).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap


from automl_nas import cli

#: Imported only when a verb runs: each takes from a tenth of a second to seconds to import.
HEAVY = ("torch", "optuna", "sklearn", "scipy", "pandas", "mlflow")

def _heavy_imports_after(*argvs: list[str]) -> dict[str, object]:
    """Run ``main(argv)`` for each argv in a fresh interpreter: exit statuses, heavy modules."""
    code = textwrap.dedent(
        f"""
        import contextlib, io, json, sys
        from automl_nas.cli import main
        statuses = []
        for argv in {json.dumps([list(a) for a in argvs])}:
            with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
                try:
                    statuses.append(main(argv))
                except SystemExit as exc:  # --help
                    statuses.append(exc.code)
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        print(json.dumps({{"statuses": statuses, "heavy": heavy}}))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_parser_facts_are_the_librarys():
    derived = cli.derive_parser_facts()
    assert derived == cli.PARSER_FACTS, (
        "the estimators' parameters, the stage names or a default changed: replace PARSER_FACTS "
        "in automl_nas/cli.py with\n" + cli.parser_facts_source(derived)
    )


def test_parser_facts_source_reads_back_as_the_facts():
    source = cli.parser_facts_source(cli.PARSER_FACTS)
    head = "PARSER_FACTS: dict[str, Any] = "
    assert source.startswith(head)
    assert ast.literal_eval(source.removeprefix(head)) == cli.PARSER_FACTS


def test_help_imports_nothing_heavy():
    verbs = [[], ["fit"], ["predict"], ["leaderboard"], ["worker"]]
    outcome = _heavy_imports_after(*[[*verb, "--help"] for verb in verbs])
    assert outcome == {"statuses": [0] * len(verbs), "heavy": []}


def test_usage_errors_import_nothing_heavy():
    outcome = _heavy_imports_after(
        ["fitt"],
        ["fit"],
        ["fit", "d.csv", "--target", "y", "--time-budget", "soon"],
        ["fit", "d.csv", "--target", "y", "--stages", "darts,nope"],
        ["leaderboard"],
    )
    assert outcome == {"statuses": [2, 2, 2, 2, 2], "heavy": []}
