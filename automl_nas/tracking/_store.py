"""Writing runs to an MLflow tracking store in as few calls as it allows, and checking the store.

A trial's child run is one ``create_run``, one ``log_batch`` (more only past MLflow's per-call
limits) and one update that ends it. Also here: whether a server answers at all (MLflow's client
retries a dead one for minutes) and a SQLite store's journal mode. Like the writer process that
imports it, this module imports only the standard library and, inside its functions, mlflow.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PARENT_TAG = "mlflow.parentRunId"
TAG_PREFIX = "automl_nas."

# MLflow 3 limits (mlflow/utils/validation.py): what one log_batch call and one value may hold.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

Metrics = Sequence[Sequence[Any]]  # (key, value, timestamp_ms, step)

_logger = logging.getLogger(__name__)


def batches(
    metrics: Metrics, params: Mapping[str, str], tags: Mapping[str, str]
) -> Iterator[tuple[list, list[tuple[str, str]], list[tuple[str, str]]]]:
    """Split one run's records into ``log_batch`` calls within MLflow's per-call limits.

    Almost every trial fits in one call; a space with more than 100 params or a very long
    history spills into more.

    Example:
        >>> [len(p) for _, p, _ in batches([], {str(i): "x" for i in range(250)}, {})]
        [100, 100, 50]
    """
    param_items, tag_items, metric_items = list(params.items()), list(tags.items()), list(metrics)
    while param_items or tag_items or metric_items:
        p, param_items = param_items[:MAX_PARAMS_PER_BATCH], param_items[MAX_PARAMS_PER_BATCH:]
        t, tag_items = tag_items[:MAX_TAGS_PER_BATCH], tag_items[MAX_TAGS_PER_BATCH:]
        room = min(MAX_METRICS_PER_BATCH, MAX_ENTITIES_PER_BATCH - len(p) - len(t))
        m, metric_items = metric_items[:room], metric_items[room:]
        yield m, p, t


def log_batch(client: Any, run_id: str, metrics: Metrics, params: dict, tags: dict) -> None:
    """``client.log_batch`` in as few calls as MLflow's limits allow."""
    from mlflow.entities import Metric, Param, RunTag

    for m, p, t in batches(metrics, params, tags):
        client.log_batch(
            run_id,
            metrics=[Metric(k, v, ts, step) for k, v, ts, step in m],
            params=[Param(k, v) for k, v in p],
            tags=[RunTag(k, v) for k, v in t],
            synchronous=True,
        )


def terminate(client: Any, run_id: str, status: str, end_ms: int) -> None:
    """End a run with ``status`` at ``end_ms`` in one store call.

    ``MlflowClient.set_terminated`` on a server also GETs the run back and prints two "View run"
    lines to stdout: one extra round trip and two lines per trial. The store's own update is the
    single call that remains; ``set_terminated`` is the fallback.
    """
    # MLflow private: public set_terminated adds a GET and a print, unless set off process-wide.
    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None or not hasattr(store, "update_run_info"):
        client.set_terminated(run_id, status, end_time=end_ms)
        return
    from mlflow.entities import RunStatus

    store.update_run_info(
        run_id, run_status=RunStatus.from_string(status), end_time=end_ms, run_name=None
    )


def write_trial(client: Any, experiment_id: str, parent_run_id: str, record: Mapping) -> str:
    """Create, fill and end one trial's child run; returns its run id.

    ``record`` is a ``RunRecord`` as a dict: run_name, start_ms, end_ms, status, params,
    metrics [(key, value, timestamp_ms, step)], tags.
    """
    tags = {PARENT_TAG: parent_run_id, **record["tags"]}
    run = client.create_run(
        experiment_id, start_time=record["start_ms"], tags=tags, run_name=record["run_name"]
    )
    run_id = run.info.run_id
    log_batch(client, run_id, record["metrics"], record["params"], {})
    terminate(client, run_id, record["status"], record["end_ms"])
    return run_id


def is_http(uri: str | None) -> bool:
    """Whether ``uri`` points at a tracking server (as opposed to a database or file store)."""
    return bool(uri) and uri.startswith(("http://", "https://"))


def probe(uri: str, timeout: float, *, mlflow_api: bool = False) -> str | None:
    """Why the tracking server at ``uri`` cannot be reached, or None when it answers.

    MLflow's own client retries a dead server with exponential backoff for minutes; one GET of
    ``/health`` without retries tells within ``timeout`` seconds. With ``mlflow_api``, the
    answer must also be MLflow's: ``/health`` answers 200 and the REST API answers an
    experiment look-up with MLflow's JSON (any web server answers something, often 404).
    """
    import requests

    base = uri.rstrip("/")
    try:
        health = requests.get(base + "/health", timeout=timeout)
        if not mlflow_api:
            return None
        if health.status_code != 200:
            return f"GET /health answered HTTP {health.status_code}: not an MLflow tracking server"
        api = requests.get(
            base + "/api/2.0/mlflow/experiments/get-by-name",
            params={"experiment_name": "Default"},
            timeout=timeout,
        )
    except requests.exceptions.SSLError:
        return None  # it answered; MLflow's own TLS settings decide the rest
    except requests.exceptions.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    if api.status_code in (401, 403):
        return None  # an MLflow server with authentication: the credentials decide the rest
    try:
        body = api.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or not ("experiment" in body or "error_code" in body):
        return (
            f"GET /api/2.0/mlflow/experiments/get-by-name answered HTTP {api.status_code} "
            f"without MLflow's JSON: not an MLflow tracking server"
        )
    return None


