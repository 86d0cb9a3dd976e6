#!/usr/bin/env python3
"""Run automl_nas search workers on a Dask cluster: one long task per Dask worker process.

The search itself needs no scheduler (its processes meet in the Optuna storage); Dask only
places the worker processes on machines you already run Dask on. Each Dask worker gets exactly
one task, ``automl_nas.distributed.run_worker(storage, study_name, ...)``, which trains trials
until the coordinator's deadline and returns how many it ran. Start the coordinator
(``AutoNASClassifier(storage=..., study_name=...).fit``) before or after: a worker waits up to
``wait`` seconds for it.

Every Dask worker needs automl_nas installed, the storage reachable, and the search's artifact
directory on a shared path. Use single-threaded worker processes (``--nthreads 1``): a second
task on the same worker would share its process and its CPU. Dask's nanny already sets
``OMP_NUM_THREADS=1`` in the worker processes.

    # a LocalCluster of 2 worker processes on this machine
    python integrations/dask_workers.py --storage sqlite:///search.db --study digits
    # an existing cluster: dask scheduler; dask worker tcp://HOST:8786 --nworkers 4 --nthreads 1
    python integrations/dask_workers.py --scheduler tcp://HOST:8786 \\
        --storage postgresql+psycopg2://automl:PW@HOST/automl --study digits
"""

from __future__ import annotations

import argparse
import sys
import uuid
from typing import Any

from distributed import Client, Future, LocalCluster


def submit_workers(
    client: Client,
    storage: str,
    study_name: str,
    *,
    n_workers: int | None = None,
    **run_worker_kwargs: Any,
) -> dict[str, Future]:
    """Start ``run_worker`` once on each of ``n_workers`` Dask workers; return their futures.

    Args:
        client: A connected Dask client.
        storage: Storage URL of the search (every Dask worker must reach it).
        study_name: The coordinator's ``study_name``.
        n_workers: How many Dask workers to use (default: all connected now); waits for that
            many to connect.
        **run_worker_kwargs: Passed on to ``run_worker`` (``n_trials``, ``wait``, ``verbose``...).

    Returns:
        Worker address -> future of the number of trials that worker ran.
    """
    # Imported here so that the task is pickled by reference and runs the workers' installed
    # automl_nas; run_worker pins no Dask API, so a Dask worker needs nothing else from us.
    from automl_nas.distributed import make_storage, run_worker

    # Open the storage here first: a bad URL fails now, not in every task, and the tables exist
    # before the workers start (processes that open an empty database at the same moment race
    # to create them, and Optuna fails in all but one).
    make_storage(storage)
    if n_workers is not None:
        client.wait_for_workers(n_workers)
    addresses = sorted(client.nthreads())[:n_workers]
    if not addresses:
        raise RuntimeError("the Dask cluster has no workers: start some with `dask worker ADDR`")
    run_id = uuid.uuid4().hex[:8]
    return {
        address: client.submit(
            run_worker,
            storage,
            study_name,
            **run_worker_kwargs,
            key=f"automl-nas-worker-{run_id}-{i}",
            workers=[address],
            allow_other_workers=False,  # one search worker per Dask worker process
            pure=False,
        )
        for i, address in enumerate(addresses)
    }


def gather_workers(client: Client, futures: dict[str, Future]) -> dict[str, int]:
    """Wait for the tasks of :func:`submit_workers`; return trials run per worker address."""
    return dict(zip(futures, client.gather(list(futures.values())), strict=True))


def run_workers(
    storage: str,
    study_name: str,
    *,
    scheduler: str | None = None,
    n_workers: int | None = None,
    **run_worker_kwargs: Any,
) -> dict[str, int]:
    """Run search workers on the cluster at ``scheduler``, or on a new LocalCluster, until done.

    Args:
        storage, study_name: The search to join.
        scheduler: Address of a running Dask scheduler (``tcp://host:8786``); None starts a
            LocalCluster of ``n_workers`` single-threaded processes (default 2).
        n_workers: Dask workers to use (with ``scheduler``: default all connected ones).
        **run_worker_kwargs: Passed on to ``run_worker``.

    Returns:
        Trials run per worker address.
    """
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=n_workers or 2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
        )
        with cluster, Client(cluster) as client:
            return gather_workers(
                client, submit_workers(client, storage, study_name, **run_worker_kwargs)
            )
    with Client(scheduler) as client:
        futures = submit_workers(
            client, storage, study_name, n_workers=n_workers, **run_worker_kwargs
        )
        return gather_workers(client, futures)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the workers, print trials per worker."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--storage", required=True, help="storage URL of the search")
    parser.add_argument("--study", required=True, help="the coordinator's study_name")
    parser.add_argument("--scheduler", help="Dask scheduler address (default: a LocalCluster)")
    parser.add_argument("--n-workers", type=int, help="Dask workers to use (LocalCluster: 2)")
    parser.add_argument("--n-trials", type=int, help="trial cap per worker (default: none)")
    parser.add_argument("--wait", type=float, default=60.0, help="seconds to wait for the search")
    parser.add_argument("--verbose", action="store_true", help="one line per trial")
    parser.add_argument(
        "--artifact-dir",
        help="the coordinator's artifact_dir as the Dask workers reach it (default: "
        "./automl_nas_artifacts in each worker's working directory)",
    )
    args = parser.parse_args(argv)
    ran = run_workers(
        args.storage,
        args.study,
        scheduler=args.scheduler,
        n_workers=args.n_workers,
        n_trials=args.n_trials,
        wait=args.wait,
        verbose=int(args.verbose),
        artifact_dir=args.artifact_dir,
    )
    for address, n in ran.items():
        print(f"{address}: {n} trials")
    print(f"total: {sum(ran.values())} trials on {len(ran)} Dask workers")
    return 0


if __name__ == "__main__":
    sys.exit(main())
