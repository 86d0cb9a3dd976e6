"""Shared test settings: small, fast searches; one real PostgreSQL server per session."""

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Estimator settings that make one fit take well under a second on tiny data.
FAST = dict(n_trials=2, max_epochs=20, time_budget=60, random_state=0)


@pytest.fixture
def fast():
    return dict(FAST)


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n``), each worker process gets its share of the cores for torch's
    and the BLAS libraries' threads (tests and the processes they start inherit it): workers
    that each spin all cores' threads slow one another down. Set before torch is imported; a
    value the caller set is kept."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
    if workers > 1:
        share = str(max(1, (os.cpu_count() or 1) // workers))
        for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
            os.environ.setdefault(name, share)


def _load_launcher():
    """integrations/postgres/local_postgres.py as a module (integrations/ is not a package)."""
    path = REPO / "integrations" / "postgres" / "local_postgres.py"
    spec = importlib.util.spec_from_file_location("local_postgres", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses resolve their module through sys.modules
    spec.loader.exec_module(module)
    return module


local_postgres = _load_launcher()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[local_postgres.LocalPostgres]:
    """One real PostgreSQL server on 127.0.0.1 for the whole session (tests/distributed,
    tests/security): ``url`` has its user's password; ``user``, ``password``, ``port``,
    ``database`` for URLs without it."""
    try:
        server = local_postgres.start_postgres()
    except local_postgres.PostgresUnavailable as why:
        print(f"\nskipping PostgreSQL tests: {why}", file=sys.stderr)
        pytest.skip(str(why))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def postgres_url(postgres_server) -> str:
    """SQLAlchemy URL of the session's PostgreSQL database (studies of all tests share it)."""
    return postgres_server.url
