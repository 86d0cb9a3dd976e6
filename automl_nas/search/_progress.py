"""Search progress on a terminal or in a log, and quiet Optuna logging around it."""

from __future__ import annotations

import contextlib
import shutil
import sys
import threading
import time
from collections.abc import Iterator
from typing import TextIO

import optuna
from optuna.trial import TrialState

from automl_nas.search._keys import TrialAttr

#: Characters of the elapsed-budget bar on a terminal.
BAR_WIDTH = 16

# Streams on which a refreshing line was drawn and not yet ended with a newline (by id, since
# the estimator owns its printer and never says when the search is over; see end_progress_line).
_open_lines: dict[int, TextIO] = {}
_open_lock = threading.Lock()


@contextlib.contextmanager
def optuna_verbosity(verbose: int) -> Iterator[None]:
    """Optuna's own per-trial log only at ``verbose >= 2``; restored afterwards."""
    before = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.INFO if verbose >= 2 else optuna.logging.WARNING)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(before)


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_bar(fraction: float, width: int = BAR_WIDTH) -> str:
    """``[#####...............]``: ``fraction`` (clipped to [0, 1]) of ``width`` filled."""
    filled = round(min(1.0, max(0.0, fraction)) * width)
    return "[" + "#" * filled + "." * (width - filled) + "]"


def end_progress_line(stream: TextIO | None = None) -> None:
    """End a refreshing progress line left open on ``stream`` (stderr by default) by a search.

    On a terminal the progress line is redrawn in place after every trial, so nothing ends it
    when the search returns; call this before printing anything else to that stream. Does
    nothing when no line is open (not a terminal, ``verbose=0``, or already ended).
    """
    stream = stream or sys.stderr
    with _open_lock:
        if _open_lines.pop(id(stream), None) is not None:
            stream.write("\n")
            stream.flush()


class ProgressPrinter:
    """Progress after every finished trial: counts, best score and time left.

    On a terminal, one line redrawn in place with a bar of the elapsed time budget; elsewhere
    (a log file, a notebook, a pipe) one line per trial with its state, stage and score. Used as
    an Optuna callback ``(study, trial)``; thread-safe for ``n_jobs > 1``.

    Args:
        metric: Name of the validation metric, shown with the scores.
        deadline: End of the search on the ``time.monotonic()`` clock.
        stream: Where to write (default: stderr at the time of each call).
        start: Start of the search on the same clock (default: now); the bar spans
            ``start`` to ``deadline``.
    """

    def __init__(
        self, metric: str, deadline: float, stream: TextIO | None = None, start: float | None = None
    ) -> None:
        self.metric = metric
        self.deadline = deadline
        self.stream = stream
        self.start = time.monotonic() if start is None else start
        self.counts = {TrialState.COMPLETE: 0, TrialState.PRUNED: 0, TrialState.FAIL: 0}
        self._lock = threading.Lock()

    def __call__(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        stream = self.stream or sys.stderr
        with self._lock:
            self.counts[trial.state] = self.counts.get(trial.state, 0) + 1
            try:
                best: optuna.trial.FrozenTrial | None = study.best_trial
            except (ValueError, RuntimeError):  # none completed yet, or several objectives
                best = None
            now = time.monotonic()
            if _is_tty(stream):
                width = shutil.get_terminal_size().columns - 1  # a wrapped line cannot be redrawn
                stream.write("\r" + self._bar_line(best, now)[:width] + "\x1b[K")
                with _open_lock:
                    _open_lines[id(stream)] = stream
            else:
                stream.write(self._trial_line(trial, best, now) + "\n")
            stream.flush()

    def _bar_line(self, best: optuna.trial.FrozenTrial | None, now: float) -> str:
        """The refreshing terminal line: elapsed-budget bar, time left, counts, best so far.

        Most important first, as a narrow terminal cuts the end: 78 characters with 2-digit
        counts and a 2-letter metric.
        """
        total = self.deadline - self.start
        fraction = (now - self.start) / total if total > 0 else 1.0
        left = max(0.0, self.deadline - now)
        counts = (
            f"{self.counts[TrialState.COMPLETE]} done {self.counts[TrialState.PRUNED]} pruned "
            f"{self.counts[TrialState.FAIL]} failed"
        )
        if best is None:
            best_text = "no trial complete yet"
        else:
            best_text = f"best {self.metric}={best.value:.4f} (#{best.number})"
        return f"{progress_bar(fraction)} {left:.0f}s left | {counts} | {best_text}"

    def _trial_line(
        self, trial: optuna.trial.FrozenTrial, best: optuna.trial.FrozenTrial | None, now: float
    ) -> str:
        """One log line for ``trial``: its state, stage and score, then the running totals."""
        value = "" if not trial.values else f" {self.metric}={trial.values[0]:.4f}"  # 1st objective
        best_text = "" if best is None else f" best={best.value:.4f} (trial {best.number})"
        stage = trial.user_attrs.get(TrialAttr.STAGE, "")
        left = max(0.0, self.deadline - now)
        return (
            f"[automl_nas] trial {trial.number:>4} {trial.state.name:<8} {stage:<10}{value}"
            f"{best_text} | done {self.counts[TrialState.COMPLETE]} pruned "
            f"{self.counts[TrialState.PRUNED]} failed {self.counts[TrialState.FAIL]} | "
            f"{left:5.1f}s left"
        )
