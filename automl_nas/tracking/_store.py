"""Writing runs to an MLflow tracking store in as few calls as it allows, and checking the store.

A trial's child run is one ``create_run``, one ``log_batch`` (more only past MLflow's per-call
limits) and one update that ends it. Also here: whether a server answers at all (MLflow's client
retries a dead one for minutes) and a SQLite store's journal mode. Like the writer process that
imports it, this module imports only the standard library and, inside its functions, mlflow.
"""

from __future__ import annotations

import logging
import os
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


def probe(uri: str, timeout: float) -> str | None:
    """Why the tracking server at ``uri`` cannot be reached, or None when it answers.

    MLflow's own client retries a dead server with exponential backoff for minutes; one GET of
    ``/health`` without retries tells within ``timeout`` seconds.
    """
    import requests

    try:
        requests.get(uri.rstrip("/") + "/health", timeout=timeout)
    except requests.exceptions.SSLError:
        return None  # it answered; MLflow's own TLS settings decide the rest
    except requests.exceptions.RequestException as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


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
