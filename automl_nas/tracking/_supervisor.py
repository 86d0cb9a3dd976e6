"""The writer's supervision: where a tracked search's messages go, and what if the writer dies.

The tracker (``_mlflow.py``) decides what to record; :class:`WriterSupervisor` delivers it. A
sender thread takes the messages from a queue, in order, and hands them to the writer process
(``_writer.py``, run by :class:`WriterProcess`), or, when that process cannot start or is not
wanted, runs them itself with a :class:`~automl_nas.tracking._writer.Recorder`. A process that
dies is replaced by a Recorder in this process, which redoes what the process left unanswered,
so the search's record ends complete. Kept apart from the tracker so that neither the search's
events nor the MLflow work depend on how the writer runs.
"""

from __future__ import annotations

import json
import logging
import queue
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from automl_nas.masking import mask_uri
from automl_nas.tracking._writer import Recorder

_logger = logging.getLogger(__name__)

_STOP = object()
_GONE = object()  # the writer process ended before it was told to


class WriterProcess:
    """The ``_writer.py`` process: JSON lines in on stdin, one JSON answer per message out."""

    def __init__(self, config: dict[str, Any], on_message: Any, on_exit: Any) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - read by stderr_tail, any time
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("_writer.py"))],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
        )
        self._reader = threading.Thread(
            target=self._read,
            args=(on_message, on_exit),
            name="automl_nas-mlflow-reader",
            daemon=True,
        )
        self._reader.start()
        if not self.send(config):
            raise OSError(f"the writer process did not start: {self.stderr_tail()}")

    def send(self, message: dict[str, Any]) -> bool:
        """Hand ``message`` to the process; False when it is gone."""
        try:
            self._proc.stdin.write(json.dumps(message) + "\n")
            self._proc.stdin.flush()
        except (OSError, ValueError):
            return False
        return True

    def _read(self, on_message: Any, on_exit: Any) -> None:
        try:
            for line in self._proc.stdout:
                try:
                    message = json.loads(line)
                except ValueError:
                    _logger.debug("writer process said: %s", mask_uri(line.rstrip()))
                    continue
                on_message(message)
        finally:
            on_exit()

    def close(self, timeout: float) -> bool:
        """Close its input and let it exit, up to ``timeout`` s (then kill it); whether it did."""
        try:
            self._proc.stdin.close()
        except OSError:
            pass
        try:
            self._proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        finally:
            self._reader.join(5)
        return True

    def kill(self) -> None:
        """End the process now; answers it already gave are still delivered."""
        self._proc.kill()
        self._proc.wait()
        self._reader.join(5)

    def stderr_tail(self, n: int = 500) -> str:
        """The last ``n`` characters of its stderr, credentials masked (before the cut, which
        could split a URL from its password)."""
        try:
            self._stderr.seek(0)
            text = mask_uri(self._stderr.read().decode("utf-8", "replace"))
        except (OSError, ValueError):
            return ""
        return text.strip()[-n:] or f"exit code {self._proc.poll()}"


