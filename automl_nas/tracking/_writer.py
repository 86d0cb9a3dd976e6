"""Writes trial runs to MLflow; also runs as a process of its own (``python _writer.py``).

A search of small networks is bound to one core by the GIL, and MLflow's SQLAlchemy store
spends tens of milliseconds of Python per run: written from a thread of the search process,
that time comes straight out of training. Written from this separate process, it runs on
another core. The process reads one JSON config line, then one JSON trial record per line on
stdin, and answers one JSON line per record on stdout. It imports only the standard library and
mlflow (never ``automl_nas``, whose import pulls in torch), so it starts in a few seconds.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

PARENT_TAG = "mlflow.parentRunId"

# MLflow 3 limits (mlflow/utils/validation.py): what one log_batch call and one value may hold.
MAX_PARAMS_PER_BATCH = 100
MAX_TAGS_PER_BATCH = 100
MAX_METRICS_PER_BATCH = 1000
MAX_ENTITIES_PER_BATCH = 1000

Metrics = Sequence[Sequence[Any]]  # (key, value, timestamp_ms, step)


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


def is_http(uri: str) -> bool:
    """Whether ``uri`` points at a tracking server (as opposed to a database or file store)."""
    return uri.startswith(("http://", "https://"))


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


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> int:
    """The writer process: config line, then trial records until stdin closes."""
    config = json.loads(sys.stdin.readline())
    from mlflow import MlflowClient

    uri = config["uri"]
    client = MlflowClient(tracking_uri=uri)
    _answer({"ready": True})
    while line := sys.stdin.readline():
        record = json.loads(line)
        number = record["tags"].get("automl_nas.trial_number")
        reason = probe(uri, config["probe_timeout"]) if is_http(uri) else None
        if reason is not None:
            _answer({"number": number, "error": f"not reachable ({reason})"})
            continue
        wall, cpu = time.perf_counter(), time.process_time()
        try:
            write_trial(client, config["experiment_id"], config["parent_run_id"], record)
        except Exception as exc:
            _answer({"number": number, "error": f"{type(exc).__name__}: {str(exc)[:500]}"})
        else:
            _answer(
                {
                    "number": number,
                    "write_ms": (time.perf_counter() - wall) * 1000,
                    "cpu_ms": (time.process_time() - cpu) * 1000,
                }
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
