"""ProgressPrinter: a refreshing bar on a terminal, one line per trial elsewhere."""

from __future__ import annotations

import io
import time

import optuna
import pytest

from automl_nas.search import ProgressPrinter, end_progress_line
from automl_nas.search._progress import progress_bar


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run_trials(printer: ProgressPrinter, *states: optuna.trial.TrialState) -> None:
    """Finish one trial per state, calling ``printer`` after each as Optuna does.

    A complete trial number i scores i / 10.
    """
    study = optuna.create_study(direction="maximize")
    for number, state in enumerate(states):
        value = number / 10 if state == optuna.trial.TrialState.COMPLETE else None
        study.add_trial(
            optuna.trial.create_trial(state=state, value=value, user_attrs={"stage": "tpe"})
        )
        printer(study, study.trials[-1])


def test_progress_bar():
    assert progress_bar(0.25, width=8) == "[##......]"
    assert progress_bar(-1, width=4) == "[....]"
    assert progress_bar(2, width=4) == "[####]"


def test_terminal_gets_one_refreshing_line_ended_by_end_progress_line():
    state = optuna.trial.TrialState
    now = time.monotonic()
    stream = _Terminal()
    printer = ProgressPrinter("acc", deadline=now + 30, stream=stream, start=now - 30)
    _run_trials(printer, state.COMPLETE, state.PRUNED, state.COMPLETE, state.FAIL)
    text = stream.getvalue()
    assert "\n" not in text  # redrawn in place, never scrolled
    assert text.count("\r") == 4
    last = text.rsplit("\r", 1)[1]
    assert last.startswith("[########........] 30s left")  # half of the budget is spent
    assert "2 done 1 pruned 1 failed" in last
    assert "best acc=0.2000 (#2)" in last
    assert last.endswith("\x1b[K")  # clears what a longer previous line left

    end_progress_line(stream)
    end_progress_line(stream)  # a second call has no line left to end
    assert stream.getvalue() == text + "\n"


def test_non_terminal_gets_one_line_per_trial():
    state = optuna.trial.TrialState
    stream = io.StringIO()
    printer = ProgressPrinter("acc", deadline=time.monotonic() + 60, stream=stream)
    _run_trials(printer, state.PRUNED, state.COMPLETE)
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and "\r" not in stream.getvalue()
    assert lines[0].startswith("[automl_nas] trial    0 PRUNED   tpe")
    assert "best=" not in lines[0]  # nothing complete yet
    assert "acc=0.1000 best=0.1000 (trial 1) | done 1 pruned 1 failed 0" in lines[1]
    assert float(lines[1].rsplit("|", 1)[1].split("s left")[0]) == pytest.approx(60, abs=5)
    end_progress_line(stream)
    assert len(stream.getvalue().splitlines()) == 2  # no open line to end


def test_a_two_objective_search_logs_its_first_objective():
    stream = io.StringIO()
    study = optuna.create_study(directions=["maximize", "minimize"])
    study.optimize(
        lambda trial: (0.75, 10.0), n_trials=1,
        callbacks=[ProgressPrinter("accuracy", time.monotonic() + 60, stream=stream)],
    )
    assert "COMPLETE" in stream.getvalue() and "accuracy=0.7500" in stream.getvalue()