def _sqlite_path(uri: str | None) -> str | None:
    """The file behind a ``sqlite:///`` URI, or None (another store, or in memory)."""
    if not uri or not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    return None if not path or path == ":memory:" else path


def sqlite_write_problem(uri: str | None) -> str | None:
    """Why this process cannot write the SQLite store behind ``uri``, naming the path; None
    when it can (or ``uri`` is not a SQLite file).

    MLflow meets an unwritable store only at its first write, and then slowly: a read-only
    file fails opening the run with SQL in the message, a read-only directory makes MLflow's
    set-up retry until the fit's deadline. File modes are asked with ``os.access`` (root may
    write anyway, and then does). SQLite writes its journal beside the file, and MLflow
    creates missing directories, so the nearest existing directory must be writable too.
    """
    path = _sqlite_path(uri)
    if path is None:
        return None
    path = os.path.abspath(path)
    if os.path.exists(path):
        if not os.access(path, os.R_OK | os.W_OK):
            return f"the SQLite file {path} is read-only for this process"
        directory = os.path.dirname(path)
        why = "SQLite writes its journal there"
    else:
        directory = os.path.dirname(path)
        while not os.path.exists(directory):
            directory = os.path.dirname(directory)
        why = "the new SQLite file and its journal go there"
    if os.path.isdir(directory) and not os.access(directory, os.W_OK | os.X_OK):
        return f"the directory {directory} is not writable by this process ({why})"
    return None


def sqlite_identity(uri: str | None) -> tuple[int, int] | None:
    """(device, inode) of the SQLite file behind ``uri``; None when not a SQLite file, or
    ``(-1, -1)`` when the file is gone: a changed identity means the store was deleted or
    replaced."""
    path = _sqlite_path(uri)
    if path is None:
        return None
    try:
        st = os.stat(path)
    except OSError:
        return (-1, -1)
    return (st.st_dev, st.st_ino)


@contextlib.contextmanager
def sqlite_creation_lock(uri: str | None, timeout: float = 300.0) -> Iterator[None]:
    """Hold an exclusive lock on ``<db>.lock`` beside a SQLite store while it is opened.

    MLflow creates a new SQLite store by running its migrations, which are not safe when two
    processes do it at once: one fails halfway, leaving ``_alembic_tmp_*`` tables that break
    every later open. The lock lets one process create the store; the other then finds it
    complete. Other stores (and systems without ``fcntl``) are opened without a lock.
    """
    path = _sqlite_path(uri)
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        fcntl = None
    if path is None or fcntl is None or not os.path.isdir(os.path.dirname(os.path.abspath(path))):
        yield
        return
    try:
        lock = open(path + ".lock", "a")  # noqa: SIM115 - closed below
    except OSError as exc:  # a read-only directory: no lock, as before
        _logger.debug("no creation lock for %s: %s", path, exc)
        yield
        return
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{path}.lock held by another process for {timeout:.0f} s")
                time.sleep(0.05)
        yield
    finally:
        lock.close()  # releases the lock


def _sqlite_pragma(uri: str, pragma: str) -> str | None:
    """The first value ``PRAGMA <pragma>`` returns on the SQLite file behind ``uri`` (None if
    ``uri`` is not a SQLite file or the statement failed)."""
    import sqlite3

    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///") :].split("?", 1)[0]
    if not path or path == ":memory:" or not os.path.isfile(path):
        return None
    try:
        with sqlite3.connect(path, timeout=20) as con:
            return str(con.execute(f"PRAGMA {pragma}").fetchone()[0])
    except sqlite3.Error as exc:
        _logger.debug("PRAGMA %s failed on %s: %s", pragma, path, exc)
        return None


def enable_sqlite_wal(uri: str) -> bool:
    """Switch the SQLite file behind ``uri`` to write-ahead logging; whether it is now in WAL.

    MLflow commits several transactions per ``log_batch``; in WAL mode each costs about half as
    much, and ``mlflow ui`` reading the same file no longer blocks the search writing it. The
    mode is a property of the file and stays; it is unsuited to network file systems.
    """
    return (_sqlite_pragma(uri, "journal_mode=WAL") or "").lower() == "wal"


def checkpoint_sqlite_wal(uri: str) -> None:
    """Copy what the write-ahead log holds into the SQLite file behind ``uri``.

    The writer process is killed once it has answered, before SQLite would checkpoint on its
    last connection's close: without this, the run's last writes would live only in the
    ``-wal`` file beside the database, lost to anyone who copies the ``.db`` file alone.
    """
    _sqlite_pragma(uri, "wal_checkpoint(PASSIVE)")  # PASSIVE: never waits for a reader