class WriterSupervisor:
    """Delivers one search's messages to its writer, in order, and keeps a writer running.

    The writer opens the parent run from ``config`` first, then answers every message put here
    with one answer (``{"op": ..., "ms": ...}``, ``error`` when it failed), passed to
    ``on_answer`` from a reader or the sender thread, in order.

    Args:
        config: What the parent run is made of (built by ``MlflowTracker.start_search``).
        use_process: Run the writer as a process of its own; else (or when it cannot
            start) a Recorder runs the messages in the sender thread.
        on_answer: Receives each answer of the writer.
        on_fail: Receives a description when the writer process died (a thread took over).
        tick: Called by the sender thread before each wait for a message, so the tracker can
            do periodic work off the search's thread; returns the seconds until it wants the
            next call, None for none until the next message.
    """

    def __init__(
        self,
        config: dict[str, Any],
        *,
        use_process: bool,
        on_answer: Callable[[dict[str, Any]], None],
        on_fail: Callable[[str], None],
        tick: Callable[[], float | None],
    ) -> None:
        self._config = config
        self._on_answer = on_answer
        self._on_fail = on_fail
        self._tick = tick
        self._queue: queue.Queue[Any] = queue.Queue()
        self._lock = threading.Lock()
        self._pending: deque[dict[str, Any]] = deque()  # sent to the process, not yet answered
        self._opened: dict[str, Any] | None = None
        self._closing = False
        self._done = threading.Event()  # the writer answered "finish", or its process ended
        self._recorder: Recorder | None = None
        #: True once :meth:`close` gave up on unfinished work: what is left is dropped.
        self.abandoned = False
        #: The writer process; None in a thread writer, or once a thread took over from it.
        self.process: WriterProcess | None = None
        if use_process and sys.executable:
            try:
                self.process = WriterProcess(config, self._deliver, self._on_exit)
            except OSError as exc:
                _logger.info("writer process not started (%s); writing from a thread", exc)
        if self.process is None:
            self._recorder = Recorder(config, own_process=False)
            self._queue.put({"op": "open"})
        self._sender = threading.Thread(
            target=self._send_loop, name="automl_nas-mlflow-sender", daemon=True
        )
        self._sender.start()

    def put(self, message: dict[str, Any]) -> None:
        """Queue ``message`` for the writer (thread-safe; returns at once)."""
        self._queue.put(message)

    def close(self, timeout: float, deadline: float) -> bool:
        """Let the writer finish what is queued; whether it did.

        Waits up to ``timeout`` s for the sender thread, then up to ``deadline`` (monotonic
        clock) for the process's answer to its last message, ``finish``. A process that died
        with work left before ``deadline`` hands it to a thread of this process, which does it
        now. Unfinished work is dropped (:attr:`abandoned`).
        """
        self._queue.put(_STOP)
        self._sender.join(timeout)
        done = not self._sender.is_alive()
        process = self.process
        if process is not None:
            self._closing = True
            # Its "finish" answer means everything is written: its exit is not waited for.
            done = self._done.wait(max(0.0, deadline - time.monotonic())) and done
            process.close(timeout=0.0)
            with self._lock:
                crashed = bool(self._pending) and time.monotonic() < deadline
            if crashed:  # it died with work left: a thread of this process finishes it
                self._take_over()
                done = True
        if not done:
            self.abandoned = True
        return done

    def _send_loop(self) -> None:
        """Hand queued messages to the writer process (or run them here, in thread mode)."""
        while True:
            timeout = self._tick()
            try:
                item = self._queue.get(timeout=timeout)
            except queue.Empty:
                continue
            if item is _STOP:
                return
            if item is _GONE:
                self._take_over()
                continue
            if self.abandoned:
                continue
            if self.process is not None:
                with self._lock:
                    self._pending.append(item)
                if self.process.send(item):
                    continue
                self._take_over()  # runs ``item`` too
            else:
                self._deliver(self._recorder.handle(item))

    def _on_exit(self) -> None:
        self._done.set()
        if not self._closing:
            self._queue.put(_GONE)

    def _take_over(self) -> None:
        """The writer process is gone: a thread of this process does what it left undone."""
        process, self.process = self.process, None
        if process is None:
            return
        process.kill()
        self._on_fail(f"the MLflow writer process ended: {process.stderr_tail()}")
        with self._lock:
            pending = list(self._pending)
            self._pending.clear()
        self._recorder = Recorder(self._config, own_process=False, opened=self._opened)
        if self._opened is None:
            self._deliver(self._recorder.handle({"op": "open"}))
        for message in pending:
            if self.abandoned:
                break
            self._deliver(self._recorder.handle(message))

    def _deliver(self, answer: dict[str, Any]) -> None:
        """Book one answer of the writer (called from its reader or the sender thread)."""
        op = answer.get("op")
        with self._lock:
            if op != "open" and self._pending:
                self._pending.popleft()
        if op == "open" and not answer.get("error"):
            self._opened = answer
        self._on_answer(answer)
        if op == "finish":
            self._done.set()
